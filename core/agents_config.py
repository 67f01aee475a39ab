"""`agents:` in kubedrift.yaml: the `kubedrift agent`s that the TUI, `check` and `watch` read from.

```yaml
agents:
  - name: eu-1                                   # optional, default the URL's host:port
    url: https://kubedrift.eu-1.example:8080
    tokenFile: /run/secrets/kubedrift-token      # or token: {fromEnv: VAR}; never inline
    caFile: /etc/kubedrift/ca.pem                # optional; insecureSkipVerify: true also accepted
```

With `agents:` kubedrift reads statuses from the agents instead of the clusters, so `apps:` may be
absent. The token is a reference, never a value in the file (which is committed and reviewed), and is
read only when a client starts (`AgentEndpoint.token.resolve`), then again from its file when the
agent answers 401 (the file may have been rotated). `kubedrift attach URL...` builds the same
endpoints from its command line (`endpoint_from_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from core.config_yaml import YamlField
from core.errors import ConfigError
from core.notification_config import SecretReference
from core.redact import redact_url

_AGENT_KEYS: Final = ("name", "url", "tokenFile", "token", "caFile", "insecureSkipVerify")
_TOKEN_KEYS: Final = ("fromEnv", "fromFile")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class AgentEndpoint:
    """One agent to read from: where it is, how to prove who we are, and how to trust its TLS."""

    name: str
    """What kubedrift calls it (the `agent` of each app): the config's name, else the URL's host:port."""
    url: str
    """The agent's base URL, without a trailing slash (`https://host:8080`, or with a path prefix)."""
    token: SecretReference | None = None
    """Where the bearer token comes from; None for an agent run with --insecure-no-auth."""
    ca_file: Path | None = None
    """The CA bundle that signed the agent's certificate; None: the system's trust store."""
    insecure_skip_verify: bool = False
    """Accept any certificate (tests, a first look); never the default."""
    origin: str = ""
    """Where it was declared (`kubedrift.yaml:12 agents[0]`, or `the command line`), for errors."""

    @property
    def token_from_file(self) -> bool:
        """Whether the token can be read again (a rotated file) after a 401."""
        return self.token is not None and self.token.from_file is not None


def read_agents(agents_field: YamlField | None, base: Path) -> tuple[AgentEndpoint, ...]:
    """The `agents:` list; every mistake is one ConfigError naming the file, line and field."""
    if agents_field is None:
        return ()
    endpoints: list[AgentEndpoint] = []
    first_declared: dict[str, str] = {}
    for entry in agents_field.items():
        endpoint = _read_agent(entry, base)
        if endpoint.name in first_declared:
            where = entry.optional("name") or entry.required("url")
            raise where.fail(
                f"two agents are named {endpoint.name!r} (first at {first_declared[endpoint.name]}); "
                "give each agent its own name"
            )
        first_declared[endpoint.name] = entry.origin
        endpoints.append(endpoint)
    if not endpoints:
        raise agents_field.fail("the agents list is empty; add an agent with url:, or remove agents:")
    return tuple(endpoints)


def endpoint_from_url(
    url: str,
    *,
    token_file: str | None = None,
    ca_file: str | None = None,
    insecure_skip_verify: bool = False,
    cwd: Path | None = None,
) -> AgentEndpoint:
    """An endpoint from `kubedrift attach URL [--token-file F] [--ca-file F] [--insecure-skip-verify]`."""
    base = cwd or Path.cwd()
    problem = url_problem(url)
    if problem:
        raise ConfigError(f"the agent URL {redact_url(url)!r} {problem}")
    token = None
    if token_file:
        token = SecretReference(origin="--token-file", from_file=base / Path(token_file).expanduser())
    return AgentEndpoint(
        name=default_name(url),
        url=url.rstrip("/"),
        token=token,
        ca_file=base / Path(ca_file).expanduser() if ca_file else None,
        insecure_skip_verify=insecure_skip_verify,
        origin="the command line",
    )


def default_name(url: str) -> str:
    """The URL's host:port, the port filled in from the scheme when the URL leaves it out."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def url_problem(url: str) -> str:
    """What is wrong with an agent URL as a clause (`is not http(s)`), or "" when it is fine."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL; write it as https://HOST:PORT"
    if parts.scheme not in _DEFAULT_PORTS:
        return "is not an http:// or https:// URL; write it as https://HOST:PORT"
    if not parts.hostname:
        return "has no host; write it as https://HOST:PORT"
    if parts.username is not None or parts.password is not None:
        return "carries credentials; remove them and give the token with tokenFile (or --token-file)"
    if parts.query or parts.fragment:
        return "has a query or fragment; give only the agent's base URL, as https://HOST:PORT"
    return ""


def _read_agent(entry: YamlField, base: Path) -> AgentEndpoint:
    entry.mapping(_AGENT_KEYS)
    url_field = entry.required("url")
    url = url_field.string()
    problem = url_problem(url)
    if problem:
        raise url_field.fail(f"{redact_url(url)!r} {problem}")
    name_field = entry.optional("name")
    name = name_field.string() if name_field else default_name(url)
    ca_field = entry.optional("caFile")
    insecure = entry.optional_boolean("insecureSkipVerify", default=False)
    if ca_field is not None and insecure:
        raise ca_field.fail("caFile and insecureSkipVerify: true contradict each other; keep one")
    return AgentEndpoint(
        name=name,
        url=url.rstrip("/"),
        token=_read_token(entry, base),
        ca_file=base / Path(ca_field.string()).expanduser() if ca_field else None,
        insecure_skip_verify=insecure,
        origin=f"{entry.origin} {entry.path}",
    )


def _read_token(entry: YamlField, base: Path) -> SecretReference | None:
    """`tokenFile: PATH` or `token: {fromEnv: VAR}` (or `{fromFile: PATH}`); a value is refused."""
    token_file = entry.optional("tokenFile")
    token = entry.optional("token")
    if token_file is not None and token is not None:
        raise token.fail("give the token once, as tokenFile: PATH or token: {fromEnv: VARIABLE}, not both")
    if token_file is not None:
        path = base / Path(token_file.string()).expanduser()
        return SecretReference(origin=f"{token_file.origin} {token_file.path}", from_file=path)
    if token is None:
        return None
    if not isinstance(token.value, dict):
        raise token.fail(
            "the token must not be written in kubedrift.yaml; reference it as token: {fromEnv: VARIABLE} "
            "or tokenFile: PATH"
        )
    token.mapping(_TOKEN_KEYS)
    if len(token.value) != 1:
        raise token.fail("expected exactly one of fromEnv or fromFile, as token: {fromEnv: VARIABLE}")
    origin = f"{token.origin} {token.path}"
    variable = token.optional("fromEnv")
    if variable is not None:
        return SecretReference(origin=origin, from_env=variable.string())
    path = base / Path(token.required("fromFile").string()).expanduser()
    return SecretReference(origin=origin, from_file=path)
