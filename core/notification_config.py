"""`notifications:` in kubedrift.yaml: webhooks told about drift, failed syncs, degraded health, rollbacks.

```yaml
notifications:
  - name: oncall
    url: {fromEnv: SLACK_WEBHOOK_URL}          # or {fromFile: /run/secrets/hook}, or a plain URL
    format: slack                              # or json (the default)
    triggers: [drift, syncFailed, healthDegraded, rolledBack]   # default: all four
    apps: [shop, "team-*"]                     # default: every app
    headers: {Authorization: {fromFile: /run/secrets/token}, X-Team: sre}
```

Secrets are referenced, never written in the file, which is committed and shown in reviews:
- a URL written inline must carry no credential: no user info, no token-like query parameter
  (`core.redact`'s rules), and not be a webhook whose path is itself the secret (Slack, Discord,
  Microsoft Teams and Google Chat incoming webhooks). Such a URL is a `{fromEnv}` or `{fromFile}`.
- a header that authenticates (`Authorization`, `Cookie`, or a name holding token, secret, key,
  auth, password, signature) must be a reference too; other headers may be plain text.

The key is `triggers`, not Argo CD's `on`: Kubernetes-flavoured YAML reads a bare `on:` key as "true".
References are only read when the live engine starts (`resolve_webhook`): `check` or `diff` on the
same file never need the secret, and a missing variable or file is then one sentence at start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from core.config_yaml import YamlField, describe_value
from core.errors import ConfigError
from core.redact import is_secret_parameter, redact_url


class Trigger(StrEnum):
    """What a webhook can be told about (the names are what `triggers:` lists)."""

    DRIFT = "drift"
    """An app went from Synced to OutOfSync."""
    SYNC_FAILED = "syncFailed"
    """A sync (a person's, auto-sync, self-heal or a rollback) ended with failed resources."""
    HEALTH_DEGRADED = "healthDegraded"
    """An app's health became Degraded."""
    ROLLED_BACK = "rolledBack"
    """Automated rollback rolled an app back, or tried and failed."""


class BodyFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"


_HOOK_KEYS: Final = ("name", "url", "format", "triggers", "apps", "headers")
_REFERENCE_KEYS: Final = ("fromEnv", "fromFile")
_REFERENCE_HINT: Final = "{fromEnv: VARIABLE} or {fromFile: PATH}"
# Incoming webhooks whose URL path is the credential: anyone with the URL can post.
_SECRET_PATH_HOSTS: Final = (
    re.compile(r"^hooks\.slack\.com$"),
    re.compile(r"^(?:[a-z0-9-]+\.)?discord(?:app)?\.com$"),
    re.compile(r"\.webhook\.office\.com$"),
    re.compile(r"^chat\.googleapis\.com$"),
)
_SECRET_HEADER_WORDS: Final = ("auth", "token", "secret", "key", "password", "signature", "cookie", "session")


@dataclass(frozen=True, slots=True)
class SecretReference:
    """Where a value comes from: the environment, a file (read relative to the config file), or the
    config itself (only for values that are no secret); `origin` names it in errors."""

    origin: str
    """`kubedrift.yaml:12 notifications[0].url`: where the reference is written."""
    from_env: str | None = None
    from_file: Path | None = None
    inline: str | None = None

    def describe(self) -> str:
        """The reference as a person wrote it, never its value."""
        if self.from_env is not None:
            return f"${self.from_env}"
        if self.from_file is not None:
            return str(self.from_file)
        return "the value written in the config"

    def resolve(self, environ: Mapping[str, str]) -> str:
        """The value; a variable unset or empty, or a file unreadable or empty, is one ConfigError."""
        if self.inline is not None:
            return self.inline
        if self.from_env is not None:
            value = environ.get(self.from_env, "").strip()
            if not value:
                raise ConfigError(
                    f"{self.origin}: the environment variable {self.from_env} is not set or empty; "
                    "export it before starting kubedrift, or use {fromFile: PATH}"
                )
            return value
        assert self.from_file is not None
        try:
            value = self.from_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
            raise ConfigError(
                f"{self.origin}: cannot read the secret file {self.from_file} ({reason}); "
                "check the path and its permissions"
            ) from None
        if not value:
            raise ConfigError(
                f"{self.origin}: the secret file {self.from_file} is empty; put the value in it"
            )
        return value


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """One `notifications:` entry, as written (references not read yet)."""

    name: str
    url: SecretReference
    format: BodyFormat = BodyFormat.JSON
    triggers: frozenset[Trigger] = frozenset(Trigger)
    apps: tuple[str, ...] = ()
    """Glob patterns (`team-*`) of the apps this hook hears about; empty: every app."""
    headers: Mapping[str, SecretReference] = field(default_factory=lambda: MappingProxyType({}))

    def wants(self, app: str, trigger: Trigger) -> bool:
        if trigger not in self.triggers:
            return False
        return not self.apps or any(fnmatchcase(app, pattern) for pattern in self.apps)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A hook with its references read: what the sender posts to. Never printed: the URL and the
    header values may be secrets; `endpoint` is what messages name."""

    config: WebhookConfig
    url: str
    headers: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def endpoint(self) -> str:
        """`https://hooks.slack.com`: scheme and host only, since a webhook's path may be its secret."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value read from a reference, to scrub from any text that might quote one."""
        values = [self.url] if self.config.url.inline is None else []
        values += [self.headers[name] for name, ref in self.config.headers.items() if ref.inline is None]
        return tuple(value for value in values if value)


def read_notifications(notifications: YamlField | None, base: Path) -> tuple[WebhookConfig, ...]:
    """The `notifications:` list; every mistake is one ConfigError naming file, line and field."""
    if notifications is None:
        return ()
    hooks: list[WebhookConfig] = []
    first_declared: dict[str, str] = {}
    for entry in notifications.items():
        entry.mapping(_HOOK_KEYS)
        name_field = entry.required("name")
        name = name_field.string()
        if name in first_declared:
            raise name_field.fail(
                f"duplicate notification name {name!r} (first declared at {first_declared[name]})"
            )
        first_declared[name] = name_field.origin
        hooks.append(
            WebhookConfig(
                name=name,
                url=_read_url(entry.required("url"), base),
                format=_read_format(entry.optional("format")),
                triggers=_read_triggers(entry.optional("triggers")),
                apps=_read_apps(entry.optional("apps")),
                headers=MappingProxyType(_read_headers(entry.optional("headers"), base)),
            )
        )
    return tuple(hooks)


def resolve_webhook(hook: WebhookConfig, environ: Mapping[str, str]) -> Webhook:
    """Read the hook's references; a URL that is not http(s) is one ConfigError naming the reference."""
    url = hook.url.resolve(environ)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The value may be a secret, or a secret pasted into the wrong variable: never quote it.
        raise ConfigError(
            f"{hook.url.origin}: {hook.url.describe()} does not hold an http:// or https:// URL; "
            "put the webhook's full URL there"
        )
    headers = {name: reference.resolve(environ) for name, reference in hook.headers.items()}
    return Webhook(hook, url, MappingProxyType(headers))


def _read_reference(value: YamlField, base: Path) -> SecretReference | None:
    """`{fromEnv: NAME}` or `{fromFile: PATH}`; None for a plain string, which the caller checks."""
    origin = f"{value.origin} {value.path}"
    if isinstance(value.value, str):
        return None
    if not isinstance(value.value, dict):
        raise value.fail(f"expected a string or {_REFERENCE_HINT}, got {describe_value(value.value)}")
    value.mapping(_REFERENCE_KEYS)
    if len(value.value) != 1:
        raise value.fail(f"expected exactly one of fromEnv or fromFile, as {_REFERENCE_HINT}")
    variable = value.optional("fromEnv")
    if variable is not None:
        name = variable.string()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise variable.fail(f"{name!r} is not an environment variable name")
        return SecretReference(origin, from_env=name)
    path = value.required("fromFile").string()
    return SecretReference(origin, from_file=base / Path(path).expanduser())


def _read_url(value: YamlField, base: Path) -> SecretReference:
    reference = _read_reference(value, base)
    if reference is not None:
        return reference
    url = value.string()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise value.fail(f"expected an http:// or https:// URL, or {_REFERENCE_HINT}")
    if redact_url(url) != url:
        problem = "it has user info or a token in its query"
    elif _secret_in_path(parts.hostname):
        problem = f"the path of a {parts.hostname} webhook is its secret"
    else:
        problem = ""
    if problem:  # the message must not quote the URL: it holds the secret this refuses to keep
        raise value.fail(
            f"this URL carries a credential ({problem}); keep it out of the config with {_REFERENCE_HINT}"
        )
    return SecretReference(f"{value.origin} {value.path}", inline=url)


def _secret_in_path(host: str) -> bool:
    return any(pattern.search(host.lower()) for pattern in _SECRET_PATH_HOSTS)


def _read_apps(value: YamlField | None) -> tuple[str, ...]:
    """App names or glob patterns (`team-*`); absent: every app."""
    return tuple(item.string() for item in value.items()) if value is not None else ()


def _read_format(value: YamlField | None) -> BodyFormat:
    if value is None:
        return BodyFormat.JSON
    text = value.string()
    if text not in {str(body) for body in BodyFormat}:
        raise value.fail(f"expected one of {', '.join(BodyFormat)}, got {text!r}")
    return BodyFormat(text)


def _read_triggers(value: YamlField | None) -> frozenset[Trigger]:
    if value is None:
        return frozenset(Trigger)
    triggers: set[Trigger] = set()
    for item in value.items():
        text = item.string()
        if text not in {str(trigger) for trigger in Trigger}:
            raise item.fail(f"unknown trigger {text!r}; expected some of {', '.join(Trigger)}")
        triggers.add(Trigger(text))
    if not triggers:
        raise value.fail(f"lists no trigger; list some of {', '.join(Trigger)}, or leave it out for all")
    return frozenset(triggers)


def _read_headers(value: YamlField | None, base: Path) -> dict[str, SecretReference]:
    headers: dict[str, SecretReference] = {}
    for name, header in value.entries() if value is not None else ():
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise header.fail(f"{name!r} is not an HTTP header name")
        reference = _read_reference(header, base)
        if reference is None:
            if is_secret_header(name):
                raise header.fail(
                    f"the {name} header is a credential; keep it out of the config with {_REFERENCE_HINT}"
                )
            reference = SecretReference(
                f"{header.origin} {header.path}", inline=header.string(allow_empty=True)
            )
        headers[name] = reference
    return headers


def is_secret_header(name: str) -> bool:
    """Whether a header of this name authenticates, so its value must come from a reference."""
    lowered = name.lower()
    return is_secret_parameter(lowered) or any(word in lowered for word in _SECRET_HEADER_WORDS)
