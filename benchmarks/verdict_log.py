"""Verdicts as they arrive somewhere (the engine's publish, an agent's stream, an attached fleet),
each stamped with `time.perf_counter()`, and the wait for one of them after a write."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.model import ResourceKey, SyncStatus


@dataclass(frozen=True, slots=True)
class Verdict:
    """One resource's status as it arrived, and when."""

    at: float
    key: ResourceKey
    status: SyncStatus | None


class VerdictLog:
    """Appended to by the thread that hears the verdicts; waited on by the benchmark's thread."""

    def __init__(self, broken: Callable[[], bool] = lambda: False) -> None:
        self._verdicts: list[Verdict] = []
        self.condition = threading.Condition()
        """Held while appending; notify it when `broken` may have changed."""
        self._broken = broken

    def add(self, at: float, key: ResourceKey, status: SyncStatus | None) -> None:
        """Note one verdict; call with `condition` held, then notify it."""
        self._verdicts.append(Verdict(at, key, status))

    def wait_for(self, key: ResourceKey, status: SyncStatus, after: float, timeout: float) -> float | None:
        """When `status` for `key` first arrived after `after` (perf_counter); None on timeout, or
        when the source broke meanwhile."""

        def found() -> float | None:
            earliest = None
            for verdict in reversed(self._verdicts):
                if verdict.at < after:
                    break
                if verdict.key == key and verdict.status is status:
                    earliest = verdict.at
            return earliest

        deadline = time.perf_counter() + timeout
        with self.condition:
            while True:
                at = found()
                remaining = deadline - time.perf_counter()
                if at is not None or remaining <= 0 or self._broken():
                    return at
                self.condition.wait(remaining)


def key_of_line(line: dict[str, object]) -> ResourceKey:
    """The resource a `watch -o jsonl` resource line is about."""
    group, namespace = line.get("group") or "", line.get("namespace") or ""
    return ResourceKey(str(group), str(line["kind"]), str(namespace), str(line["name"]))
