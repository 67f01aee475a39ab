"""How the live engine keeps knowing its clusters: clusters down at start, kinds not served yet,
servers back without their state.

A part of the Engine (see core.engine); the pacing and the judgments are core.cluster_liveness's
pure functions. Until a cluster answers, its apps' resources stay Unknown with the reason, never
Missing; a server that comes back without its state pauses automation on it until a person syncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.cluster_liveness import backoff, lost_consequence
from core.engine_parts import EngineParts
from core.errors import KubedriftError
from core.kind_watch import Relisted, WatchMessage
from core.kinds import KindTable
from core.runtime import ClusterRuntime, GroupKind, app_change, resource_change
from core.start_lists import KindListed, Listed, ListFailed, ListJob, StartLists
from core.status_events import StatusChange, rfc3339_now

if TYPE_CHECKING:
    from core.engine import Publish


class EngineLiveness:
    """The Engine's reconnecting, looking again for kinds, and reacting to lost state."""

    async def _keep_connecting(
        self: EngineParts, context: str, publish: Publish, stop: asyncio.Event
    ) -> None:
        """Try a cluster that could not be reached at start again (1 s doubling to 30 s, jittered)
        until it answers; then list and watch it as at start, and render its apps again with the
        kinds it serves. Its resources stay Unknown, with the reason, until then."""
        cluster = self.clusters[context]
        failures = 0
        while cluster.error is not None:
            failures += 1
            wait = backoff(failures, self.liveness.connect_initial, self.liveness.connect_max)
            if await _stopped_within(stop, wait):
                return
            fresh = await asyncio.to_thread(self._connect, context)
            messages: list[WatchMessage] = []
            if fresh.error is None and fresh.adapter is not None:
                cluster.tracked_kinds = fresh.tracked_kinds
                kinds = sorted(self.needed_kinds(context))
                try:
                    messages = await asyncio.to_thread(self._list_kinds, fresh, kinds)
                except KubedriftError as error:  # it went away again between discovery and the lists
                    fresh.error = str(error)
            if fresh.error is not None:
                cluster.error = fresh.error  # the sentence may change (refused, then timing out)
                self._show_cluster_error(context)
                continue
            publish(self._adopt(cluster, fresh, messages))
            self.connections.reachable(self.observer, context, True)
            self._ensure_watches(context)

    def _list_kinds(
        self: EngineParts, cluster: ClusterRuntime, kinds: Iterable[GroupKind]
    ) -> list[WatchMessage]:
        """List `kinds` of a cluster reached after start-up, several at once (core.start_lists), and
        keep every message, in order per kind, to be applied in one go (`_adopt`). Blocking."""
        namespaces = tuple(self._namespaces_of(cluster.context))
        jobs = [ListJob(cluster, group, kind, namespaces) for group, kind in kinds]
        inbox: queue.SimpleQueue[Listed] = queue.SimpleQueue()
        lists = StartLists(jobs, inbox.put)
        lists.start()
        messages: list[WatchMessage] = []
        try:
            for _ in jobs:
                while not isinstance(item := inbox.get(), KindListed):
                    if isinstance(item, ListFailed):
                        raise item.error
                    messages.append(item.message)
                    if isinstance(item.message, Relisted):
                        lists.page_applied()  # kept, not applied: the next page may come
        finally:
            lists.stop()
        return messages

    def _adopt(
        self: EngineParts, cluster: ClusterRuntime, fresh: ClusterRuntime, messages: list[WatchMessage]
    ) -> list[StatusChange]:
        """A connection made after start-up replaces the failed one: its lists are applied while the
        apps are still Unknown, and only then judged, so nothing shows Missing for a moment."""
        assert fresh.adapter is not None
        context = cluster.context
        cluster.adapter = fresh.adapter
        cluster.listed.update(fresh.listed)
        changes: list[StatusChange] = []
        for message in messages:
            changes.extend(self._handle(context, message))
        cluster.error = None
        changes.extend(self._judge_cluster_again(context))
        self._rescope(context, fresh.adapter.discover().kind_table())
        return changes

    async def _retry_kinds(self: EngineParts, stop: asyncio.Event) -> None:
        """Every `liveness.kind_retry` seconds, look again for the needed kinds that have no watch
        (the cluster did not serve them: a CRD not applied yet), and watch those it serves now."""
        while not await _stopped_within(stop, self.liveness.kind_retry):
            for context, cluster in list(self.clusters.items()):
                adapter = cluster.adapter
                if adapter is None or cluster.error is not None:
                    continue
                missing = {
                    needed
                    for needed in self.needed_kinds(context)
                    if not any(where[:2] == needed for where in cluster.watches)
                }
                if not missing:
                    continue
                try:
                    discovery = await asyncio.to_thread(adapter.discover, refresh=True)
                except KubedriftError:
                    continue  # unreachable: the running watches say so, and this is tried again
                served = {needed for needed in missing if needed in discovery.by_kind}
                if served:
                    self._rescope(context, discovery.kind_table())
                    self._ensure_watches(context, served)

    def _rescope(self: EngineParts, context: str, scope: KindTable) -> None:
        """Render the cluster's apps again with the kinds it serves, which decide what is namespaced."""
        for runtime in self._apps_on(context):
            if runtime.loader is not None:
                runtime.loader.renderer.scope = scope
                source = self.sources.get(runtime.app.name)
                if source is not None:
                    source.request_refresh()

    def _state_lost(
        self: EngineParts, context: str, reason: str, noticed_by: tuple[str, str, str | None]
    ) -> None:
        """The server came back without its state: say so on its apps, pause automation on it, and
        list every kind again (they are all as stale as the one that noticed)."""
        cluster = self.clusters[context]
        if cluster.state_lost is not None:
            return
        read_only = cluster.adapter is None or cluster.adapter.read_only
        cluster.state_lost = f"{reason}; {lost_consequence(read_only)}"
        self._show_cluster_error(context)
        for where, watch in cluster.watches.items():
            if where != noticed_by:
                watch.relist()

    def confirm_cluster(self: EngineParts, context: str | None) -> None:
        """A person synced an app of this cluster, so they have seen its lost state: automation resumes."""
        cluster = self.clusters.get(context or "")
        if cluster is not None and cluster.state_lost is not None:
            cluster.state_lost = None
            self._show_cluster_error(cluster.context)

    def _show_cluster_error(self: EngineParts, context: str) -> None:
        cluster = self.clusters[context]
        for runtime in self._apps_on(context):
            runtime.cluster_error = cluster.error or cluster.state_lost

    def _judge_cluster_again(self: EngineParts, context: str) -> list[StatusChange]:
        """The cluster can be used again: its apps' resources are judged on what it holds."""
        self._show_cluster_error(context)
        changes: list[StatusChange] = []
        now = rfc3339_now()
        for runtime in self._apps_on(context):
            before = (runtime.reconciler.sync, runtime.reconciler.health)
            previous = dict(runtime.reconciler.results)
            for key in sorted(runtime.reconciler.set_cluster_unknown(None)):
                current = runtime.reconciler.results.get(key)
                changes.append(resource_change(now, runtime.app.name, key, previous.get(key), current))
            changes.extend(app_change(now, runtime, before))
        return changes


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or until `stop` is set; True when it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
