"""A webhook receiver for tests: an aiohttp server on loopback that records each post and answers
with scripted statuses (then 200)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    path: str


@dataclass
class WebhookReceiver:
    """Records every request; answers the next scripted (status, headers) first, then 200."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, answers: Iterable[int | tuple[int, dict[str, str]]]) -> None:
        with self._lock:
            self.answers = [a if isinstance(a, tuple) else (a, {}) for a in answers]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [item.body for item in self.received]

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        with self._lock:
            self.attempts += 1
            status, headers = self.answers.pop(0) if self.answers else (200, {})
            if status == 200:
                self.received.append(Received(body, dict(request.headers), request.path))
        return web.Response(status=status, headers=headers, text="ok" if status == 200 else "no")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ReceiverThread:
    """A WebhookReceiver on a loop of its own, for tests whose engine runs on another thread."""

    def __init__(self) -> None:
        self.receiver = WebhookReceiver()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self._loop).result(timeout=10)
        return self.receiver

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
