"""What a person asks of an evaluated engine: sync now, what a sync would do, the Git history.

Both the CLI and the TUI call these, so a sync from either goes through the same guards, the same
apply and the same audit line. They block (Git, HTTP): the TUI runs them on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.actions import Progress
from core.audit import AuditWriteError
from core.cluster import ClusterAdapter, ReadOnlyError
from core.desired_state import DesiredState
from core.drift.object_compare import ObjectDelta, compare_revisions
from core.engine import Engine
from core.engine_observer import report_sync
from core.errors import KubedriftError
from core.model import ResourceKey, SyncResult, SyncStatus
from core.read_only import ReadOnlyReason, read_only_reason
from core.runtime import AppRuntime
from core.sync_hooks import Hook

if TYPE_CHECKING:
    from core.gitsource import Commit


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One line of a confirmation: what a sync or prune will do to one resource."""

    key: ResourceKey
    verb: str
    """`create`, `apply`, `delete`, or `hook` (created fresh and followed, on every whole-app sync)."""


def adapter_for(engine: Engine, app: str) -> ClusterAdapter:
    """The app's cluster adapter; a one-sentence error when its cluster is not usable."""
    runtime = engine.apps[app]
    cluster = engine.clusters.get(runtime.context or "")
    if cluster is None or cluster.adapter is None or cluster.error is not None:
        reason = (cluster.error if cluster is not None else None) or runtime.cluster_error
        raise KubedriftError(reason or f"app {app} has no usable cluster")
    return cluster.adapter


def read_only_reason_for(engine: Engine, app: str) -> ReadOnlyReason | None:
    """Why nothing may be written to the app's cluster, or None when writes are allowed."""
    context = engine.apps[app].context
    return read_only_reason(engine.config, engine.kubeconfig, context, forced=engine.read_only)


def is_read_only(engine: Engine, app: str) -> bool:
    return read_only_reason_for(engine, app) is not None


def refuse_if_read_only(engine: Engine, app: str) -> None:
    """Raise ReadOnlyError, naming why, before a sync sends anything to a read-only cluster."""
    reason = read_only_reason_for(engine, app)
    if reason is not None:
        raise ReadOnlyError(f"refusing to sync {app}: {reason}; nothing was sent to the cluster")


def plan_sync(runtime: AppRuntime, *, prune: bool, whole_app: bool = False) -> list[PlannedChange]:
    """What a sync will change: drifted resources (every one when `whole_app`), leftovers if pruning,
    and the app's hooks, which run on every sync as in Argo CD, even of an app in sync."""
    plan = [PlannedChange(Hook.of(obj).shown_key, "hook") for obj in runtime.desired.hooks]
    for key, result in sorted(runtime.reconciler.results.items()):
        if result.status is SyncStatus.EXTRANEOUS:
            if prune:
                plan.append(PlannedChange(key, "delete"))
        elif result.status is SyncStatus.MISSING:
            plan.append(PlannedChange(key, "create"))
        elif result.status is SyncStatus.OUT_OF_SYNC or whole_app:
            plan.append(PlannedChange(key, "apply"))
    return plan


def desired_at(engine: Engine, app: str, revision: str | None) -> DesiredState:
    """The app's desired state now, or rendered at another revision (a rollback target)."""
    runtime = engine.apps[app]
    if revision is None:
        return runtime.desired
    if runtime.loader is None:
        raise KubedriftError(f"app {app} is not loaded yet")
    state = runtime.loader.load(revision)
    if state.errors or state.revision is None:
        raise KubedriftError(f"cannot use revision {revision} of {app}: {'; '.join(state.errors)}")
    return engine.without_stood_in(app, state)  # child apps' objects its cluster cannot take (app of apps)


def refuse_if_nothing_rendered(app: str, desired: DesiredState) -> None:
    """Raise before a sync of an app none of whose manifests rendered: it would apply nothing and
    read as done. The first error says what to fix; `check` lists the others."""
    if desired.objects or not desired.errors:
        return
    count = len(desired.errors)
    others = (
        f" (the first of {count} errors; `kubedrift check --app {app}` lists them all)" if count > 1 else ""
    )
    raise KubedriftError(
        f"nothing was applied: no manifest of app {app} rendered{others}: {desired.errors[0]}"
    )


def sync_now(
    engine: Engine,
    app: str,
    *,
    prune: bool = False,
    dry_run: bool = False,
    revision: str | None = None,
    progress: Progress | None = None,
    operation: str = "sync",
    force: bool = False,
) -> SyncResult:
    """Sync one app now (optionally at another revision), audit it, and remember it as the last sync.

    `force` lets a prune delete a Namespace that holds objects the app does not track."""
    refuse_if_read_only(engine, app)
    adapter = adapter_for(engine, app)
    runtime = engine.apps[app]
    desired = desired_at(engine, app, revision)
    if desired.revision is None:
        raise KubedriftError("; ".join(desired.errors) or f"app {app} did not render")
    refuse_if_nothing_rendered(app, desired)
    try:
        result = runtime.sync(
            adapter,
            desired,
            operation=operation,
            prune=prune,
            dry_run=dry_run,
            force=force,
            progress=progress,
        )
    except KubedriftError as error:
        if not dry_run:  # for the agent's metrics: failed, unless it ran well and only its audit line failed
            ran = error.result if isinstance(error, AuditWriteError) else None
            report_sync(engine.observer, app, operation, ran is not None and not ran.failed)
        raise
    if not dry_run:
        report_sync(engine.observer, app, operation, not result.failed)
        engine.confirm_cluster(runtime.context)  # a person acted on what the cluster shows now
    return result


def app_history(engine: Engine, app: str, max_count: int = 200) -> list[Commit]:
    """Commits that touched the app's path, newest first (none for a plain folder)."""
    runtime = engine.apps[app]
    return [] if runtime.loader is None else runtime.loader.source.history(max_count=max_count)


def revision_changes(engine: Engine, app: str, revision: str) -> list[ObjectDelta]:
    """Field by field, how `revision` differs from the current desired state (current is `live` side)."""
    target = desired_at(engine, app, revision)
    return compare_revisions(engine.apps[app].desired.objects, target.objects)
