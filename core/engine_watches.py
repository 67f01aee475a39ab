"""How the engine hears from its clusters: a list of each needed kind, then a watch from where it ended.

A part of the Engine (see core.engine). Lists and watches only produce messages: the start-up
lists' pages come from a small pool of threads (core.start_lists) and are applied on one thread as
they arrive, a watch's are posted from its thread to the engine's loop. Applying them is
core.engine_messages's concern. Where a kind may not be listed cluster-wide, the apps' namespaces
are listed one by one, as a namespaced user can.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections.abc import Iterable
from dataclasses import replace

from core.engine_parts import EngineParts
from core.errors import KubedriftError
from core.kind_watch import KindState, KindWatch, Relisted, WatchMessage
from core.runtime import ClusterRuntime, GroupKind
from core.start_lists import KindListed, Listed, ListFailed, ListJob, StartLists, StartProgress


class EngineWatches:
    """The Engine's lists and watches."""

    def _list_all(self: EngineParts) -> None:
        """List every needed kind of every cluster, several at once, applying each page on this
        thread as it arrives (the one-shot form's start-up; see core.start_lists)."""
        inbox: queue.SimpleQueue[Listed] = queue.SimpleQueue()
        lists = StartLists(list_jobs(self), inbox.put)
        lists.start()
        try:
            while self.start_progress.kinds_listed < self.start_progress.kinds_to_list:
                apply_listed(self, lists, inbox.get())
        finally:
            lists.stop()

    async def _list_all_live(self: EngineParts) -> None:
        """The live form's start-up lists: as `_list_all`, the pages applied on the loop, one per
        turn of it, so the screen keeps painting (and shows the progress) while they stream in."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Listed] = asyncio.Queue()

        def deliver(item: Listed) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a worker still listing
                loop.call_soon_threadsafe(inbox.put_nowait, item)

        lists = StartLists(list_jobs(self), deliver)
        lists.start()
        try:
            while self.start_progress.kinds_listed < self.start_progress.kinds_to_list:
                apply_listed(self, lists, await inbox.get())
                await asyncio.sleep(0)  # a page is a few milliseconds of judging: then the screen's turn
        finally:
            lists.stop()

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


def list_jobs(engine: EngineParts) -> list[ListJob]:
    """Every needed kind of every usable cluster, to list; the progress starts counting them."""
    jobs: list[ListJob] = []
    for context, cluster in engine.clusters.items():
        if cluster.adapter is None or cluster.error is not None:
            continue
        namespaces = tuple(engine._namespaces_of(context))
        jobs += [ListJob(cluster, g, k, namespaces) for g, k in sorted(engine.needed_kinds(context))]
    engine.start_progress = StartProgress(kinds_to_list=len(jobs))
    return jobs


def apply_listed(engine: EngineParts, lists: StartLists, item: Listed) -> None:
    """Apply one start-up list message on the applying thread, and count it in the progress."""
    if isinstance(item, ListFailed):
        raise item.error
    progress = engine.start_progress
    if isinstance(item, KindListed):
        engine.start_progress = replace(progress, kinds_listed=progress.kinds_listed + 1)
        return
    message = item.message
    try:
        engine._handle(item.context, message)  # no publish: the first one follows the lists
    finally:
        if isinstance(message, Relisted):
            lists.page_applied()
    if isinstance(message, Relisted):
        judged = progress.objects_judged + len(message.objects)
        engine.start_progress = replace(progress, objects_judged=judged)
