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
it until a person syncs (see core.engine_liveness and core.cluster_liveness).

Building an Engine reads nothing and imports no client: the TUI paints its first frame from the
apps' runtimes before `run()` connects. The kubernetes client, GitPython and watchfiles load with
the first connection, load and source watch.

The Engine is one class made of parts, a module per concern; each part's methods see the whole
engine through the `EngineParts` protocol (core.engine_parts), which mypy checks:
- core.engine: building, connecting, the two forms, a person's requests, and reading.
- core.engine_watches: hearing from clusters: a list of each needed kind, then a watch.
- core.engine_messages: applying messages, the only place the cache and the reconcilers change.
- core.engine_liveness: clusters down at start, kinds not served yet, servers back without their state.
- core.engine_automation: auto-sync and self-heal, never on a read-only cluster.
- core.engine_children: child apps (app of apps): found in each desired state, added and removed live.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.app_of_apps import family_order, root_of
from core.automation import Automation
from core.cluster import GIVE_UP_SECONDS, ApiError, ClusterAdapter, ClusterError
from core.cluster_liveness import Liveness, unusable
from core.config import Config
from core.desired_state import WORKING_TREE_SETTLE_SECONDS
from core.drift.cluster_schema import cluster_schema_source, read_server_version
from core.engine_automation import EngineAutomation
from core.engine_children import EngineChildren
from core.engine_fleet import EngineFleet
from core.engine_liveness import EngineLiveness
from core.engine_messages import EngineMessages
from core.engine_observer import NO_OBSERVER, ConnectionTracker, EngineObserver, report_batch
from core.engine_projection import cut_down_hook, whole_object
from core.engine_watches import EngineWatches
from core.errors import KubedriftError
from core.event_routing import EventRouting
from core.helm_chart import NO_CAPABILITIES, Capabilities
from core.kind_watch import WatchMessage
from core.kinds import BUILTIN_SCOPE
from core.kubeconfig import Kubeconfig
from core.lua_health import LuaHealthChecks
from core.model import (
    TRACKING_LABEL,
    TRACKING_LABEL_VALUE,
    App,
    AppStatus,
    ResourceKey,
    Source,
    SyncPolicy,
)
from core.multi_source import loader_for
from core.queue_wait import Nothing, get_or_stop
from core.read_only import read_only_reason
from core.reconcile import AppReconciler
from core.runtime import AppRuntime, ClusterRuntime, GroupKind
from core.shared_resources import SharedResources
from core.start_lists import StartProgress
from core.status_events import StatusChange

if TYPE_CHECKING:
    from core.app_of_apps import Child, ChildPlan
    from core.desired_state import DesiredState
    from core.file_watch import FileWatch
    from core.gitsource import AppSource, GitRepository
    from core.notifier import Notifier
    from core.source_watch import SourceWatch

Publish = Callable[[list[StatusChange]], None]
# Kinds the resource tree shows as children of what Git declares (ownerReferences).
TREE_KINDS: tuple[GroupKind, ...] = (("apps", "ReplicaSet"), ("", "Pod"))


class Engine(EngineWatches, EngineMessages, EngineLiveness, EngineAutomation, EngineChildren, EngineFleet):
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
        self._context = context
        self.clusters: dict[str, ClusterRuntime] = {}
        self.apps: dict[str, AppRuntime] = {}
        # One Lua state for every app: the checks are the user's, not an app's.
        self._health_overrides = LuaHealthChecks(config.health_checks) if config.health_checks else None
        for app in config.apps:
            self.apps[app.name] = self._new_runtime(app)
        self.children: dict[str, dict[str, Child]] = {}
        """Each parent's child apps by name (core.app_of_apps); the children are in `apps` too."""
        self.rendered: dict[str, DesiredState] = {}
        """Each app's last desired state as rendered, its child apps' objects included."""
        self.child_base = base_dir or (config.path.parent if config.path is not None else Path.cwd())
        """Where a child's relative local repoURL is read from, as the config's own apps' are."""
        self.acting_on: str | None = None
        """Set for a command about one app (`watch --app`): the children of other apps are detect-only."""
        self._unsettled: list[ChildPlan] = []
        self._queue: asyncio.Queue[tuple[str, WatchMessage, float]] | None = None
        """Messages for the live loop: (context, message, when it was posted, by time.perf_counter)."""
        self.observer: EngineObserver = NO_OBSERVER
        """Told about the engine's own work (core.engine_observer); the agent sets its metrics here."""
        self.connections = ConnectionTracker()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.automation = Automation()
        self.sources: dict[str, SourceWatch] = {}
        self._repositories: dict[str, GitRepository] = {}
        self._routing: dict[str, EventRouting] = {}
        self._actions: set[asyncio.Task[None]] = set()
        self.shared_resources = SharedResources(kubeconfig.contexts if kubeconfig is not None else None)
        self._publish: Publish | None = None
        self._stop: asyncio.Event | None = None
        self._files: FileWatch | None = None
        self._source_tasks: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._tick: float | None = None
        """The live loop's tick in seconds when an app needs one (self-heal backoffs, rollback windows)."""
        self.notification_warning: Callable[[str], None] | None = None
        """Where the live form's notification warnings go (a hook not answering); None: stderr."""
        self.start_progress = StartProgress()
        """How far the start-up lists are: kinds listed, objects judged, every app evaluated yet."""

    def _new_runtime(self, app: App) -> AppRuntime:
        """An app's runtime, deploying to the context its destination names (nothing read yet)."""
        if app.parent and self.acting_on is not None:
            parents = {name: runtime.app.parent for name, runtime in self.apps.items()}
            if root_of(app.parent, parents) != self.acting_on:
                app = dataclasses.replace(app, sync_policy=SyncPolicy())  # another app's family: detect only
        runtime = AppRuntime(app, None, AppReconciler(app, health_overrides=self._health_overrides))
        try:
            if self.kubeconfig is None:
                raise KubedriftError("no kubeconfig is loaded")
            runtime.context = self.kubeconfig.context_for(app.destination, self._context)
        except KubedriftError as error:
            runtime.cluster_error = str(error)
            runtime.reconciler.set_cluster_unknown(unusable(None))  # nothing to ask: Unknown, not Missing
        return runtime

    # Set-up shared by both forms.

    def _default_adapter(self, context: str, read_only: bool) -> ClusterAdapter:
        assert self.kubeconfig is not None
        # A one-shot command gives up on a silent cluster; the live form keeps reconnecting.
        give_up = GIVE_UP_SECONDS if self._one_shot else None
        return ClusterAdapter(
            self.kubeconfig.api_client(context), context=context, read_only=read_only, give_up_seconds=give_up
        )

    def connect(self) -> None:
        """Build an adapter per context, discover what each serves, and load every app's desired state.

        The child apps found are only planned (`_unsettled`): each form adds them on its own thread."""
        for runtime in self.apps.values():
            if runtime.context is not None and runtime.context not in self.clusters:
                self.clusters[runtime.context] = self._connect(runtime.context)
                self._routing[runtime.context] = EventRouting(self._apps_on(runtime.context))
        for runtime in list(self.apps.values()):
            state = self._load_runtime(runtime, self.clusters.get(runtime.context or ""))
            _, plan = self._take_desired(runtime, state)
            if plan is not None and plan.moves:
                self._unsettled.append(plan)

    def _load_runtime(self, runtime: AppRuntime, cluster: ClusterRuntime | None) -> DesiredState:
        """Give the app its loader, rendering with what its cluster serves (which kinds are namespaced,
        which APIs charts see), and load it. Blocking: Git and rendering."""
        scope = BUILTIN_SCOPE
        capabilities = NO_CAPABILITIES
        if cluster is not None and cluster.adapter is not None and cluster.error is None:
            discovery = cluster.adapter.discover()
            scope = discovery.kind_table()
            capabilities = Capabilities(cluster.kube_version, discovery.api_versions())
        if cluster is not None and cluster.error is not None:
            runtime.cluster_error = cluster.error
            runtime.reconciler.set_cluster_unknown(unusable(runtime.context))
        if cluster is not None and cluster.schema_source is not None:
            runtime.reconciler.set_schema_source(cluster.schema_source)
        runtime.loader = loader_for(
            runtime.app,
            source_for=self._source_for,
            scope=scope,
            settle_seconds=self._working_tree_settle,
            capabilities=capabilities,
        )
        return runtime.loader.load()

    def _source_for(self, source: Source) -> AppSource:
        """An app's source (or one of a multi-source app's); sources of one repository share its
        GitRepository: one clone, one pair of git processes and one object cache, rather than one of
        each per app."""
        from core.gitsource import shared_source

        return shared_source(source, self._repositories, base_dir=self._base_dir, cache_dir=self._cache_dir)

    def _connect(self, context: str) -> ClusterRuntime:
        cluster = ClusterRuntime(context)
        cluster.cache.cut_down = cut_down_hook(self, context, self._health_overrides)
        # Decided per cluster, not per name: a context on the same server as a read-only one is read-only.
        read_only = read_only_reason(self.config, self.kubeconfig, context, forced=self.read_only) is not None
        try:
            cluster.adapter = self._adapter_factory(context, read_only)
            discovery = cluster.adapter.discover()
            cluster.tracked_kinds = self._scan_tracked_kinds(cluster.adapter, discovery.by_kind.values())
            version = read_server_version(cluster.adapter)  # one /version for the schema and for charts
            cluster.schema_source = cluster_schema_source(cluster.adapter, version)
            cluster.kube_version = version.git_version if version is not None else ""
        except KubedriftError as error:
            cluster.error = str(error)
        return cluster

    def _scan_tracked_kinds(self, adapter: ClusterAdapter, resources: Iterable[Any]) -> set[GroupKind]:
        """Kinds that hold objects carrying kubedrift's label: one filtered one-item request per kind."""
        found: set[GroupKind] = set()
        selector = f"{TRACKING_LABEL}={TRACKING_LABEL_VALUE}"
        for resource in resources:
            if not resource.watchable or (resource.group, resource.kind) in TREE_KINDS:
                continue
            try:
                if adapter.holds_any(resource, label_selector=selector):
                    found.add((resource.group, resource.kind))
            except ApiError:
                continue  # forbidden or not listable: its desired objects will still be judged
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
        self._settle_children(self._take_unsettled())  # the children found, then theirs
        self._list_all()
        self.start_progress = dataclasses.replace(self.start_progress, evaluated=True)
        self._show_saved_rollbacks()
        return self.statuses()

    def _take_unsettled(self) -> list[ChildPlan]:
        plans, self._unsettled = self._unsettled, []
        return plans

    # The live form.

    async def run(self, publish: Publish, stop: asyncio.Event) -> None:
        """Watch every cluster and source until `stop` is set; publish status changes per batch.

        With `notifications:` configured, what is published also goes to the webhooks (core.notifier);
        their secret references are read first, so a missing one stops the start with one sentence."""
        notifier = self._notifier()
        if notifier is not None:
            publish = notifier.wrap(publish)  # what it fires waits in its queues until it starts below
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._publish = publish
        self._stop = stop
        try:
            await asyncio.to_thread(self.connect)
            for plan in self._take_unsettled():  # the children found at start, added on this loop
                await self._settle_children_live(plan)
            await self._list_all_live()  # the pages are applied here, on the loop, as they arrive
        except BaseException:
            self.start_progress = dataclasses.replace(self.start_progress, failed=True)
            raise
        self.start_progress = dataclasses.replace(self.start_progress, evaluated=True)
        publish(self._initial_changes() + self.children_at_start())
        for context, cluster in list(self.clusters.items()):
            self.connections.reachable(self.observer, context, cluster.error is None)
        for context in self.clusters:
            self._ensure_watches(context)
        from core.file_watch import FileWatch
        from core.source_watch import reload_moved

        files = self._files = FileWatch()
        for runtime in list(self.apps.values()):
            self._follow_source_of(runtime)
        # After the source tasks: each follows its folder as it starts, so one watcher covers them all.
        tasks = [asyncio.create_task(files.run(stop))]
        tasks.append(asyncio.create_task(reload_moved(self.sources.values(), files)))
        tasks += [
            asyncio.create_task(self._keep_connecting(context, publish, stop))
            for context, cluster in self.clusters.items()
            if cluster.error is not None
        ]
        tasks.append(asyncio.create_task(self._retry_kinds(stop)))
        self._ticking_changed()
        if notifier is not None:
            notifier.start()
        try:
            self._automate()
            while not stop.is_set():
                first = await get_or_stop(self._queue, stop, self._tick)
                if isinstance(first, Nothing):
                    if stop.is_set():
                        break
                    self._automate()  # the tick: self-heal backoffs may have run out
                    continue
                batch = [first]
                while not self._queue.empty():  # coalesce a burst into one publish
                    batch.append(self._queue.get_nowait())
                changes: list[StatusChange] = []
                for context, message, _ in batch:
                    changes.extend(self._handle(context, message))
                if self.observer is not NO_OBSERVER:  # timing a batch is for an observer only
                    report_batch(self.observer, batch)
                if changes:
                    publish(changes)
                self._automate()
        finally:
            for action in list(self._actions):
                with contextlib.suppress(asyncio.CancelledError):
                    await action
            tasks += [*self._source_tasks.values(), *self._background]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.stop_watches()
            for runtime in self.apps.values():
                if runtime.server_side_worker is not None:
                    runtime.server_side_worker.stop()  # its thread ends after the call under way
            if notifier is not None:
                await notifier.close()

    def _notifier(self) -> Notifier | None:
        if not self.config.notifications:
            return None
        from core.notifier import Notifier, warn_on_stderr

        warn = self.notification_warning or warn_on_stderr
        return Notifier(self.config.notifications, self.apps, warn=warn, only=self.acting_on)

    async def _follow_source(self, watch: SourceWatch, publish: Publish, stop: asyncio.Event) -> None:
        name = watch.loader.app.name
        runtime = self.apps[name]
        async for state in watch.updates(stop, known=self.rendered.get(name, runtime.desired)):
            changes, children = self._take_desired(runtime, state)
            if runtime.context in self.clusters:
                # Only this app's kinds: all of every app's would cost a fleet O(apps x objects) per save.
                kinds = {(key.group, key.kind) for key in runtime.desired.objects}
                self._ensure_watches(runtime.context, kinds)
            if changes:
                publish(changes)
            if children is not None and children.moves:
                publish(await self._settle_children_live(children))

    def _follow_source_of(self, runtime: AppRuntime) -> None:
        """Live form: follow the app's source (Git, a working tree) in a task of its own."""
        from core.source_watch import SourceWatch

        if runtime.loader is None or self._files is None or self._publish is None or self._stop is None:
            return
        watch = SourceWatch(runtime.loader, self._files, poll_seconds=self._git_poll_seconds)
        # A working tree counts as settled only once it has been watched for the whole window:
        # before now, a save could not have been seen.
        watch.loader.restart_settle()
        name = runtime.app.name
        self.sources[name] = watch
        self._source_tasks[name] = asyncio.create_task(self._follow_source(watch, self._publish, self._stop))

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
        self._ticking_changed()
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

    # Reading.

    def _apps_on(self, context: str) -> list[AppRuntime]:
        return [runtime for runtime in self.apps.values() if runtime.context == context]

    def statuses(self) -> list[AppStatus]:
        """Every app's snapshot, each child app after its parent (and naming it)."""
        order = family_order({name: runtime.app.parent for name, runtime in self.apps.items()})
        return [
            dataclasses.replace(status, parent=parent) if (parent := self.apps[name].app.parent) else status
            for name, status in ((name, self.apps[name].status()) for name in order)
        ]

    def live_object(self, app: str, key: ResourceKey) -> Mapping[str, Any] | None:
        """`key`'s cached live object, which may be cut down to what its verdict needs
        (core.live_projection): its metadata and status are always there."""
        runtime = self.apps[app]
        cluster = self.clusters.get(runtime.context or "")
        return None if cluster is None else cluster.cache.get(key)

    def is_cut_down(self, app: str, key: ResourceKey) -> bool:
        """Whether the cache keeps `key`'s object cut down (see `live_object`)."""
        cluster = self.clusters.get(self.apps[app].context or "")
        return cluster is not None and cluster.cache.is_cut_down(key)

    def full_live_object(self, app: str, key: ResourceKey) -> Mapping[str, Any] | None:
        """`key`'s whole live object, for a person or a client to read: the cached one when it is
        whole, else one GET. Blocking: call it off the UI's and the engine loop's thread."""
        cluster = self.clusters.get(self.apps[app].context or "")
        return whole_object(self.live_object(app, key), cluster, key)


__all__ = ["AppRuntime", "ClusterError", "ClusterRuntime", "Engine"]
