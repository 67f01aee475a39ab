"""Which status transitions notify, once each: the triggers, their deduplication, and the rate limit.

Pure: the engine's loop hands in what it publishes (`changes`) and each app's last sync result
(`sync_finished`); out come Notifications, one per trigger that fired, to be fanned out to the
hooks that want them (core.webhook_sender). No clock but the one passed in, no I/O.

Each trigger is a condition of an app, notified when the app enters it, and not again until the
app has been seen out of it (in a known state) and enters it again:
- `drift`: the app's sync is OutOfSync, entered from Synced. Unknown (a cluster unreachable, a kind
  forbidden) neither ends nor starts it: OutOfSync -> Unknown -> OutOfSync is one drift, and
  Synced -> Unknown -> OutOfSync is a drift.
- `healthDegraded`: the app's health is Degraded, entered from a known health (Unknown again neither
  ends nor starts it). Progressing after Degraded is a repair under way, not a recovery: a Deployment
  being fixed reads Degraded again for a moment (its controller records the new generation before it
  clears ProgressDeadlineExceeded), and that is the same Degraded. Only a settled health (Healthy,
  Suspended, Missing) ends it; a Degraded at another revision is news again (its `id` differs).
- `syncFailed`: a sync ended with failed resources. Repeats of the same failure (self-heal trying
  the same revision again, with the same resources failing) notify once; a sync that succeeds, or a
  different failure, ends it.
- `rolledBack`: a step of automated rollback that rolled an app back, or failed to (`rolled-back`,
  `rollback-failed`), once per (step, from, to).

What the engine publishes first, at start (statuses with no previous state), is the baseline: an app
already OutOfSync or Degraded when kubedrift starts is not notified, since kubedrift keeps no record of
what it told before it stopped, and every restart would tell it again. It notifies once it has seen
the app out of that state. `rolledBack` and `syncFailed` are events, not states; they notify as
they happen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from core.model import AppSync, Health, ResourceAction, ResourceKey, SyncResult, SyncStatus
from core.notification_config import Trigger
from core.redact import redact_text
from core.status_events import AppStatusChange, ResourceStatusChange, RollbackEvent, StatusChange

ROLLBACK_STEPS: Final = frozenset({"rolled-back", "rollback-failed"})
_DRIFTED: Final = frozenset({SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING, SyncStatus.EXTRANEOUS})
MAX_RESOURCES_LISTED: Final = 20
_SETTLED: Final = frozenset({Health.HEALTHY, Health.SUSPENDED, Health.MISSING})
"""Healths that end a Degraded spell: not Progressing (a repair under way), nor Unknown (unseen)."""


@dataclass(frozen=True, slots=True)
class ResourceNote:
    """A resource a notification names: which, its status, and a message (a failed sync's reason)."""

    key: ResourceKey
    status: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    """One trigger firing for one app; the bodies (core.notification_bodies) are made from it."""

    ts: str
    app: str
    trigger: Trigger
    message: str
    """One sentence a person reads."""
    revision: str | None = None
    sync: str | None = None
    health: str | None = None
    previous_sync: str | None = None
    previous_health: str | None = None
    resources: tuple[ResourceNote, ...] = ()
    more_resources: int = 0
    """How many more resources there were than `resources` lists."""
    rollback: RollbackEvent | None = None

    @property
    def key(self) -> str:
        """What receivers may deduplicate on: app, trigger and the state it is about."""
        about = self.revision or ""
        if self.rollback is not None:
            about = f"{self.rollback.step}:{self.rollback.revision}:{self.rollback.to or ''}"
        return f"{self.app}/{self.trigger}/{about}"


@dataclass(slots=True)
class _AppState:
    sync: AppSync | None = None
    health: Health | None = None
    drift_armed: bool = False
    degraded_armed: bool = False
    degraded_at: str | None = None
    """While Degraded and not seen settled since: the revision it was Degraded at; else None."""
    failure: tuple[str, frozenset[tuple[ResourceKey, str]]] | None = None
    """The last failure notified (revision, failed resources), until a sync succeeds."""
    last_sync: SyncResult | None = None
    rollbacks: set[tuple[str, str, str]] = field(default_factory=set)


class NotificationTriggers:
    """Turns what the engine publishes into Notifications, each state notified once."""

    def __init__(self) -> None:
        self._apps: dict[str, _AppState] = {}

    def changes(
        self, changes: Sequence[StatusChange], revisions: Mapping[str, str | None]
    ) -> list[Notification]:
        """The notifications one published batch fires; `revisions` gives each app's Git revision."""
        drifted: dict[str, list[ResourceNote]] = {}
        for change in changes:
            if (
                isinstance(change, ResourceStatusChange)
                and change.status in _DRIFTED
                and change.status_changed
            ):
                drifted.setdefault(change.app, []).append(ResourceNote(change.key, str(change.status)))
        fired: list[Notification] = []
        for change in changes:
            if isinstance(change, AppStatusChange):
                fired += self._app_changed(change, revisions.get(change.app), drifted.get(change.app, []))
            elif isinstance(change, RollbackEvent):
                fired += self._rollback_step(change)
        return fired

    def _app_changed(
        self, change: AppStatusChange, revision: str | None, drifted: list[ResourceNote]
    ) -> list[Notification]:
        state = self._apps.setdefault(change.app, _AppState())
        fired: list[Notification] = []
        if change.sync is AppSync.SYNCED:
            state.drift_armed = True
        elif change.sync is AppSync.OUT_OF_SYNC and state.drift_armed:
            state.drift_armed = False
            listed = sorted(drifted, key=lambda note: note.key)
            count = len(listed)
            what = f"{count} resource{'s' if count != 1 else ''}" if count else "its resources"
            fired.append(
                self._about(
                    change,
                    Trigger.DRIFT,
                    f"{change.app} drifted from Git: {what} no longer match{'es' if count == 1 else ''}",
                    revision,
                    listed,
                )
            )
        if change.health in _SETTLED or (change.health is Health.PROGRESSING and state.degraded_at is None):
            state.degraded_armed = True
            state.degraded_at = None
        elif change.health is Health.DEGRADED:
            at = revision or ""
            news = state.degraded_armed or (state.degraded_at is not None and at != state.degraded_at)
            state.degraded_armed = False
            state.degraded_at = at
            if news:
                fired.append(
                    self._about(change, Trigger.HEALTH_DEGRADED, f"{change.app} is Degraded", revision, [])
                )
        state.sync, state.health = change.sync, change.health
        return fired

    @staticmethod
    def _about(
        change: AppStatusChange,
        trigger: Trigger,
        message: str,
        revision: str | None,
        resources: list[ResourceNote],
    ) -> Notification:
        return Notification(
            ts=change.ts,
            app=change.app,
            trigger=trigger,
            message=message,
            revision=revision,
            sync=str(change.sync),
            health=str(change.health),
            previous_sync=None if change.previous_sync is None else str(change.previous_sync),
            previous_health=None if change.previous_health is None else str(change.previous_health),
            resources=tuple(resources[:MAX_RESOURCES_LISTED]),
            more_resources=max(0, len(resources) - MAX_RESOURCES_LISTED),
        )

    def _rollback_step(self, event: RollbackEvent) -> list[Notification]:
        if event.step not in ROLLBACK_STEPS:
            return []
        state = self._apps.setdefault(event.app, _AppState())
        seen = (event.step, event.revision, event.to or "")
        if seen in state.rollbacks:
            return []
        state.rollbacks.add(seen)
        prefix = "would have been " if event.read_only else ""
        verb = f"{prefix}rolled back" if event.step == "rolled-back" else "failed to roll back"
        return [
            Notification(
                ts=event.ts,
                app=event.app,
                trigger=Trigger.ROLLED_BACK,
                message=f"{event.app} {verb}: {redact_text(event.message)}",
                revision=event.revision,
                rollback=event,
            )
        ]

    def sync_finished(self, app: str, result: SyncResult | None, now: str) -> list[Notification]:
        """The notification an app's last sync result fires, if it is new and failed; called with each
        app's `last_sync` as often as the engine likes (the same result twice is seen once)."""
        state = self._apps.setdefault(app, _AppState())
        if result is None or result is state.last_sync:
            return []
        state.last_sync = result
        failed = [outcome for outcome in result.outcomes if outcome.action is ResourceAction.FAILED]
        if not failed:
            state.failure = None
            return []
        failure = (result.revision, frozenset((outcome.key, outcome.message) for outcome in failed))
        if failure == state.failure:
            return []
        state.failure = failure
        notes = [
            ResourceNote(o.key, "failed", redact_text(o.message)) for o in sorted(failed, key=lambda o: o.key)
        ]
        count = len(notes)
        return [
            Notification(
                ts=now,
                app=app,
                trigger=Trigger.SYNC_FAILED,
                message=f"a sync of {app} failed: {count} resource{'s' * (count != 1)} could not be applied",
                revision=result.revision,
                resources=tuple(notes[:MAX_RESOURCES_LISTED]),
                more_resources=max(0, count - MAX_RESOURCES_LISTED),
            )
        ]

    def forget(self, apps: Iterable[str]) -> None:
        """Drop what is kept for apps that are gone (a child app removed)."""
        for app in apps:
            self._apps.pop(app, None)


class TokenBucket:
    """A rate limit: `capacity` sends at once, refilled at `per_minute` a minute. The clock is the
    caller's (monotonic seconds), so the limit is testable without waiting."""

    def __init__(self, per_minute: float, capacity: int, now: float) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._at = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self._capacity, self._tokens + max(0.0, now - self._at) * self._rate)
        self._at = now

    def take(self, now: float) -> bool:
        """Whether a send may go now (and count it)."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def seconds_until_token(self, now: float) -> float:
        """How long until `take` would succeed."""
        self._refill(now)
        if self._tokens >= 1.0 or self._rate <= 0:
            return 0.0 if self._tokens >= 1.0 else math.inf
        return (1.0 - self._tokens) / self._rate
