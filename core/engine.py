"""The live engine: apps, their desired state, the clusters' live caches, and the reconcilers between.

Data flow (DESIGN "Data flow"): watches and Git changes arrive as messages; each message updates
the live cache or an app's desired set, the reconcilers recompute only the keys it touches, and
the resulting status changes go to one `publish` callback per batch. The engine never edits the
cache because of an action: results come back through the watch.

`evaluate()` is the one-shot form (`check`, `diff`): list once, judge, return snapshots.
`run()` is the live form (`watch`, the TUI).

When the cluster cannot tell (unreachable, a list failing, a kind it does not serve), the
resources are Unknown with the reason, never Missing; automation never acts on what it cannot
see. The live form keeps trying: clusters unreachable at start are retried with backoff, kinds not
served are looked for again, and a server that comes back without its state pauses automation on
it until a person syncs (see core.cluster_liveness).

Building an Engine reads nothing and imports no client: the TUI paints its first frame from the
apps' runtimes before `run()` connects. The kubernetes client, GitPython and watchfiles load with
the first connection, load and source watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.audit import AuditError, AuditWriteError
from core.automation import Automation, SyncRequest
from core.cluster import GIVE_UP_SECONDS, ApiError, ClusterAdapter, ClusterError
from core.cluster_liveness import (
    VANISHED_MINIMUM,
    Liveness,
    backoff,
    lost_by_relist,
    lost_by_version,
    lost_consequence,
    unusable,
)
from core.config import Config
from core.desired_state import WORKING_TREE_SETTLE_SECONDS, AppDesiredState, DesiredState
from core.errors import KubedriftError
from core.event_routing import EventRouting
from core.kind_watch import KindState, KindWatch, Relisted, StateLost, WatchMessage
from core.kinds import BUILTIN_SCOPE, KindTable
from core.kubeconfig import Kubeconfig
from core.live_cache import LiveEvent
from core.model import TRACKING_LABEL, TRACKING_LABEL_VALUE, App, AppStatus, ResourceKey
from core.queue_wait import Nothing, get_or_stop
from core.read_only import read_only_reason
from core.reconcile import AppReconciler
from core.runtime import AppRuntime, ClusterRuntime, GroupKind, app_change, resource_change
from core.status_events import AppStatusChange, RevisionChange, StatusChange, rfc3339_now

if TYPE_CHECKING:
    from core.gitsource import AppSource, GitRepository
    from core.source_watch import SourceWatch

Publish = Callable[[list[StatusChange]], None]
# Kinds the resource tree shows as children of what Git declares (ownerReferences).
TREE_KINDS: tuple[GroupKind, ...] = (("apps", "ReplicaSet"), ("", "Pod"))


class Engine:
    """Evaluates apps once, or keeps them evaluated live."""

    def __init__(
        self,
        config: Config,
        kubeconfig: Kubeconfig | None,
        *,
        context: str | None = None,
        read_only: bool = False,
        adapter_factory: Callable[[str, bool], ClusterAdapter] | None = None,
        base_dir: Path | None = None,
        cache_dir: Path | None = None,
        git_poll_seconds: float = 30.0,
        watch_tree: bool = True,
        liveness: Liveness | None = None,
        working_tree_settle: float = WORKING_TREE_SETTLE_SECONDS,
    ) -> None:
        self.config = config
        self.kubeconfig = kubeconfig
        self.read_only = read_only or config.read_only
        self._adapter_factory = adapter_factory or self._default_adapter
        self._base_dir = base_dir
        self._cache_dir = cache_dir
        self._git_poll_seconds = git_poll_seconds
        self._watch_tree = watch_tree
        self.liveness = liveness or Liveness()
        self._working_tree_settle = working_tree_settle
        self._one_shot = False
        self.clusters: dict[str, ClusterRuntime] = {}
        self.apps: dict[str, AppRuntime] = {}
        for app in config.apps:
            runtime = AppRuntime(app, None, AppReconciler(app))
            try:
                if kubeconfig is None:
                    raise KubedriftError("no kubeconfig is loaded")
                runtime.context = kubeconfig.context_for(app.destination, context)
            except KubedriftError as error:
                runtime.cluster_error = str(error)
                runtime.reconciler.set_cluster_unknown(unusable(None))  # nothing to ask: Unknown, not Missing
            self.apps[app.name] = runtime
        self._queue: asyncio.Queue[tuple[str, WatchMessage]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.automation = Automation()
        self.sources: dict[str, SourceWatch] = {}
        self._repositories: dict[str, GitRepository] = {}
        self._routing: dict[str, EventRouting] = {}
        self._actions: set[asyncio.Task[None]] = set()

    # Set-up shared by both forms.

    def _default_adapter(self, context: str, read_only: bool) -> ClusterAdapter:
        assert self.kubeconfig is not None
        # A one-shot command gives up on a silent cluster; the live form keeps reconnecting.
        give_up = GIVE_UP_SECONDS if self._one_shot else None
        return ClusterAdapter(
            self.kubeconfig.api_client(context), context=context, read_only=read_only, give_up_seconds=give_up
        )

    def connect(self) -> None:
        """Build an adapter per context, discover what each serves, and load every app's desired state."""
        for runtime in self.apps.values():
            if runtime.context is not None and runtime.context not in self.clusters:
                self.clusters[runtime.context] = self._connect(runtime.context)
                self._routing[runtime.context] = EventRouting(self._apps_on(runtime.context))
        for runtime in self.apps.values():
            cluster = self.clusters.get(runtime.context or "")
            scope = BUILTIN_SCOPE
            if cluster is not None and cluster.adapter is not None and cluster.error is None:
                scope = cluster.adapter.discover().kind_table()
            if cluster is not None and cluster.error is not None:
                runtime.cluster_error = cluster.error
                runtime.reconciler.set_cluster_unknown(unusable(runtime.context))
            runtime.loader = AppDesiredState(
                runtime.app,
                scope=scope,
                source=self._source_of(runtime.app),
                settle_seconds=self._working_tree_settle,
            )
            self._set_desired(runtime, runtime.loader.load())

    def _source_of(self, app: App) -> AppSource:
        """The app's source; apps of one repository share its GitRepository: one clone, one pair of
        git processes and one object cache, rather than one of each per app."""
        from core.gitsource import AppSource

        shared = self._repositories.get(app.source.repo_url)
        source = AppSource(app.source, base_dir=self._base_dir, cache_dir=self._cache_dir, repository=shared)
        if source.repository is not None:
            self._repositories.setdefault(app.source.repo_url, source.repository)
        return source

    def _connect(self, context: str) -> ClusterRuntime:
        cluster = ClusterRuntime(context)
        # Decided per cluster, not per name: a context on the same server as a read-only one is read-only.
        read_only = read_only_reason(self.config, self.kubeconfig, context, forced=self.read_only) is not None
        try:
            cluster.adapter = self._adapter_factory(context, read_only)
            discovery = cluster.adapter.discover()
            cluster.tracked_kinds = self._scan_tracked_kinds(cluster.adapter, discovery.by_kind.values())
        except KubedriftError as error:
            cluster.error = str(error)
        return cluster

    def _scan_tracked_kinds(self, adapter: ClusterAdapter, resources: Iterable[Any]) -> set[GroupKind]:
        """Kinds that hold objects carrying kubedrift's label: one filtered list per kind, at start."""
        found: set[GroupKind] = set()
        selector = f"{TRACKING_LABEL}={TRACKING_LABEL_VALUE}"
        for resource in resources:
            if not resource.watchable or (resource.group, resource.kind) in TREE_KINDS:
                continue
            try:
                objects, _ = adapter.list(resource, label_selector=selector)
            except ApiError:
                continue  # forbidden or not listable: its desired objects will still be judged
            if objects:
                found.add((resource.group, resource.kind))
        return found

    def needed_kinds(self, context: str) -> set[GroupKind]:
        """What a cluster's watches must cover: desired kinds, tracked kinds, and the tree's kinds."""
        kinds = set(self.clusters[context].tracked_kinds)
        for runtime in self._apps_on(context):
            kinds.update((key.group, key.kind) for key in runtime.desired.objects)
        if self._watch_tree:
            kinds.update(TREE_KINDS)
        return kinds

    # The one-shot form.

    def evaluate(self) -> list[AppStatus]:
        """Connect, list every needed kind once, and judge every app."""
        self._one_shot = True
        self.connect()
        self._list_all()
        return self.statuses()

    def _list_all(self) -> None:
        """List every needed kind of every cluster and feed the results in (start-up of both forms)."""
        for context, cluster in self.clusters.items():
            if cluster.adapter is None or cluster.error is not None:
                continue
            for group, kind in sorted(self.needed_kinds(context)):
                for message in self._list_kind(cluster, group, kind):
                    self._handle(context, message)

    def _list_kind(self, cluster: ClusterRuntime, group: str, kind: str) -> list[WatchMessage]:
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

    def _namespaces_of(self, context: str) -> list[str]:
        namespaces = {
            key.namespace for r in self._apps_on(context) for key in r.desired.objects if key.namespace
        }
        namespaces |= {r.app.destination.namespace for r in self._apps_on(context)}
        return sorted(namespaces)

    # The live form.

    async def run(self, publish: Publish, stop: asyncio.Event) -> None:
        """Watch every cluster and source until `stop` is set; publish status changes per batch."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        await asyncio.to_thread(self.connect)
        await asyncio.to_thread(self._list_all)
        publish(self._initial_changes())
        for context in self.clusters:
            self._ensure_watches(context)
        from core.file_watch import FileWatch
        from core.source_watch import SourceWatch, reload_moved

        files = FileWatch()
        self.sources = {
            name: SourceWatch(runtime.loader, files, poll_seconds=self._git_poll_seconds)
            for name, runtime in self.apps.items()
            if runtime.loader is not None
        }
        for watch in self.sources.values():
            # A working tree counts as settled only once it has been watched for the whole window:
            # before now, a save could not have been seen.
            watch.loader.restart_settle()
        tasks = [
            asyncio.create_task(self._follow_source(watch, publish, stop)) for watch in self.sources.values()
        ]
        # After the source tasks: each follows its folder as it starts, so one watcher covers them all.
        tasks.append(asyncio.create_task(files.run(stop)))
        tasks.append(asyncio.create_task(reload_moved(self.sources.values(), files)))
        tasks += [
            asyncio.create_task(self._keep_connecting(context, publish, stop))
            for context, cluster in self.clusters.items()
            if cluster.error is not None
        ]
        tasks.append(asyncio.create_task(self._retry_kinds(stop)))
        # Self-heal waits out its backoff even when nothing happens, so automated apps need a tick.
        tick = 1.0 if any(r.app.sync_policy.automated for r in self.apps.values()) else None
        try:
            self._automate()
            while not stop.is_set():
                first = await get_or_stop(self._queue, stop, tick)
                if isinstance(first, Nothing):
                    if stop.is_set():
                        break
                    self._automate()  # the tick: self-heal backoffs may have run out
                    continue
                batch = [first]
                while not self._queue.empty():  # coalesce a burst into one publish
                    batch.append(self._queue.get_nowait())
                changes: list[StatusChange] = []
                for context, message in batch:
                    changes.extend(self._handle(context, message))
                if changes:
                    publish(changes)
                self._automate()
        finally:
            for action in list(self._actions):
                with contextlib.suppress(asyncio.CancelledError):
                    await action
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.stop_watches()

    # Automation: auto-sync and self-heal, never on a read-only cluster.

    def _automate(self) -> None:
        now = time.monotonic()
        for runtime in self.apps.values():
            cluster = self.clusters.get(runtime.context or "")
            if cluster is None or cluster.adapter is None or cluster.adapter.read_only:
                continue
            if cluster.automation_paused:  # unreachable, or back without its state: never act blind
                continue
            # The audit line comes first: while the file cannot take one, automation sends nothing.
            paused, runtime.automation_error = self.automation.audit_pause(
                runtime.app, runtime.automation_error, now
            )
            # A working tree with objects pending, or read the same for less than its settle window
            # (a save may be in flight), is not a revision to act on yet; the tick comes back to it.
            settled = runtime.desired.revision
            if runtime.desired.pending or (runtime.loader and runtime.loader.settling(settled) > 0):
                settled = None
            request = self.automation.next_action(
                runtime.app,
                settled,
                runtime.desired.render_ok,
                runtime.reconciler.results,
                now,
                paused=paused,
                blind=runtime.reconciler.blind,
            )
            if request is not None:
                self.automation.started(request)
                action = asyncio.create_task(self._run_sync(runtime, cluster.adapter, request))
                self._actions.add(action)
                action.add_done_callback(self._actions.discard)

    async def _run_sync(self, runtime: AppRuntime, adapter: ClusterAdapter, request: SyncRequest) -> None:
        refused = False
        try:
            await asyncio.to_thread(
                runtime.sync,
                adapter,
                runtime.desired,
                operation=request.operation,
                keys=request.keys,
                prune=request.prune,
            )
            runtime.automation_error = None
        except AuditWriteError as error:  # it ran, unrecorded: say so, and pause
            note = self.automation.unaudited(request, runtime.app, error, time.monotonic())
            runtime.automation_error = note
        except AuditError as error:  # refused before any request: it stays due, and automation pauses
            refused = True
            note = self.automation.refused(request, runtime.app, error, time.monotonic())
            runtime.automation_error = note
        except KubedriftError as error:
            runtime.automation_error = f"{request.operation} failed: {error}"
        finally:
            if not refused:
                self.automation.finished(request)

    # Requests from a person, for the session only.

    def set_policy(self, app: str, *, automated: bool | None = None, self_heal: bool | None = None) -> App:
        """Turn auto-sync or self-heal on or off for this session (the config file is not changed)."""
        runtime = self.apps[app]
        policy = runtime.app.sync_policy
        policy = dataclasses.replace(
            policy,
            automated=policy.automated if automated is None else automated,
            self_heal=policy.self_heal if self_heal is None else self_heal,
        )
        runtime.app = dataclasses.replace(runtime.app, sync_policy=policy)
        return runtime.app

    def refresh(self, app: str | None = None) -> None:
        """Fetch Git now and relist every watched kind (the `r` key)."""
        for name, watch in self.sources.items():
            if app is None or name == app:
                watch.request_refresh()
        contexts = {self.apps[app].context} if app is not None else set(self.clusters)
        for context in contexts:
            cluster = self.clusters.get(context or "")
            for kind_watch in [] if cluster is None else list(cluster.watches.values()):
                kind_watch.relist()

    def stop_watches(self) -> None:
        for cluster in self.clusters.values():
            for watch in cluster.watches.values():
                watch.stop()

    def _ensure_watches(self, context: str, kinds: Iterable[GroupKind] | None = None) -> None:
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
        self, cluster: ClusterRuntime, group: str, kind: str, namespace: str | None, version: str = ""
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

        watch = KindWatch(
            cluster.adapter,
            resource,
            sink,
            namespace=namespace,
            resource_version=version,
            watch_timeout=self.liveness.watch_timeout,
            idle_timeout=self.liveness.watch_idle,
        )
        cluster.watches[(group, kind, namespace)] = watch
        watch.start()

    def _post(self, context: str, message: WatchMessage) -> None:
        """Called on watch threads: hand the message to the engine's loop."""
        if self._loop is not None and self._queue is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (context, message))

    async def _follow_source(self, watch: SourceWatch, publish: Publish, stop: asyncio.Event) -> None:
        runtime = self.apps[watch.loader.app.name]
        async for state in watch.updates(stop, known=runtime.desired):
            changes = self._set_desired(runtime, state)
            if runtime.context in self.clusters:
                # Only this app's kinds: all of every app's would cost a fleet O(apps x objects) per save.
                self._ensure_watches(runtime.context, {(key.group, key.kind) for key in state.objects})
            if changes:
                publish(changes)

    # Liveness: clusters unreachable at start, kinds not served yet, servers back without their state.

    async def _keep_connecting(self, context: str, publish: Publish, stop: asyncio.Event) -> None:
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
            self._ensure_watches(context)

    def _list_kinds(self, cluster: ClusterRuntime, kinds: Iterable[GroupKind]) -> list[WatchMessage]:
        return [message for group, kind in kinds for message in self._list_kind(cluster, group, kind)]

    def _adopt(
        self, cluster: ClusterRuntime, fresh: ClusterRuntime, messages: list[WatchMessage]
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

    async def _retry_kinds(self, stop: asyncio.Event) -> None:
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

    def _rescope(self, context: str, scope: KindTable) -> None:
        """Render the cluster's apps again with the kinds it serves, which decide what is namespaced."""
        for runtime in self._apps_on(context):
            if runtime.loader is not None:
                runtime.loader.renderer.scope = scope
                source = self.sources.get(runtime.app.name)
                if source is not None:
                    source.request_refresh()

    def _state_lost(self, context: str, reason: str, noticed_by: tuple[str, str, str | None]) -> None:
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

    def confirm_cluster(self, context: str | None) -> None:
        """A person synced an app of this cluster, so they have seen its lost state: automation resumes."""
        cluster = self.clusters.get(context or "")
        if cluster is not None and cluster.state_lost is not None:
            cluster.state_lost = None
            self._show_cluster_error(cluster.context)

    def _show_cluster_error(self, context: str) -> None:
        cluster = self.clusters[context]
        for runtime in self._apps_on(context):
            runtime.cluster_error = cluster.error or cluster.state_lost

    def _judge_cluster_again(self, context: str) -> list[StatusChange]:
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

    # Applying messages: the only place the cache and the reconcilers change.

    def _handle(self, context: str, message: WatchMessage) -> list[StatusChange]:
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

    def _is_namespaced(self, cluster: ClusterRuntime, message: KindState) -> bool:
        assert cluster.adapter is not None
        resource = cluster.adapter.discover().by_kind.get((message.group, message.kind))
        return resource is not None and resource.namespaced

    def _route(self, context: str, events: list[LiveEvent]) -> list[StatusChange]:
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
        self, context: str, group: str, kind: str, reason: str | None, *, forbidden: bool = False
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

    def _set_desired(self, runtime: AppRuntime, state: DesiredState) -> list[StatusChange]:
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

    def _initial_changes(self) -> list[StatusChange]:
        now = rfc3339_now()
        return [
            AppStatusChange(now, r.app.name, r.reconciler.sync, r.reconciler.health, None, None)
            for r in self.apps.values()
        ]

    # Reading.

    def _apps_on(self, context: str) -> list[AppRuntime]:
        return [runtime for runtime in self.apps.values() if runtime.context == context]

    def statuses(self) -> list[AppStatus]:
        return [runtime.status() for runtime in self.apps.values()]

    def live_object(self, app: str, key: ResourceKey) -> Mapping[str, Any] | None:
        runtime = self.apps[app]
        cluster = self.clusters.get(runtime.context or "")
        return None if cluster is None else cluster.cache.get(key)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or until `stop` is set; True when it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


__all__ = ["AppRuntime", "ClusterError", "ClusterRuntime", "Engine"]
