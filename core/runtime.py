"""The moving parts the engine keeps per app and per cluster, and the status changes they produce."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.actions import Progress, sync_app
from core.audit import (
    AUDIT_FIX,
    AuditError,
    AuditWriteError,
    append_audit,
    audit_path,
    ensure_audit_writable,
    mask_outcomes,
    secret_values,
)
from core.cluster import ClusterAdapter, ClusterError
from core.desired_state import AppDesiredState, DesiredState
from core.drift.attribution import newest_attribution
from core.drift.cluster_schema import ClusterSchemaSource
from core.kind_watch import KindWatch
from core.live_cache import LiveCache, PagedRelist
from core.model import (
    App,
    AppStatus,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
    SyncResult,
    SyncStatus,
)
from core.prune import namespace_holds_others, prune_candidates
from core.reconcile import AppReconciler
from core.rollback import RollbackView
from core.server_side_diff import ServerSideDiffWorker, ServerVerdict
from core.shared_resources import NOT_SHARED, hold_back_shared, no_other_app, with_shared
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange, rfc3339_now
from core.sync_verdict import (
    Leftover,
    SyncMark,
    marks_path,
    same_changes,
    save_marks,
    saved_marks,
    still_drifted_reason,
    unchanged_reason,
)
from core.whole_objects import read_whole

GroupKind = tuple[str, str]
AUTOMATED = frozenset({"auto-sync", "self-heal"})
"""Operations no person asked for at that moment."""
PRUNE_DECISION = "automated prune decision: would be deleted, as Git no longer declares it"


@dataclass
class AppRuntime:
    """One app's moving parts."""

    app: App
    context: str | None
    reconciler: AppReconciler
    loader: AppDesiredState | None = None
    desired: DesiredState = field(default_factory=lambda: DesiredState(revision=None, render_ok=False))
    cluster_error: str | None = None
    automation_error: str | None = None
    last_sync: SyncResult | None = None
    leftovers: tuple[Leftover, ...] = ()
    """What the last sync left OutOfSync right after its apply (drift rule 7), newest sync only."""
    _unmarked: tuple[SyncMark, ...] = ()
    """What the last sync leaves for the reconciler, not taken yet (see take_sync_verdicts)."""
    server_side_worker: ServerSideDiffWorker | None = None
    """Confirms this app's local OutOfSync verdicts on the server, when opted in (drift rule 7)."""
    wake: Callable[[ResourceKey], None] | None = None
    """Set by the live engine: called (on any thread) after a sync leaves verdicts to take."""
    server_inbox: list[ServerVerdict] = field(default_factory=list)
    """The server's answers, appended on the worker thread, taken on the loop (take_server_verdicts)."""
    rollback: RollbackView | None = None
    """What automated rollback says of this app now (core.engine_rollback); None without a policy."""
    shared_with: Mapping[ResourceKey, tuple[str, ...]] = field(default_factory=lambda: NOT_SHARED)
    """This app's objects that other apps declare too, with those apps (core.shared_resources); set
    by the engine, replaced whole when it changes."""
    declared_elsewhere: Callable[[ResourceKey], tuple[str, ...]] = no_other_app
    """Set by the engine: the other apps on this app's cluster that declare a key, for a sync to
    leave those objects alone."""

    def sync(
        self,
        adapter: ClusterAdapter,
        desired: DesiredState,
        *,
        operation: str,
        keys: Iterable[ResourceKey] | None = None,
        prune: bool = False,
        dry_run: bool = False,
        force: bool = False,
        progress: Progress | None = None,
    ) -> SyncResult:
        """Apply `desired` (all of it, or `keys`), append the audit line, remember it as the last sync.

        The one path every sync takes: a person's (`kubedrift sync`, the TUI) and automation's.

        The audit line comes first: a sync that would write is refused with AuditError, before any
        request, unless the audit file can take its line. A dry run changes nothing in the cluster,
        so it is not held back; it is still audited. When the line fails after the sync ran, the
        AuditWriteError raised carries the result, so the results are shown before the error.

        An automated prune is decided by a program, not a person: before it runs, its decision is
        audited on its own as a dry-run `prune` line naming what it will delete and the revision
        (or working-tree snapshot) it came from. `force` lets a prune delete a Namespace that
        holds objects the app does not track.
        """
        live = dict(self.reconciler.live)
        keys = None if keys is None else tuple(keys)
        # What a sync compares its answers with must be whole (in-sync objects are cached compacted).
        cut_down = [key for key in keys or desired.objects if key in self.reconciler.cut_down and key in live]
        if cut_down:
            with contextlib.suppress(ClusterError):  # the sync's own requests then say what is wrong
                whole = read_whole(adapter, cut_down)
                live.update({key: obj for key, obj in whole.items() if obj is not None})
        before = dict(self.reconciler.results)
        answers: dict[ResourceKey, Any] = {}
        audit_file = audit_path()  # resolved once: the file checked is the file written
        if not dry_run and not adapter.read_only:  # read-only: sync_app refuses with the better reason
            self._ensure_audit_writable(audit_file, operation, resources=len(desired.objects) + len(live))

        # What other apps declare too is not this sync's to take over, unless forced.
        held = (
            None
            if force
            else hold_back_shared(self.app, desired, live, self.declared_elsewhere, keys=keys, prune=prune)
        )
        if held is not None:
            desired, live, keys = held.desired, held.live, held.keys

        if prune and not dry_run and operation in AUTOMATED:
            self._audit_prune_decision(adapter, desired, live, audit_file)

        result = sync_app(
            adapter,
            self.app,
            desired,
            live,
            keys=keys,
            prune=prune,
            dry_run=dry_run,
            force=force,
            progress=progress,
            applied=answers.__setitem__,
            synced=self._synced(before, desired),
            health_overrides=self.reconciler.health_overrides,
        )
        if held is not None:
            result = held.completed(result)
        # Whatever keeps or shows this result from here on (the results table, the event log, the
        # audit line) gets messages that quote no Secret value, of Git's or of the cluster's.
        result = mask_outcomes(result, secret_values([*desired.objects.values(), *live.values()]))
        if not dry_run:
            self.last_sync = result  # it happened, audited or not
            self.leftovers, self._unmarked = self._after_sync(desired, before, answers)
            unchanged = [leftover.key for leftover in self.leftovers if leftover.unchanged_by_sync]
            if unchanged and self.wake is not None:
                self.wake(unchanged[0])

        try:
            append_audit(result, app=self.app.name, operation=operation, path=audit_file)
        except AuditError as error:
            raise AuditWriteError(result, error, app=self.app.name, operation=operation) from None
        return result

    def _synced(self, before: dict[ResourceKey, Any], desired: DesiredState) -> list[ResourceKey]:
        """What is Synced now against `desired` itself, for `ApplyOutOfSyncOnly=true` to leave alone."""
        if not self.app.sync_policy.sync_options.apply_out_of_sync_only:
            return []
        judged_against = self.reconciler.desired
        return [
            key
            for key, result in before.items()
            if result.status is SyncStatus.SYNCED and judged_against.get(key) == desired.objects.get(key)
        ]

    def _after_sync(
        self,
        desired: DesiredState,
        before: dict[ResourceKey, Any],
        answers: dict[ResourceKey, Any],
    ) -> tuple[tuple[Leftover, ...], tuple[SyncMark, ...]]:
        """The applied resources still OutOfSync in the objects the server answered the apply with,
        and the marks to leave on those that were OutOfSync before (drift rule 7).

        Read only: it may run on a worker thread while the engine's loop owns the reconciler."""
        leftovers: list[Leftover] = []
        marks: list[SyncMark] = []
        for key, answer in sorted(answers.items()):
            wanted = desired.objects.get(key)
            if wanted is None:
                continue
            changes = self.reconciler.changes_against(key, wanted, answer)
            previous = before.get(key)
            if previous is None or previous.status is not SyncStatus.OUT_OF_SYNC:
                previous = None  # nothing to compare with: it was not OutOfSync before
            elif self.reconciler.desired.get(key) != wanted:
                previous = None  # judged against another Git state (a sync to another revision)
            unchanged = previous is not None and bool(changes) and same_changes(previous.changes, changes)
            if changes:
                reason = unchanged_reason(changes, answer) if unchanged else still_drifted_reason(changes)
                leftovers.append(Leftover(key, changes, unchanged, reason))
            if unchanged:
                marks.append(SyncMark(key, changes, leftovers[-1].reason, waiting=False))
            elif previous is not None and not changes:
                marks.append(SyncMark(key, previous.changes, "", waiting=True))
        return tuple(leftovers), tuple(marks)

    def keep_sync_marks(self) -> None:
        """Keep what the last sync changed nothing for on disk, for later runs (`check`)."""
        save_marks(marks_path(audit_path()), self.app.name, self.leftovers, self.desired.objects)

    def restore_sync_marks(self) -> set[ResourceKey]:
        """Mark what an earlier sync (another run) changed nothing for, where Git and the drift are
        still the same; returns the keys whose result changed."""
        return {
            key
            for key, changes, desired, reason in saved_marks(marks_path(audit_path()), self.app.name)
            if self.reconciler.restore_unchangeable(key, changes, desired, reason)
        }

    def take_server_verdicts(self) -> set[ResourceKey]:
        """Hand the server-side diff answers to the reconciler, on the thread that owns it; returns
        the keys whose result changed."""
        changed: set[ResourceKey] = set()
        while self.server_inbox:
            verdict = self.server_inbox.pop(0)
            if self.reconciler.set_server_verdict(verdict):
                changed.add(verdict.key)
        return changed

    @property
    def has_sync_verdicts(self) -> bool:
        """Whether the last sync left markings for take_sync_verdicts."""
        return bool(self._unmarked)

    def take_sync_verdicts(self) -> set[ResourceKey]:
        """Leave the last sync's marks with the reconciler, on the thread that owns it; returns the
        keys whose result changed."""
        marks, self._unmarked = self._unmarked, ()
        return {
            mark.key
            for mark in marks
            if self.reconciler.mark_unchangeable(mark.key, mark.changes, mark.reason, waiting=mark.waiting)
        }

    def _audit_prune_decision(
        self, adapter: ClusterAdapter, desired: DesiredState, live: dict[ResourceKey, Any], audit_file: Path
    ) -> None:
        candidates, kept = prune_candidates(self.app, desired, live)
        decided: list[ResourceOutcome] = []
        for key in candidates:
            # The same guard the prune runs, so the line says what will really happen.
            held = namespace_holds_others(adapter, self.app, desired, key)
            decided.append(
                ResourceOutcome(key, ResourceAction.PRUNED, PRUNE_DECISION)
                if held is None
                else ResourceOutcome(key, ResourceAction.SKIPPED, held)
            )
        decision = SyncResult(
            revision=desired.revision or "",
            started_at=rfc3339_now(),
            outcomes=(*decided, *kept),
            dry_run=True,
        )
        try:
            append_audit(decision, app=self.app.name, operation="prune", path=audit_file)
        except AuditError as error:
            raise AuditError(
                error.path,
                error.reason,
                f"automated prune of {self.app.name} refused: {error.problem}, so nothing was sent to "
                f"the cluster; {AUDIT_FIX}",
            ) from None

    def _ensure_audit_writable(self, audit_file: Path, operation: str, *, resources: int) -> None:
        try:
            ensure_audit_writable(audit_file, resources=resources)
        except AuditError as error:
            raise AuditError(
                error.path,
                error.reason,
                f"{operation} of {self.app.name} refused: {error.problem}, so nothing was sent to the "
                f"cluster; {AUDIT_FIX}",
            ) from None

    def status(self) -> AppStatus:
        errors = list(self.desired.errors)
        errors += [error for error in (self.cluster_error, self.automation_error) if error]
        errors += self.reconciler.kind_errors()  # why resources are Unknown, in the shapes tools read
        status = self.reconciler.result().status(self.app.name, self.desired.revision, errors, self.last_sync)
        status = with_shared(status, self.shared_with)  # warnings, not errors: sync and health stay
        rolled_back = self.rollback.rolled_back if self.rollback is not None else None
        if rolled_back is not None and rolled_back.done:
            status = replace(status, rolled_back=(rolled_back.bad, rolled_back.good))
        return status


@dataclass
class ClusterRuntime:
    """One kubeconfig context: its adapter, live cache and watches."""

    context: str
    adapter: ClusterAdapter | None = None
    error: str | None = None
    """Why the cluster cannot be used now (unreachable since start-up); the live form keeps retrying."""
    state_lost: str | None = None
    """Set when the server came back without its state, until a person syncs (Engine.confirm_cluster)."""
    cache: LiveCache = field(default_factory=LiveCache)
    watches: dict[tuple[str, str, str | None], KindWatch] = field(default_factory=dict)
    watch_errors: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    """Watches that are failing now (reconnecting, forbidden), with the reason, for the status line."""
    listed: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    """The resourceVersion of each start-up list, so watches begin exactly where the lists ended."""
    relists: dict[tuple[str, str, str | None], PagedRelist] = field(default_factory=dict)
    """Lists being applied page by page (core.live_cache.PagedRelist), until their last page."""
    tracked_kinds: set[GroupKind] = field(default_factory=set)
    """Kinds holding objects kubedrift applied, found at start, so a kind Git dropped is still pruned."""
    kube_version: str = ""
    """The server's git version (`v1.31.0`), for charts that ask; empty when /version is not readable."""
    schema_source: ClusterSchemaSource | None = None
    """Kinds' schemas from the cluster's /openapi/v3, the official ones of its version behind them."""

    @property
    def automation_paused(self) -> bool:
        """No auto-sync, self-heal or prune: the cluster cannot be seen, or lost its state unconfirmed."""
        return self.error is not None or self.state_lost is not None


def resource_change(
    now: str, app: str, key: ResourceKey, previous: Any, current: Any
) -> ResourceStatusChange:
    # An OutOfSync verdict's changes carry their owners (core.reconcile attributes them): the line
    # names the newest, so `watch` says who changed the object without a second walk of managedFields.
    drifted = current is not None and current.status is SyncStatus.OUT_OF_SYNC
    return ResourceStatusChange(
        now,
        app,
        key,
        None if current is None else current.status,
        None if current is None else current.health.status,
        None if previous is None else previous.status,
        None if previous is None else previous.health.status,
        newest_attribution(current.changes) if drifted else None,
    )


def app_change(now: str, runtime: AppRuntime, before: tuple[Any, Any]) -> list[StatusChange]:
    after = (runtime.reconciler.sync, runtime.reconciler.health)
    if after == before:
        return []
    return [AppStatusChange(now, runtime.app.name, after[0], after[1], before[0], before[1])]
