"""Credentials out of URLs, before a URL reaches a screen, a JSON document, a file or a traceback.

What counts as a credential:
- The user info of an http(s), git, oci or any other `scheme://` URL, whole. There a bare "user"
  is as often a token as a name (`https://<token>@github.com/...`,
  `https://oauth2:<token>@gitlab.com/...`), and the URL still names its repository without it.
- For ssh (`ssh://`, `git+ssh://`, `ssh+git://`, `sftp://`) only the password: an ssh user name is
  a login, not a secret (`git@github.com` is everyone's), and it tells a person which account is
  used. git's scp-like form (`git@host:org/repo`) has no password field, so it is left as it is.
- Query parameters that carry a token, a password or a signature (`token`, `access_token`,
  `private_token`, `password`, `sig`, `X-Amz-Signature`, ...), removed with their values; and
  `name=value` pairs of the same names in the fragment, where OAuth's implicit flow puts its
  `access_token` (a fragment without `=`, such as `#L10` or `#token-refresh`, is an anchor).

A known gap: a credential holding a quote (`'` or `"`, rather than `%27`) is cut at it, and its
rest is shown. In running text a quote ends a URL far more often than it belongs to one (`unable
to access 'https://...'`), and no rule tells the two apart without guessing.

Removing rather than masking keeps a redacted URL readable as the address it names; a URL without
a credential comes back unchanged, character for character.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_plus

_SCHEME: Final = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_SSH_SCHEMES: Final = frozenset({"ssh", "git+ssh", "ssh+git", "sftp"})
# A URL inside running text: a scheme, `://`, then anything up to white space or a quote. The
# look-behind keeps `xhttps://` from matching in the middle of a word.
_URL_IN_TEXT: Final = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"`<>\\]+")
# Sentence punctuation that follows a URL in a message rather than belonging to it.
_TRAILING: Final = ".,;:!?)]}"

_SECRET_PARAMETERS: Final = frozenset(
    {"sig", "signature", "key", "auth", "authorization", "pwd", "passwd", "password", "session"}
)
_SECRET_PARAMETER_WORDS: Final = (
    "token", "secret", "password", "signature", "credential", "apikey", "api_key", "api-key",
)  # fmt: skip


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter of this name carries a credential (case-insensitive)."""
    lowered = name.lower()
    return lowered in _SECRET_PARAMETERS or any(word in lowered for word in _SECRET_PARAMETER_WORDS)


def redact_url(url: str) -> str:
    """`url` without its credentials; anything that is not a `scheme://` URL comes back as it is
    (a local path, or an scp-like ssh address, whose user name is no secret)."""
    match = _SCHEME.match(url)
    if match is None:
        return url
    rest = url[match.end() :]
    # The authority ends at the first `/`, `?` or `#`; its user info ends at its last `@`, since a
    # password may hold an `@` of its own.
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, host = authority.rpartition("@")
    if at:
        user = userinfo.split(":", 1)[0]
        keep_user = match["scheme"].lower() in _SSH_SCHEMES and user
        authority = f"{user}@{host}" if keep_user else host
    return f"{url[: match.end()]}{authority}{_without_secret_parameters(tail)}"


def _without_secret_parameters(tail: str) -> str:
    """The path, query and fragment of a URL, with every credential-bearing query parameter, and
    fragment `name=value` pair, removed."""
    before_fragment, hash_mark, fragment = tail.partition("#")
    path, question, query = before_fragment.partition("?")
    kept_query = _without_secret_pairs(query, values_only=False)
    kept_fragment = _without_secret_pairs(fragment, values_only=True)
    if kept_query == query and kept_fragment == fragment:
        return tail
    question = question if kept_query or kept_query == query else ""
    hash_mark = hash_mark if kept_fragment or kept_fragment == fragment else ""
    return f"{path}{question}{kept_query}{hash_mark}{kept_fragment}"


def _without_secret_pairs(pairs_text: str, *, values_only: bool) -> str:
    """`&`-separated pairs without those named like a credential; `values_only` keeps a name with no
    `=` (in a fragment, an anchor)."""
    pairs = pairs_text.split("&")
    kept = [
        pair
        for pair in pairs
        if not (
            pair
            and ("=" in pair or not values_only)
            and is_secret_parameter(unquote_plus(pair.split("=", 1)[0]))
        )
    ]
    if len(kept) == len(pairs):
        return pairs_text
    return "&".join(kept) if any(kept) else ""


def redact_text(text: str) -> str:
    """`text` (a message, a traceback) with every `scheme://` URL in it redacted as `redact_url` does."""
    return _URL_IN_TEXT.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    found = match.group(0)
    url = found.rstrip(_TRAILING)
    return redact_url(url) + found[len(url) :]
