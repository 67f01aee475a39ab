"""How the engine hears from its clusters: a list of each needed kind, then a watch from where it ended.

A part of the Engine (see core.engine). Lists and watches only produce messages: a list's are
returned to the caller, a watch's are posted from its thread to the engine's loop. Applying them is
core.engine_messages's concern. Where a kind may not be listed cluster-wide, the apps' namespaces
are listed one by one, as a namespaced user can.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from core.cluster import ApiError
from core.engine_parts import EngineParts
from core.errors import KubedriftError
from core.kind_watch import KindState, KindWatch, Relisted, WatchMessage
from core.runtime import ClusterRuntime, GroupKind


class EngineWatches:
    """The Engine's lists and watches."""

    def _list_all(self: EngineParts) -> None:
        """List every needed kind of every cluster and feed the results in (start-up of both forms)."""
        for context, cluster in self.clusters.items():
            if cluster.adapter is None or cluster.error is not None:
                continue
            for group, kind in sorted(self.needed_kinds(context)):
                for message in self._list_kind(cluster, group, kind):
                    self._handle(context, message)

    def _list_kind(self: EngineParts, cluster: ClusterRuntime, group: str, kind: str) -> list[WatchMessage]:
        """List one kind (per namespace where only that is allowed), as messages for `_handle`; the
        lists' versions go to `cluster.listed`, so its watches start where the lists ended.
        Blocking I/O only: it may run on a worker thread."""
        assert cluster.adapter is not None
        messages: list[WatchMessage] = []
        try:
            resource = cluster.adapter.resource_for(group, kind)
        except ApiError as error:
            return [KindState(group, kind, None, str(error))]
        namespaces: list[str | None] = [None]
        while namespaces:
            namespace = namespaces.pop()
            try:
                objects, version = cluster.adapter.list(resource, namespace)
            except ApiError as error:
                if error.code == 403 and namespace is None and resource.namespaced:
                    # Not allowed cluster-wide: a namespaced user may still list the apps' namespaces.
                    namespaces.extend(self._namespaces_of(cluster.context))
                    continue
                state = KindState(group, kind, namespace, str(error), forbidden=error.code in (401, 403))
                messages.append(state)
                continue
            cluster.listed[(group, kind, namespace)] = version
            messages.append(Relisted(group, kind, namespace, objects))
        return messages

    def _namespaces_of(self: EngineParts, context: str) -> list[str]:
        namespaces = {
            key.namespace for r in self._apps_on(context) for key in r.desired.objects if key.namespace
        }
        namespaces |= {r.app.destination.namespace for r in self._apps_on(context)}
        return sorted(namespaces)

    def stop_watches(self: EngineParts) -> None:
        for cluster in self.clusters.values():
            for watch in cluster.watches.values():
                watch.stop()

    def _ensure_watches(self: EngineParts, context: str, kinds: Iterable[GroupKind] | None = None) -> None:
        """Watch every needed kind (or only `kinds`, those one new desired state holds): from its
        start-up list where there was one, else list first."""
        cluster = self.clusters[context]
        if cluster.adapter is None or cluster.error is not None:
            return
        for (group, kind, namespace), version in cluster.listed.items():
            if (group, kind, namespace) not in cluster.watches:
                self._start_watch(cluster, group, kind, namespace, version)
        for group, kind in sorted(self.needed_kinds(context) if kinds is None else set(kinds)):
            if not any(existing[:2] == (group, kind) for existing in cluster.watches):
                self._start_watch(cluster, group, kind, None)

    def _start_watch(
        self: EngineParts,
        cluster: ClusterRuntime,
        group: str,
        kind: str,
        namespace: str | None,
        version: str = "",
    ) -> None:
        assert cluster.adapter is not None
        try:
            resource = cluster.adapter.resource_for(group, kind)
        except KubedriftError as error:
            self._post(cluster.context, KindState(group, kind, namespace, str(error)))
            return
        context = cluster.context

        def sink(message: WatchMessage) -> None:
            self._post(context, message)

        def reconnected() -> None:
            self.observer.watch_reconnected(context)

        watch = KindWatch(
            cluster.adapter,
            resource,
            sink,
            namespace=namespace,
            resource_version=version,
            watch_timeout=self.liveness.watch_timeout,
            idle_timeout=self.liveness.watch_idle,
            on_reconnect=reconnected,
        )
        cluster.watches[(group, kind, namespace)] = watch
        watch.start()

    def _post(self: EngineParts, context: str, message: WatchMessage) -> None:
        """Called on watch threads: hand the message to the engine's loop, stamped (for the observer's
        event latency)."""
        if self._loop is not None and self._queue is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (context, message, time.perf_counter()))
