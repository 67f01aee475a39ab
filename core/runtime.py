"""The moving parts the engine keeps per app and per cluster, and the status changes they produce."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
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
from core.cluster import ClusterAdapter
from core.desired_state import AppDesiredState, DesiredState
from core.kind_watch import KindWatch
from core.live_cache import LiveCache
from core.model import App, AppStatus, ResourceAction, ResourceKey, ResourceOutcome, SyncResult
from core.prune import namespace_holds_others, prune_candidates
from core.reconcile import AppReconciler
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange, rfc3339_now

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
        audit_file = audit_path()  # resolved once: the file checked is the file written
        if not dry_run and not adapter.read_only:  # read-only: sync_app refuses with the better reason
            self._ensure_audit_writable(audit_file, operation, resources=len(desired.objects) + len(live))

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
        )
        # Whatever keeps or shows this result from here on (the results table, the event log, the
        # audit line) gets messages that quote no Secret value, of Git's or of the cluster's.
        result = mask_outcomes(result, secret_values([*desired.objects.values(), *live.values()]))
        if not dry_run:
            self.last_sync = result  # it happened, audited or not

        try:
            append_audit(result, app=self.app.name, operation=operation, path=audit_file)
        except AuditError as error:
            raise AuditWriteError(result, error, app=self.app.name, operation=operation) from None
        return result

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
        return self.reconciler.result().status(self.app.name, self.desired.revision, errors, self.last_sync)


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
    tracked_kinds: set[GroupKind] = field(default_factory=set)
    """Kinds holding objects kubedrift applied, found at start, so a kind Git dropped is still pruned."""

    @property
    def automation_paused(self) -> bool:
        """No auto-sync, self-heal or prune: the cluster cannot be seen, or lost its state unconfirmed."""
        return self.error is not None or self.state_lost is not None


def resource_change(
    now: str, app: str, key: ResourceKey, previous: Any, current: Any
) -> ResourceStatusChange:
    return ResourceStatusChange(
        now,
        app,
        key,
        None if current is None else current.status,
        None if current is None else current.health.status,
        None if previous is None else previous.status,
        None if previous is None else previous.health.status,
    )


def app_change(now: str, runtime: AppRuntime, before: tuple[Any, Any]) -> list[StatusChange]:
    after = (runtime.reconciler.sync, runtime.reconciler.health)
    if after == before:
        return []
    return [AppStatusChange(now, runtime.app.name, after[0], after[1], before[0], before[1])]
