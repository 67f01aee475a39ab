"""When an automated app acts on its own: auto-sync of new revisions, and self-heal of live drift.

- Auto-sync (`syncPolicy.automated`): each new Git revision is synced once, whole app, pruning if
  the policy says so. At start-up the current revision counts as new when the app is out of sync.
- Self-heal (`selfHeal: true`): once the current revision was synced, drift caused by a live
  change is re-applied for the drifted resources alone, paced by `SelfHealBackoff`. A resource
  a sync changes nothing for (marked in its reason, drift rule 7) is left alone until Git or the
  live object changes differently.
- Nothing happens for a read-only cluster, an app whose render failed, or while an action of
  the same app is still running.

- The audit line comes first: while the audit file cannot take a line, automation is paused and
  each automated app says so in its errors; it resumes by itself once the file is writable again.
  The file is checked at most once per tick (`AUDIT_RECHECK_SECONDS`), not per event.

Pure decisions: the engine asks `audit_pause` and `next_action` after each batch and on a slow
tick, and runs what it gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from core.audit import AuditError, ensure_audit_writable
from core.model import App, ResourceKey, ResourceResult, SyncStatus
from core.rollback_book import RollbackBook
from core.self_heal import SelfHealBackoff

_HEALABLE = (SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING)
AUDIT_RECHECK_SECONDS: Final = 1.0
"""How long a verdict on the audit file holds: the engine's tick, so a burst of events costs no I/O."""


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A sync the engine should run now."""

    app: str
    revision: str
    keys: tuple[ResourceKey, ...] | None
    """None: the whole app."""
    prune: bool
    operation: str
    """`auto-sync` or `self-heal`, for the audit file."""


@dataclass
class Automation:
    """Remembers what each automated app already did."""

    synced_revisions: dict[str, str] = field(default_factory=dict)
    backoffs: dict[str, SelfHealBackoff] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    backing_off: set[str] = field(default_factory=set)
    """Apps whose self-heal waits out its backoff: a resource it re-applied is drifted still or again
    (the agent's `kubedrift_self_heal_retrying`). Kept while an attempt runs; left when self-heal
    stops (the resources are Synced, the policy is off, paused, a new revision to auto-sync)."""
    check_audit: Callable[[], None] = ensure_audit_writable
    """Raises AuditError when the audit file cannot take a line."""
    audit_problem: AuditError | None = None
    audit_checked_at: float | None = None
    pause_notes: dict[str, str] = field(default_factory=dict)
    """The error each paused app shows, so that it is the one taken back on resuming."""
    rollbacks: RollbackBook = field(default_factory=RollbackBook)
    """Automated rollback's state per app (core.rollback); a rolled-back app is pinned: neither
    auto-sync nor self-heal acts on it while Git is still at the bad revision."""

    def audit_pause(self, app: App, error: str | None, now: float) -> tuple[bool, str | None]:
        """Whether `app`'s automation is paused because the audit file cannot take a line, and the
        automation error the app shows now: the pause note while paused, cleared on resuming."""
        note = self.pause_notes.pop(app.name, None)
        if note is not None and error == note:
            error = None
        if not app.sync_policy.automated:
            return False, error
        problem = self._audit_problem(now)
        if problem is None:
            return False, error
        note = note or _pause_note(app, problem.problem)
        self.pause_notes[app.name] = note
        return True, note

    def refused(self, request: SyncRequest, app: App, problem: AuditError, now: float) -> str:
        """`request` was refused before sending anything, the audit file having failed since the last
        check: it stays due (a revision is not counted as synced), automation pauses, and the app
        shows the returned note."""
        self.running.discard(request.app)
        self.audit_failed(problem, now)
        note = _pause_note(app, problem.problem)
        self.pause_notes[app.name] = note
        return note

    def unaudited(self, request: SyncRequest, app: App, problem: AuditError, now: float) -> str:
        """`request` reached the cluster but its audit line failed (it still counts as run, through
        `finished`): automation pauses, and the app shows the returned note, which says what went
        unrecorded."""
        self.audit_failed(problem, now)
        unrecorded = (
            f"the last {request.operation} reached the cluster without its audit line, since kubedrift"
        )
        note = _pause_note(app, f"{unrecorded} {problem.problem}")
        self.pause_notes[app.name] = note
        return note

    def audit_failed(self, problem: AuditError, now: float) -> None:
        """An append or a check failed outside `audit_pause`: hold the verdict until the next tick."""
        self.audit_problem, self.audit_checked_at = problem, now

    def _audit_problem(self, now: float) -> AuditError | None:
        if self.audit_checked_at is None or now - self.audit_checked_at >= AUDIT_RECHECK_SECONDS:
            self.audit_checked_at = now
            try:
                self.check_audit()
                self.audit_problem = None
            except AuditError as error:
                self.audit_problem = error
        return self.audit_problem

    def next_action(
        self,
        app: App,
        revision: str | None,
        render_ok: bool,
        results: Mapping[ResourceKey, ResourceResult],
        now: float,
        *,
        paused: bool = False,
        blind: bool = False,
    ) -> SyncRequest | None:
        """The sync to run now, if any. While `paused` (see `audit_pause`) none is asked for and no
        self-heal attempt is counted, but a revision found already in sync is still noted as synced:
        a live change made during the pause is then self-heal's to judge, never an auto-sync's."""
        policy = app.sync_policy
        if not policy.automated or not render_ok:
            self.backing_off.discard(app.name)
            return None
        if revision is None or app.name in self.running:
            return None
        drifted = any(
            result.status in _HEALABLE or result.status is SyncStatus.EXTRANEOUS
            for result in results.values()
        )
        if self.synced_revisions.get(app.name) != revision:
            self.backing_off.discard(app.name)
            if blind:
                # The cluster cannot tell (unreachable, a list failing, a kind not served): no whole-app
                # sync or prune on a partial view, and the revision is not counted as synced either.
                # A kind that is forbidden for good does not blind it: the rest is seen, and an apply
                # of that kind fails on its own.
                return None
            if not drifted:
                self.synced_revisions[app.name] = revision  # already there: nothing to apply
                return None
            return None if paused else SyncRequest(app.name, revision, None, policy.prune, "auto-sync")
        if not policy.self_heal or paused:
            self.backing_off.discard(app.name)
            return None
        backoff = self.backoffs.setdefault(app.name, SelfHealBackoff())
        due: list[ResourceKey] = []
        retrying = False
        for key, result in sorted(results.items()):
            if result.sync_changes_nothing:
                continue  # re-applying changes nothing; its reason says why (drift rule 7)
            if result.status in _HEALABLE:
                if backoff.due(key, now):
                    retrying = retrying or backoff.attempts(key) > 0  # re-applied before: it did not hold
                    backoff.record_attempt(key, now)
                    due.append(key)
                else:
                    retrying = True  # waiting out the wait after an attempt
            elif result.status is SyncStatus.SYNCED:
                backoff.record_healthy(key, now)
        if retrying:
            self.backing_off.add(app.name)
        else:
            self.backing_off.discard(app.name)
        if not due:
            return None
        return SyncRequest(app.name, revision, tuple(due), False, "self-heal")

    def started(self, request: SyncRequest) -> None:
        self.running.add(request.app)

    def finished(self, request: SyncRequest) -> None:
        """The request ran. A revision is auto-synced once even if some resource failed: what is
        still drifted is then self-heal's to retry, with backoff, never a tight loop here."""
        self.running.discard(request.app)
        if request.keys is None:
            self.synced_revisions[request.app] = request.revision


def _pause_note(app: App, problem: str) -> str:
    paused = "auto-sync and self-heal" if app.sync_policy.self_heal else "auto-sync"
    return f"{paused} paused: {problem}; fix it and kubedrift resumes by itself"
