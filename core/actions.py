"""Sync: bring an app's objects in the cluster back to Git with server-side apply, and optionally prune.

This is the one module the engine and the CLI call for actions; the pieces live beside it:
`core.resource_apply` (the writes of one resource), `core.sync_plan` (what is applied, in what
order), `core.sync_waves` (phases and waves),
`core.sync_run` (running them, and waiting between them), `core.hook_run` (hooks),
`core.sync_options` and `core.sync_writes` (Argo CD's sync options), `core.prune` (what is deleted,
behind which guards), `core.self_heal` (when a drifted resource may be re-applied) and `core.audit`.

An object made with client-side `kubectl apply` is adopted before its apply: the fields
`kubectl-client-side-apply` owns move to kubedrift's Apply entry (`core.csa_upgrade`), so the apply
removes what Git dropped. Each object the server answers an apply with goes to `applied`: the
verdict right after the sync is read from it (`core.runtime`, drift rule 7).

Each resource ends `created`, `configured`, `unchanged`, `skipped` or `failed` with its reason
(and `pruned` from a prune); hooks are outcomes too, `created` when they succeeded. One bad resource
never stops the others of its wave, but a failed wave stops the sync there (`core.sync_run`); a
read-only adapter and a refused prune stop the whole action before any request is made. The outcome
of an apply is read from the server's answer, never from the cache: the watch brings the change back
(DESIGN "Data flow"), and an action never edits the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from core.cluster import ClusterAdapter, ReadOnlyError
from core.desired_state import DesiredState
from core.health import HealthOverrides
from core.model import (
    App,
    ResourceAction,
    ResourceKey,
    SyncResult,
)
from core.prune import PruneRefused, check_prune_allowed, prune_app, prune_candidates
from core.resource_apply import Applied, ApplyRun
from core.self_heal import SelfHealBackoff
from core.status_events import rfc3339_now
from core.sync_attempt import SyncAttempt, read_back
from core.sync_plan import apply_order, prepare_for_apply
from core.sync_wait import SyncWaiter
from core.sync_waves import SyncProgress

__all__ = [
    "PruneRefused",
    "SelfHealBackoff",
    "SyncProgress",
    "apply_order",
    "prepare_for_apply",
    "prune_app",
    "prune_candidates",
    "rfc3339_now",
    "sync_app",
]

Progress = Callable[[SyncProgress], None]
"""Called after each resource, and at each event of a sync with phases or waves (`SyncProgress`)."""


def sync_app(
    adapter: ClusterAdapter,
    app: App,
    desired: DesiredState,
    live: Mapping[ResourceKey, Mapping[str, Any]],
    *,
    keys: Iterable[ResourceKey] | None = None,
    prune: bool = False,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    applied: Applied | None = None,
    synced: Collection[ResourceKey] = (),
    now: Callable[[], str] = rfc3339_now,
    sleep: Callable[[float], None] = time.sleep,
    waiter: SyncWaiter | None = None,
    health_overrides: HealthOverrides | None = None,
) -> SyncResult:
    """Apply the app's desired objects (only `keys` when given, as self-heal does), then prune if asked.

    Objects are applied phase by phase and wave by wave, hooks run around them (`core.sync_waves`,
    `core.sync_run`), with the app's sync options; `synced` names the resources in sync now, which
    `ApplyOutOfSyncOnly=true` leaves alone. A sync that fails is tried again as `syncPolicy.retry` says.
    `keys` runs no hook, as Argo CD's selective sync runs none.

    Raises ReadOnlyError on a read-only adapter and PruneRefused when `prune` is refused by its
    guards, both before any request; any other failure is the outcome of the resource it hit.
    `force` lets the prune delete a Namespace that holds objects the app does not track.
    `health_overrides` are the user's health checks, which judge a wave or a hook as they judge the app.
    """
    started_at = now()
    if adapter.read_only:
        raise ReadOnlyError(
            f"cannot sync app {app.name!r}: kubedrift is read-only for context {adapter.context!r} "
            "(--read-only or readOnly in kubedrift.yaml)"
        )
    if prune:
        check_prune_allowed(app, desired)  # a refused prune must not leave a half-done sync behind
    wanted = None if keys is None else frozenset(keys)
    waiter = waiter if waiter is not None else SyncWaiter(sleep=sleep)

    def writer_for(current: Mapping[ResourceKey, Mapping[str, Any]]) -> ApplyRun:
        return ApplyRun(
            adapter,
            app,
            desired,
            current,
            dry_run=dry_run,
            force=force,
            sleep=sleep,
            applied=applied,
            synced=frozenset(synced),
            waiter=waiter,
            health_overrides=health_overrides,
        )

    attempt = SyncAttempt(
        app,
        desired,
        adapter=adapter,
        writer_for=writer_for,
        wanted=wanted,
        prune=prune,
        dry_run=dry_run,
        progress=progress,
        started_at=started_at,
        waiter=waiter,
    )
    result = attempt.run(live)
    retry = app.sync_policy.retry
    retries = 0
    while result.failed and not dry_run and retry is not None and retry.allows(retries):
        delay = retry.delay(retries)
        retries += 1
        if progress is not None:
            limit = "" if retry.limit < 0 else f" of {retry.limit}"
            event = f"retry {retries}{limit} in {delay:g} s, after: {_first_failure(result)}"
            progress(SyncProgress(0, 0, None, multi_step=True, event=event))
        waiter.backoff(delay)
        result = attempt.run(read_back(adapter, [*desired.objects, *live]))
    return replace(result, retries=retries) if retries else result


def _first_failure(result: SyncResult) -> str:
    if result.message:
        return result.message
    failed = (outcome for outcome in result.outcomes if outcome.action is ResourceAction.FAILED)
    return next((f"{outcome.key}: {outcome.message}" for outcome in failed), "a failure")
