"""The adapter's time limits with a stand-in client and clock: one-shot give-up, and 504s not retried."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3

import core.cluster as cluster_module
from core.api_resources import ApiResource
from core.cluster import ApiError, ClusterAdapter, ClusterError

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch"}))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Answer:
    """What `call_api` returns: a status and a JSON body."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.reason = "Gateway Timeout" if status == 504 else "OK"
        self.headers: dict[str, str] = {}
        self.response = type("Raw", (), {"data": body})()


class SilentClient:
    """A client whose server accepts and never answers: each call times out after its read timeout."""

    def __init__(self, clock: Clock, answer: Answer | None = None) -> None:
        self.clock = clock
        self.answer = answer
        self.timeouts: list[tuple[float, float]] = []
        self.configuration = type("Configuration", (), {"host": "http://10.0.0.1:6443"})()

    def param_serialize(self, **kwargs: Any) -> tuple[str, str, dict[str, str], None, None]:
        return kwargs["method"], kwargs["resource_path"], kwargs["header_params"], None, None

    def call_api(self, method: str, url: str, **kwargs: Any) -> Answer:
        connect, read = kwargs["_request_timeout"]
        self.timeouts.append((connect, read))
        if self.answer is not None:
            return self.answer
        self.clock.now += read
        raise urllib3.exceptions.ReadTimeoutError(None, url, f"Read timed out. (read timeout={read})")  # type: ignore[arg-type]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(cluster_module, "time", clock)
    return clock


def test_one_shot_adapter_gives_up_on_a_silent_cluster_across_requests(clock: Clock) -> None:
    client = SilentClient(clock)
    adapter = ClusterAdapter(client, context="prod", give_up_seconds=15.0, sleep=clock.sleep)  # type: ignore[arg-type]
    errors = []
    for _ in range(5):  # discovery, then one list per kind
        with pytest.raises(ClusterError) as raised:
            adapter.list(CONFIGMAPS)
        errors.append(str(raised.value))
    assert client.timeouts == [(5.0, 10.0), (5.0, 5.0)], (
        "the second waits only what is left, the rest not at all"
    )
    assert clock.now == 15.0
    assert errors[0] == (
        "cannot reach the cluster of context 'prod' at http://10.0.0.1:6443: it accepted the connection "
        "but sent nothing for 10 s; check that it is running and that the kubeconfig points at it"
    )
    assert len(set(errors[1:])) == 1 and "cannot reach the cluster of context 'prod'" in errors[-1]


def test_the_live_adapter_never_gives_up(clock: Clock) -> None:
    client = SilentClient(clock)
    adapter = ClusterAdapter(client, context="prod", sleep=clock.sleep)  # type: ignore[arg-type]
    for _ in range(4):
        with pytest.raises(ClusterError):
            adapter.list(CONFIGMAPS)
    assert client.timeouts == [(5.0, 10.0)] * 4


def test_too_large_resource_version_answer_is_not_retried(clock: Clock) -> None:
    body = (
        b'{"kind":"Status","code":504,"reason":"Timeout",'
        b'"message":"Too large resource version: 90, current: 4"}'
    )
    client = SilentClient(clock, Answer(504, body))
    adapter = ClusterAdapter(client, context="prod", sleep=clock.sleep)  # type: ignore[arg-type]
    with pytest.raises(ApiError) as raised:
        next(adapter.watch(CONFIGMAPS, "90", idle_timeout=2.0))
    assert raised.value.code == 504 and raised.value.version_too_large
    assert client.timeouts == [(5.0, 2.0)], "one attempt, with the idle timeout as its read timeout"


def test_an_ordinary_504_is_retried(clock: Clock) -> None:
    body = b'{"kind":"Status","code":504,"reason":"Timeout","message":"request timed out"}'
    client = SilentClient(clock, Answer(504, body))
    adapter = ClusterAdapter(client, context="prod", sleep=clock.sleep)  # type: ignore[arg-type]
    with pytest.raises(ApiError):
        adapter.list(CONFIGMAPS)
    assert len(client.timeouts) > 1
