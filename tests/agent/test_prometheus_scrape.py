"""A real Prometheus scraping a running agent, with deploy/prometheus/alerts.yaml loaded.

The rules are loaded as they are written, except that each `for:` is made `0s`: a test cannot wait
ten minutes (the `for` timing is promtool's to check, in tests/deploy). Prometheus scrapes and
evaluates every second. Skipped, saying why, where Debian's `prometheus` is not installed.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.agent.agent_thread import AgentThread, wait_for
from tests.agent.conftest import ShopCluster
from tests.prometheus import Prometheus, prometheus_binary

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"
NOT_INSTALLED = (
    "Prometheus is not installed: the agent's alerts are checked against a real one "
    "(apt-get install prometheus, or set KUBEDRIFT_PROMETHEUS to the binary)"
)
QUIET_WHILE_ALL_IS_WELL = {
    "KubedriftAppOutOfSync",
    "KubedriftSelfHealRetrying",
    "KubedriftAgentDown",
    "KubedriftWatchDisconnected",
}


def rules_without_waiting(source: Path, target: Path) -> Path:
    """The rules of `source` with each `for:` made `0s`, written to `target` (JSON is YAML)."""
    document = yaml.safe_load(source.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    target.write_text(json.dumps(document))
    return target


@pytest.fixture
def prometheus(agent: AgentThread, tmp_path: Path) -> Iterator[Prometheus]:
    """Prometheus scraping the module's agent as job `kubedrift`, the alerts loaded."""
    binary = prometheus_binary()
    if binary is None:
        pytest.skip(NOT_INSTALLED)
    rules = rules_without_waiting(ALERTS, tmp_path / "alerts.yaml")
    target = urllib.parse.urlsplit(agent.url).netloc
    running = Prometheus(binary, tmp_path / "prometheus", [target], job="kubedrift", rule_files=(rules,))
    try:
        yield running.start()
    finally:
        running.stop()


def evaluated_at(prometheus: Prometheus) -> float:
    """When every rule group was last evaluated (the oldest of them), as a Unix time; 0 before."""
    groups = prometheus.api("rules")["groups"]
    assert {group["name"] for group in groups} >= {"kubedrift.apps", "kubedrift.agent"}, groups
    moments = []
    for group in groups:
        text = group.get("lastEvaluation") or ""
        if text.startswith("0001-"):  # Go's zero time: not evaluated yet
            return 0.0
        text = re.sub(r"(\.\d{6})\d*", r"\1", text).replace("Z", "+00:00")
        moments.append(datetime.fromisoformat(text).timestamp())
    return min(moments, default=0.0)


def firing(prometheus: Prometheus, name: str) -> list[dict[str, Any]]:
    return [
        alert
        for alert in prometheus.alerts()
        if alert["labels"]["alertname"] == name and alert["state"] == "firing"
    ]


@pytest.mark.slow
def test_out_of_sync_fires_once_drift_is_injected_and_not_before(
    agent: AgentThread, shop: ShopCluster, prometheus: Prometheus
) -> None:
    prometheus.wait_for(
        'kubedrift_app_sync_status{app="shop",sync_status="Synced"}', lambda found: found == [1.0]
    )
    prometheus.wait_for('up{job="kubedrift"}', lambda found: found == [1.0])
    scraped = time.time()
    wait_for(lambda: evaluated_at(prometheus) > scraped, "the rules to be evaluated on what was scraped")
    names = {alert["labels"]["alertname"] for alert in prometheus.alerts()}
    assert not names & QUIET_WHILE_ALL_IS_WELL, prometheus.alerts()

    apps = shop.apps_api()
    apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
    try:
        wait_for(lambda: bool(firing(prometheus, "KubedriftAppOutOfSync")), "KubedriftAppOutOfSync to fire")
        (alert,) = firing(prometheus, "KubedriftAppOutOfSync")
        assert alert["labels"]["app"] == "shop" and alert["labels"]["cluster"] == "sandbox"
        assert alert["labels"]["severity"] == "warning"
        assert alert["annotations"]["summary"] == "App shop on cluster sandbox is OutOfSync."
        resources = prometheus.query('kubedrift_app_resources{app="shop",status="OutOfSync"}')
        assert resources == [1.0]
    finally:
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 2}})
    wait_for(lambda: not firing(prometheus, "KubedriftAppOutOfSync"), "KubedriftAppOutOfSync to resolve")
