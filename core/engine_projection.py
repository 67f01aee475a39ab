"""The engine's side of the cut-down cache (core.live_projection): compacting what is in sync, and
reading whole objects again when a cut-down one can no longer vouch for its verdict.

Functions of the Engine's parts (see core.engine), called where messages are applied
(core.engine_messages). A key held by a reconciler (`AppReconciler.refreshing`) keeps its verdict
until its whole object arrives: one GET per key for a few keys, one relist of the kind for many,
so a Git change that touches a thousand Deployments costs one list, not a thousand requests. The
reads run on a worker thread in the live form and come back as messages; a one-shot run reads at
once. A read that fails falls back to relisting the kind; one that cannot be done at all leaves
the kind to the watch's own error handling (the key stays held, Unknown once the kind is).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.cluster import ClusterError
from core.engine_parts import EngineParts
from core.health import HealthOverrides
from core.kind_watch import WatchMessage
from core.live_cache import LiveCache, LiveEvent
from core.live_projection import compacted, may_compact, may_cut_down
from core.model import ResourceKey, SyncStatus
from core.reconcile import AppReconciler
from core.runtime import AppRuntime, ClusterRuntime
from core.status_events import StatusChange
from core.whole_objects import read_whole


def cut_down_hook(
    engine: EngineParts, context: str, overrides: HealthOverrides | None
) -> Callable[[ResourceKey], bool]:
    """The cache's `cut_down` predicate for `context`: store an object as its health projection when no
    app of the cluster declares it and its kind may be cut down (`overrides`: the user's health checks)."""

    def cut_down(key: ResourceKey) -> bool:
        routing = engine._routing.get(context)
        if routing is None or routing.declared(key):
            return False
        return may_cut_down(key, overrides)

    return cut_down


def compact_in_sync(
    engine: EngineParts, cluster: ClusterRuntime, runtime: AppRuntime, events: Iterable[LiveEvent]
) -> None:
    """Keep, for each of `events` that `runtime` alone declares and has just found in sync, the
    compacted form instead of the whole object (in the cache and in the reconciler)."""
    routing = engine._routing[cluster.context]
    for event in events:
        if event.obj is not None and routing.declared_only_by(event.key, runtime.app.name):
            compact_judged(cluster.cache, runtime.reconciler, event.key, event.obj)


def compact_judged(
    cache: LiveCache, reconciler: AppReconciler, key: ResourceKey, obj: Mapping[str, Any]
) -> bool:
    """Compact `key`'s cached object `obj` if `reconciler` has just found it in sync, by the local
    comparison alone, and its rules allow (core.live_projection.may_compact); True when it did."""
    if cache.is_cut_down(key) or cache.get(key) is not obj:
        return False
    result = reconciler.results.get(key)
    desired = reconciler.desired.get(key)
    if (
        result is None
        or desired is None
        or result.status is not SyncStatus.SYNCED
        or result.reason
        or key in reconciler.server_verdicts
        or not may_compact(key, reconciler.rules_for(key, desired), reconciler.health_overrides)
    ):
        return False
    kept = compacted(obj, desired, key)
    cache.compact(key, kept, desired)
    reconciler.use_compacted(key, kept)
    return True


def read_whole_again(engine: EngineParts, context: str, runtimes: Iterable[AppRuntime]) -> list[StatusChange]:
    """Read again, whole, the live objects `runtimes`' reconcilers hold verdicts for (see
    `AppReconciler.take_reads`). In the live form the reads run on a thread and come back as
    messages (nothing to return now); a one-shot run reads at once and returns the changes."""
    cluster = engine.clusters.get(context)
    keys: set[ResourceKey] = set()
    for runtime in runtimes:
        keys |= runtime.reconciler.take_reads()
    if not keys or cluster is None or cluster.adapter is None:
        return []
    cluster.cache.mark_stale(keys)
    if engine._loop is None:
        changes: list[StatusChange] = []
        for message in _read(engine, cluster, keys):
            changes.extend(engine._handle(context, message))
        return changes

    def read_and_post() -> None:
        for message in _read(engine, cluster, keys):
            engine._post(context, message)

    task = asyncio.get_running_loop().create_task(asyncio.to_thread(read_and_post))
    engine._background.add(task)
    task.add_done_callback(engine._background.discard)
    return []


def _read(engine: EngineParts, cluster: ClusterRuntime, keys: set[ResourceKey]) -> list[WatchMessage]:
    """The whole objects of `keys` as messages; where reading fails, a relist of their kinds (whose own
    errors make a kind Unknown if it fails too). Blocking I/O only."""
    assert cluster.adapter is not None
    try:
        return [LiveEvent(key, obj) for key, obj in sorted(read_whole(cluster.adapter, keys).items())]
    except ClusterError:
        try:
            return engine._list_kinds(cluster, sorted({(key.group, key.kind) for key in keys}))
        except ClusterError:
            return []  # the kind's watch meets the same trouble and makes the kind Unknown


def whole_object(
    cached: Mapping[str, Any] | None, cluster: ClusterRuntime | None, key: ResourceKey
) -> Mapping[str, Any] | None:
    """`key`'s whole live object: the cached one when it is whole, else one GET (the cached cut-down
    form when the server cannot be asked). Blocking I/O: call it off the UI's and the loop's thread."""
    if cluster is None or cluster.adapter is None or cached is None or not cluster.cache.is_cut_down(key):
        return cached
    try:
        return read_whole(cluster.adapter, [key])[key]
    except ClusterError:
        return cached
