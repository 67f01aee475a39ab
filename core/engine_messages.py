"""Applying messages: the only place the live caches and the reconcilers change.

A part of the Engine (see core.engine). Each message from a list or a watch (an event, a relist, a
kind's state, a server back without its state) is applied to its cluster's live cache and to the
reconcilers of the apps it concerns, which recompute only the keys it touches; the status changes are
returned, to be published as one batch. An app's new desired state is applied here too.
"""

from __future__ import annotations

from core.cluster_liveness import VANISHED_MINIMUM, lost_by_relist, lost_by_version
from core.desired_state import DesiredState
from core.engine_parts import EngineParts
from core.kind_watch import KindState, Relisted, StateLost, WatchMessage
from core.live_cache import LiveEvent
from core.runtime import AppRuntime, ClusterRuntime, app_change, resource_change
from core.status_events import AppStatusChange, RevisionChange, StatusChange, rfc3339_now


class EngineMessages:
    """The Engine's handling of messages from watches, lists and sources."""

    def _handle(self: EngineParts, context: str, message: WatchMessage) -> list[StatusChange]:
        cluster = self.clusters[context]
        if isinstance(message, LiveEvent):
            if not cluster.cache.apply(message):
                return []
            return self._route(context, [message])
        if isinstance(message, StateLost):
            where = (message.group, message.kind, message.namespace)
            self._state_lost(context, lost_by_version(context, message.newest, message.version), where)
            return []  # the relists that follow bring the status changes
        if isinstance(message, Relisted):
            where = (message.group, message.kind, message.namespace)
            held = cluster.cache.count(message.group, message.kind, message.namespace)
            if message.recovering and not message.objects and held >= VANISHED_MINIMUM:
                self._state_lost(context, lost_by_relist(context, message.kind, held), where)
            for failing in [w for w in cluster.watch_errors if w[:2] == where[:2]]:
                if message.namespace is None or failing == where:
                    del cluster.watch_errors[failing]
            events = cluster.cache.replace_kind(
                message.group, message.kind, message.objects, message.namespace
            )
            # The objects first, then the kind known again: the other order would flash Missing.
            changes = self._route(context, events)
            return changes + self._set_kind_state(context, message.group, message.kind, None)
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
        changes: list[StatusChange] = []
        now = rfc3339_now()
        for runtime, app_events in routing.route(events):
            before = (runtime.reconciler.sync, runtime.reconciler.health)
            for event in app_events:
                previous = runtime.reconciler.results.get(event.key)
                updated = runtime.reconciler.live_changed(event.key, event.obj)
                routing.note(runtime, (event.key,))
                if updated is not None or (
                    previous is not None and event.key not in runtime.reconciler.results
                ):
                    changes.append(resource_change(now, runtime.app.name, event.key, previous, updated))
            changes.extend(app_change(now, runtime, before))
        return changes

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
        cluster = self.clusters.get(runtime.context or "")
        changed = runtime.reconciler.set_desired(
            state.objects, render_ok=state.render_ok, pending=state.pending
        )
        if cluster is not None:
            # Newly desired keys may already be live: hand the reconciler what the cache holds.
            for key in state.objects:
                if key not in runtime.reconciler.live:
                    obj = cluster.cache.get(key)
                    if obj is not None and runtime.reconciler.live_changed(key, obj) is not None:
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
        return changes

    def _initial_changes(self: EngineParts) -> list[StatusChange]:
        now = rfc3339_now()
        return [
            AppStatusChange(now, r.app.name, r.reconciler.sync, r.reconciler.health, None, None)
            for r in self.apps.values()
        ]
