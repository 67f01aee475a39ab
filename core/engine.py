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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.automation import Automation
from core.cluster import GIVE_UP_SECONDS, ApiError, ClusterAdapter, ClusterError
from core.cluster_liveness import Liveness, unusable
from core.config import Config
from core.desired_state import WORKING_TREE_SETTLE_SECONDS, AppDesiredState
from core.drift.cluster_schema import cluster_schema_source, read_server_version
from core.engine_automation import EngineAutomation
from core.engine_liveness import EngineLiveness
from core.engine_messages import EngineMessages
from core.engine_watches import EngineWatches
from core.errors import KubedriftError
from core.event_routing import EventRouting
from core.helm_chart import NO_CAPABILITIES, Capabilities
from core.kind_watch import WatchMessage
from core.kinds import BUILTIN_SCOPE
from core.kubeconfig import Kubeconfig
from core.model import TRACKING_LABEL, TRACKING_LABEL_VALUE, App, AppStatus, ResourceKey
from core.queue_wait import Nothing, get_or_stop
from core.read_only import read_only_reason
from core.reconcile import AppReconciler
from core.runtime import AppRuntime, ClusterRuntime, GroupKind
from core.status_events import StatusChange

if TYPE_CHECKING:
    from core.gitsource import AppSource, GitRepository
    from core.source_watch import SourceWatch

Publish = Callable[[list[StatusChange]], None]
# Kinds the resource tree shows as children of what Git declares (ownerReferences).
TREE_KINDS: tuple[GroupKind, ...] = (("apps", "ReplicaSet"), ("", "Pod"))


class Engine(EngineWatches, EngineMessages, EngineLiveness, EngineAutomation):
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
            runtime.loader = AppDesiredState(
                runtime.app,
                scope=scope,
                source=self._source_of(runtime.app),
                settle_seconds=self._working_tree_settle,
                capabilities=capabilities,
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
            version = read_server_version(cluster.adapter)  # one /version for the schema and for charts
            cluster.schema_source = cluster_schema_source(cluster.adapter, version)
            cluster.kube_version = version.git_version if version is not None else ""
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
            for runtime in self.apps.values():
                if runtime.server_side_worker is not None:
                    runtime.server_side_worker.stop()  # its thread ends after the call under way

    async def _follow_source(self, watch: SourceWatch, publish: Publish, stop: asyncio.Event) -> None:
        runtime = self.apps[watch.loader.app.name]
        async for state in watch.updates(stop, known=runtime.desired):
            changes = self._set_desired(runtime, state)
            if runtime.context in self.clusters:
                # Only this app's kinds: all of every app's would cost a fleet O(apps x objects) per save.
                self._ensure_watches(runtime.context, {(key.group, key.kind) for key in state.objects})
            if changes:
                publish(changes)

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

    # Reading.

    def _apps_on(self, context: str) -> list[AppRuntime]:
        return [runtime for runtime in self.apps.values() if runtime.context == context]

    def statuses(self) -> list[AppStatus]:
        return [runtime.status() for runtime in self.apps.values()]

    def live_object(self, app: str, key: ResourceKey) -> Mapping[str, Any] | None:
        runtime = self.apps[app]
        cluster = self.clusters.get(runtime.context or "")
        return None if cluster is None else cluster.cache.get(key)


__all__ = ["AppRuntime", "ClusterError", "ClusterRuntime", "Engine"]
