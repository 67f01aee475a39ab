"""A small stand-in for `kubedrift agent`'s HTTP API (the agent contract), for client unit tests.

It holds a status document and a list of stream lines; tests append lines, drop open streams, forget
old lines (so `since` gets a 410), and rotate the token, and read the requests it got.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from core.agent_stream import STREAM_ID_HEADER


def app_entry(name: str, sync: str = "Synced", health: str = "Healthy", resources: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "revision": "abc123",
        "sync": sync,
        "health": health,
        "errors": [],
        "resources": [
            {
                "group": "",
                "version": "v1",
                "kind": "ConfigMap",
                "namespace": name,
                "name": f"cm-{index}",
                "status": "Synced" if sync == "Synced" else "OutOfSync",
                "health": "Healthy",
                "changes": [],
            }
            for index in range(resources)
        ],
    }


@dataclass
class FakeAgent:
    identity: str = "fake"
    token: str | None = "s3cret"
    read_only: bool = True
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)
    oldest: int = 1
    """The oldest retained sequence number: `since` below oldest - 1 answers 410."""
    requests: list[str] = field(default_factory=list)
    watch_sinces: list[str | None] = field(default_factory=list)
    new_line: asyncio.Event = field(default_factory=asyncio.Event)
    drop: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    base: int = 0
    """Added to every sequence number (an agent that restarted counts from 1 again: set it lower)."""
    stream_id: str = "first-process"
    """Sent with every stream response, as the agent's STREAM_ID_HEADER: a new process has a new one."""

    @property
    def sequence(self) -> int:
        return self.base + len(self.lines)

    def add_line(self, line: dict[str, Any]) -> int:
        self.lines.append({**line, "seq": self.base + len(self.lines) + 1, "agent": self.identity})
        app = self.apps.get(str(line.get("app")))
        if app is not None and "sync" in line and "group" not in line:
            app.update(sync=line["sync"], health=line["health"])
        self.new_line.set()
        return self.sequence

    def drop_streams(self) -> None:
        self.drop.set()

    def web_app(self) -> web.Application:
        self.closing.clear()  # served (again)
        app = web.Application()
        app.router.add_get("/api/v1/status", self._status)
        app.router.add_get("/api/v1/apps/{app}", self._app)
        app.router.add_get("/api/v1/apps/{app}/resources/{group}/{kind}/{namespace}/{name}", self._resource)
        app.router.add_post("/api/v1/apps/{app}/{action}", self._action)
        app.router.add_get("/api/v1/watch", self._watch)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _shutdown(self, app: web.Application) -> None:
        self.closing.set()  # open streams end, so the server stops at once

    def _refused(self, request: web.Request) -> web.Response | None:
        self.requests.append(f"{request.method} {request.path_qs}")
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {"error": "a bearer token is needed"}, status=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return None

    async def _status(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        info = {"name": self.identity, "shard": None, "readOnly": self.read_only, "version": "0.1.0"}
        return web.json_response({"apps": list(self.apps.values()), "sequence": self.sequence, "agent": info})

    async def _app(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        entry = self.apps.get(request.match_info["app"])
        if entry is None:
            return web.json_response({"error": f"no app named {request.match_info['app']!r}"}, status=404)
        return web.json_response({**entry, "sequence": self.sequence})

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        asked = dict(request.match_info)
        return web.json_response({"resource": asked, "diff": "", "live": None, "desired": None})

    async def _action(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        action = request.match_info["action"]
        if action == "refresh":
            return web.Response(status=202)
        if self.read_only:
            message = (
                f"the agent {self.identity} is read-only: set agent.allowWrites: true in its kubedrift.yaml "
                "to let it write"
            )
            return web.json_response({"error": message}, status=403)
        body = await request.json()
        if action == "sync":
            return web.json_response({"result": {"ok": True, "message": "", "resources": [], "asked": body}})
        return web.json_response(body)

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        since_text = request.query.get("since")
        self.watch_sinces.append(since_text)
        since = int(since_text) if since_text is not None else self.sequence
        if since < self.oldest - 1:
            body = {"error": "too old", "oldest": self.oldest, "sequence": self.sequence}
            return web.json_response(body, status=410)
        headers = {"Content-Type": "application/x-ndjson", STREAM_ID_HEADER: self.stream_id}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        await response.write(b"\n")  # a keep-alive, which clients skip
        async for line in self._lines_after(since):
            await response.write(json.dumps(line).encode() + b"\n")
        return response

    async def _lines_after(self, since: int) -> AsyncIterator[dict[str, Any]]:
        sent = since
        while not self.drop.is_set() and not self.closing.is_set():
            waiting = [line for line in self.lines if line["seq"] > sent]
            if waiting:
                for line in waiting:
                    sent = line["seq"]
                    yield line
                continue
            self.new_line.clear()
            events = (self.new_line, self.drop, self.closing)
            waiters = [asyncio.ensure_future(event.wait()) for event in events]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
        self.drop.clear()


async def start(agent: FakeAgent, port: int | None = None) -> TestServer:
    """The fake agent served on a free port (or `port`); closing it cuts open streams at once."""
    server = TestServer(agent.web_app(), port=port, shutdown_timeout=0.05)
    await server.start_server()
    return server
