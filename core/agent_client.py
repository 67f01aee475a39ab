"""An asyncio client for one `kubedrift agent`'s HTTP API (the agent contract, /api/v1/...).

Requests (`status`, `app`, `resource`, `sync`, `refresh`, `set_policy`) return the agent's JSON, or
raise an `AgentError` whose message is one sentence naming the agent: `AgentUnreachable` when it
cannot be reached, `AgentRefused` when it refuses an action (403 read-only, 409 another agent holds
the app's Lease), carrying the agent's own sentence. `follow` (core.agent_stream) reads the watch
stream for as long as asked, resuming where it left off.

The bearer token is read from its reference when the first request is sent, and once more from its
file when the agent answers 401, since a mounted Secret is rotated by replacing the file.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from core import wire_json
from core.agents_config import AgentEndpoint
from core.errors import ConfigError, KubedriftError
from core.model import ResourceKey

if TYPE_CHECKING:
    import aiohttp

    from core.agent_stream import StreamEvent

__all__ = ["AgentClient", "AgentEndpoint", "AgentError", "AgentRefused", "AgentUnreachable", "resource_path"]

REQUEST_TIMEOUT: Final = 10.0
"""Seconds one request may take: a status document of thousands of apps is a few megabytes."""


class AgentError(KubedriftError):
    """An agent answered something other than what was asked for; one sentence naming the agent."""

    def __init__(self, message: str, *, agent: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.agent = agent
        self.status = status
        """The HTTP status the agent answered; None when it did not answer at all."""


class AgentUnreachable(AgentError):
    """The agent could not be reached (refused, timed out, TLS failed, the connection dropped)."""


class AgentRefused(AgentError):
    """The agent refused an action (403 read-only, 409 not the holder of the app's Lease): its sentence."""


def resource_path(app: str, key: ResourceKey) -> str:
    """`/api/v1/apps/{app}/resources/{group}/{kind}/{namespace}/{name}`, `core` and `_` standing in
    for the core group and a cluster-scoped object's namespace."""
    parts = (app, "resources", key.group or "core", key.kind, key.namespace or "_", key.name)
    return "/api/v1/apps/" + "/".join(quote(part, safe="") for part in parts)


class AgentClient:
    """Talks to one agent; open it with `async with`, or call `close()` when done."""

    def __init__(
        self,
        endpoint: AgentEndpoint,
        *,
        environ: Mapping[str, str] | None = None,
        request_timeout: float = REQUEST_TIMEOUT,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
        stream_idle_timeout: float = 60.0,
    ) -> None:
        self.endpoint = endpoint
        self.request_timeout = request_timeout
        self.retry_initial = retry_initial
        """The first pause before the stream reconnects; it doubles up to `retry_max`."""
        self.retry_max = retry_max
        self.stream_idle_timeout = stream_idle_timeout
        """Silence (no line, no keep-alive) after which the stream counts as dropped; the agent sends
        a keep-alive every 15 s."""
        self._environ = environ
        self._token: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool | None = None

    @property
    def name(self) -> str:
        return self.endpoint.name

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- requests -----------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """`GET /api/v1/status`: `{"apps": [...], "sequence": N, "agent": {...}}`."""
        document = await self._request("GET", "/api/v1/status")
        if not isinstance(document, dict) or not isinstance(document.get("apps"), list):
            raise AgentError(f"the agent {self.name} sent a status document without apps", agent=self.name)
        return document

    async def app(self, name: str) -> dict[str, Any]:
        """`GET /api/v1/apps/{app}`: that app's status entry, plus `sequence`."""
        document = await self._request("GET", f"/api/v1/apps/{quote(name, safe='')}")
        return _as_object(document, self.name)

    async def resource(self, app: str, key: ResourceKey) -> dict[str, Any]:
        """One resource's entry, diff, live and desired objects (Secret values masked by the agent)."""
        return _as_object(await self._request("GET", resource_path(app, key)), self.name)

    async def sync(self, app: str, *, prune: bool = False, dry_run: bool = False) -> dict[str, Any]:
        """`POST .../sync`: the agent's `result`; AgentRefused when it is read-only or not the holder."""
        body = {"prune": prune, "dryRun": dry_run}
        document = _as_object(await self._request("POST", _action_path(app, "sync"), body), self.name)
        result = document.get("result", document)
        return result if isinstance(result, dict) else {"result": result}

    async def refresh(self, app: str) -> None:
        """`POST .../refresh`: the agent judges the app again (202)."""
        await self._request("POST", _action_path(app, "refresh"), {})

    async def set_policy(
        self, app: str, *, automated: bool | None = None, self_heal: bool | None = None
    ) -> dict[str, Any]:
        """`POST .../policy`: turn auto-sync or self-heal on or off; the new policy."""
        body: dict[str, bool] = {}
        if automated is not None:
            body["automated"] = automated
        if self_heal is not None:
            body["selfHeal"] = self_heal
        return _as_object(await self._request("POST", _action_path(app, "policy"), body), self.name)

    def follow(
        self, since: int | None = None, stop: asyncio.Event | None = None, *, app: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        """The watch stream's lines (dicts with `seq`), and the markers of core.agent_stream, until
        `stop` is set; never ends on a network problem (it reconnects with backoff)."""
        from core.agent_stream import follow_stream

        return follow_stream(self, since, stop, app=app)

    # -- plumbing shared with core.agent_stream ----------------------------------------------------

    def url(self, path: str) -> str:
        return self.endpoint.url + path

    def session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def ssl_setting(self) -> ssl.SSLContext | bool:
        """False to skip verification, a context trusting `caFile`, else True (the system store)."""
        if self._ssl is None:
            self._ssl = _ssl_setting(self.endpoint)
        return self._ssl

    def headers(self) -> dict[str, str]:
        """The Authorization header, the token read from its reference on first use."""
        if self.endpoint.token is None:
            return {}
        if self._token is None:
            self._token = self.endpoint.token.resolve(
                self._environ if self._environ is not None else _environ()
            )
        return {"Authorization": f"Bearer {self._token}"}

    def reload_token(self) -> bool:
        """Reads the token file again after a 401; True when it now holds another token (worth a retry)."""
        if not self.endpoint.token_from_file or self.endpoint.token is None:
            return False
        before = self._token
        try:
            self._token = self.endpoint.token.resolve({})
        except ConfigError:
            return False
        return self._token != before

    def describe_failure(self, error: BaseException) -> str:
        """`agent NAME is unreachable: WHY (at URL); check ...`: one sentence for a network failure."""
        return self.unreachable_sentence(_reason(error))

    def unreachable_sentence(self, why: str) -> str:
        return (
            f"agent {self.name} is unreachable: {why} (at {self.endpoint.url}); "
            "check that it runs and that its URL and TLS settings are right"
        )

    def answer_error(self, status: int, body: bytes, what: str) -> AgentError:
        """The error for an answer other than 2xx; the agent's own sentence when it sent one."""
        said = _error_text(body)
        if status in (403, 409):
            return AgentRefused(
                said or f"the agent {self.name} refused {what} ({status})", agent=self.name, status=status
            )
        if status == 401:
            hint = "check the token file (--token-file, tokenFile) or token.fromEnv"
            return AgentError(
                f"the agent {self.name} did not accept our token (401): {said or 'unauthorized'}; {hint}",
                agent=self.name,
                status=status,
            )
        if status == 503:  # an agent starting, before its first statuses
            return AgentError(
                f"agent {self.name} is not ready yet (503): {said or 'service unavailable'}",
                agent=self.name,
                status=status,
            )
        detail = f": {said}" if said else ""
        return AgentError(
            f"the agent {self.name} answered {status} to {what}{detail}", agent=self.name, status=status
        )

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        for attempt in (1, 2):
            try:
                async with self.session().request(
                    method,
                    self.url(path),
                    json=body,
                    headers=self.headers(),
                    timeout=timeout,
                    ssl=self.ssl_setting(),
                ) as response:
                    data = await response.read()
                    if response.status == 401 and attempt == 1 and self.reload_token():
                        continue
                    if response.status >= 300:
                        raise self.answer_error(response.status, data, f"{method} {path}")
            except (aiohttp.ClientError, TimeoutError, OSError, ssl.SSLError) as error:
                raise AgentUnreachable(self.describe_failure(error), agent=self.name) from None
            if not data.strip():
                return None
            try:
                return wire_json.loads(data)
            except ValueError:
                raise AgentError(
                    f"the agent {self.name} answered {method} {path} with something that is not JSON",
                    agent=self.name,
                    status=response.status,
                ) from None
        raise AssertionError("unreachable: the second attempt returns or raises")


def _action_path(app: str, action: str) -> str:
    return f"/api/v1/apps/{quote(app, safe='')}/{action}"


def _as_object(document: Any, agent: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise AgentError(f"the agent {agent} answered with something that is not a JSON object", agent=agent)
    return document


def _error_text(body: bytes) -> str:
    """The `error` sentence of an `{"error": ...}` body, else the body's first line of text."""
    try:
        document = wire_json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text.splitlines()[0][:300] if text else ""
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return ""


def _ssl_setting(endpoint: AgentEndpoint) -> ssl.SSLContext | bool:
    if endpoint.insecure_skip_verify:
        return False
    if endpoint.ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(endpoint.ca_file))
    except (OSError, ssl.SSLError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(
            f"{endpoint.origin}: cannot read the agent {endpoint.name}'s CA file {endpoint.ca_file} "
            f"({reason}); check the path (caFile, --ca-file)"
        ) from None


def _reason(error: BaseException) -> str:
    """Why a connection failed, in a few words (never a traceback, never a credential)."""
    import aiohttp

    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "it did not answer in time"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return f"its TLS certificate is not trusted ({error.certificate_error})"
    if isinstance(error, aiohttp.ClientConnectorError):
        said = error.os_error.strerror or error.strerror
        return said[:1].lower() + said[1:] if said else "the connection failed"
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "it closed the connection"
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _environ() -> Mapping[str, str]:
    import os

    return os.environ
