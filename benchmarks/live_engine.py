"""The live engine on its own thread and event loop, with every published status change timestamped.

This is the engine's real output: `Engine.run(publish, stop)` as `kubedrift watch` and the TUI run
it. The publish callback notes `time.perf_counter()` for each change as it arrives, so a benchmark
can tell how long after its write the verdict came out.
"""

from __future__ import annotations

import asyncio
import threading
import time

from benchmarks.verdict_log import VerdictLog
from core.engine import Engine
from core.model import ResourceKey, SyncStatus
from core.status_events import ResourceStatusChange, StatusChange


class EngineThread:
    """Runs `engine.run` until `stop()`; `wait_for` finds a verdict published after a given moment."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.started_at = 0.0
        self.first_publish_at: float | None = None
        self._verdicts = VerdictLog(broken=lambda: self._error is not None)
        self._condition = self._verdicts.condition
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-engine", daemon=True)

    def _publish(self, changes: list[StatusChange]) -> None:
        now = time.perf_counter()
        with self._condition:
            if self.first_publish_at is None:
                self.first_publish_at = now
            for change in changes:
                if isinstance(change, ResourceStatusChange):
                    self._verdicts.add(now, change.key, change.status)
            self._condition.notify_all()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.engine.run(self._publish, self._stop))
        except BaseException as error:
            self._error = error
            with self._condition:
                self._condition.notify_all()
        finally:
            self._loop.close()

    def start(self) -> EngineThread:
        self.started_at = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def __enter__(self) -> EngineThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_started(self, timeout: float) -> float:
        """Seconds from `start()` to the engine's first publish (its settled start-up state)."""
        with self._condition:
            self._condition.wait_for(
                lambda: self.first_publish_at is not None or self._error is not None, timeout
            )
        if self._error is not None:
            raise RuntimeError(f"the engine stopped: {self._error!r}") from self._error
        if self.first_publish_at is None:
            raise TimeoutError(f"the engine published nothing within {timeout:.0f} s")
        return self.first_publish_at - self.started_at

    def wait_for(self, key: ResourceKey, status: SyncStatus, after: float, timeout: float) -> float | None:
        """When the engine published `status` for `key` after `after` (perf_counter); None on timeout."""
        return self._verdicts.wait_for(key, status, after, timeout)
