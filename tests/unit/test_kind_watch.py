"""The kind watch's loop against a scripted stand-in cluster: what it lists, resumes and reports."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from core.api_resources import ApiResource
from core.cluster import ApiError, ClusterError, ListPage, WatchBroken
from core.kind_watch import KindState, KindWatch, Relisted, StateLost, WatchMessage
from core.live_cache import LiveEvent

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch"}))


def configmap(name: str, version: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "resourceVersion": version}}


Step = Callable[[], Any]


class ScriptedCluster:
    """Answers list, watch and version probes from scripts; records each call.

    A watch script step is a list of events to stream (then a clean end) or an exception to raise.
    When a script runs out, the kind watch is stopped, which ends the test's `run()`.
    """

    read_only = True

    def __init__(
        self,
        *,
        lists: list[tuple[list[dict[str, Any]], str] | Exception],
        watches: list[list[dict[str, Any]] | Exception],
        versions: list[str | Exception] = (),  # type: ignore[assignment]
    ) -> None:
        self.lists = list(lists)
        self.watches = list(watches)
        self.versions = list(versions)
        self.calls: list[tuple[str, str]] = []
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

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        self.calls.append(("list", ""))
        result: tuple[list[dict[str, Any]], str] = self._next(self.lists)
        return result

    def resource_version_now(
        self, resource: ApiResource, namespace: str | None = None, *, read_timeout: float = 10.0
    ) -> str:
        self.calls.append(("version", ""))
        version: str = self._next(self.versions)
        return version

    def watch(
        self,
        resource: ApiResource,
        resource_version: str,
        *,
        namespace: str | None = None,
        timeout_seconds: int = 300,
        on_open: Callable[[Callable[[], None]], None] | None = None,
        idle_timeout: float | None = None,
        label_selector: str | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        self.calls.append(("watch", resource_version))
        return self._stream(on_open)

    def _stream(self, on_open: Callable[[Callable[[], None]], None] | None) -> Iterator[dict[str, Any]]:
        events: list[dict[str, Any]] = self._next(self.watches)
        if on_open is not None:
            on_open(lambda: None)
        yield from events


def run_watch(cluster: ScriptedCluster, *, resource_version: str = "") -> list[WatchMessage]:
    messages: list[WatchMessage] = []
    watch = KindWatch(
        cluster,  # type: ignore[arg-type]
        CONFIGMAPS,
        messages.append,
        resource_version=resource_version,
        idle_timeout=2.0,
    )
    cluster.kind_watch = watch
    watch._sleep = lambda seconds: None  # type: ignore[method-assign]  # no backoff in a unit test
    watch.run()
    return messages


def kinds_of(messages: list[WatchMessage]) -> list[str]:
    return [type(message).__name__ for message in messages]


def test_too_large_resource_version_in_the_stream_relists() -> None:
    too_large = ApiError(504, "Timeout", "Too large resource version: 12, current: 9")
    cluster = ScriptedCluster(
        lists=[([configmap("a", "10")], "12"), ([configmap("a", "10")], "14")],
        watches=[too_large],
    )
    messages = run_watch(cluster)
    assert [call[0] for call in cluster.calls[:3]] == ["list", "watch", "list"]
    relists = [m for m in messages if isinstance(m, Relisted)]
    assert [r.recovering for r in relists] == [False, True]
    assert not any(isinstance(m, KindState) and m.error for m in messages), "a relist is not a failure"


def test_too_large_is_told_apart_from_other_504s() -> None:
    assert ApiError(504, "Timeout", "Too large resource version: 12, current: 9").version_too_large
    assert not ApiError(
        504, "Timeout", "the server was unable to return a response in time"
    ).version_too_large
    assert not ApiError(410, "Expired", "too old resource version: 5 (9)").version_too_large


def test_a_server_gone_back_is_noticed_before_resuming_and_relisted() -> None:
    cluster = ScriptedCluster(
        lists=[([configmap("a", "40"), configmap("b", "41")], "41"), ([], "6")],
        watches=[[{"type": "MODIFIED", "object": configmap("a", "50")}]],  # then a clean end
        versions=["6"],
    )
    messages = run_watch(cluster)
    assert [call[0] for call in cluster.calls[:4]] == ["list", "watch", "version", "list"]
    lost = next(m for m in messages if isinstance(m, StateLost))
    assert (lost.newest, lost.version) == (50, "6")
    assert kinds_of(messages)[:4] == ["Relisted", "LiveEvent", "StateLost", "Relisted"]
    assert len([m for m in messages if isinstance(m, StateLost)]) == 1, "the relist does not report it again"
    relisted = messages[3]
    assert isinstance(relisted, Relisted) and relisted.recovering and relisted.objects == []


def test_a_dropped_stream_is_resumed_at_once_without_a_report() -> None:
    cluster = ScriptedCluster(
        lists=[([configmap("a", "7")], "7")],
        watches=[WatchBroken("the watch of configmaps on sandbox broke: reset"), []],
        versions=["8"],
    )
    messages = run_watch(cluster)
    assert cluster.calls[:4] == [("list", ""), ("watch", "7"), ("version", ""), ("watch", "7")]
    assert not any(isinstance(m, KindState) for m in messages)


def test_a_failed_reconnect_is_reported_and_recovery_clears_it() -> None:
    unreachable = ClusterError("cannot reach the cluster of context 'sandbox': connection refused")
    cluster = ScriptedCluster(
        lists=[([configmap("a", "7")], "7")],
        watches=[[], [{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}]],
        versions=[unreachable, "9"],
    )
    messages = run_watch(cluster)
    states = [m for m in messages if isinstance(m, KindState)]
    assert [s.error for s in states] == [str(unreachable), None]
    assert not any(isinstance(m, LiveEvent) for m in messages), "a bookmark is no object change"


def test_a_start_up_version_is_trusted_once_then_checked() -> None:
    cluster = ScriptedCluster(lists=[], watches=[[], []], versions=["30"])
    run_watch(cluster, resource_version="25")
    assert cluster.calls[:3] == [("watch", "25"), ("version", ""), ("watch", "25")]


@pytest.mark.parametrize("failure", [ApiError(500, "InternalError", "etcd is sick"), ClusterError("refused")])
def test_a_failing_first_list_is_reported(failure: Exception) -> None:
    cluster = ScriptedCluster(lists=[failure, ([], "3")], watches=[])
    messages = run_watch(cluster)
    assert isinstance(messages[0], KindState) and messages[0].error == str(failure)
    assert isinstance(messages[1], Relisted) and messages[1].recovering
