"""deploy/prometheus/alerts.yaml: Prometheus's own promtool checks it and runs its unit tests
(alerts_test.yaml), and every metric its alerts read is one the agent exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest

from tests.deploy.manifests import ALERT_NAMES, ALERTS, DEPLOY, alert_groups, alert_rules

if TYPE_CHECKING:
    from core.engine import Engine

# The metrics of the agent contract (issue 15), and `up`, which Prometheus writes for every target.
CONTRACT_METRICS = frozenset(
    {
        "kubedrift_app_info",
        "kubedrift_app_sync_status",
        "kubedrift_app_health_status",
        "kubedrift_app_resources",
        "kubedrift_app_drift_age_seconds",
        "kubedrift_syncs_total",
        "kubedrift_self_heals_total",
        "kubedrift_self_heal_retrying",
        "kubedrift_cluster_connected",
        "kubedrift_watch_reconnects_total",
        "kubedrift_event_to_status_seconds",
        "kubedrift_agent_info",
        "kubedrift_app_lease_held",
    }
)
PROMETHEUS_METRICS = frozenset({"up"})
# The labels the alerts may match on (`job` is the scrape job's, which the ServiceMonitors set).
CONTRACT_LABELS = {
    "kubedrift_app_sync_status": {"app", "cluster", "sync_status"},
    "kubedrift_app_health_status": {"app", "cluster", "health_status"},
    "kubedrift_self_heal_retrying": {"app", "cluster"},
    "kubedrift_cluster_connected": {"cluster"},
    "up": {"job", "instance"},
}
# The `for:` and severity of each alert, as the contract gives them.
CONTRACT_FOR = {
    "KubedriftAppOutOfSync": "10m",
    "KubedriftAppDegraded": "5m",
    "KubedriftSelfHealRetrying": "10m",
    "KubedriftAgentDown": "5m",
    "KubedriftWatchDisconnected": "5m",
}
# The alerts about one app name it and its cluster; the watch alert names the cluster.
NAMES_APP = frozenset({"KubedriftAppOutOfSync", "KubedriftAppDegraded", "KubedriftSelfHealRetrying"})
NAMES_CLUSTER = NAMES_APP | {"KubedriftWatchDisconnected"}
_PROMQL_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset"})
_AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian's prometheus package has it; .ci/run installs it)")
    return found


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside label matchers and strings that
    are neither functions, keywords nor durations."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = _LABEL_LISTS.sub(" ", bare)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
        follows = bare[match.end() :].lstrip()
        if follows.startswith("(") or match.group() in _PROMQL_KEYWORDS | _AGGREGATIONS:
            continue
        names.add(match.group())
    return names


def test_metric_names_are_found_in_promql() -> None:
    assert metric_names('sum by (app) (rate(kubedrift_syncs_total{result="failed"}[5m])) > 0') == {
        "kubedrift_syncs_total"
    }
    assert metric_names('up{job="kubedrift"} == 0 or absent(up{job="x"})') == {"up"}
    assert metric_names("max without (pod) (a_total) / on (app) group_left (cluster) b") == {"a_total", "b"}


def test_promtool_finds_the_rules_valid() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERT_NAMES)} rules found" in done.stdout


def test_the_alerts_unit_tests_pass_in_promtool() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yaml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_are_the_contracts_five() -> None:
    rules = list(alert_rules(alert_groups()))
    assert sorted(rule["alert"] for rule in rules) == sorted(ALERT_NAMES)
    assert {rule["alert"]: rule["for"] for rule in rules} == CONTRACT_FOR


def test_every_alert_says_how_bad_what_and_where() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for rule in alert_rules(alert_groups()):
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        for text in (annotations["summary"], annotations["description"]):
            assert ("{{ $labels.cluster }}" in text) is (rule["alert"] in NAMES_CLUSTER), rule["alert"]
            assert ("{{ $labels.app }}" in text) is (rule["alert"] in NAMES_APP), rule["alert"]
        # The runbook is a section of deploy/README.md named after the alert.
        anchor = annotations["runbook_url"].rpartition("#")[2]
        assert annotations["runbook_url"].endswith(f"deploy/README.md#{rule['alert'].lower()}")
        assert f"### {rule['alert']}" in readme and anchor == rule["alert"].lower()


def test_every_metric_the_alerts_read_is_in_the_contract() -> None:
    for rule in alert_rules(alert_groups()):
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= CONTRACT_METRICS | PROMETHEUS_METRICS, rule["alert"]


def test_every_metric_the_alerts_read_is_exported_by_the_agent() -> None:
    """The agent's own /metrics exposition declares each metric the alerts read, under that exact name
    (an engine that holds no apps yet: the families are declared before any series exists)."""
    from agent.metrics import AgentMetrics

    engine = cast("Engine", SimpleNamespace(apps={}, clusters={}, observer=None))
    exposition, _ = AgentMetrics(engine, identity="kubedrift-0", shard=None, read_only=True).exposition()
    exported = set(re.findall(r"^# TYPE (\S+) ", exposition.decode(), re.MULTILINE))
    read = set().union(*(metric_names(rule["expr"]) for rule in alert_rules(alert_groups())))
    assert read - PROMETHEUS_METRICS <= exported


def test_the_alerts_match_on_labels_their_metrics_carry() -> None:
    for rule in alert_rules(alert_groups()):
        for name, matchers in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}", rule["expr"]):
            labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=~?", matchers))
            assert labels <= CONTRACT_LABELS[name], rule["alert"]


def test_alert_tests_cover_every_alert() -> None:
    tests = (ALERTS.parent / "alerts_test.yaml").read_text()
    for name in ALERT_NAMES:
        assert f"alertname: {name}" in tests
