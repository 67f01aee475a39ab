"""A controller's queue of keys to reconcile, shaped like client-go's rate-limited work queue.

A key queued twice before it is taken is reconciled once. A key can come back after a delay (a pod
that becomes ready in 0.2 s, a CronJob's next minute) or after a failure, with exponential back-off.
Delays are loop timers, so an idle controller sleeps instead of polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable

Key = Hashable


class WorkQueue:
    """Deduplicated keys in arrival order, with delayed and rate-limited re-adds."""

    def __init__(self, *, base_delay: float = 0.05, max_delay: float = 60.0) -> None:
        self._keys: dict[Key, None] = {}
        self._ready = asyncio.Event()
        self._timers: dict[Key, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[Key, int] = {}
        self._base_delay = base_delay
        self._max_delay = max_delay

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Key) -> None:
        if key not in self._keys:
            self._keys[key] = None
            self._ready.set()

    def add_all(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self.add(key)

    def add_after(self, key: Key, delay: float) -> None:
        """Queue `key` in `delay` seconds; an earlier pending timer for it wins."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def add_rate_limited(self, key: Key) -> float:
        """Queue `key` again after a back-off that doubles with each consecutive failure."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self._base_delay * (2.0**failures), self._max_delay)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Key) -> None:
        """The key was reconciled successfully: its next failure starts the back-off afresh."""
        self._failures.pop(key, None)

    async def get(self) -> Key:
        while not self._keys:
            self._ready.clear()
            await self._ready.wait()
        key = next(iter(self._keys))
        del self._keys[key]
        return key

    def close(self) -> None:
        """Cancel every pending timer (the controller is stopping)."""
        for _due, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._keys.clear()

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)
