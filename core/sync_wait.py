"""Waiting in a sync: for a wave to be Healthy, a hook to complete, a deleted object to be gone.

The wait polls the cluster through the adapter (reads only) with a growing interval, up to a
timeout. Its clock and sleep are injected, so tests never sleep long; nothing here writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

T = TypeVar("T")

STEP_TIMEOUT_SECONDS: Final = 600.0
"""How long one wave may take to be Healthy, one hook to complete, or one object to be deleted."""
FIRST_POLL_SECONDS: Final = 0.1
LONGEST_POLL_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class SyncWaiter:
    """How a sync waits: the timeout per wait, and the clock and sleep it reads and calls."""

    timeout: float = STEP_TIMEOUT_SECONDS
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    first_poll: float = FIRST_POLL_SECONDS
    longest_poll: float = LONGEST_POLL_SECONDS

    def until(self, check: Callable[[], T | None]) -> T | None:
        """`check()` again and again until it returns something, which is returned; None once the
        timeout has passed without an answer (after one last check)."""
        deadline = self.clock() + self.timeout
        pause = self.first_poll
        while True:
            found = check()
            if found is not None:
                return found
            left = deadline - self.clock()
            if left <= 0:
                return None
            self.sleep(min(pause, left))
            pause = min(pause * 2, self.longest_poll)

    def backoff(self, seconds: float) -> None:
        """Wait out a retry's backoff."""
        if seconds > 0:
            self.sleep(seconds)

    @property
    def timeout_text(self) -> str:
        return f"{self.timeout:g} s"


DEFAULT_WAITER: Final = SyncWaiter()
