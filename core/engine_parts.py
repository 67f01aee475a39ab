"""The Engine as its parts see it: the state they share and the methods one part calls on another.

The Engine is one class made of parts, a module per concern (see core.engine). A part's methods
annotate `self` with `EngineParts`, the pattern mypy documents for mixins, so what a part uses of
the rest is declared here and checked: wherever the Engine calls a part, mypy checks that the Engine
is an `EngineParts`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path
    from typing import Any

    from core.app_of_apps import Child, ChildPlan
    from core.automation import Automation, SyncRequest
    from core.cluster import ClusterAdapter
    from core.cluster_liveness import Liveness
    from core.config import Config
    from core.desired_state import DesiredState
    from core.engine_fleet import ActGate
    from core.engine_observer import ConnectionTracker, EngineObserver
    from core.event_routing import EventRouting
    from core.file_watch import FileWatch
    from core.kind_watch import KindState, WatchMessage
    from core.kinds import KindTable
    from core.live_cache import LiveEvent
    from core.model import App
    from core.rollback import Decision
    from core.rollback_config import AnalysisMetric
    from core.runtime import AppRuntime, ClusterRuntime, GroupKind
    from core.shared_resources import SharedResources
    from core.source_watch import SourceWatch
    from core.start_lists import StartProgress
    from core.status_events import RollbackEvent, StatusChange


class EngineParts(Protocol):
    """What the Engine's parts use of one another."""

    # State, set up in core.engine.
    config: Config
    _adapter_factory: Callable[[str, bool], ClusterAdapter]
    apps: dict[str, AppRuntime]
    clusters: dict[str, ClusterRuntime]
    sources: dict[str, SourceWatch]
    automation: Automation
    liveness: Liveness
    _routing: dict[str, EventRouting]
    shared_resources: SharedResources
    _actions: set[asyncio.Task[None]]
    _loop: asyncio.AbstractEventLoop | None
    _queue: asyncio.Queue[tuple[str, WatchMessage, float]] | None
    observer: EngineObserver
    connections: ConnectionTracker
    _publish: Callable[[list[StatusChange]], None] | None
    """The live form's publish callback, for what happens outside a batch (rollback steps)."""
    _stop: asyncio.Event | None
    """The live form's stop event."""
    _files: FileWatch | None
    """The live form's one watcher of local sources, once the sources are followed."""
    _source_tasks: dict[str, asyncio.Task[None]]
    _background: set[asyncio.Task[None]]
    _tick: float | None
    children: dict[str, dict[str, Child]]
    rendered: dict[str, DesiredState]
    child_base: Path
    # State of core.engine_fleet (class defaults there).
    act_gate: ActGate | None
    _fleet_wanted: frozenset[str] | None
    _fleet_settled: frozenset[str] | None
    _fleet_task: asyncio.Task[None] | None
    _fleet_again: bool
    start_progress: StartProgress
    """How far the start-up lists are (core.start_lists), for the dashboard."""

    # core.engine
    def _connect(self, context: str) -> ClusterRuntime: ...
    def needed_kinds(self, context: str) -> set[GroupKind]: ...
    def _apps_on(self, context: str) -> list[AppRuntime]: ...
    def _new_runtime(self, app: App) -> AppRuntime: ...
    def _load_runtime(self, runtime: AppRuntime, cluster: ClusterRuntime | None) -> DesiredState: ...
    def _follow_source_of(self, runtime: AppRuntime) -> None: ...

    # core.engine_watches
    def _namespaces_of(self, context: str) -> list[str]: ...
    def _ensure_watches(self, context: str, kinds: Iterable[GroupKind] | None = None) -> None: ...
    def _start_watch(
        self, cluster: ClusterRuntime, group: str, kind: str, namespace: str | None, version: str = ""
    ) -> None: ...
    def _post(self, context: str, message: WatchMessage) -> None: ...

    # core.engine_messages
    def _set_desired(self, runtime: AppRuntime, state: DesiredState) -> list[StatusChange]: ...
    def _handle(self, context: str, message: WatchMessage) -> list[StatusChange]: ...
    def _is_namespaced(self, cluster: ClusterRuntime, message: KindState) -> bool: ...
    def _route(self, context: str, events: list[LiveEvent]) -> list[StatusChange]: ...
    def _set_kind_state(
        self, context: str, group: str, kind: str, reason: str | None, *, forbidden: bool = False
    ) -> list[StatusChange]: ...

    # core.engine_liveness
    async def _keep_connecting(
        self, context: str, publish: Callable[[list[StatusChange]], None], stop: asyncio.Event
    ) -> None: ...
    def _list_kinds(self, cluster: ClusterRuntime, kinds: Iterable[GroupKind]) -> list[WatchMessage]: ...
    def _adopt(
        self, cluster: ClusterRuntime, fresh: ClusterRuntime, messages: list[WatchMessage]
    ) -> list[StatusChange]: ...
    def _rescope(self, context: str, scope: KindTable) -> None: ...
    def _state_lost(self, context: str, reason: str, noticed_by: tuple[str, str, str | None]) -> None: ...
    def _show_cluster_error(self, context: str) -> None: ...
    def _judge_cluster_again(self, context: str) -> list[StatusChange]: ...

    # core.engine_automation
    async def _run_sync(self, runtime: AppRuntime, adapter: ClusterAdapter, request: SyncRequest) -> None: ...

    # core.engine_rollback
    def _watch_rollback(self, runtime: AppRuntime, cluster: ClusterRuntime) -> None: ...
    def _pinned(self, runtime: AppRuntime) -> bool: ...
    def _show_saved_rollbacks(self) -> None: ...
    def _start_action(self, work: Coroutine[Any, Any, None]) -> None: ...
    async def _measure(self, runtime: AppRuntime, metric: AnalysisMetric, revision: str) -> None: ...
    async def _roll_back(self, runtime: AppRuntime, adapter: ClusterAdapter, decision: Decision) -> None: ...
    def _report_rollback(
        self, runtime: AppRuntime, steps: Iterable[RollbackEvent], *, read_only: bool
    ) -> None: ...

    # core.engine_children
    def _take_desired(
        self, runtime: AppRuntime, state: DesiredState
    ) -> tuple[list[StatusChange], ChildPlan | None]: ...
    def _serves(self, context: str | None) -> Callable[[str, str], bool]: ...
    def _names_taken(self, parent: str) -> dict[str, str]: ...
    def _drop_moved(self, plan: ChildPlan) -> list[StatusChange]: ...
    def _load_child(self, runtime: AppRuntime) -> tuple[ClusterRuntime | None, DesiredState]: ...
    def _admit_child(
        self,
        runtime: AppRuntime,
        fresh: ClusterRuntime | None,
        state: DesiredState,
        rerouted: set[str] | None = None,
    ) -> tuple[list[StatusChange], ChildPlan | None]: ...
    def _follow(self, runtime: AppRuntime, fresh: ClusterRuntime | None) -> None: ...
    async def _settle_children_live(self, plan: ChildPlan) -> list[StatusChange]: ...
    def _drop_child(self, name: str) -> list[StatusChange]: ...
    def _stop_following(self, name: str) -> None: ...
    def _spawn(self, work: Coroutine[Any, Any, None]) -> None: ...
    def _ticking_changed(self) -> None: ...
    def _reroute(self, context: str) -> None: ...

    # core.engine_fleet
    def may_act(self, app: str) -> bool: ...
    async def _settle_fleet(self) -> None: ...
