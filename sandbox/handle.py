"""Running a sandbox in-process: `async with Sandbox() as sb` on the caller's event loop, or a
`SandboxThread` with its own loop for synchronous callers (the kubernetes client, kubectl tests)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml
from aiohttp import web

from sandbox.faults import Faults, RequestRecord
from sandbox.resources import ResourceAPI
from sandbox.server import ApiServer, Controller, ServerConfig

CONTEXT_NAME = "sandbox"
SANDBOX_TOKEN = "sandbox-token"  # any bearer token is accepted; kubeconfigs carry this one

T = TypeVar("T")


def kubeconfig_document(url: str, *, namespace: str = "default") -> dict[str, Any]:
    """A kubeconfig whose cluster, user and context are all named `sandbox`."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT_NAME, "user": {"token": SANDBOX_TOKEN}}],
        "contexts": [
            {
                "name": CONTEXT_NAME,
                "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


def write_kubeconfig(path: Path, url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_document(url), sort_keys=False))
    return path


class Sandbox:
    """A sandbox API server on a loopback port, served on the running event loop.

    `port=0` picks a free port. Inside `async with`, `url`, `api`, `faults` and `request_log` are
    ready; leaving the block closes every watch and stops the controllers.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: ServerConfig | None = None,
        controllers: Sequence[Controller] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.server = ApiServer(config, controllers=controllers)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api(self) -> ResourceAPI:
        return self.server.api

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def request_log(self) -> list[RequestRecord]:
        return self.server.faults.request_log

    def kubeconfig(self, path: Path | str) -> Path:
        return write_kubeconfig(Path(path), self.url)

    async def start(self) -> Sandbox:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.server.address = f"{self.host}:{self.port}"
        self._runner = web.AppRunner(
            self.server.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            self.server.store.drop_watchers()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class _LoopFaults:
    """The fault plan of a sandbox running on another thread; each call runs on the server's loop."""

    def __init__(self, owner: SandboxThread) -> None:
        self._owner = owner

    def fail_next(
        self,
        *,
        resource: str,
        count: int = 1,
        code: int = 500,
        retry_after: int = 1,
        verbs: Sequence[str] = (),
        message: str = "",
    ) -> None:
        self._owner.call(
            lambda f: f.fail_next(
                resource=resource,
                count=count,
                code=code,
                retry_after=retry_after,
                verbs=tuple(verbs),
                message=message,
            )
        )

    def drop_watches(self) -> int:
        return self._owner.call(lambda f: f.drop_watches())

    def compact(self) -> None:
        self._owner.call(lambda f: f.compact())

    def latency(self, seconds: float) -> None:
        self._owner.call(lambda f: f.latency(seconds))

    def clear(self) -> None:
        self._owner.call(lambda f: f.clear())

    def clear_request_log(self) -> None:
        self._owner.call(lambda f: f.clear_request_log())


class SandboxThread:
    """A sandbox running on its own thread and event loop, for synchronous code.

    Use it as a context manager, or call `stop()`. `faults` and `request_log` are safe to use from
    the calling thread; `run(fn)` runs `fn(api)` on the server's loop and returns its result.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: ServerConfig | None = None,
        controllers: Sequence[Controller] | None = None,
    ) -> None:
        self._sandbox = Sandbox(host=host, port=port, config=config, controllers=controllers)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="kubedrift-sandbox", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        self.faults = _LoopFaults(self)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._sandbox.start())
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._sandbox.stop())
            self._loop.close()
            self._stopped.set()

    @property
    def url(self) -> str:
        return self._sandbox.url

    @property
    def port(self) -> int:
        return self._sandbox.port

    @property
    def server(self) -> ApiServer:
        return self._sandbox.server

    def kubeconfig(self, path: Path | str) -> Path:
        return self._sandbox.kubeconfig(path)

    def call(self, fn: Callable[[Faults], T]) -> T:
        """Run `fn(faults)` on the server's loop and return its result."""
        return self._on_loop(lambda: fn(self._sandbox.faults))

    def run(self, fn: Callable[[ResourceAPI], T]) -> T:
        """Run `fn(api)` on the server's loop (the store is not thread-safe) and return its result."""
        return self._on_loop(lambda: fn(self._sandbox.api))

    def _on_loop(self, fn: Callable[[], T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)

        self._loop.call_soon_threadsafe(invoke)
        return future.result(timeout=30)

    @property
    def request_log(self) -> list[RequestRecord]:
        return self.call(lambda f: list(f.request_log))

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._stopped.wait(timeout=10)
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxThread:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
