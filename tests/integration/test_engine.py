"""The live engine against the sandbox: no false drift, every real drift, and changes seen live."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import SECRET_MASK, AppStatus, AppSync, ResourceKey, SyncStatus
from core.status_events import AppStatusChange, ResourceStatusChange, RevisionChange, StatusChange
from sandbox.handle import SandboxThread
from tests.integration.gitops import commit_file, deploy, shop_config, tracked
from tests.live_run import LiveRun

WEB = ResourceKey("apps", "Deployment", "shop", "web")
SERVICE = ResourceKey("", "Service", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")
SECRET = ResourceKey("", "Secret", "shop", "db-credentials")
DB = ResourceKey("apps", "StatefulSet", "shop", "db")


@pytest.fixture
def config(tmp_path: Path, adapter: ClusterAdapter) -> Config:
    config = shop_config(tmp_path)
    deploy(adapter, config)
    return config


def engine_for(config: Config, kubeconfig_path: Path, **options: Any) -> Engine:
    return Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), **options)


def by_key(status: AppStatus) -> dict[ResourceKey, Any]:
    return {resource.key: resource for resource in status.resources}


@pytest.fixture
def typed(kubeconfig_path: Path) -> Iterator[tuple[client.CoreV1Api, client.AppsV1Api]]:
    api = load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox")
    yield client.CoreV1Api(api), client.AppsV1Api(api)
    api.close()


def test_freshly_applied_app_has_no_false_drift(config: Config, kubeconfig_path: Path) -> None:
    (status,) = engine_for(config, kubeconfig_path).evaluate()
    drifted = {
        str(r.key): [c.to_json() for c in r.changes]
        for r in status.resources
        if r.status != SyncStatus.SYNCED
    }
    assert drifted == {}
    assert status.sync is AppSync.SYNCED
    assert status.errors == ()
    assert {WEB, SERVICE, CONFIG, SECRET, DB} <= set(by_key(status))


def test_client_writes_are_reported_with_pointers(
    config: Config,
    kubeconfig_path: Path,
    adapter: ClusterAdapter,
    typed: tuple[client.CoreV1Api, client.AppsV1Api],
) -> None:
    core, apps = typed
    apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})
    apps.patch_namespaced_stateful_set(
        "db",
        "shop",
        {"spec": {"template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]}}}},
    )
    core.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "debug"}})
    core.patch_namespaced_secret(
        "db-credentials", "shop", {"data": {"password": base64.b64encode(b"hacked").decode()}}
    )
    core.delete_namespaced_service("web", "shop")
    adapter.apply(
        tracked(
            "shop",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "leftover", "namespace": "shop"}},
        )
    )

    (status,) = engine_for(config, kubeconfig_path).evaluate()
    results = by_key(status)
    # Without `by` (who changed it, core.drift.attribution): the paths and values are the point here.
    changes = {
        key: [dataclasses.replace(c, by=None).to_json() for c in results[key].changes] for key in results
    }
    assert status.sync is AppSync.OUT_OF_SYNC
    assert changes[WEB] == [{"path": "/spec/replicas", "desired": 2, "live": 5}]
    assert changes[DB] == [
        {"path": "/spec/template/spec/containers/0/image", "desired": "postgres:16.4", "live": "postgres:17"}
    ]
    assert changes[CONFIG] == [{"path": "/data/LOG_LEVEL", "desired": "info", "live": "debug"}]
    assert changes[SECRET] == [{"path": "/stringData/password", "desired": SECRET_MASK, "live": SECRET_MASK}]
    assert results[SERVICE].status is SyncStatus.MISSING
    assert results[ResourceKey("", "ConfigMap", "shop", "leftover")].status is SyncStatus.EXTRANEOUS


def test_forbidden_kind_is_unknown_and_the_rest_is_judged(
    config: Config, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.faults.fail_next(resource="secrets", count=10, code=403)
    (status,) = engine_for(config, kubeconfig_path).evaluate()
    results = by_key(status)
    assert results[SECRET].status is SyncStatus.UNKNOWN
    assert "forbidden" in results[SECRET].reason.lower()
    assert results[WEB].status is SyncStatus.SYNCED and results[CONFIG].status is SyncStatus.SYNCED
    assert status.sync is AppSync.UNKNOWN
    assert status.errors == (f"Secret: {results[SECRET].reason}",), "why, for a reader of the errors alone"


def test_unreachable_cluster_is_an_app_error(config: Config, tmp_path: Path) -> None:
    from sandbox.handle import write_kubeconfig

    dead = write_kubeconfig(tmp_path / "dead", "http://127.0.0.1:9")
    (status,) = engine_for(config, dead).evaluate()
    assert status.sync is AppSync.UNKNOWN or status.errors
    assert any("cannot reach the cluster" in error for error in status.errors)


def resource_became(key: ResourceKey, status: SyncStatus) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, ResourceStatusChange) and c.key == key and c.status is status


def app_became(sync: AppSync) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, AppStatusChange) and c.sync is sync


def test_live_change_is_published_and_comes_back(
    config: Config, kubeconfig_path: Path, typed: tuple[client.CoreV1Api, client.AppsV1Api]
) -> None:
    _, apps = typed
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        first = run.changes[0]
        assert isinstance(first, AppStatusChange), "the first thing published is the app's settled state"
        assert first.sync is AppSync.SYNCED and first.previous_sync is None
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 4}})
        change = run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC))
        assert change.to_json()["previous"] == {
            "status": "Synced",
            "health": change.to_json()["previous"]["health"],
        }
        run.wait_for(app_became(AppSync.OUT_OF_SYNC))
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 2}})
        run.wait_for(
            lambda c: (
                resource_became(WEB, SyncStatus.SYNCED)(c) and c.previous_status is SyncStatus.OUT_OF_SYNC
            )
        )


def test_dropped_watches_and_compaction_lose_no_change(
    config: Config,
    kubeconfig_path: Path,
    sandbox: SandboxThread,
    typed: tuple[client.CoreV1Api, client.AppsV1Api],
) -> None:
    core, _ = typed
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.drop_watches()
        core.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "warn"}})
        run.wait_for(resource_became(CONFIG, SyncStatus.OUT_OF_SYNC))
        sandbox.faults.compact()
        sandbox.faults.drop_watches()
        core.delete_namespaced_service("web", "shop")
        run.wait_for(resource_became(SERVICE, SyncStatus.MISSING))


def test_git_commit_is_seen_live(config: Config, kubeconfig_path: Path, tmp_path: Path) -> None:
    repo = tmp_path / "gitops"
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        text = (repo / "apps/shop/config.yaml").read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: error")
        revision = commit_file(repo, "apps/shop/config.yaml", text, "louder")
        run.wait_for(resource_became(CONFIG, SyncStatus.OUT_OF_SYNC))
        run.wait_for(lambda c: isinstance(c, RevisionChange) and c.revision == revision)


def automated_config(tmp_path: Path, adapter: ClusterAdapter, policy: str) -> Config:
    config = shop_config(tmp_path, extra_config=f"    syncPolicy: {policy}\n")
    deploy(adapter, config)
    return config


def test_self_heal_restores_a_scaled_deployment(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    typed: tuple[client.CoreV1Api, client.AppsV1Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = automated_config(tmp_path, adapter, "{automated: {selfHeal: true}}")
    _, apps = typed
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
        run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC))
        run.wait_for(
            lambda c: (
                resource_became(WEB, SyncStatus.SYNCED)(c) and c.previous_status is SyncStatus.OUT_OF_SYNC
            )
        )
    assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 2
    audit = (tmp_path / "state" / "kubedrift" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["operation"] for line in audit] == ["self-heal"]


def test_manual_app_only_detects(
    config: Config,
    kubeconfig_path: Path,
    typed: tuple[client.CoreV1Api, client.AppsV1Api],
    sandbox: SandboxThread,
) -> None:
    _, apps = typed
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.clear_request_log()
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
        run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC))
        time.sleep(1.5)  # give a wrongly automated engine the time to act
    writes = [r for r in sandbox.request_log if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert [r.path for r in writes] == ["/apis/apps/v1/namespaces/shop/deployments/web/scale"]


def test_auto_sync_applies_each_new_commit_once(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    typed: tuple[client.CoreV1Api, client.AppsV1Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = automated_config(tmp_path, adapter, "{automated: {}}")
    core, _ = typed
    repo = tmp_path / "gitops"
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        text = (repo / "apps/shop/config.yaml").read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: error")
        revision = commit_file(repo, "apps/shop/config.yaml", text, "louder")
        deadline = time.monotonic() + 10
        while core.read_namespaced_config_map("web-config", "shop").data["LOG_LEVEL"] != "error":
            assert time.monotonic() < deadline, "the new commit was never applied"
            time.sleep(0.05)
        core.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "by-hand"}})
        run.wait_for(resource_became(CONFIG, SyncStatus.OUT_OF_SYNC))
        time.sleep(1.5)  # without selfHeal, a live change of an already synced revision stays
    assert core.read_namespaced_config_map("web-config", "shop").data["LOG_LEVEL"] == "by-hand"
    lines = [
        json.loads(line)
        for line in (tmp_path / "state" / "kubedrift" / "audit.jsonl").read_text().splitlines()
    ]
    assert [(line["operation"], line["revision"]) for line in lines] == [("auto-sync", revision)]


def test_read_only_engine_never_writes_even_when_automated(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    typed: tuple[client.CoreV1Api, client.AppsV1Api],
    sandbox: SandboxThread,
) -> None:
    config = automated_config(tmp_path, adapter, "{automated: {selfHeal: true, prune: true}}")
    _, apps = typed
    with LiveRun(engine_for(config, kubeconfig_path, read_only=True)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.clear_request_log()
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
        run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC))
        time.sleep(1.5)
    writes = [r for r in sandbox.request_log if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert [r.path for r in writes] == ["/apis/apps/v1/namespaces/shop/deployments/web/scale"], (
        "only the test's own write"
    )


def test_refresh_relists_every_watched_kind_at_once(
    config: Config, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    engine = engine_for(config, kubeconfig_path)
    with LiveRun(engine) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.clear_request_log()
        run._loop.call_soon_threadsafe(engine.refresh)

        def relisted() -> bool:
            lists = {r.path for r in sandbox.request_log if r.method == "GET" and "watch" not in r.query}
            return "/api/v1/configmaps" in lists and "/apis/apps/v1/deployments" in lists

        deadline = time.monotonic() + 10
        while not relisted():
            assert time.monotonic() < deadline, [r.path for r in sandbox.request_log]
            time.sleep(0.05)
