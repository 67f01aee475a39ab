"""The agent's /metrics against the sandbox: what the running engine does moves the counters.

A writes-allowed agent with self-heal on: a scaled Deployment is healed and counted as a self-heal
sync and attempt; the watch events behind it fill the latency histogram; a sync asked over the API
counts as manual; watches that the server fails for a moment take the cluster's connection down and
back, and count as reconnects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.service import AgentService
from core import cluster as cluster_module
from core.config import load_config
from tests.agent.agent_thread import AgentThread, wait_for
from tests.agent.conftest import ShopCluster

SELF_HEALING = "    syncPolicy: {automated: {selfHeal: true}}\nagent: {allowWrites: true}\n"


class RecordingObserver:
    """Stands between the engine and the agent's metrics, writing down each call it passes on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        forward = getattr(self.inner, name)

        def record(*args: Any) -> None:
            self.calls.append((name, *args))
            forward(*args)

        return record


def scraped(agent: AgentThread) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = agent.request("/metrics", token=None)
    assert reply.status == 200, reply.body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    }


def metric(agent: AgentThread, name: str, **labels: str) -> float:
    return scraped(agent).get((name, frozenset(labels.items())), 0.0)


def test_a_self_heal_and_a_failing_watch_move_the_metrics(
    fresh_shop: ShopCluster, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_module, "RETRY_BUDGET_SECONDS", 0.5)  # a 500 is not retried for long
    config = load_config(fresh_shop.with_config(SELF_HEALING, "self-healing"))
    recorder: list[RecordingObserver] = []

    def record(service: AgentService) -> None:
        recorder.append(RecordingObserver(service.engine.observer))
        service.engine.observer = recorder[0]

    def connections() -> list[tuple[Any, ...]]:
        return [call for call in recorder[0].calls if call[0].startswith("cluster_")]

    with AgentThread(config, fresh_shop.kubeconfig, before_run=record) as agent:
        agent.wait_ready()
        assert metric(agent, "kubedrift_cluster_connected", cluster="sandbox") == 1
        assert metric(agent, "kubedrift_agent_info", identity="agent-test", shard="", read_only="false") == 1
        apps = fresh_shop.apps_api()
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
        healed = {"app": "shop", "cluster": "sandbox", "trigger": "self-heal", "result": "succeeded"}
        wait_for(lambda: metric(agent, "kubedrift_syncs_total", **healed) == 1, "the self-heal to be counted")
        assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 2
        attempt = {"app": "shop", "cluster": "sandbox", "result": "succeeded"}
        assert metric(agent, "kubedrift_self_heals_total", **attempt) == 1
        assert metric(agent, "kubedrift_event_to_status_seconds_count") >= 1, "the scale's watch event"
        assert metric(agent, "kubedrift_watch_reconnects_total", cluster="sandbox") == 0

        # A person's sync through the API is a manual one.
        reply = agent.request("/api/v1/apps/shop/sync", method="POST", body={"prune": False, "dryRun": False})
        assert reply.status == 200, reply.body
        manual = {"app": "shop", "cluster": "sandbox", "trigger": "manual", "result": "succeeded"}
        assert metric(agent, "kubedrift_syncs_total", **manual) == 1

        # The server ends every watch, then fails the ConfigMaps' lists for a moment: that watch
        # cannot resume, so the cluster is down, then up again once it opens.
        fresh_shop.sandbox.faults.fail_next(resource="configmaps", count=3, code=500, verbs=("list",))
        fresh_shop.sandbox.faults.drop_watches()
        wait_for(lambda: ("cluster_disconnected", "sandbox") in connections(), "the cluster to be down")
        wait_for(lambda: connections()[-1] == ("cluster_connected", "sandbox"), "the cluster to be up again")
        assert metric(agent, "kubedrift_watch_reconnects_total", cluster="sandbox") >= 1
        assert metric(agent, "kubedrift_cluster_connected", cluster="sandbox") == 1
