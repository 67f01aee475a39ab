"""What the engine tells its observer (core.engine_observer): sync triggers, self-heal's backoff,
watch reconnects, whether a cluster's watches are up, and each watch event's time to its statuses."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import pytest

from core.api_resources import ApiResource
from core.automation import Automation
from core.cluster import ApiError, ClusterError, ListPage, WatchBroken
from core.engine_messages import Nudge
from core.engine_observer import (
    ConnectionTracker,
    SyncTrigger,
    report_backoffs,
    report_batch,
    report_sync,
    trigger_of,
)
from core.kind_watch import KindState, KindWatch, Relisted, WatchMessage
from core.live_cache import LiveEvent
from core.model import App, Health, HealthStatus, ResourceKey, ResourceResult, Source, SyncPolicy, SyncStatus

WEB = ResourceKey("apps", "Deployment", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")
CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch"}))


class Recorder:
    """An observer that writes down every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def sync_finished(self, app: str, trigger: SyncTrigger, succeeded: bool) -> None:
        self.calls.append(("sync", app, trigger, succeeded))

    def self_heal_finished(self, app: str, succeeded: bool) -> None:
        self.calls.append(("self-heal", app, succeeded))

    def self_heal_backoff_started(self, app: str) -> None:
        self.calls.append(("backoff", app, True))

    def self_heal_backoff_ended(self, app: str) -> None:
        self.calls.append(("backoff", app, False))

    def watch_reconnected(self, context: str) -> None:
        self.calls.append(("reconnected", context))

    def cluster_connected(self, context: str) -> None:
        self.calls.append(("connected", context, True))

    def cluster_disconnected(self, context: str) -> None:
        self.calls.append(("connected", context, False))

    def events_handled(self, seconds: Sequence[float]) -> None:
        self.calls.append(("events", list(seconds)))


@pytest.mark.parametrize(
    ("operation", "trigger"),
    [("sync", "manual"), ("auto-sync", "auto"), ("self-heal", "self-heal"), ("rollback", "rollback")],
)
def test_each_audit_operation_has_its_trigger(operation: str, trigger: str) -> None:
    assert trigger_of(operation) == trigger


def test_a_self_heal_sync_is_also_a_self_heal_attempt() -> None:
    recorder = Recorder()
    report_sync(recorder, "shop", "self-heal", False)
    report_sync(recorder, "shop", "auto-sync", True)
    assert recorder.calls == [
        ("sync", "shop", SyncTrigger.SELF_HEAL, False),
        ("self-heal", "shop", False),
        ("sync", "shop", SyncTrigger.AUTO, True),
    ]


def test_backoffs_report_what_started_and_what_ended() -> None:
    recorder = Recorder()
    report_backoffs(recorder, {"shop", "blog"}, {"blog", "docs"})
    assert recorder.calls == [("backoff", "docs", True), ("backoff", "shop", False)]


def test_a_batch_times_its_watch_events_only() -> None:
    recorder = Recorder()
    posted = time.perf_counter() - 0.5
    batch: list[tuple[str, WatchMessage, float]] = [
        ("dev", LiveEvent(WEB, None), posted),
        ("dev", Relisted("", "ConfigMap", None, []), posted),
        ("dev", Nudge(WEB, None), posted),  # a worker thread's nudge: no watch event
        ("dev", KindState("", "ConfigMap", None, None), posted),
    ]
    report_batch(recorder, batch)
    ((what, seconds),) = recorder.calls
    assert what == "events" and len(seconds) == 2
    assert all(0.5 <= value < 60 for value in seconds)


def test_a_batch_of_no_watch_event_reports_nothing() -> None:
    recorder = Recorder()
    report_batch(recorder, [("dev", Nudge(WEB, None), time.perf_counter())])
    assert recorder.calls == []


# Whether a cluster's watches are up.


def test_a_cluster_is_told_once_per_change() -> None:
    recorder, tracker = Recorder(), ConnectionTracker()
    tracker.reachable(recorder, "dev", True)
    tracker.reachable(recorder, "dev", True)
    tracker.watch_up(recorder, "dev", ("", "ConfigMap", None))
    tracker.watch_down(recorder, "dev", ("", "ConfigMap", None))
    tracker.watch_down(recorder, "dev", ("apps", "Deployment", None))
    tracker.watch_up(recorder, "dev", ("", "ConfigMap", None))
    assert tracker.connected("dev") is False, "the Deployments' watch is still down"
    tracker.watch_up(recorder, "dev", ("apps", "Deployment", None))
    assert recorder.calls == [
        ("connected", "dev", True),
        ("connected", "dev", False),
        ("connected", "dev", True),
    ]


def test_a_cluster_never_reached_is_down_until_it_is() -> None:
    recorder, tracker = Recorder(), ConnectionTracker()
    assert tracker.connected("prod") is None
    tracker.reachable(recorder, "prod", False)
    tracker.watch_up(recorder, "prod", ("", "ConfigMap", None))
    tracker.reachable(recorder, "prod", True)
    assert recorder.calls == [("connected", "prod", False), ("connected", "prod", True)]


def test_a_relist_of_every_namespace_brings_up_the_kinds_namespace_watches() -> None:
    recorder, tracker = Recorder(), ConnectionTracker()
    tracker.reachable(recorder, "dev", True)
    tracker.watch_down(recorder, "dev", ("", "ConfigMap", "shop"))
    tracker.watch_down(recorder, "dev", ("", "ConfigMap", "blog"))
    tracker.watch_up(recorder, "dev", ("", "Secret", None))
    assert tracker.connected("dev") is False, "another kind's relist says nothing of ConfigMaps"
    tracker.watch_up(recorder, "dev", ("", "ConfigMap", None))
    assert tracker.connected("dev") is True


def test_each_cluster_is_its_own() -> None:
    recorder, tracker = Recorder(), ConnectionTracker()
    tracker.reachable(recorder, "dev", True)
    tracker.reachable(recorder, "prod", True)
    tracker.watch_down(recorder, "prod", ("", "ConfigMap", None))
    assert (tracker.connected("dev"), tracker.connected("prod")) == (True, False)


# Self-heal's backoff (core.automation).


def self_heal_app() -> App:
    return App("shop", Source("/repo"), sync_policy=SyncPolicy(automated=True, self_heal=True))


def results(**statuses: SyncStatus) -> dict[ResourceKey, ResourceResult]:
    keys = {"web": WEB, "config": CONFIG}
    return {
        keys[name]: ResourceResult(keys[name], "v1", status, HealthStatus(Health.HEALTHY))
        for name, status in statuses.items()
    }


def test_self_heal_backs_off_once_an_attempt_did_not_hold() -> None:
    automation = Automation(synced_revisions={"shop": "r1"})
    drifted = results(web=SyncStatus.OUT_OF_SYNC, config=SyncStatus.SYNCED)
    first = automation.next_action(self_heal_app(), "r1", True, drifted, 100.0)
    assert first is not None
    assert automation.backing_off == set(), "a first attempt is no retry"
    automation.started(first)
    assert automation.next_action(self_heal_app(), "r1", True, drifted, 100.5) is None
    assert automation.backing_off == set(), "kept as it was while the attempt runs"
    automation.finished(first)
    assert automation.next_action(self_heal_app(), "r1", True, drifted, 101.0) is None
    assert automation.backing_off == {"shop"}, "drifted again after it: waiting out the backoff"
    second = automation.next_action(self_heal_app(), "r1", True, drifted, 102.0)
    assert second is not None and automation.backing_off == {"shop"}, "the retry itself"
    automation.finished(second)
    healed = results(web=SyncStatus.SYNCED, config=SyncStatus.SYNCED)
    assert automation.next_action(self_heal_app(), "r1", True, healed, 103.0) is None
    assert automation.backing_off == set()


@pytest.mark.parametrize(
    "stops",
    [
        lambda automation: automation.next_action(
            App("shop", Source("/repo"), sync_policy=SyncPolicy(automated=True)), "r1", True, {}, 101.0
        ),
        lambda automation: automation.next_action(self_heal_app(), "r1", False, {}, 101.0),
        lambda automation: automation.next_action(self_heal_app(), "r2", True, {}, 101.0),
        lambda automation: automation.next_action(self_heal_app(), "r1", True, {}, 101.0, paused=True),
    ],
    ids=["self-heal-turned-off", "render-failed", "a-new-revision", "paused"],
)
def test_backing_off_ends_when_self_heal_stops(stops: Callable[[Automation], object]) -> None:
    automation = Automation(synced_revisions={"shop": "r1"}, backing_off={"shop"})
    stops(automation)
    assert automation.backing_off == set()


# The kind watch's reconnects and its reports of a connection down.


class ScriptedCluster:
    """Answers lists, watches and version probes from scripts; a watch step is a list of events to
    stream, or an exception (WatchBroken once open, any other in opening); when the watch script runs
    out, the kind watch is stopped."""

    read_only = True

    def __init__(self, *, watches: list[list[dict[str, Any]] | Exception], versions: list[str | Exception]):
        self.watches = list(watches)
        self.versions = list(versions)
        self.kind_watch: KindWatch | None = None

    def _next(self, script: list[Any]) -> Any:
        if not script:
            assert self.kind_watch is not None
            self.kind_watch.stop()
            raise ClusterError("script over")
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        yield ListPage(*self.list(resource, namespace))  # each scripted list is one page

    def list(self, resource: ApiResource, namespace: str | None = None, **_: Any) -> tuple[list[Any], str]:
        return [], "7"

    def resource_version_now(self, resource: ApiResource, namespace: str | None = None, **_: Any) -> str:
        version: str = self._next(self.versions)
        return version

    def watch(
        self,
        resource: ApiResource,
        resource_version: str,
        *,
        on_open: Callable[[Callable[[], None]], None],
        **_: Any,
    ) -> Generator[dict[str, Any], None, None]:
        return self._stream(on_open)

    def _stream(self, on_open: Callable[[Callable[[], None]], None]) -> Generator[dict[str, Any], None, None]:
        if self.watches and isinstance(self.watches[0], WatchBroken):
            on_open(lambda: None)  # a stream breaks once open; any other failure is in opening it
        events: list[dict[str, Any]] = self._next(self.watches)
        on_open(lambda: None)
        yield from events


def run_watch(
    cluster: ScriptedCluster, *, idle_timeout: float = 30.0, watch_timeout: int = 290
) -> tuple[list[WatchMessage], int]:
    """Run the watch until its script ends; the messages it sent and how many reconnects it told."""
    messages: list[WatchMessage] = []
    reconnects: list[None] = []
    watch = KindWatch(
        cluster,  # type: ignore[arg-type]
        CONFIGMAPS,
        messages.append,
        resource_version="7",
        idle_timeout=idle_timeout,
        watch_timeout=watch_timeout,
        on_reconnect=lambda: reconnects.append(None),
    )
    cluster.kind_watch = watch
    watch._sleep = lambda seconds: None  # type: ignore[method-assign]  # no backoff in a unit test
    watch.run()
    return messages, len(reconnects)


def test_a_stream_that_broke_and_opened_again_is_a_reconnect() -> None:
    cluster = ScriptedCluster(watches=[WatchBroken("the watch broke: reset"), []], versions=["7"])
    _, reconnects = run_watch(cluster)
    assert reconnects == 1


def test_a_stream_ended_by_its_timeout_and_opened_again_is_no_reconnect() -> None:
    cluster = ScriptedCluster(watches=[[], []], versions=["7"])
    _, reconnects = run_watch(cluster, watch_timeout=0)  # every stream has lasted its timeout
    assert reconnects == 0


def test_a_stream_the_server_ended_early_and_opened_again_is_a_reconnect() -> None:
    cluster = ScriptedCluster(watches=[[], []], versions=["7"])
    _, reconnects = run_watch(cluster)  # ended at once, its timeout 290 s away: a restart, a proxy
    assert reconnects == 1


def test_a_quiet_stream_dropped_by_the_idle_guard_is_no_reconnect() -> None:
    cluster = ScriptedCluster(watches=[WatchBroken("the watch went silent"), []], versions=["7"])
    _, reconnects = run_watch(cluster, idle_timeout=0.0)  # every stream has been quiet that long
    assert reconnects == 0


@pytest.mark.parametrize(
    ("failure", "unreachable"),
    [
        (ClusterError("cannot reach the cluster of context 'dev': connection refused"), True),
        (ApiError(500, "InternalError", "etcd is sick"), True),
        (ApiError(404, "NotFound", "the server could not find the requested resource"), False),
        (ApiError(403, "Forbidden", "configmaps is forbidden"), False),
    ],
    ids=["refused", "500", "404", "403"],
)
def test_a_failed_resume_says_whether_the_connection_is_down(failure: Exception, unreachable: bool) -> None:
    cluster = ScriptedCluster(watches=[[], []], versions=[failure, "7"])
    messages, reconnects = run_watch(cluster)
    failing = [m for m in messages if isinstance(m, KindState) and m.error]
    assert [m.unreachable for m in failing] == [unreachable]
    assert reconnects == 1, "the stream opened after the failure"
