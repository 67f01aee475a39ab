"""Self-heal pacing: when a drifted resource may be re-applied again (DESIGN "Self-heal").

Per resource, the waits after each attempt are 2 s, then x3, capped at 300 s: 2, 6, 18, 54, 162,
300, 300... The count resets only once the resource has stayed Synced for a cool-down (Argo CD's
`--self-heal-backoff-cooldown-seconds`, 330 s by default), so a controller or a person that keeps
changing a field back is met with ever longer waits rather than a tight fight.

Pure: time is a number of seconds the caller passes in (monotonic or wall clock, as long as it is
one of them), so tests need no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.model import ResourceKey

INITIAL_DELAY: Final = 2.0
FACTOR: Final = 3.0
MAX_DELAY: Final = 300.0
COOLDOWN: Final = 330.0


@dataclass(slots=True)
class _Attempts:
    count: int
    next_due: float
    synced_since: float | None = None


class SelfHealBackoff:
    """Attempt counts and next-due times per resource."""

    def __init__(
        self,
        *,
        initial: float = INITIAL_DELAY,
        factor: float = FACTOR,
        cap: float = MAX_DELAY,
        cooldown: float = COOLDOWN,
    ) -> None:
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.cooldown = cooldown
        self._attempts: dict[ResourceKey, _Attempts] = {}

    def delay(self, attempt: int) -> float:
        """The wait after attempt number `attempt` (0 for the first)."""
        return float(min(self.cap, self.initial * self.factor**attempt))

    def due(self, key: ResourceKey, now: float) -> bool:
        """True when drifted `key` may be re-applied at `now` (ask only about drifted resources)."""
        attempts = self._current(key, now)
        return attempts is None or now >= attempts.next_due

    def next_due(self, key: ResourceKey, now: float) -> float | None:
        """When `key` may next be re-applied; None when it may be at once."""
        attempts = self._current(key, now)
        return None if attempts is None or now >= attempts.next_due else attempts.next_due

    def record_attempt(self, key: ResourceKey, now: float) -> float:
        """Note a re-apply of `key` at `now`; returns the wait before the next one."""
        attempts = self._current(key, now)
        count = 0 if attempts is None else attempts.count
        wait = self.delay(count)
        self._attempts[key] = _Attempts(count + 1, now + wait)
        return wait

    def record_healthy(self, key: ResourceKey, now: float | None = None) -> None:
        """`key` is Synced: with `now`, the count resets once it stays so for the cool-down; else at once."""
        attempts = self._attempts.get(key)
        if attempts is None:
            return
        if now is None:
            del self._attempts[key]
        elif attempts.synced_since is None:
            attempts.synced_since = now

    def forget(self, key: ResourceKey) -> None:
        """Drop `key` entirely (it left the app)."""
        self._attempts.pop(key, None)

    def attempts(self, key: ResourceKey) -> int:
        """How many re-applies of `key` count towards its current wait."""
        attempts = self._attempts.get(key)
        return 0 if attempts is None else attempts.count

    def _current(self, key: ResourceKey, now: float) -> _Attempts | None:
        attempts = self._attempts.get(key)
        if attempts is None:
            return None
        # Being asked means `key` has drifted: a Synced spell ends here, long enough to reset or not.
        if attempts.synced_since is not None:
            if now - attempts.synced_since >= self.cooldown:
                del self._attempts[key]
                return None
            attempts.synced_since = None
        return attempts
