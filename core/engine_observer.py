"""What the live engine tells an observer about its own work: syncs, self-heal, watches, latency.

The statuses are the engine's output (`publish`); this is about the engine itself, for the agent's
Prometheus metrics (agent.metrics). The engine holds one observer, `NO_OBSERVER` unless the agent
sets its own, and calls it where each thing happens:
- `sync_finished` after every sync that ran or that the audit file refused (never a dry run);
- `self_heal_finished` after each self-heal attempt, beside its `sync_finished`;
- `self_heal_backoff_started` / `_ended` when an app starts or stops waiting out self-heal's backoff
  because a resource it re-applied drifted again (core.automation `backing_off`);
- `watch_reconnected` when a watch stream opens again after it broke or failed;
- `cluster_connected` / `_disconnected` when a cluster's watches are all up, or one is down
  (unreachable, or the server failing), as `ConnectionTracker` works out;
- `events_handled` with each batch's watch events: seconds from each one's arrival on the engine's
  queue to the statuses it changed being computed.

Calls come on the engine's loop, except `sync_finished` from a person's sync (on the worker thread
that ran it) and `watch_reconnected` (on the watch's thread): an observer must be thread-safe.
The no-op observer costs the loop nothing it would notice: the engine skips timing batches for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import Final, Protocol

from core.kind_watch import Relisted, WatchMessage
from core.live_cache import LiveEvent


class SyncTrigger(StrEnum):
    """What started a sync."""

    MANUAL = "manual"
    AUTO = "auto"
    SELF_HEAL = "self-heal"
    ROLLBACK = "rollback"


_TRIGGERS: Final = {
    "auto-sync": SyncTrigger.AUTO,
    "self-heal": SyncTrigger.SELF_HEAL,
    "rollback": SyncTrigger.ROLLBACK,
}


def trigger_of(operation: str) -> SyncTrigger:
    """The trigger of a sync by its audit operation (`sync`, `auto-sync`, `self-heal`, `rollback`)."""
    return _TRIGGERS.get(operation, SyncTrigger.MANUAL)


class EngineObserver(Protocol):
    """What the engine reports about its own work (see the module's docstring for when)."""

    def sync_finished(self, app: str, trigger: SyncTrigger, succeeded: bool) -> None: ...
    def self_heal_finished(self, app: str, succeeded: bool) -> None: ...
    def self_heal_backoff_started(self, app: str) -> None: ...
    def self_heal_backoff_ended(self, app: str) -> None: ...
    def watch_reconnected(self, context: str) -> None: ...
    def cluster_connected(self, context: str) -> None: ...
    def cluster_disconnected(self, context: str) -> None: ...
    def events_handled(self, seconds: Sequence[float]) -> None: ...


class NoObserver:
    """Hears everything and keeps nothing: the engine's observer unless the agent sets one."""

    def sync_finished(self, app: str, trigger: SyncTrigger, succeeded: bool) -> None:
        return None

    def self_heal_finished(self, app: str, succeeded: bool) -> None:
        return None

    def self_heal_backoff_started(self, app: str) -> None:
        return None

    def self_heal_backoff_ended(self, app: str) -> None:
        return None

    def watch_reconnected(self, context: str) -> None:
        return None

    def cluster_connected(self, context: str) -> None:
        return None

    def cluster_disconnected(self, context: str) -> None:
        return None

    def events_handled(self, seconds: Sequence[float]) -> None:
        return None


NO_OBSERVER: Final[EngineObserver] = NoObserver()


def report_sync(observer: EngineObserver, app: str, operation: str, succeeded: bool) -> None:
    """A sync of `app` ran (or was refused): its trigger from the audit operation, and for a
    self-heal attempt, the attempt too."""
    trigger = trigger_of(operation)
    observer.sync_finished(app, trigger, succeeded)
    if trigger is SyncTrigger.SELF_HEAL:
        observer.self_heal_finished(app, succeeded)


def report_backoffs(observer: EngineObserver, before: AbstractSet[str], after: AbstractSet[str]) -> None:
    """Tell the apps that started or stopped waiting out self-heal's backoff since `before`."""
    for app in sorted(after - before):
        observer.self_heal_backoff_started(app)
    for app in sorted(before - after):
        observer.self_heal_backoff_ended(app)


_CLUSTER_EVENTS: Final = (LiveEvent, Relisted)


def report_batch(observer: EngineObserver, batch: Iterable[tuple[str, WatchMessage, float]]) -> None:
    """The batch's watch events (and relists) are handled: each one's seconds since it was posted."""
    done = time.perf_counter()
    # By exact type: a nudge (core.engine_messages.Nudge, a LiveEvent) is no watch event.
    seconds = [done - posted for _, message, posted in batch if type(message) in _CLUSTER_EVENTS]
    if seconds:
        observer.events_handled(seconds)


Where = tuple[str, str, str | None]
"""A watch: (group, kind, namespace or None for every namespace)."""


class ConnectionTracker:
    """Whether each cluster's watches are up, from what the engine's loop hears; the observer is
    told each change, once.

    A cluster is down while it could not be reached at all (start-up, `reachable(..., False)`), or
    while one of its watches cannot reach the server or the server fails it (a KindState marked
    `unreachable`). A forbidden kind or one the server does not serve is not a connection problem:
    the rest of the cluster is seen, and the kind shows Unknown with its reason."""

    def __init__(self) -> None:
        self._unreached: set[str] = set()
        self._down: dict[str, set[Where]] = {}
        self._known: dict[str, bool] = {}

    def reachable(self, observer: EngineObserver, context: str, reached: bool) -> None:
        """The cluster answered (at start, or on reconnecting), or could not be reached."""
        if reached:
            self._unreached.discard(context)
        else:
            self._unreached.add(context)
        self._tell(observer, context)

    def watch_down(self, observer: EngineObserver, context: str, where: Where) -> None:
        self._down.setdefault(context, set()).add(where)
        self._tell(observer, context)

    def watch_up(self, observer: EngineObserver, context: str, where: Where) -> None:
        """The watch at `where` is up again; a relist of every namespace brings up the kind's
        per-namespace watches too."""
        down = self._down.get(context)
        if not down:
            return
        group, kind, namespace = where
        down -= {
            watch for watch in down if watch == where or (namespace is None and watch[:2] == (group, kind))
        }
        self._tell(observer, context)

    def connected(self, context: str) -> bool | None:
        """What the observer was last told of `context`; None before anything was."""
        return self._known.get(context)

    def _tell(self, observer: EngineObserver, context: str) -> None:
        up = context not in self._unreached and not self._down.get(context)
        if self._known.get(context) == up:
            return
        self._known[context] = up
        if up:
            observer.cluster_connected(context)
        else:
            observer.cluster_disconnected(context)
