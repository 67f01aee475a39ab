"""Two apps that declare one object, on the sandbox: flagged in both, never fought over.

Shaped like the case that made the issue: kube-prometheus and metrics-server both ship the
ClusterRole `system:aggregated-metrics-reader`, each with its own labels, and both self-heal.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceAction, ResourceKey, SyncStatus
from core.operations import sync_now
from core.status_events import ResourceStatusChange, SharedResourceChange, StatusChange
from sandbox.handle import SandboxThread
from tests.integration.gitops import committed_repository, tracked
from tests.integration.test_cli import KUBEDRIFT, ROOT, kubedrift
from tests.kubectl import Kubectl
from tests.live_run import LiveRun

READER = ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:aggregated-metrics-reader")
GRAFANA = ResourceKey("", "ConfigMap", "monitoring", "grafana")
READER_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregated-metrics-reader"
WARNING = (
    "ClusterRole system:aggregated-metrics-reader is also declared by app {other}: sync will not take it "
    "over without --force, and self-heal leaves it alone"
)


def reader(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": READER.name, "labels": labels},
        "rules": [
            {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list"]}
        ],
    }


KUBE_PROMETHEUS = [
    reader({"app.kubernetes.io/name": "prometheus-adapter"}),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grafana"}, "data": {"theme": "dark"}},
]
METRICS_SERVER = [
    reader({"k8s-app": "metrics-server"}),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "metrics-server"}, "data": {"v": "4"}},
]


def write_apps(root: Path, policy: str) -> Config:
    repo = root / "gitops"
    for (
        name,
        objects,
    ) in (("kube-prometheus", KUBE_PROMETHEUS), ("metrics-server", METRICS_SERVER)):
        (repo / name).mkdir(parents=True)
        (repo / name / "all.yaml").write_text(yaml.safe_dump_all(objects))
    committed_repository(repo)
    (root / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: kube-prometheus\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: kube-prometheus}\n"
        f"    destination: {{namespace: monitoring}}\n    syncPolicy: {policy}\n"
        "  - name: metrics-server\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: metrics-server}\n"
        f"    destination: {{namespace: kube-system}}\n    syncPolicy: {policy}\n"
    )
    return load_config(root / "kubedrift.yaml")


def deploy_both(adapter: ClusterAdapter) -> None:
    """Each app's objects as its first sync left them; the ClusterRole as kube-prometheus applied it last."""
    for (app, objects), namespace in zip(
        (("kube-prometheus", KUBE_PROMETHEUS), ("metrics-server", METRICS_SERVER)),
        ("monitoring", "kube-system"),
        strict=True,
    ):
        adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        reader_role, config_map = objects
        adapter.apply(
            tracked(app, {**config_map, "metadata": {**config_map["metadata"], "namespace": namespace}})
        )
        if app == "kube-prometheus":
            adapter.apply(tracked(app, reader_role))


def read_reader(adapter: ClusterAdapter) -> dict[str, Any]:
    found = adapter.get(adapter.resource_for(READER.group, READER.kind), None, READER.name)
    assert found is not None
    return found


@pytest.fixture
def manual(tmp_path: Path, adapter: ClusterAdapter, state_home: Path) -> Path:
    write_apps(tmp_path, "{}")
    deploy_both(adapter)
    return tmp_path


def reader_writes(sandbox: SandboxThread) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.request_log if r.is_write and r.path == READER_PATH]


def test_check_json_warns_in_both_apps_and_with_app_too(manual: Path, kubeconfig_path: Path) -> None:
    done = kubedrift(manual, kubeconfig_path, "check", "-o", "json")
    assert done.returncode == 1, done.stdout + done.stderr  # metrics-server's labels differ: drift
    apps = {app["name"]: app for app in json.loads(done.stdout)["apps"]}
    for name, other in (("kube-prometheus", "metrics-server"), ("metrics-server", "kube-prometheus")):
        assert apps[name]["warnings"] == [WARNING.format(other=other)]
        assert apps[name]["errors"] == []
        shared = {r["name"]: r.get("sharedWith") for r in apps[name]["resources"]}
        assert shared[READER.name] == [other]
        assert [n for n, others in shared.items() if others] == [READER.name], "only the shared object"
    assert apps["kube-prometheus"]["sync"] == "Synced", "a warning leaves the sync as it is"

    alone = kubedrift(manual, kubeconfig_path, "check", "-o", "json", "--app", "metrics-server")
    (app,) = json.loads(alone.stdout)["apps"]
    assert app["name"] == "metrics-server" and app["warnings"] == [WARNING.format(other="kube-prometheus")]

    text = kubedrift(manual, kubeconfig_path, "check")
    assert f"kube-prometheus: warning: {WARNING.format(other='metrics-server')}" in text.stdout.splitlines()


def test_sync_skips_the_shared_object_unless_forced(
    manual: Path, kubeconfig_path: Path, sandbox: SandboxThread, adapter: ClusterAdapter
) -> None:
    sandbox.faults.clear_request_log()
    done = kubedrift(manual, kubeconfig_path, "sync", "metrics-server", "--yes")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if READER.name in line)
    assert "skipped" in row and "also declared by app kube-prometheus" in row and "--force" in row
    assert reader_writes(sandbox) == [], "not taken over"
    assert read_reader(adapter)["metadata"]["labels"] == {
        "app.kubernetes.io/name": "prometheus-adapter",
        "app.kubernetes.io/managed-by": "kubedrift",
    }

    forced = kubedrift(manual, kubeconfig_path, "sync", "metrics-server", "--yes", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert reader_writes(sandbox) != [], "taken over with --force"
    assert read_reader(adapter)["metadata"]["labels"]["k8s-app"] == "metrics-server"
    audit = (manual / "home" / ".local" / "state" / "kubedrift" / "audit.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in audit)
    assert [r["action"] for r in first["results"] if r["name"] == READER.name] == ["skipped"]
    assert [r["action"] for r in second["results"] if r["name"] == READER.name] == ["configured"]


def became(app: str, key: ResourceKey, status: SyncStatus) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, ResourceStatusChange) and (c.app, c.key, c.status) == (app, key, status)


def settle(run: LiveRun) -> None:
    """Wait until the engine's loop has gone round once more (each round ends with `_automate`) and
    every sync it started has ended."""
    engine = run.engine
    for _ in range(2):
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), run._loop).result(timeout=10)
    deadline = time.monotonic() + 10
    while engine.automation.running:
        assert time.monotonic() < deadline, "a sync never ended"
        time.sleep(0.02)


def test_self_heal_on_both_apps_never_fights_over_the_shared_object(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    sandbox: SandboxThread,
    kubectl: Kubectl,
    state_home: Path,
) -> None:
    config = write_apps(tmp_path, "{automated: {selfHeal: true}}")
    deploy_both(adapter)
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}))
    with LiveRun(engine) as run:
        for app, other in (("kube-prometheus", "metrics-server"), ("metrics-server", "kube-prometheus")):
            told = run.wait_for(lambda c, app=app: isinstance(c, SharedResourceChange) and c.app == app)
            assert isinstance(told, SharedResourceChange) and told.shared_with == (other,)
        settle(run)  # start-up: metrics-server sees its own labels missing, and must leave them be
        sandbox.faults.clear_request_log()

        kubectl.run(
            "label", "clusterrole", READER.name, "app.kubernetes.io/name=edited-by-hand", "--overwrite"
        )
        run.wait_for(became("kube-prometheus", READER, SyncStatus.OUT_OF_SYNC))
        settle(run)
        # The control: the same engine heals a drift of an object only one app declares.
        kubectl.run("patch", "configmap", "grafana", "-n", "monitoring", "-p", '{"data":{"theme":"pink"}}')
        run.wait_for(became("kube-prometheus", GRAFANA, SyncStatus.OUT_OF_SYNC))
        run.wait_for(became("kube-prometheus", GRAFANA, SyncStatus.SYNCED))
        settle(run)

    writes = [r for r in sandbox.request_log if r.is_write]
    assert [r.path for r in writes].count(READER_PATH) == 1, "kubectl's own label, and nothing after it"
    ours = [r.path for r in writes if r.query.get("fieldManager") == "kubedrift"]
    assert ours == ["/api/v1/namespaces/monitoring/configmaps/grafana"], "self-heal acted on the rest alone"
    audit = [json.loads(line) for line in (state_home / "kubedrift" / "audit.jsonl").read_text().splitlines()]
    healed = {r["name"] for line in audit if line["operation"] == "self-heal" for r in line["results"]}
    assert healed == {"grafana"}
    label = kubectl.json("get", "clusterrole", READER.name)["metadata"]["labels"]["app.kubernetes.io/name"]
    assert label == "edited-by-hand"


def test_watch_jsonl_warns_of_the_shared_object(manual: Path, kubeconfig_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(manual / "home"),
        "KUBECONFIG": str(kubeconfig_path),
        "PYTHONPATH": str(ROOT),
        "XDG_STATE_HOME": str(manual / "state"),
    }
    process = subprocess.Popen(
        [*KUBEDRIFT, "watch", "-o", "jsonl", "--app", "kube-prometheus"],
        cwd=manual,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [json.loads(process.stdout.readline()) for _ in range(2)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert {line["app"] for line in lines} == {"kube-prometheus"}, "--app: its lines alone"
    (shared,) = [line["sharedResource"] for line in lines if "sharedResource" in line]
    assert shared == {
        "group": READER.group,
        "kind": "ClusterRole",
        "namespace": "",
        "name": READER.name,
        "sharedWith": ["metrics-server"],
        "previous": [],
        "message": WARNING.format(other="metrics-server"),
    }


def test_fail_on_shared_resource_fails_the_sync_before_sending_anything(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread, state_home: Path
) -> None:
    config = write_apps(tmp_path, "{syncOptions: [FailOnSharedResource=true]}")
    deploy_both(adapter)
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}))
    engine.evaluate()
    sandbox.faults.clear_request_log()
    result = sync_now(engine, "metrics-server")
    assert result.failed and "FailOnSharedResource=true" in result.message
    assert {o.key: o.action for o in result.outcomes}[READER] is ResourceAction.FAILED
    assert [r for r in sandbox.request_log if r.is_write] == [], "nothing was sent"
