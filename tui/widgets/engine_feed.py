"""The bridge from the live engine to the screens: status changes in, coalesced `Updated` messages out.

The engine calls `publish` once per batch of status changes, as fast as watch events arrive. The
feed only notes which apps changed and what is worth a line in the event log; the delivery, at most
`MAX_UPDATES_PER_SECOND` times a second and only while something is pending, is `StatusFeed`'s.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from textual import work
from textual.worker import Worker, WorkerState

from core.engine import Engine
from core.errors import KubedriftError
from core.model import AppSync, Health, ResourceKey, SyncResult, SyncStatus
from core.redact import redact_text
from core.status_events import (
    AppStatusChange,
    ChildAppChange,
    ResourceStatusChange,
    RevisionChange,
    RollbackEvent,
    SharedResourceChange,
    StatusChange,
    rfc3339_now,
)
from core.sync_waves import SyncProgress
from tui.status_text import describe_sync, rollback_step_text
from tui.widgets.status_feed import LogEntry, LogLevel, StatusFeed

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["EngineFeed", "LogEntry", "LogLevel", "describe_change"]


class EngineFeed(StatusFeed):
    """Runs the engine in a worker and tells every screen what changed, coalesced."""

    def __init__(self, engine: Engine, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.engine = engine
        # A webhook not answering is a line in the event log: stderr is hidden under the TUI.
        engine.notification_warning = lambda text: self.log_entry(
            LogEntry(rfc3339_now(), "", text, LogLevel.WARNING)
        )
        self.changes_seen = 0
        """How many status changes the engine published."""
        self._reported_syncs: dict[str, SyncResult | None] = {}
        self._reported_errors: dict[str, str | None] = {}
        self._syncs_in_hand: set[str] = set()
        self._loaded = False

    def _begin(self) -> None:
        # Connecting, listing and loading Git take a while and, on threads, compete with painting
        # for the GIL: the App starts the feed only after the dashboard's first frame.
        self._run_engine()

    def knows(self, app: str) -> bool:
        return app in self.engine.apps

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def _run_engine(self) -> None:
        await self.engine.run(self.publish, self._stop)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place engine failures are turned into a sentence for the user."""
        if event.worker.group != "engine" or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        text = str(error) if isinstance(error, KubedriftError) else f"the engine stopped: {error!r}"
        text = redact_text(text)  # an unexpected error's repr may quote a repoURL with its token
        self.log_entry(LogEntry(rfc3339_now(), "", text, LogLevel.ERROR))
        self.notify(text, title="kubedrift", severity="error", timeout=15)

    # What the engine and the actions hand in.

    def publish(self, changes: list[StatusChange]) -> None:
        """The engine's callback (on the event loop thread): note what changed, deliver soon."""
        if not self._loaded:
            self._loaded = True
            # The first publish follows the engine's start-up lists, and what they loaded lives as
            # long as the cache. Frozen, it is never walked by a full collection again: at 10k
            # objects such a pass takes most of a second, landing on a key press or a screen's first
            # frame.
            gc.freeze()
        self.changes_seen += len(changes)
        for change in changes:
            self._pending_apps.add(change.app)
            entry = describe_change(change, self._self_heals(change.app))
            if entry is not None:
                self._add(entry)
        self._schedule()

    def sync_started(self, app: str) -> None:
        """A person's sync of `app` is under way: its result is logged by `sync_ended`, not as automatic."""
        self._syncs_in_hand.add(app)

    def sync_progressed(self, app: str, progress: SyncProgress) -> None:
        """A sync of `app` moved on: its progress line, and a log line for each phase or wave event."""
        if progress.event:  # `PreSync: Job.batch/shop/migrate created`: it says what it is
            self._add(LogEntry(rfc3339_now(), app, progress.event))
        elif progress.key is not None:
            self.sync_progress[app] = f"{progress.line} {progress.key}"
        self._pending_apps.add(app)
        self._schedule()

    def sync_ended(self, app: str, entry: LogEntry) -> None:
        """Log the outcome of a person's sync (success or failure) and mark its result as reported."""
        self._syncs_in_hand.discard(app)
        self.sync_progress.pop(app, None)
        runtime = self.engine.apps.get(app)
        if runtime is not None:
            self._reported_syncs[app] = runtime.last_sync
        self.log_entry(entry)

    def _before_delivery(self, apps: Iterable[str]) -> None:
        """Log auto-sync / self-heal results and automation errors the engine recorded since last time."""
        for app in list(apps):
            runtime = self.engine.apps.get(app)
            if runtime is None:
                continue
            if runtime.last_sync is not self._reported_syncs.get(app) and app not in self._syncs_in_hand:
                self._reported_syncs[app] = runtime.last_sync
                if runtime.last_sync is not None:
                    result = runtime.last_sync
                    level = LogLevel.ERROR if result.failed else LogLevel.SUCCESS
                    self._add(LogEntry(rfc3339_now(), app, f"automatic sync: {describe_sync(result)}", level))
            error = runtime.automation_error
            if error != self._reported_errors.get(app):
                self._reported_errors[app] = error
                if error is not None:
                    self._add(LogEntry(rfc3339_now(), app, redact_text(error), LogLevel.ERROR))

    def _self_heals(self, app: str) -> bool:
        runtime = self.engine.apps.get(app)
        return runtime is not None and runtime.app.sync_policy.self_heal


def describe_change(change: StatusChange, self_heal: bool = False) -> LogEntry | None:
    """The event-log line for a status change; None when it is not worth a line."""
    if isinstance(change, AppStatusChange):
        return _describe_app_change(change)
    if isinstance(change, RevisionChange):
        if change.previous_revision is None or change.revision is None:
            return None
        return LogEntry(change.ts, change.app, f"new revision {change.revision[:8]} from Git")
    if isinstance(change, RollbackEvent):
        level = _ROLLBACK_LEVELS.get(change.step, LogLevel.INFO)
        return LogEntry(change.ts, change.app, rollback_step_text(change), level)
    if isinstance(change, ChildAppChange):  # app of apps: a child came, changed or went
        level = LogLevel.WARNING if change.change == "removed" else LogLevel.INFO
        return LogEntry(change.ts, change.app, change.message, level)
    if isinstance(change, SharedResourceChange):  # an object another app declares too, or no longer
        return LogEntry(
            change.ts, change.app, change.message, LogLevel.WARNING if change.shared_with else LogLevel.INFO
        )
    if not change.status_changed:
        return None  # only the details of a drift moved: the screens refresh, the log stays quiet
    return _describe_resource_change(change, self_heal)


_ROLLBACK_LEVELS = {
    "measurement-failed": LogLevel.WARNING,
    "analysis-inconclusive": LogLevel.WARNING,
    "rollback-impossible": LogLevel.ERROR,
    "rollback-decided": LogLevel.ERROR,
    "rollback-failed": LogLevel.ERROR,
    "rolled-back": LogLevel.WARNING,
    "revision-good": LogLevel.SUCCESS,
    "analysis-passed": LogLevel.SUCCESS,
}
"""How a rollback step is coloured; the line's words say it on their own."""


def _describe_app_change(change: AppStatusChange) -> LogEntry:
    if change.previous_sync is None:
        return LogEntry(change.ts, change.app, f"watching: {change.sync}, {change.health}")
    parts: list[str] = []
    level = LogLevel.INFO
    if change.sync != change.previous_sync:
        if change.sync is AppSync.OUT_OF_SYNC:
            parts.append("drift detected: the app is OutOfSync")
            level = LogLevel.WARNING
        elif change.sync is AppSync.SYNCED:
            parts.append("back in sync")
            level = LogLevel.SUCCESS
        else:
            parts.append("sync status is Unknown")
            level = LogLevel.WARNING
    if change.health != change.previous_health:
        parts.append(f"health {change.health} (was {change.previous_health})")
        if change.health is Health.DEGRADED:
            level = LogLevel.ERROR
    return LogEntry(change.ts, change.app, "; ".join(parts), level)


def _describe_resource_change(change: ResourceStatusChange, self_heal: bool) -> LogEntry | None:
    name = _short(change.key)
    status, previous = change.status, change.previous_status
    if status is None:
        return LogEntry(change.ts, change.app, f"{name} is no longer tracked")
    if status == previous:
        text = f"{name} health {change.health} (was {change.previous_health})"
        level = LogLevel.ERROR if change.health is Health.DEGRADED else LogLevel.INFO
        return LogEntry(change.ts, change.app, text, level)
    if status is SyncStatus.SYNCED:
        if previous is None:
            return None  # a new resource that is already as Git says: nothing happened
        healed = (
            " (self-heal)" if self_heal and previous in (SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING) else ""
        )
        return LogEntry(change.ts, change.app, f"{name} back in sync{healed}", LogLevel.SUCCESS)
    texts = {
        SyncStatus.OUT_OF_SYNC: f"{name} drifted from Git",
        SyncStatus.MISSING: f"{name} is missing from the cluster",
        SyncStatus.EXTRANEOUS: f"{name} is extraneous: tracked, no longer in Git (a prune candidate)",
        SyncStatus.UNKNOWN: f"{name} cannot be read",
    }
    level = LogLevel.ERROR if status is SyncStatus.UNKNOWN else LogLevel.WARNING
    return LogEntry(change.ts, change.app, texts[status], level)


def _short(key: ResourceKey) -> str:
    return f"{key.kind}/{key.name}"
