"""The moving parts the engine keeps per app and per cluster, and the status changes they produce."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.actions import Progress, sync_app
from core.audit import append_audit, secret_values
from core.cluster import ClusterAdapter
from core.desired_state import AppDesiredState, DesiredState
from core.kind_watch import KindWatch
from core.live_cache import LiveCache
from core.model import App, AppStatus, ResourceKey, SyncResult
from core.reconcile import AppReconciler
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange

GroupKind = tuple[str, str]


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
        progress: Progress | None = None,
    ) -> SyncResult:
        """Apply `desired` (all of it, or `keys`), append the audit line, remember it as the last sync.

        The one path every sync takes: a person's (`kubedrift sync`, the TUI) and automation's.
        """
        live = dict(self.reconciler.live)
        result = sync_app(
            adapter, self.app, desired, live, keys=keys, prune=prune, dry_run=dry_run, progress=progress
        )
        append_audit(
            result,
            app=self.app.name,
            operation=operation,
            secret_values=secret_values(desired.objects.values()),
        )
        if not dry_run:
            self.last_sync = result
        return result

    def status(self) -> AppStatus:
        errors = list(self.desired.errors)
        errors += [error for error in (self.cluster_error, self.automation_error) if error]
        return self.reconciler.result().status(self.app.name, self.desired.revision, errors, self.last_sync)


@dataclass
class ClusterRuntime:
    """One kubeconfig context: its adapter, live cache and watches."""

    context: str
    adapter: ClusterAdapter | None = None
    error: str | None = None
    cache: LiveCache = field(default_factory=LiveCache)
    watches: dict[tuple[str, str, str | None], KindWatch] = field(default_factory=dict)
    watch_errors: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    """Watches that are failing now (reconnecting, forbidden), with the reason, for the status line."""
    listed: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    """The resourceVersion of each start-up list, so watches begin exactly where the lists ended."""
    tracked_kinds: set[GroupKind] = field(default_factory=set)
    """Kinds holding objects kubedrift applied, found at start, so a kind Git dropped is still pruned."""


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
