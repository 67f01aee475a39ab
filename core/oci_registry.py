"""A small OCI distribution client: what reading a Flux artifact from a registry needs, and no more.

- `tags()`: `GET /v2/<name>/tags/list`, following the `Link: <...>; rel="next"` pages a registry cuts it
  into (within the registry's own origin).
- `digest_of(tag)`: `HEAD` on the tag's manifest, as source-controller asks first; `manifest(...)` when
  the registry gives no `Docker-Content-Digest` on HEAD.
- `manifest(reference)`: a manifest or index by tag or digest (OCI's and Docker's media types accepted),
  its bytes checked against the digest it was asked by, and against the one the registry names.
- `blob(digest, limit)`: a blob, streamed up to `limit` bytes and checked against its sha256.

Auth, as Docker's and go-containerregistry's clients do it: anonymous first; on a `401` whose
`WWW-Authenticate` is `Bearer realm=...,service=...,scope=...`, a token from the realm (with the
credentials as basic auth when there are any), kept for the requests that follow; on `Basic`, the
credentials themselves. Credentials and tokens go only to the registry's origin and to the realm it
names; a redirect (blobs are often served from a storage bucket) carries neither. HTTPS always, plain
HTTP only when asked (`insecure`, Flux's `spec.insecure`). Every request has a timeout, and every body a
size limit, so a slow or hostile registry cannot hold a worker or fill memory.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from core.chart_archive import Refused, one_line

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""The OCI distribution spec's advice: registries should accept manifests up to 4 MiB."""
MAX_LIST_BYTES = 4 * 1024 * 1024
"""One page of a tag list, or a token answer."""
MAX_TAG_PAGES = 100
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
UNREACHABLE = "UNREACHABLE"
"""The code of a RegistryError when no answer came at all (refused, timed out, no such host)."""
_USER_AGENT = "kubedrift"
_AGAIN = "kubedrift tries again on the next poll"


@dataclass(frozen=True, slots=True)
class RegistryCredentials:
    """A user name and password (or token) for one registry, as a docker config holds them."""

    username: str
    password: str = field(repr=False)


class RegistryError(Refused):
    """Why a registry request failed, as the middle of the user's sentence; `status` and `code` (the OCI
    error code, such as MANIFEST_UNKNOWN) when the registry answered."""

    def __init__(self, problem: str, todo: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(problem, todo)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or an index, as the registry served it."""

    digest: str
    media_type: str
    document: dict[str, Any]


class RegistryClient:
    """One repository of one registry (`host[:port]`, `org/name`)."""

    def __init__(
        self,
        registry: str,
        repository: str,
        *,
        insecure: bool = False,
        credentials: RegistryCredentials | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.registry = registry
        self.repository = repository
        self._insecure = insecure
        self._origin = f"{'http' if insecure else 'https'}://{registry}"
        self._credentials = credentials
        self._timeout = timeout
        self._token = ""
        """A bearer token the registry's token service gave, sent with every request until refused."""
        self._basic = False
        """Whether the registry asked for basic auth."""
        self._opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(),
            _RedirectHandler(self._origin, self._authorization),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            self._opener.add_handler(handler)

    # Endpoints ---------------------------------------------------------------------------------

    def tags(self) -> list[str]:
        """Every tag of the repository, page after page."""
        url = f"{self._origin}/v2/{self.repository}/tags/list"
        found: list[str] = []
        for _ in range(MAX_TAG_PAGES):
            _, headers, body = self._request("GET", url, "the tag list", MAX_LIST_BYTES)
            try:
                page = json.loads(body)
                tags = page.get("tags") or []
                found += [tag for tag in tags if isinstance(tag, str)]
            except (ValueError, AttributeError, TypeError):
                raise RegistryError("the tag list is not JSON", "check spec.url") from None
            link = _NEXT_LINK.search(headers.get("Link", "") or "")
            if link is None:
                return found
            url = urljoin(url, link[1])
            if not _same_origin(url, self._origin):
                raise RegistryError("the tag list links to another server", "check spec.url")
        raise RegistryError(f"the tag list runs past {MAX_TAG_PAGES} pages", "check spec.url")

    def digest_of(self, tag: str) -> str:
        """The digest of the manifest `tag` points at: HEAD first, GET when HEAD names none."""
        try:
            _, headers, _ = self._request(
                "HEAD", self._manifest_url(tag), f"the tag {tag}", 0, accept=_ACCEPT
            )
        except RegistryError as error:
            if not error.status or error.status == 401:
                raise
            headers = {}  # some registries refuse HEAD: GET answers for them, or says what is wrong
        digest = str(headers.get("Docker-Content-Digest", "") or "")
        return digest if DIGEST.fullmatch(digest) else self.manifest(tag).digest

    def manifest(self, reference: str) -> Manifest:
        """The manifest or index at a tag or digest, checked against its digest."""
        what = f"the manifest {reference}" if DIGEST.fullmatch(reference) else f"the tag {reference}"
        _, headers, body = self._request(
            "GET", self._manifest_url(reference), what, MAX_MANIFEST_BYTES, accept=_ACCEPT
        )
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        named = str(headers.get("Docker-Content-Digest", "") or "")
        expected = reference if DIGEST.fullmatch(reference) else named if DIGEST.fullmatch(named) else ""
        if expected and digest != expected:
            raise RegistryError(
                f"{what} as downloaded has the digest {digest[:19]}…, not {expected[:19]}…",
                f"kubedrift refuses it and {_AGAIN}",
            )
        try:
            document = json.loads(body)
        except ValueError:
            raise RegistryError(f"{what} is not JSON", "check spec.url") from None
        if not isinstance(document, dict):
            raise RegistryError(f"{what} is not a manifest", "check spec.url")
        media_type = str(document.get("mediaType") or headers.get("Content-Type", "") or "")
        return Manifest(digest, media_type.partition(";")[0].strip(), document)

    def blob(self, digest: str, limit: int, what: str) -> bytes:
        """The blob `digest` names, at most `limit` bytes, its sha256 checked."""
        url = f"{self._origin}/v2/{self.repository}/blobs/{digest}"
        _, _, body = self._request("GET", url, what, limit)
        got = "sha256:" + hashlib.sha256(body).hexdigest()
        if got != digest:
            raise RegistryError(
                f"{what} as downloaded has the digest {got[:19]}…, not the {digest[:19]}… its manifest gives",
                f"kubedrift refuses it and {_AGAIN}",
            )
        return body

    # Requests and auth ---------------------------------------------------------------------------

    def _manifest_url(self, reference: str) -> str:
        return f"{self._origin}/v2/{self.repository}/manifests/{reference}"

    def _request(
        self, method: str, url: str, what: str, limit: int, *, accept: str = ""
    ) -> tuple[int, Any, bytes]:
        """(status, headers, body) of a request, answering one auth challenge on the way."""
        for attempt in range(2):
            request = urllib.request.Request(url, method=method, headers={"User-Agent": _USER_AGENT})
            if accept:
                request.add_header("Accept", accept)
            authorization = self._authorization()
            if authorization:
                # Unredirected: a redirect to a storage bucket never carries it.
                request.add_unredirected_header("Authorization", authorization)
            try:
                return self._send(request, what, limit)
            except urllib.error.HTTPError as exc:
                try:
                    challenge = str(exc.headers.get("WWW-Authenticate", "") or "")
                    code = _error_code(exc, method)
                finally:
                    exc.close()
                if exc.code == 401 and attempt == 0 and self._answer(challenge, what):
                    continue
                raise self._refusal(exc.code, str(exc.reason), code, what) from None
        raise AssertionError("unreachable")

    def _send(self, request: urllib.request.Request, what: str, limit: int) -> tuple[int, Any, bytes]:
        deadline = time.monotonic() + self._timeout
        too_big = RegistryError(
            f"{what} is larger than {size_text(limit)}",
            "kubedrift does not read it; make the artifact smaller",
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                length = str(response.headers.get("Content-Length", "") or "")
                if request.get_method() != "HEAD" and length.isdigit() and int(length) > limit:
                    raise too_big
                body = bytearray()
                while request.get_method() != "HEAD" and (chunk := response.read(65536)):
                    body += chunk
                    if len(body) > limit:
                        raise too_big
                    if time.monotonic() > deadline:
                        raise TimeoutError("timed out")
                return int(response.status), response.headers, bytes(body)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            shown = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            raise RegistryError(
                f"{what} cannot be read: the registry {self.registry} cannot be reached ({one_line(shown)})",
                f"check spec.url, spec.insecure and the network; {_AGAIN}",
                code=UNREACHABLE,
            ) from None

    def _authorization(self) -> str:
        if self._token:
            return f"Bearer {self._token}"
        if self._basic and self._credentials is not None:
            return _basic(self._credentials)
        return ""

    def _answer(self, challenge: str, what: str) -> bool:
        """Take up the registry's challenge; False when there is nothing new to answer it with."""
        scheme, _, parameters = challenge.strip().partition(" ")
        if scheme.lower() == "bearer":
            self._token = self._fetch_token(dict(_CHALLENGE_PARAMETER.findall(parameters)), what)
            return True
        if scheme.lower() == "basic" and self._credentials is not None and not self._basic:
            self._basic = True
            return True
        return False

    def _fetch_token(self, challenge: dict[str, str], what: str) -> str:
        realm = challenge.get("realm", "")
        scheme = urlsplit(realm).scheme.lower()
        if scheme != "https" and not (scheme == "http" and self._insecure):
            raise RegistryError(
                f"{what} cannot be read: the registry sends for a token to {realm or 'no address'}, "
                "which is not https",
                "set spec.insecure: true if the registry is meant to be read over plain HTTP",
            )
        query = {key: challenge[key] for key in ("service", "scope") if challenge.get(key)}
        query.setdefault("scope", f"repository:{self.repository}:pull")
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        if self._credentials is not None:
            request.add_unredirected_header("Authorization", _basic(self._credentials))
        try:
            _, _, body = self._send(request, f"a token for {what}", MAX_LIST_BYTES)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise self._refusal(exc.code, str(exc.reason), "", f"a token for {what}") from None
        try:
            answer = json.loads(body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the registry's token service gave no token for {what}", _AGAIN)
        return token

    def _refusal(self, status: int, reason: str, code: str, what: str) -> RegistryError:
        answered = f"the registry answered {status} {reason}".rstrip()
        if status in (401, 403):
            todo = (
                "check the credentials of spec.secretRef"
                if self._credentials is not None
                else "give the OCIRepository a spec.secretRef with credentials for it"
            )
            problem = f"{what} cannot be read ({answered})"
            return RegistryError(problem, todo, status=status, code=code)
        if status == 404:
            where = f"oci://{self.registry}/{self.repository}"
            if code == "NAME_UNKNOWN":
                problem, todo = f"{where} does not exist ({what} was asked for)", "fix spec.url"
            else:
                problem, todo = f"{what} is not in {where}", "push it, or fix spec.url or spec.ref"
            return RegistryError(problem, todo, status=status, code=code)
        return RegistryError(f"{what} cannot be read ({answered})", _AGAIN, status=status, code=code)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Redirects within http(s) only (urllib would follow ftp too); the registry's authorization follows
    only to the registry's own origin, never to a storage bucket's."""

    def __init__(self, origin: str, authorization: Callable[[], str]) -> None:
        self._origin = origin
        self._authorization = authorization

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(req.full_url, code, "redirected away from http(s)", headers, fp)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        authorization = self._authorization()
        if new is not None and authorization and _same_origin(newurl, self._origin):
            new.add_unredirected_header("Authorization", authorization)
        return new


_ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))


def _basic(credentials: RegistryCredentials) -> str:
    return "Basic " + b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()


def _error_code(exc: urllib.error.HTTPError, method: str) -> str:
    """The first OCI error code of an error answer (`{"errors": [{"code": ...}]}`), if it has one."""
    if method == "HEAD":
        return ""
    try:
        errors = json.loads(exc.read(65536)).get("errors") or []
        return str(errors[0].get("code") or "") if errors else ""
    except (ValueError, AttributeError, TypeError, OSError, http.client.HTTPException):
        return ""


def _same_origin(url: str, origin: str) -> bool:
    one, other = urlsplit(url), urlsplit(origin)
    return (one.scheme.lower(), one.hostname, one.port) == (other.scheme.lower(), other.hostname, other.port)


def size_text(size: int) -> str:
    """A size as a person reads it: `100 MiB`, or `512 bytes` below a MiB."""
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size} bytes"
