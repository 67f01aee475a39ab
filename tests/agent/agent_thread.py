"""An agent serving in-process on its own thread and loop, and a small HTTP client for it.

The agent is built as `kubedrift agent` builds it (agent.service.build_service, run_agent), on a
loopback port the system picks; tests talk to it over real HTTP with urllib, as a client would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPResponse
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from agent.options import AgentOptions, Listen, bind
from agent.service import AgentService, build_service, run_agent
from core.config import Config

T = TypeVar("T")
TOKEN = "agent-test-token"
WAIT_SECONDS = 30.0
"""How long a test waits for something the agent does on its own (never a timing assertion)."""


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class AgentThread:
    """`config` served by an agent on 127.0.0.1:<free port>; a context manager."""

    def __init__(
        self,
        config: Config,
        kubeconfig: Path,
        *,
        token_file: Path | None = None,
        identity: str = "agent-test",
        retained_lines: int = 10_000,
        keepalive_seconds: float = 15.0,
        tls: ssl.SSLContext | None = None,
        before_run: Callable[[AgentService], None] | None = None,
    ) -> None:
        options = AgentOptions(
            listen=Listen("127.0.0.1", 0),
            identity=identity,
            token_file=token_file,
            insecure_no_auth=token_file is None,
            retained_lines=retained_lines,
            keepalive_seconds=keepalive_seconds,
        )
        self.service = build_service(config, options, kubeconfig=str(kubeconfig))
        if before_run is not None:
            before_run(self.service)
        self._sock = bind(options.listen)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._serving = threading.Event()
        self._error: BaseException | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._serve, args=(tls,), name="agent-test", daemon=True)
        self._thread.start()
        if not self._serving.wait(WAIT_SECONDS) or self._error is not None:
            raise RuntimeError(f"the agent did not start: {self._error!r}")

    def _serve(self, tls: ssl.SSLContext | None) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()

            def serving(url: str) -> None:
                self.url = url
                self._serving.set()

            await run_agent(self.service, self._sock, tls=tls, stop=self._stop, on_serving=serving)

        try:
            self._loop.run_until_complete(main())
        except BaseException as error:
            self._error = error
            self._serving.set()
        finally:
            self._sock.close()

    def on_loop(self, fn: Callable[[], T]) -> T:
        """`fn()` run on the agent's loop, where the engine's state may be read."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)

        self._loop.call_soon_threadsafe(invoke)
        return future.result(timeout=WAIT_SECONDS)

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(WAIT_SECONDS)
        if self._error is not None:
            raise self._error

    @property
    def stopped(self) -> bool:
        return not self._thread.is_alive()

    def __enter__(self) -> AgentThread:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # The client side.

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        token: str | None = TOKEN,
        body: Any = None,
        headers: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=WAIT_SECONDS, context=context) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers, error.read())

    def wait_ready(self) -> None:
        wait_for(lambda: self.request("/readyz").status == 200, "the agent to be ready")

    def open_stream(
        self, query: str = "", *, token: str | None = TOKEN, headers: dict[str, str] | None = None
    ) -> Stream:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"{self.url}/api/v1/watch{query}", headers=sent)
        response = urllib.request.urlopen(request, timeout=WAIT_SECONDS)
        return Stream(response)


@dataclass
class Stream:
    """An open /api/v1/watch response, read line by line (blank keep-alive lines skipped)."""

    response: HTTPResponse
    comments: list[bytes] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("Content-Type", ""))

    def next_line(self) -> dict[str, Any]:
        while True:
            raw = self.response.readline()
            if not raw:
                raise EOFError("the stream ended")
            if raw.strip():
                return dict(json.loads(raw))

    def next_event(self) -> tuple[str, dict[str, Any]]:
        """The next Server-Sent Event as (id, data), comments (keep-alives) noted and skipped."""
        event_id, data = "", ""
        while True:
            raw = self.response.readline()
            if not raw:
                raise EOFError("the stream ended")
            text = raw.decode().rstrip("\n")
            if text.startswith(":"):
                self.comments.append(raw)
            elif text.startswith("id: "):
                event_id = text[4:]
            elif text.startswith("data: "):
                data = text[6:]
            elif not text and data:
                return event_id, dict(json.loads(data))

    def lines_until(self, done: Callable[[dict[str, Any]], bool]) -> Iterator[dict[str, Any]]:
        while True:
            line = self.next_line()
            yield line
            if done(line):
                return

    def close(self) -> None:
        self.response.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
