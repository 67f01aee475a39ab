"""The agent's HTTP server (aiohttp): health, readiness, metrics, the status API and its stream.

| path | answer |
|---|---|
| `GET /healthz` | 200 `ok` while the process runs |
| `GET /readyz` | 200 `ready` once the first statuses are published; 503 with the reason before |
| `GET /metrics` | the Prometheus exposition (agent.metrics) |
| `GET /api/v1/status` | `check -o json`'s document, plus `sequence` and `agent` |
| `GET /api/v1/apps/{app}` | that app's entry, plus `sequence`; 404 for an app this agent does not hold |
| `GET /api/v1/apps/{app}/resources/{group}/{kind}/{namespace}/{name}` | agent.resources |
| `GET /api/v1/watch?since=N&app=A` | the numbered `watch -o jsonl` lines, as JSON lines or SSE |
| `POST /api/v1/apps/{app}/sync`, `/refresh`, `/policy` | agent.actions |

Until the engine has published its first statuses, the status paths answer 503 with `Retry-After: 1`
(the watch stream may be opened at once: its first lines are those statuses).

Every path but the first three needs `Authorization: Bearer <token>`, the content of `--token-file`,
compared in constant time; the file is read again whenever it changes (Kubernetes swaps a projected
Secret's file in place when the Secret is rotated). Errors are `{"error": "<one sentence>"}`.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from agent.actions import add_action_routes
from agent.documents import dumps
from agent.options import AgentOptions
from agent.resources import key_from_path, resource_document, verdict_of
from agent.service import AgentService
from agent.stream import StreamLine, StreamTooOld
from core.agent_stream import STREAM_ID_HEADER
from core.errors import KubedriftError
from tui.resource_diff import wants_events

SERVICE: Final = web.AppKey("service", AgentService)
PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
LINES_PER_WRITE: Final = 500
"""A backlog is written in chunks of this many lines, so one reader catching up never holds the loop."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str, **extra: Any) -> web.Response:
    return web.Response(
        status=status, body=dumps({"error": message, **extra}), content_type="application/json"
    )


def json_response(document: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(document), content_type="application/json")


# Authentication.


class TokenFile:
    """The bearer token in a file, read again when the file changes; the last good token is kept
    while a rotation leaves the file missing or empty for a moment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._stat()
        self._token = self._read()
        if not self._token:
            raise KubedriftError(f"the token file {path} is empty: put the agent's bearer token in it")

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_mtime_ns, found.st_size, found.st_ino

    def _read(self) -> bytes:
        try:
            return self.path.read_bytes().strip()
        except OSError as error:
            raise KubedriftError(
                f"cannot read the token file {self.path}: {error.strerror or error}; check --token-file"
            ) from None

    def token(self) -> bytes:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            self._stamp = stamp
            try:
                fresh = self._read()
            except KubedriftError:
                fresh = b""
            if fresh:
                self._token = fresh
        return self._token


def check_auth(options: AgentOptions) -> TokenFile | None:
    """The token file, read once now so that a missing, unreadable or empty one stops the start."""
    return None if options.token_file is None else TokenFile(options.token_file)


def auth_middleware(options: AgentOptions, tokens: TokenFile | None) -> Any:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Everything but the three public paths needs the token: an unknown path is refused, not told.
        if request.path in PUBLIC_PATHS or options.insecure_no_auth:
            return await handler(request)
        refusal = _refusal(request.headers.get("Authorization", ""), tokens)
        if refusal is not None:
            response = error_response(401, refusal)
            response.headers["WWW-Authenticate"] = 'Bearer realm="kubedrift"'
            return response
        return await handler(request)

    return authenticate


def _refusal(header: str, tokens: TokenFile | None) -> str | None:
    if tokens is None:
        return (
            "this agent was started without --token-file, so it answers no /api/ request: "
            "restart it with --token-file FILE"
        )
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return "missing bearer token: send the header Authorization: Bearer <the agent's token>"
    if not hmac.compare_digest(presented.strip().encode(), tokens.token()):
        return "the bearer token is wrong: send the token in the agent's --token-file"
    return None


# Health, readiness and metrics.


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if not service.ready:
        return web.Response(status=503, text=service.waiting_for)
    return web.Response(text="ready")


async def metrics(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.metrics is None:
        return web.Response(status=503, text=service.metrics_missing or "metrics not available")
    body, content_type = service.metrics.exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


# The status API.


def _not_ready(service: AgentService) -> web.Response | None:
    if service.ready:
        return None
    response = error_response(503, f"this agent is {service.waiting_for}; try again in a moment")
    response.headers["Retry-After"] = "1"
    return response


def _unknown_app(service: AgentService, app: str) -> web.Response | None:
    if app in service.engine.apps:
        return None
    return error_response(404, f"this agent has no app named {app!r}; GET /api/v1/status lists its apps")


async def status(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    refusal = _not_ready(service)
    if refusal is not None:
        return refusal
    return web.Response(body=await service.status_body(), content_type="application/json")


async def app_status(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    app = request.match_info["app"]
    refusal = _not_ready(service) or _unknown_app(service, app)
    if refusal is not None:
        return refusal
    return web.Response(body=await service.app_body(app), content_type="application/json")


async def resource(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    info = request.match_info
    app = info["app"]
    refusal = _not_ready(service) or _unknown_app(service, app)
    if refusal is not None:
        return refusal
    key = key_from_path(info["group"], info["kind"], info["namespace"], info["name"])
    result = verdict_of(service.engine, app, key)
    if result is None:
        return error_response(404, f"app {app} has no resource {key}; its status lists the resources")
    live = await asyncio.to_thread(service.engine.full_live_object, app, key)  # one GET if cut down
    document = resource_document(service.engine, app, key, result, live)
    # The Events the in-process diff pane lists: a drifted resource's, or one under way or wrong.
    if wants_events(result, service.engine.live_object(app, key)):
        events = await _recent_events(service, app, key)
        if events:
            document["resource"]["events"] = events
    return web.Response(body=await asyncio.to_thread(dumps, document), content_type="application/json")


async def _recent_events(service: AgentService, app: str, key: Any) -> list[dict[str, Any]]:
    """A resource's recent Events, as `check -o json` lists them, read on a worker thread."""
    from core.resource_events import fetch_recent_events

    engine = service.engine
    cluster = engine.clusters.get(engine.apps[app].context or "")
    if cluster is None or cluster.adapter is None or cluster.error is not None:
        return []
    live = engine.live_object(app, key)
    found = await asyncio.to_thread(fetch_recent_events, cluster.adapter, [(key, live)])
    return [event.to_json() for event in found.get(key, ())]


# The stream.


async def watch(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    stream = service.stream
    sse = "text/event-stream" in request.headers.get("Accept", "") or request.query.get("format") == "sse"
    since_text = request.query.get("since")
    if since_text is None and sse:
        since_text = request.headers.get("Last-Event-ID")
    since = stream.last
    if since_text is not None:
        if not since_text.strip().isdigit():
            return error_response(400, f"since={since_text!r} is not a sequence number: give a whole number")
        since = int(since_text)
    try:
        backlog = stream.after(since)
    except StreamTooOld as gone:
        refused = error_response(410, str(gone), oldest=gone.oldest, sequence=gone.last)
        refused.headers[STREAM_ID_HEADER] = service.identity.stream_id
        return refused
    only = request.query.get("app")
    options = service.options
    keepalive = options.keepalive_seconds if options is not None else 15.0
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream" if sse else "application/x-ndjson",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a proxy in front must not hold lines back
            STREAM_ID_HEADER: service.identity.stream_id,
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    quiet = b": keep-alive\n\n" if sse else b"\n"
    try:
        await response.write(quiet)  # the reader knows it is connected before the first line
        cursor = await _write_lines(response, backlog, since, only, sse)
        while not stream.closed:
            if not await stream.wait_after(cursor, keepalive):
                if not stream.closed:
                    await response.write(quiet)
                continue
            try:
                lines = stream.after(cursor)
            except StreamTooOld:
                break  # this reader fell out of the window: it reconnects, is told 410, and refetches
            cursor = await _write_lines(response, lines, cursor, only, sse)
    except (ConnectionResetError, asyncio.CancelledError):
        return response
    return response


async def _write_lines(
    response: web.StreamResponse, lines: list[StreamLine], cursor: int, only: str | None, sse: bool
) -> int:
    """Write `lines` (those about `only`, when given); returns the number of the last one looked at."""
    for start in range(0, len(lines), LINES_PER_WRITE):
        chunk = lines[start : start + LINES_PER_WRITE]
        shown = [line for line in chunk if only is None or line.app == only]
        if shown:
            if sse:
                body = b"".join(b"id: %d\ndata: %s\n\n" % (line.seq, line.body) for line in shown)
            else:
                body = b"".join(line.body + b"\n" for line in shown)
            await response.write(body)
        cursor = chunk[-1].seq
    return cursor


# The server.


def build_app(service: AgentService, options: AgentOptions, tokens: TokenFile | None) -> web.Application:
    app = web.Application(middlewares=[auth_middleware(options, tokens)])
    app[SERVICE] = service
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/status", status)
    app.router.add_get("/api/v1/watch", watch)
    app.router.add_get("/api/v1/apps/{app}", app_status)
    app.router.add_get("/api/v1/apps/{app}/resources/{group}/{kind}/{namespace}/{name}", resource)
    add_action_routes(app, SERVICE)
    return app


class AgentServer:
    """The aiohttp server of one agent, on a socket bound beforehand (agent.options.bind)."""

    def __init__(self, service: AgentService, options: AgentOptions) -> None:
        self.service = service
        self.options = options
        self._runner: web.AppRunner | None = None

    async def start(self, sock: socket.socket, tls: ssl.SSLContext | None) -> str:
        """Serve on `sock`; returns the URL it serves on."""
        app = build_app(self.service, self.options, check_auth(self.options))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=tls)
        await site.start()
        port = sock.getsockname()[1]
        return self.options.listen.url(port, tls=tls is not None)

    async def stop(self) -> None:
        self.service.stream.close()  # the streams end first, so closing waits on none of them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
