"""Sync and prune through the real kubernetes client against the sandbox.

The key property: drift is exactly what a sync changes. After a sync, the live objects read back
from the server show no drift under the app's own rules, whatever the server defaulted.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client

from core.actions import PruneRefused, prune_app, sync_app
from core.audit import append_audit
from core.cluster import ClusterAdapter, ReadOnlyError
from core.desired_state import DesiredState
from core.drift.comparator import diff
from core.drift.rules import rules_for
from core.model import (
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    App,
    AppSync,
    Destination,
    IgnoreDifference,
    ResourceAction,
    ResourceKey,
    Source,
    SyncResult,
    SyncStatus,
)
from core.reconcile import reconcile
from sandbox.handle import SandboxThread

APP = App(
    name="shop",
    source=Source(repo_url="/unused", path="apps/shop"),
    destination=Destination(namespace="shop"),
)
REVISION = "4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e"
SECRET_PLAIN = "s3cr3t-hunter2-value"
KINDS = [
    ("", "Namespace"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("batch", "Job"),
]


# The app's manifests, as a person writes them: short, relying on server defaults.


def namespace() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 8080}],
                            "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}},
                            "env": [{"name": "MODE", "value": "prod"}],
                        }
                    ]
                },
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def configmap(name: str = "web-config", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop"},
        "data": data or {"LOG_LEVEL": "info"},
    }


def secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque",
        "stringData": {"password": SECRET_PLAIN},
    }


def statefulset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:16"}]},
            },
        },
    }


def app_objects() -> list[dict[str, Any]]:
    return [deployment(), service(), configmap(), secret(), statefulset(), namespace()]


def desired_state(
    *objs: dict[str, Any], render_ok: bool = True, errors: tuple[str, ...] = ()
) -> DesiredState:
    return DesiredState(REVISION, {ResourceKey.of(obj): obj for obj in objs}, errors, render_ok=render_ok)


def read_live(adapter: ClusterAdapter) -> dict[ResourceKey, dict[str, Any]]:
    """Everything of the app's kinds the cluster holds, as the engine's live cache would."""
    live: dict[ResourceKey, dict[str, Any]] = {}
    for group, kind in KINDS:
        items, _ = adapter.list(adapter.resource_for(group, kind))
        live.update((ResourceKey.of(item), item) for item in items)
    return live


def drift_after(app: App, desired: DesiredState, adapter: ClusterAdapter) -> dict[ResourceKey, list[str]]:
    """The changes the drift engine still sees, per key, after reading the cluster back."""
    live = read_live(adapter)
    remaining: dict[ResourceKey, list[str]] = {}
    for key, obj in desired.objects.items():
        changes = diff(obj, live.get(key), rules_for(key, app.ignore_differences)).changes
        if changes:
            remaining[key] = [change.path for change in changes]
    return remaining


def actions_of(result: SyncResult) -> dict[ResourceKey, ResourceAction]:
    return {outcome.key: outcome.action for outcome in result.outcomes}


def writes(sandbox: SandboxThread) -> list[Any]:
    return [record for record in sandbox.request_log if record.is_write]


def tracked(obj: dict[str, Any], app: str = "shop", **annotations: str) -> dict[str, Any]:
    """`obj` as an earlier sync of `app` left it: carrying the app's tracking id."""
    marked = copy.deepcopy(obj)
    key = ResourceKey.of(marked)
    marked["metadata"].setdefault("annotations", {})[TRACKING_ANNOTATION] = key.tracking_id(app)
    marked["metadata"]["annotations"].update(annotations)
    return marked


@pytest.fixture
def synced(adapter: ClusterAdapter) -> DesiredState:
    """The app synced once onto an empty cluster."""
    desired = desired_state(*app_objects())
    result = sync_app(adapter, APP, desired, read_live(adapter))
    assert not result.failed, result.outcomes
    return desired


# Sync.


def test_sync_creates_everything_then_shows_no_false_drift(adapter: ClusterAdapter) -> None:
    desired = desired_state(*app_objects())
    result = sync_app(adapter, APP, desired, read_live(adapter))
    assert set(actions_of(result).values()) == {ResourceAction.CREATED}
    assert set(actions_of(result)) == set(desired.objects)
    assert (result.revision, result.dry_run) == (REVISION, False)
    assert drift_after(APP, desired, adapter) == {}
    verdict = reconcile(APP, desired.objects, read_live(adapter))
    assert verdict.sync is AppSync.SYNCED


def test_second_sync_changes_nothing(
    adapter: ClusterAdapter, sandbox: SandboxThread, synced: DesiredState
) -> None:
    result = sync_app(adapter, APP, synced, read_live(adapter))
    assert set(actions_of(result).values()) == {ResourceAction.UNCHANGED}
    assert drift_after(APP, synced, adapter) == {}


def test_sync_repairs_hand_made_drift(adapter: ClusterAdapter, synced: DesiredState) -> None:
    apps = k8s_client.AppsV1Api(adapter.api_client)
    core = k8s_client.CoreV1Api(adapter.api_client)
    apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})
    core.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "debug"}})
    core.patch_namespaced_secret("db", "shop", {"data": {"password": base64.b64encode(b"changed").decode()}})
    core.delete_namespaced_service("web", "shop")
    live = read_live(adapter)
    before = reconcile(APP, synced.objects, live)
    assert before.resources[ResourceKey("apps", "Deployment", "shop", "web")].status is SyncStatus.OUT_OF_SYNC
    assert before.resources[ResourceKey("", "Service", "shop", "web")].status is SyncStatus.MISSING

    result = sync_app(adapter, APP, synced, live)
    assert actions_of(result) == {
        ResourceKey("", "Namespace", "", "shop"): ResourceAction.UNCHANGED,
        ResourceKey("", "ConfigMap", "shop", "web-config"): ResourceAction.CONFIGURED,
        ResourceKey("", "Secret", "shop", "db"): ResourceAction.CONFIGURED,
        ResourceKey("", "Service", "shop", "web"): ResourceAction.CREATED,
        ResourceKey("apps", "Deployment", "shop", "web"): ResourceAction.CONFIGURED,
        ResourceKey("apps", "StatefulSet", "shop", "db"): ResourceAction.UNCHANGED,
    }
    messages = {outcome.key.kind: outcome.message for outcome in result.outcomes}
    assert "/spec/replicas" in messages["Deployment"]
    assert messages["Secret"] == "changed /data/password"
    assert drift_after(APP, synced, adapter) == {}
    assert reconcile(APP, synced.objects, read_live(adapter)).sync is AppSync.SYNCED


def test_sync_removes_what_git_no_longer_sets(adapter: ClusterAdapter, synced: DesiredState) -> None:
    trimmed = deployment()
    del trimmed["spec"]["template"]["spec"]["containers"][0]["env"]
    desired = desired_state(*[obj for obj in synced.objects.values() if obj["kind"] != "Deployment"], trimmed)
    key = ResourceKey.of(trimmed)
    before = reconcile(APP, desired.objects, read_live(adapter)).resources[key]
    assert [change.path for change in before.changes] == ["/spec/template/spec/containers/0/env"]

    result = sync_app(adapter, APP, desired, read_live(adapter))
    assert actions_of(result)[key] is ResourceAction.CONFIGURED
    assert "env" not in read_live(adapter)[key]["spec"]["template"]["spec"]["containers"][0]
    assert drift_after(APP, desired, adapter) == {}


def test_sync_applies_in_order_with_tracking(adapter: ClusterAdapter, sandbox: SandboxThread) -> None:
    sandbox.faults.clear_request_log()
    sync_app(adapter, APP, desired_state(*app_objects()), {})
    applied = [record.path.split("/")[-2] for record in writes(sandbox)]
    assert applied == ["namespaces", "configmaps", "secrets", "services", "deployments", "statefulsets"]
    assert all(record.query.get("fieldManager") == "kubedrift" for record in writes(sandbox))
    live = read_live(adapter)
    for key in desired_state(*app_objects()).objects:
        metadata = live[key]["metadata"]
        assert metadata["labels"][TRACKING_LABEL] == "kubedrift", key
        assert metadata["annotations"][TRACKING_ANNOTATION] == key.tracking_id("shop"), key


def test_sync_keeps_ignored_fields_at_their_live_value(adapter: ClusterAdapter) -> None:
    ignore = IgnoreDifference(kind="Deployment", group="apps", json_pointers=("/spec/replicas",))
    app = dataclasses.replace(APP, ignore_differences=(ignore,))
    desired = desired_state(*app_objects())
    sync_app(adapter, app, desired, read_live(adapter))
    k8s_client.AppsV1Api(adapter.api_client).patch_namespaced_deployment_scale(
        "web", "shop", {"spec": {"replicas": 7}}
    )
    key = ResourceKey("apps", "Deployment", "shop", "web")
    assert reconcile(app, desired.objects, read_live(adapter)).resources[key].status is SyncStatus.SYNCED

    result = sync_app(adapter, app, desired, read_live(adapter))
    assert actions_of(result)[key] is ResourceAction.UNCHANGED
    assert read_live(adapter)[key]["spec"]["replicas"] == 7
    assert drift_after(app, desired, adapter) == {}


def test_dry_run_writes_nothing_and_says_what_would_happen(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    desired = desired_state(*app_objects())
    sandbox.faults.clear_request_log()
    result = sync_app(adapter, APP, desired, read_live(adapter), dry_run=True)
    assert result.dry_run is True
    assert set(actions_of(result).values()) == {ResourceAction.CREATED}
    assert not result.failed
    assert writes(sandbox) and all(record.query.get("dryRun") == "All" for record in writes(sandbox))
    live = read_live(adapter)
    assert not any(key in live for key in desired.objects)


def test_dry_run_reports_configured_without_changing_it(
    adapter: ClusterAdapter, synced: DesiredState
) -> None:
    changed = copy.deepcopy(synced.objects[ResourceKey("", "ConfigMap", "shop", "web-config")])
    changed["data"]["LOG_LEVEL"] = "warn"
    desired = desired_state(*[obj for obj in synced.objects.values() if obj["kind"] != "ConfigMap"], changed)
    result = sync_app(adapter, APP, desired, read_live(adapter), dry_run=True)
    key = ResourceKey("", "ConfigMap", "shop", "web-config")
    assert actions_of(result)[key] is ResourceAction.CONFIGURED
    assert [o.message for o in result.outcomes if o.key == key] == ["would change /data/LOG_LEVEL"]
    assert read_live(adapter)[key]["data"] == {"LOG_LEVEL": "info"}


def test_one_bad_resource_fails_alone(adapter: ClusterAdapter) -> None:
    invalid = deployment()
    invalid["metadata"]["name"] = "broken"
    invalid["spec"]["replicas"] = -1
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
    }
    desired = desired_state(namespace(), configmap(), invalid, widget, service())
    result = sync_app(adapter, APP, desired, read_live(adapter))
    outcomes = {
        outcome.key.name if outcome.key.kind != "Namespace" else "ns": outcome for outcome in result.outcomes
    }
    assert outcomes["broken"].action is ResourceAction.FAILED
    assert "spec.replicas" in outcomes["broken"].message and "Invalid value" in outcomes["broken"].message
    assert outcomes["w"].action is ResourceAction.SKIPPED
    assert "Widget.example.com" in outcomes["w"].message
    assert {outcomes[name].action for name in ("ns", "web-config", "web")} == {ResourceAction.CREATED}
    assert result.failed


def test_read_only_makes_no_mutating_request(
    read_only_adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    desired = desired_state(*app_objects())
    live = read_live(read_only_adapter)
    sandbox.faults.clear_request_log()
    with pytest.raises(ReadOnlyError, match="read-only"):
        sync_app(read_only_adapter, APP, desired, live)
    with pytest.raises(ReadOnlyError, match="read-only"):
        sync_app(read_only_adapter, APP, desired, live, dry_run=True)
    with pytest.raises(ReadOnlyError, match="read-only"):
        prune_app(read_only_adapter, APP, desired, live)
    assert writes(sandbox) == []


# Prune.


def test_prune_deletes_tracked_leftovers_and_keeps_the_rest(
    adapter: ClusterAdapter, sandbox: SandboxThread, synced: DesiredState
) -> None:
    leftovers = [
        tracked(configmap("old-config")),
        # A whole kind Git no longer has: found because its objects carry the app's tracking id.
        tracked(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "old", "namespace": "shop"}}
        ),
    ]
    kept = [
        configmap("bystander"),
        tracked(configmap("pinned"), **{"kubedrift.io/prune": "false"}),
        tracked(
            configmap("argo-pinned"),
            **{"argocd.argoproj.io/sync-options": "ServerSideApply=true,Prune=false"},
        ),
        tracked(configmap("other-app"), app="billing"),
    ]
    for obj in leftovers + kept:
        adapter.apply(obj)
    sandbox.faults.clear_request_log()

    result = sync_app(adapter, APP, synced, read_live(adapter), prune=True)
    by_name = {outcome.key.name: outcome for outcome in result.outcomes}
    assert by_name["old-config"].action is ResourceAction.PRUNED
    assert by_name["old"].action is ResourceAction.PRUNED
    assert by_name["pinned"].action is ResourceAction.SKIPPED
    assert by_name["argo-pinned"].action is ResourceAction.SKIPPED
    assert "bystander" not in by_name and "other-app" not in by_name
    deletes = [record for record in writes(sandbox) if record.method == "DELETE"]
    assert sorted(record.path.rsplit("/", 1)[1] for record in deletes) == ["old", "old-config"]

    live = read_live(adapter)
    for obj in leftovers:
        gone = live.get(ResourceKey.of(obj))
        # Foreground deletion waits for the garbage collector, which this sandbox does not run.
        assert gone is None or gone["metadata"].get("deletionTimestamp"), gone
    for obj in kept:
        assert not live[ResourceKey.of(obj)]["metadata"].get("deletionTimestamp")


def test_prune_leaves_an_object_recreated_since_it_was_seen(
    adapter: ClusterAdapter, synced: DesiredState
) -> None:
    adapter.apply(tracked(configmap("old-config")))
    seen = read_live(adapter)
    key = ResourceKey("", "ConfigMap", "shop", "old-config")
    adapter.delete(adapter.resource_for("", "ConfigMap"), "shop", "old-config", propagation="Background")
    adapter.apply(tracked(configmap("old-config")))

    outcomes = prune_app(adapter, APP, synced, seen)
    assert [(o.key, o.action) for o in outcomes] == [(key, ResourceAction.SKIPPED)]
    assert "re-created" in outcomes[0].message
    assert not read_live(adapter)[key]["metadata"].get("deletionTimestamp")


def test_prune_dry_run_deletes_nothing(adapter: ClusterAdapter, synced: DesiredState) -> None:
    adapter.apply(tracked(configmap("old-config")))
    outcomes = prune_app(adapter, APP, synced, read_live(adapter), dry_run=True)
    assert [(o.key.name, o.action) for o in outcomes] == [("old-config", ResourceAction.PRUNED)]
    assert not read_live(adapter)[ResourceKey("", "ConfigMap", "shop", "old-config")]["metadata"].get(
        "deletionTimestamp"
    )


def test_failed_render_never_prunes(
    adapter: ClusterAdapter, sandbox: SandboxThread, synced: DesiredState
) -> None:
    adapter.apply(tracked(configmap("old-config")))
    broken = DesiredState(REVISION, synced.objects, ("apps/shop/web.yaml:4: mapping values are not allowed",))
    live = read_live(adapter)
    sandbox.faults.clear_request_log()
    with pytest.raises(PruneRefused, match=re.escape("apps/shop/web.yaml:4")):
        prune_app(adapter, APP, broken, live)
    with pytest.raises(PruneRefused, match="failed to render"):
        sync_app(adapter, APP, broken, live, prune=True)
    assert writes(sandbox) == []


def test_empty_app_refuses_to_prune(
    adapter: ClusterAdapter, sandbox: SandboxThread, synced: DesiredState
) -> None:
    live = read_live(adapter)
    sandbox.faults.clear_request_log()
    with pytest.raises(PruneRefused, match="no objects for app 'shop'"):
        prune_app(adapter, APP, desired_state(), live)
    assert writes(sandbox) == []


# Audit.


def test_audit_of_a_real_sync_holds_no_secret_value(adapter: ClusterAdapter, tmp_path: Path) -> None:
    bad_secret = secret()
    bad_secret["metadata"]["name"] = "bad"
    # An invalid label value is quoted back in the 422; here it is the Secret's own value.
    bad_secret["metadata"]["labels"] = {"leak": SECRET_PLAIN + "!"}
    desired = desired_state(*app_objects(), bad_secret)
    result = sync_app(adapter, APP, desired, read_live(adapter))
    path = tmp_path / "audit.jsonl"
    append_audit(result, app="shop", operation="sync", user="ops", path=path)
    text = path.read_text()
    line = json.loads(text)
    assert {r["name"]: r["action"] for r in line["results"]}["bad"] == "failed"
    assert SECRET_PLAIN not in text
    assert base64.b64encode(SECRET_PLAIN.encode()).decode() not in text
    bad = {r["name"]: r["message"] for r in line["results"]}["bad"]
    assert bad == "the server's message was hidden because it quoted a Secret value (422 Invalid)"
