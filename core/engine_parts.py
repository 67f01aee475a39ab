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
    from core.automation import Automation, SyncRequest
    from core.cluster import ClusterAdapter
    from core.cluster_liveness import Liveness
    from core.event_routing import EventRouting
    from core.kind_watch import KindState, WatchMessage
    from core.kinds import KindTable
    from core.live_cache import LiveEvent
    from core.runtime import AppRuntime, ClusterRuntime, GroupKind
    from core.source_watch import SourceWatch
    from core.status_events import StatusChange


class EngineParts(Protocol):
    """What the Engine's parts use of one another."""

    # State, set up in core.engine.
    apps: dict[str, AppRuntime]
    clusters: dict[str, ClusterRuntime]
    sources: dict[str, SourceWatch]
    automation: Automation
    liveness: Liveness
    _routing: dict[str, EventRouting]
    _actions: set[asyncio.Task[None]]
    _loop: asyncio.AbstractEventLoop | None
    _queue: asyncio.Queue[tuple[str, WatchMessage]] | None

    # core.engine
    def _connect(self, context: str) -> ClusterRuntime: ...
    def needed_kinds(self, context: str) -> set[GroupKind]: ...
    def _apps_on(self, context: str) -> list[AppRuntime]: ...

    # core.engine_watches
    def _list_kind(self, cluster: ClusterRuntime, group: str, kind: str) -> list[WatchMessage]: ...
    def _namespaces_of(self, context: str) -> list[str]: ...
    def _ensure_watches(self, context: str, kinds: Iterable[GroupKind] | None = None) -> None: ...
    def _start_watch(
        self, cluster: ClusterRuntime, group: str, kind: str, namespace: str | None, version: str = ""
    ) -> None: ...
    def _post(self, context: str, message: WatchMessage) -> None: ...

    # core.engine_messages
    def _handle(self, context: str, message: WatchMessage) -> list[StatusChange]: ...
    def _is_namespaced(self, cluster: ClusterRuntime, message: KindState) -> bool: ...
    def _route(self, context: str, events: list[LiveEvent]) -> list[StatusChange]: ...
    def _set_kind_state(
        self, context: str, group: str, kind: str, reason: str | None, *, forbidden: bool = False
    ) -> list[StatusChange]: ...

    # core.engine_liveness
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
