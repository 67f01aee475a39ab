"""Applying messages: the only place the live caches and the reconcilers change.

A part of the Engine (see core.engine). Each message from a list or a watch (an event, a relist, a
kind's state, a server back without its state) is applied to its cluster's live cache and to the
reconcilers of the apps it concerns, which recompute only the keys it touches; the status changes are
returned, to be published as one batch. An app's new desired state is applied here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from core.cluster_liveness import VANISHED_MINIMUM, lost_by_relist, lost_by_version
from core.desired_state import DesiredState
from core.drift.cluster_schema import group_versions
from core.engine_parts import EngineParts
from core.engine_projection import compact_in_sync, read_whole_again
from core.kind_watch import KindState, Relisted, StateLost, WatchMessage
from core.live_cache import LiveEvent, PagedRelist
from core.model import ResourceKey, SyncStatus
from core.runtime import AppRuntime, ClusterRuntime, app_change, resource_change
from core.server_side_diff import (
    Candidate,
    ServerSideDiffWorker,
    ServerVerdict,
    confirm,
    wants_server_side_diff,
)
from core.shared_resources import ShareChange, change_message
from core.status_events import (
    AppStatusChange,
    RevisionChange,
    SharedResourceChange,
    StatusChange,
    rfc3339_now,
)


class EngineMessages:
    """The Engine's handling of messages from watches, lists and sources."""

    def _handle(self: EngineParts, context: str, message: WatchMessage) -> list[StatusChange]:
        cluster = self.clusters[context]
        if isinstance(message, Nudge):
            return take_verdicts(self, context)  # it says nothing of the live object: never cached
        if isinstance(message, LiveEvent):
            # What a sync changed nothing for, and what the server said of a local verdict, land
            # here first: the worker threads that learn them nudge the loop (see nudger).
            verdicts = take_verdicts(self, context)
            if not cluster.cache.apply(message):
                return verdicts
            if message.obj is not None:  # what the cache kept, which may be cut down (core.live_projection)
                message = LiveEvent(message.key, cluster.cache.get(message.key))
            return verdicts + self._route(context, [message])
        if isinstance(message, StateLost):
            where = (message.group, message.kind, message.namespace)
            self._state_lost(context, lost_by_version(context, message.newest, message.version), where)
            return []  # the relists that follow bring the status changes
        if isinstance(message, Relisted):
            return apply_relisted(self, context, message)
        if message.forbidden and message.namespace is None and self._is_namespaced(cluster, message):
            # Not allowed cluster-wide: watch just the apps' namespaces, as a namespaced user can.
            watch = cluster.watches.pop((message.group, message.kind, None), None)
            if watch is not None:
                watch.stop()
                for namespace in self._namespaces_of(context):
                    self._start_watch(cluster, message.group, message.kind, namespace)
                return []
        where = (message.group, message.kind, message.namespace)
        if message.error is None:
            cluster.watch_errors.pop(where, None)
            # The server answers again: watches still waiting out a backoff retry now.
            for failing in cluster.watch_errors:
                if (watch := cluster.watches.get(failing)) is not None:
                    watch.wake()
        else:
            cluster.watch_errors[where] = message.error
        if message.unreachable:  # the connection is down, not just this kind (core.engine_observer)
            self.connections.watch_down(self.observer, context, where)
        else:
            self.connections.watch_up(self.observer, context, where)
        # Any error makes the kind Unknown: a list that fails, or a kind not served, must not read as
        # Missing. A stream that merely drops is resumed by the watch and never reported.
        return self._set_kind_state(
            context, message.group, message.kind, message.error, forbidden=message.forbidden
        )

    def _is_namespaced(self: EngineParts, cluster: ClusterRuntime, message: KindState) -> bool:
        assert cluster.adapter is not None
        resource = cluster.adapter.discover().by_kind.get((message.group, message.kind))
        return resource is not None and resource.namespaced

    def _route(self: EngineParts, context: str, events: list[LiveEvent]) -> list[StatusChange]:
        """Hand each event to the apps it concerns (see core.event_routing), app by app."""
        routing = self._routing[context]
        cluster = self.clusters[context]
        now = rfc3339_now()
        changes: list[StatusChange] = []
        routed = routing.route(events)
        for runtime, app_events in routed:
            before = (runtime.reconciler.sync, runtime.reconciler.health)
            for event in app_events:
                previous = runtime.reconciler.results.get(event.key)
                updated = runtime.reconciler.live_changed(
                    event.key, event.obj, cut_down=cluster.cache.is_cut_down(event.key)
                )
                routing.note(runtime, (event.key,))
                if updated is not None or (
                    previous is not None and event.key not in runtime.reconciler.results
                ):
                    changes.append(resource_change(now, runtime.app.name, event.key, previous, updated))
            changes.extend(app_change(now, runtime, before))
            confirm_on_server(self, context, runtime, [event.key for event in app_events])
            compact_in_sync(self, cluster, runtime, app_events)
        return changes + read_whole_again(self, context, [runtime for runtime, _ in routed])

    def _set_kind_state(
        self: EngineParts, context: str, group: str, kind: str, reason: str | None, *, forbidden: bool = False
    ) -> list[StatusChange]:
        changes: list[StatusChange] = []
        now = rfc3339_now()
        for runtime in self._apps_on(context):
            if reason is None and not runtime.reconciler.kind_unknown(group, kind):
                continue
            before = (runtime.reconciler.sync, runtime.reconciler.health)
            previous = dict(runtime.reconciler.results)
            for key in runtime.reconciler.set_kind_unknown(group, kind, reason, forbidden=forbidden):
                changes.append(
                    resource_change(
                        now, runtime.app.name, key, previous.get(key), runtime.reconciler.results.get(key)
                    )
                )
            changes.extend(app_change(now, runtime, before))
        return changes

    def _set_desired(self: EngineParts, runtime: AppRuntime, state: DesiredState) -> list[StatusChange]:
        now = rfc3339_now()
        before = (runtime.reconciler.sync, runtime.reconciler.health)
        previous = dict(runtime.reconciler.results)
        previous_revision = runtime.desired.revision
        previous_keys = set(runtime.reconciler.desired)
        runtime.desired = state
        if runtime.wake is None and runtime.context is not None:
            runtime.wake = nudger(self, runtime.context)  # a sync's verdicts reach the loop at once
        cluster = self.clusters.get(runtime.context or "")
        if cluster is not None and cluster.schema_source is not None and cluster.error is None:
            # The kinds' documents now, before judging: one request per group-version not seen yet.
            cluster.schema_source.prefetch(group_versions(state.objects.values()))
        changed = runtime.reconciler.set_desired(
            state.objects, render_ok=state.render_ok, pending=state.pending
        )
        if cluster is not None:
            # Newly desired keys may already be live: hand the reconciler what the cache holds.
            for key in state.objects:
                if key not in runtime.reconciler.live:
                    obj = cluster.cache.get(key)
                    if obj is None:
                        continue
                    cut_down = cluster.cache.is_cut_down(key)  # then held until it is read whole
                    if runtime.reconciler.live_changed(key, obj, cut_down=cut_down) is not None:
                        changed.add(key)
            self._routing[cluster.context].note(runtime, previous_keys | state.objects.keys())
        changes: list[StatusChange] = [
            resource_change(
                now, runtime.app.name, key, previous.get(key), runtime.reconciler.results.get(key)
            )
            for key in sorted(changed)
        ]
        changes.extend(app_change(now, runtime, before))
        if state.revision != previous_revision:
            changes.append(RevisionChange(now, runtime.app.name, state.revision, previous_revision))
        changes.extend(declare_shared(self, runtime, state, now))
        if cluster is not None:
            changes.extend(read_whole_again(self, cluster.context, [runtime]))
        return changes

    def _initial_changes(self: EngineParts) -> list[StatusChange]:
        now = rfc3339_now()
        changes: list[StatusChange] = [
            AppStatusChange(now, r.app.name, r.reconciler.sync, r.reconciler.health, None, None)
            for r in self.apps.values()
        ]
        # What is shared from the start is told once, as it would be had it become shared later.
        for runtime in self.apps.values():
            for key, others in sorted(runtime.shared_with.items()):
                change = ShareChange(runtime.app.name, key, others, ())
                changes.append(SharedResourceChange(now, change.app, key, others, (), change_message(change)))
        return changes


def apply_relisted(engine: EngineParts, context: str, message: Relisted) -> list[StatusChange]:
    """A list, or a page of one (core.live_cache.PagedRelist): its objects stored and judged at once; at its
    last page, what it did not return deleted, and only then the kind known again."""
    cluster = engine.clusters[context]
    where = (message.group, message.kind, message.namespace)
    relist = cluster.relists.get(where)
    if message.first or relist is None:
        relist = cluster.relists[where] = PagedRelist.begin(cluster.cache, *where)
    changes = engine._route(context, relist.page(cluster.cache, message.objects))
    if not message.last:
        return changes
    del cluster.relists[where]
    if message.recovering and not relist.listed and relist.held >= VANISHED_MINIMUM:
        engine._state_lost(context, lost_by_relist(context, message.kind, relist.held), where)
    for failing in [w for w in cluster.watch_errors if w[:2] == where[:2]]:
        if message.namespace is None or failing == where:
            del cluster.watch_errors[failing]
    engine.connections.watch_up(engine.observer, context, where)
    changes += engine._route(context, relist.finish(cluster.cache))
    # The objects first, then the kind known again: the other order would flash Missing.
    return changes + engine._set_kind_state(context, message.group, message.kind, None)


def declare_shared(
    engine: EngineParts, runtime: AppRuntime, state: DesiredState, now: str
) -> list[StatusChange]:
    """Note what `runtime`'s app declares now in the engine's index of shared objects
    (core.shared_resources); every app whose shared objects changed is told, this one or another."""
    index = engine.shared_resources
    name = runtime.app.name
    declared = state.objects.keys() | state.pending.keys() if state.pending else state.objects.keys()
    moved = index.declare(name, runtime.context, declared)
    runtime.declared_elsewhere = partial(index.others, name)
    changes: list[StatusChange] = []
    for app in sorted({change.app for change in moved}):
        if app in engine.apps:
            engine.apps[app].shared_with = index.shared_with(app)
    for change in moved:
        if change.app in engine.apps:
            changes.append(
                SharedResourceChange(
                    now, change.app, change.key, change.shared_with, change.previous, change_message(change)
                )
            )
    return changes


def take_verdicts(engine: EngineParts, context: str) -> list[StatusChange]:
    """Mark, on the loop, what the apps of `context` learnt off it: the verdicts of their last sync
    (drift rule 7) and the server's answers to their server-side diffs; the changes they make."""
    now = rfc3339_now()
    changes: list[StatusChange] = []
    for runtime in engine.apps.values():
        if runtime.context != context or not (runtime.has_sync_verdicts or runtime.server_inbox):
            continue
        before = (runtime.reconciler.sync, runtime.reconciler.health)
        previous = dict(runtime.reconciler.results)
        keys = runtime.take_sync_verdicts() | runtime.take_server_verdicts()
        for key in sorted(keys):
            changes.append(
                resource_change(
                    now, runtime.app.name, key, previous.get(key), runtime.reconciler.results.get(key)
                )
            )
        changes.extend(app_change(now, runtime, before))
    return changes


def confirm_on_server(
    engine: EngineParts, context: str, runtime: AppRuntime, keys: list[ResourceKey]
) -> None:
    """Send the opted-in resources among `keys` that the local comparison finds OutOfSync to the
    server-side diff (core.server_side_diff): on the worker thread in the live form, at once in a
    one-shot run, which has no loop to wait on."""
    cluster = engine.clusters.get(context)
    if cluster is None or cluster.adapter is None:
        return
    reconciler = runtime.reconciler
    for key in keys:
        result = reconciler.results.get(key)
        desired, live = reconciler.desired.get(key), reconciler.live.get(key)
        if result is None or result.status is not SyncStatus.OUT_OF_SYNC or desired is None or live is None:
            continue
        if result.sync_changes_nothing or not wants_server_side_diff(runtime.app, desired):
            continue
        held = reconciler.server_verdicts.get(key)
        if held is not None and held.holds_for(desired, live):
            continue
        if engine._loop is None:  # one-shot (`check`): ask now
            reconciler.set_server_verdict(confirm(cluster.adapter, runtime.app, key, desired, live))
            continue
        if runtime.server_side_worker is None:
            runtime.server_side_worker = ServerSideDiffWorker(_deliverer(engine, context, runtime))
        runtime.server_side_worker.submit(Candidate(runtime.app, cluster.adapter, key, desired, live))


def _deliverer(
    engine: EngineParts, context: str, runtime: AppRuntime
) -> Callable[[str, ServerVerdict], None]:
    """Called on the worker thread: keep the answer for the loop, and nudge the loop."""
    nudge = nudger(engine, context)

    def deliver(_app: str, verdict: ServerVerdict) -> None:
        runtime.server_inbox.append(verdict)
        nudge(verdict.key)

    return deliver


@dataclass(frozen=True, slots=True)
class Nudge(LiveEvent):
    """Not a change of the live object: the loop is to take what a worker thread learnt (nudger).

    It carries no object on purpose. The watch events queued before it (the apply's, a revert's)
    are newer than anything the cache held when it was queued; an object read then and stored when
    it is handled would put the older object back, and the verdict after it would be stale."""


def nudger(engine: EngineParts, context: str) -> Callable[[ResourceKey], None]:
    """A function any thread may call to have the loop take what the apps of `context` learnt off
    it (see take_verdicts) and publish it, in the queue's order with the watch events. Nothing
    without a loop (a one-shot run takes them itself)."""

    def on_loop(key: ResourceKey) -> None:
        if context in engine.clusters and engine._queue is not None:
            engine._queue.put_nowait((context, Nudge(key, None), time.perf_counter()))

    def nudge(key: ResourceKey) -> None:
        loop = engine._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(on_loop, key)

    return nudge
