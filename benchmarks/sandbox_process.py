"""A sandbox in a process of its own, for the scale run (`--scale`).

At 100,000 objects a SandboxThread in the benchmark's process would share the GIL with the
engine being measured, and the figures would measure the sandbox as much as kubedrift. Here the
sandbox is a child process: it builds the fleet's manifests itself (`manifests(count)` is
deterministic, so parent and child hold equal copies without sending any), fills a SandboxThread
as benchmarks.fleet does, then serves HTTP on its own core until told to stop, as a real
cluster is another machine. The child is spawned, not forked: by the time a later figure starts
one, this process has threads (engines, Textual, the kubernetes client's pool) whose locks a fork
could copy held.

The parent talks to it over a pipe: `run(fn)` sends `fn` (a module-level function, or a
`functools.partial` of one, since it is pickled) and gets back what `fn(api)` returned on the
child's sandbox loop, so `Fleet` works on it as on a SandboxThread.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from benchmarks.fixtures import manifests
from benchmarks.fleet import populate
from benchmarks.machine import process_rss_bytes
from sandbox.handle import SandboxThread, write_kubeconfig
from sandbox.resources import ResourceAPI

T = TypeVar("T")
PROGRESS_EVERY = 10_000
"""Objects between two progress messages while the child fills its sandbox."""


class SandboxProcess:
    """A child process serving a sandbox that holds `count` fleet objects of app `app` (none: empty).

    Use as a context manager; `ready()` waits until it is filled and serving."""

    def __init__(self, app: str, count: int) -> None:
        self.url = ""
        self.fill_seconds = 0.0
        self._lock = threading.Lock()
        self._conn, child_conn = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=_serve, args=(child_conn, app, count), name="bench-sandbox", daemon=True
        )
        self._process.start()
        child_conn.close()

    def ready(self, timeout: float, progress: Callable[[int], None] | None = None) -> SandboxProcess:
        """Wait until the child serves (its fleet applied), passing on how many objects are in."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._conn.poll(remaining):
                raise TimeoutError(f"the sandbox process was not filled within {timeout:.0f} s")
            kind, value = self._receive()
            if kind == "filled" and progress is not None:
                progress(int(value))
            elif kind == "ready":
                self.url, self.fill_seconds = value
                return self

    def run(self, fn: Callable[[ResourceAPI], T]) -> T:
        """`fn(api)` on the child's sandbox loop; its result, or its error raised here."""
        with self._lock:
            self._conn.send(fn)
            kind, value = self._receive()
        if kind == "error":
            raise RuntimeError(f"in the sandbox process: {value}")
        result: T = value
        return result

    def _receive(self) -> tuple[str, Any]:
        try:
            kind, value = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the sandbox process ended (exit code {self._process.exitcode})") from None
        return kind, value

    def kubeconfig(self, path: Path | str) -> Path:
        return write_kubeconfig(Path(path), self.url)

    def rss_bytes(self) -> int:
        """The child's resident memory, from /proc (0 where there is none)."""
        assert self._process.pid is not None
        return process_rss_bytes(self._process.pid)

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                with self._lock:
                    self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=10)
        self._conn.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serve(conn: Connection, app: str, count: int) -> None:
    """The child: fill a sandbox, say where it listens, then run what the parent sends until None."""
    with SandboxThread(controllers=()) as sandbox:
        started = time.perf_counter()
        if count:

            def filled(done: int) -> None:
                if done % PROGRESS_EVERY < 250 or done == count:
                    conn.send(("filled", done))

            populate(sandbox, app, manifests(count), on_chunk=filled)
        conn.send(("ready", (sandbox.url, time.perf_counter() - started)))
        while (fn := conn.recv()) is not None:
            try:
                conn.send(("ok", sandbox.run(fn)))
            except Exception as error:
                conn.send(("error", f"{type(error).__name__}: {error}"))
