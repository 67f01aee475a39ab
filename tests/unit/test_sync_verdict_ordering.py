"""A sync's verdicts reach the live engine's loop by a nudge; the watch events of the apply and of a
revert may come before it, after it, or between. Whatever the order, the last word is the newest
live object: a nudge never puts an older object back into the live cache (drift rule 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.api_resources import ApiResource, Discovery
from core.cluster import ApiError, ListPage
from core.config import zero_config
from core.engine import Engine
from core.engine_messages import nudger
from core.kubeconfig import Kubeconfig
from core.live_cache import LiveEvent
from core.model import AppSync, ResourceKey, SyncStatus
from core.runtime import AppRuntime

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch", "get"}))
SETTINGS = ResourceKey("", "ConfigMap", "default", "settings")
GIT = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: info}\n"


def settings(version: str, level: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "resourceVersion": version},
        "data": {"level": level},
    }


BEFORE = settings("1", "debug")  # drifted by another manager: self-heal applies Git's
APPLIED = settings("2", "info")  # the apply's own watch event: Synced for a moment
REVERTED = settings("3", "debug")  # the other manager forces it back: what the apply answered


class StandInCluster:
    """Lists the drifted ConfigMap; nothing else is asked of it here."""

    read_only = False
    server = "https://dev.example"

    def server_version(self) -> Any:
        raise ApiError(403, "Forbidden", 'forbidden: User "dev" cannot get path "/version"')

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", f'forbidden: User "dev" cannot get path "{relative_url}"')

    def discover(self, *, refresh: bool = False) -> Discovery:
        return Discovery({("", "ConfigMap"): CONFIGMAPS})

    def resource_for(self, group: str, kind: str) -> ApiResource:
        return CONFIGMAPS

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        yield ListPage(*self.list(resource, namespace))  # one page: the engine lists page by page

    def holds_any(self, resource: Any, *, label_selector: str) -> bool:
        return bool(self.list(resource, label_selector=label_selector)[0])

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        return ([] if label_selector else [BEFORE]), "9"


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def engine(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> Engine:
    """Listed, OutOfSync, with a loop and a queue as the live form has (nothing runs on its own)."""
    (tmp_path / "app.yaml").write_text(GIT)
    kubeconfig = Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None)
    engine = Engine(
        zero_config(tmp_path),
        kubeconfig,
        adapter_factory=lambda context, read_only: StandInCluster(),  # type: ignore[arg-type,return-value]
        watch_tree=False,
    )
    engine.evaluate()
    engine._loop = loop
    engine._queue = asyncio.Queue()
    (runtime,) = engine.apps.values()
    assert runtime.reconciler.results[SETTINGS].status is SyncStatus.OUT_OF_SYNC
    return engine


def synced_and_reverted(runtime: AppRuntime) -> None:
    """What runtime.sync leaves on its worker thread when the apply's answer is already reverted."""
    before = dict(runtime.reconciler.results)
    runtime.leftovers, runtime._unmarked = runtime._after_sync(runtime.desired, before, {SETTINGS: REVERTED})
    assert runtime.has_sync_verdicts


def handle_queued(engine: Engine) -> None:
    """One batch, as Engine.run takes it: everything queued, in order."""
    assert engine._queue is not None
    while not engine._queue.empty():
        context, message, _ = engine._queue.get_nowait()
        engine._handle(context, message)


def run_callbacks(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def assert_marked_on_the_newest(engine: Engine, runtime: AppRuntime) -> None:
    assert engine.clusters["dev"].cache.get(SETTINGS) == REVERTED
    result = runtime.reconciler.results[SETTINGS]
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.sync_changes_nothing
    assert runtime.reconciler.sync is AppSync.OUT_OF_SYNC


@pytest.mark.parametrize(
    ("handled_first", "queued_before_the_nudge"),
    [(0, True), (1, True), (2, True), (0, False), (1, False)],
    ids=[
        "both-events-queued-then-the-nudge",
        "apply-handled-revert-queued-then-the-nudge",  # the order that failed in CI under load
        "both-handled-then-the-nudge",
        "the-nudge-then-both-events",
        "apply-handled-the-nudge-then-the-revert",
    ],
)
def test_the_marking_is_on_the_newest_object_whichever_way_the_nudge_and_the_events_interleave(
    engine: Engine, loop: asyncio.AbstractEventLoop, handled_first: int, queued_before_the_nudge: bool
) -> None:
    (runtime,) = engine.apps.values()
    assert engine._queue is not None
    synced_and_reverted(runtime)
    events = [LiveEvent(SETTINGS, APPLIED), LiveEvent(SETTINGS, REVERTED)]
    for event in events[:handled_first]:
        engine._handle("dev", event)
    queued = [("dev", event, 0.0) for event in events[handled_first:]]
    if queued_before_the_nudge:  # the watch thread's events reach the queue before the nudge runs
        for message in queued:
            engine._queue.put_nowait(message)
    nudger(engine, "dev")(SETTINGS)  # from the sync's worker thread: runs on the loop, later
    run_callbacks(loop)
    if not queued_before_the_nudge:
        for message in queued:
            engine._queue.put_nowait(message)
    handle_queued(engine)
    assert_marked_on_the_newest(engine, runtime)
