"""Reconciliation: per-resource verdicts, the app roll-up, and the incremental form matching the whole."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import yaml

from core.model import (
    App,
    AppSync,
    Health,
    IgnoreDifference,
    ResourceKey,
    Source,
    SyncStatus,
    TrackingMethod,
)
from core.reconcile import AppReconciler, reconcile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "drift"
APP = App(name="shop", source=Source(repo_url="/repo", path="apps/shop"))


def pair(base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        yaml.safe_load((FIXTURES / base / "desired.yaml").read_text()),
        yaml.safe_load((FIXTURES / base / "live.yaml").read_text()),
    )


def keyed(*objs: dict[str, Any]) -> dict[ResourceKey, dict[str, Any]]:
    return {ResourceKey.of(obj): obj for obj in objs}


def tracked_configmap(
    name: str, app: str = "shop", annotation: str = "kubedrift.io/tracking-id"
) -> dict[str, Any]:
    key = ResourceKey("", "ConfigMap", "shop", name)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop", "annotations": {annotation: key.tracking_id(app)}},
        "data": {"a": "b"},
    }


def test_synced_app_is_synced_and_healthy() -> None:
    bases = ["deployment-defaults", "service-defaults", "configmap", "secret-stringdata", "ingress-defaults"]
    desired, live = zip(*(pair(base) for base in bases), strict=True)
    result = reconcile(APP, keyed(*desired), keyed(*live))
    assert result.sync is AppSync.SYNCED
    assert result.health is Health.HEALTHY
    assert {r.status for r in result.resources.values()} == {SyncStatus.SYNCED}
    assert all(not r.changes for r in result.resources.values())


def test_missing_resource_makes_the_app_out_of_sync_and_missing() -> None:
    deployment, deployment_live = pair("deployment-defaults")
    service, _ = pair("service-defaults")
    result = reconcile(APP, keyed(deployment, service), keyed(deployment_live))
    service_result = result.resources[ResourceKey.of(service)]
    assert service_result.status is SyncStatus.MISSING
    assert service_result.health.status is Health.MISSING
    assert result.sync is AppSync.OUT_OF_SYNC
    assert result.health is Health.MISSING


def test_out_of_sync_carries_its_changes() -> None:
    desired, live = pair("deployment-defaults")
    live["spec"]["replicas"] = 9
    result = reconcile(APP, keyed(desired), keyed(live))
    verdict = result.resources[ResourceKey.of(desired)]
    assert verdict.status is SyncStatus.OUT_OF_SYNC
    assert [c.to_json() for c in verdict.changes] == [{"path": "/spec/replicas", "desired": 3, "live": 9}]
    assert verdict.to_json()["version"] == "v1" and verdict.to_json()["group"] == "apps"


def test_extraneous_only_for_objects_tracked_by_this_app() -> None:
    leftover = tracked_configmap("leftover")
    bystander = tracked_configmap("bystander")
    del bystander["metadata"]["annotations"]
    other_app = tracked_configmap("other", app="billing")
    copied = tracked_configmap("copied")
    copied["metadata"]["name"] = "copied-elsewhere"  # a copied annotation names another object
    result = reconcile(APP, {}, keyed(leftover, bystander, other_app, copied))
    assert {str(key.name): r.status for key, r in result.resources.items()} == {
        "leftover": SyncStatus.EXTRANEOUS
    }
    assert result.sync is AppSync.OUT_OF_SYNC


def test_argocd_tracking_reads_argocd_annotation() -> None:
    app = App(name="shop", source=APP.source, tracking=TrackingMethod.ARGOCD)
    ours = tracked_configmap("leftover", annotation="argocd.argoproj.io/tracking-id")
    theirs = tracked_configmap("kubedrift-only")
    result = reconcile(app, {}, keyed(ours, theirs))
    assert [key.name for key in result.resources] == ["leftover"]


def test_failed_render_never_marks_leftovers_extraneous() -> None:
    leftover = tracked_configmap("leftover")
    result = reconcile(APP, {}, keyed(leftover), render_ok=False)
    verdict = result.resources[ResourceKey.of(leftover)]
    assert verdict.status is SyncStatus.UNKNOWN
    assert "render" in verdict.reason
    assert result.sync is AppSync.UNKNOWN


def test_forbidden_kind_is_unknown_and_the_rest_is_judged() -> None:
    deployment, deployment_live = pair("deployment-defaults")
    secret, _ = pair("secret-stringdata")
    reason = 'secrets is forbidden: User "dev" cannot list resource "secrets" in namespace "shop"'
    result = reconcile(
        APP, keyed(deployment, secret), keyed(deployment_live), unknown_kinds={("", "Secret"): reason}
    )
    assert result.resources[ResourceKey.of(secret)].status is SyncStatus.UNKNOWN
    assert result.resources[ResourceKey.of(secret)].reason == reason
    assert result.resources[ResourceKey.of(deployment)].status is SyncStatus.SYNCED
    assert result.sync is AppSync.UNKNOWN
    assert result.health is Health.UNKNOWN


def test_each_kind_that_leaves_resources_unknown_is_one_error_line() -> None:
    deployment, deployment_live = pair("deployment-defaults")
    secret, _ = pair("secret-stringdata")
    reconciler = AppReconciler(APP)
    reconciler.set_desired(
        keyed(deployment, secret, tracked_configmap("a"), tracked_configmap("b")), render_ok=True
    )
    reconciler.live_changed(ResourceKey.of(deployment), deployment_live)
    assert reconciler.kind_errors() == []
    failing = "listing configmaps failed: Internal error occurred: injected fault (500 InternalError)"
    reconciler.set_kind_unknown("", "ConfigMap", failing, forbidden=False)
    reconciler.set_kind_unknown("", "Secret", 'secrets is forbidden: User "dev" cannot list "secrets"')
    reconciler.set_kind_unknown("batch", "Job", "listing jobs failed: boom", forbidden=False)

    assert reconciler.kind_errors() == [
        f"ConfigMap: {failing}",  # once, for its two resources
        'Secret: secrets is forbidden: User "dev" cannot list "secrets"',
    ], "and none for a kind the app has no resource of"

    reconciler.set_kind_unknown("apps", "Deployment", "listing deployments failed: boom", forbidden=False)
    assert "Deployment.apps: listing deployments failed: boom" in reconciler.kind_errors()
    reconciler.set_cluster_unknown("cannot reach the cluster")
    assert reconciler.kind_errors() == [], "the cluster's own error says why"
    reconciler.set_cluster_unknown(None)
    for group, kind in (("", "ConfigMap"), ("", "Secret"), ("apps", "Deployment")):
        reconciler.set_kind_unknown(group, kind, None)
    assert reconciler.kind_errors() == []


def test_ignore_differences_apply_per_app() -> None:
    desired, live = pair("deployment-defaults")
    live["spec"]["replicas"] = 9
    app = App(
        name="shop",
        source=APP.source,
        ignore_differences=(
            IgnoreDifference(kind="Deployment", group="apps", json_pointers=("/spec/replicas",)),
        ),
    )
    assert reconcile(app, keyed(desired), keyed(live)).sync is AppSync.SYNCED


def test_live_event_recomputes_only_and_reports_change() -> None:
    desired, live = pair("deployment-defaults")
    reconciler = AppReconciler(APP)
    reconciler.set_desired(keyed(desired), render_ok=True)
    key = ResourceKey.of(desired)
    first = reconciler.live_changed(key, live)
    assert first is not None and first.status is SyncStatus.SYNCED
    assert reconciler.live_changed(key, copy.deepcopy(live)) is None, "an unchanged verdict is not reported"
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 1
    changed = reconciler.live_changed(key, scaled)
    assert changed is not None and changed.status is SyncStatus.OUT_OF_SYNC
    deleted = reconciler.live_changed(key, None)
    assert deleted is not None and deleted.status is SyncStatus.MISSING
    assert reconciler.sync is AppSync.OUT_OF_SYNC and reconciler.health is Health.MISSING


def test_untracked_live_objects_are_not_stored() -> None:
    reconciler = AppReconciler(APP)
    bystander = tracked_configmap("bystander")
    del bystander["metadata"]["annotations"]
    assert reconciler.live_changed(ResourceKey.of(bystander), bystander) is None
    assert reconciler.live == {}


def test_incremental_matches_whole_app_reconcile_after_random_events() -> None:
    rng = random.Random(20261126)
    deployment, deployment_live = pair("deployment-defaults")
    service, service_live = pair("service-defaults")
    configmap, configmap_live = pair("configmap")
    leftovers = [tracked_configmap(f"left-{i}") for i in range(3)]
    desired_choices = [
        keyed(deployment, service, configmap),
        keyed(deployment),
        keyed(service, configmap),
        {},
    ]
    live_variants: list[dict[str, Any] | None] = []
    for obj in (deployment_live, service_live, configmap_live, *leftovers):
        drifted = copy.deepcopy(obj)
        drifted["metadata"].setdefault("labels", {})["tier"] = "changed"
        live_variants += [obj, drifted]

    reconciler = AppReconciler(APP)
    live_now: dict[ResourceKey, dict[str, Any]] = {}
    desired_now: dict[ResourceKey, dict[str, Any]] = {}
    render_ok = True
    for _ in range(300):
        roll = rng.random()
        if roll < 0.15:
            desired_now = dict(rng.choice(desired_choices))
            render_ok = rng.random() > 0.2
            reconciler.set_desired(desired_now, render_ok=render_ok)
        else:
            obj = rng.choice(live_variants)
            assert obj is not None
            key = ResourceKey.of(obj)
            if rng.random() < 0.3:
                live_now.pop(key, None)
                reconciler.live_changed(key, None)
            else:
                live_now[key] = obj
                reconciler.live_changed(key, obj)
        whole = reconcile(APP, desired_now, live_now, render_ok=render_ok)
        assert reconciler.result() == whole
