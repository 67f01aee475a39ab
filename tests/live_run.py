"""The live engine on its own thread and loop, collecting what it publishes, for tests to wait on."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from core.engine import Engine
from core.status_events import StatusChange


class LiveRun:
    """The engine's live form on a background thread, collecting what it publishes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.changes: list[StatusChange] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _publish(self, changes: list[StatusChange]) -> None:
        with self._lock:
            self.changes.extend(changes)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.engine.run(self._publish, self._stop))

    def __enter__(self) -> LiveRun:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def wait_for(self, predicate: Callable[[StatusChange], bool], timeout: float = 10.0) -> StatusChange:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for change in self.changes:
                    if predicate(change):
                        return change
            time.sleep(0.02)
        with self._lock:
            # Not every change is a JSON line (a RevisionChange is not): show those as they are.
            seen = [c.to_json() if hasattr(c, "to_json") else repr(c) for c in self.changes]
        raise AssertionError(f"no matching change within {timeout} s; saw {seen}")
