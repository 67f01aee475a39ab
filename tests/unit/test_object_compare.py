"""Whole-object comparisons (DeepDiff): revision to revision, and live against a server dry run."""

from __future__ import annotations

import copy
from typing import Any

from core.drift.object_compare import DeltaKind, compare_revisions, dry_run_changes
from core.model import SECRET_MASK, TRACKING_ANNOTATION, TRACKING_LABEL, ResourceKey


def deployment(name: str, replicas: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def by_key(*objs: dict[str, Any]) -> dict[ResourceKey, dict[str, Any]]:
    return {ResourceKey.of(obj): obj for obj in objs}


def test_revisions_report_added_removed_and_changed_objects() -> None:
    old = by_key(deployment("web", 2, "web:1"), deployment("worker", 1, "worker:1"))
    new = by_key(deployment("web", 3, "web:2"), deployment("api", 1, "api:1"))
    deltas = {delta.key.name: delta for delta in compare_revisions(old, new)}
    assert deltas["api"].kind is DeltaKind.ADDED
    assert deltas["worker"].kind is DeltaKind.REMOVED
    assert deltas["web"].kind is DeltaKind.CHANGED
    assert [c.to_json() for c in deltas["web"].changes] == [
        {"path": "/spec/replicas", "desired": 3, "live": 2},
        {"path": "/spec/template/spec/containers/0/image", "desired": "web:2", "live": "web:1"},
    ]


def test_unchanged_objects_are_not_reported() -> None:
    same = by_key(deployment("web", 2, "web:1"))
    assert compare_revisions(same, copy.deepcopy(same)) == []


def test_secret_changes_between_revisions_are_masked() -> None:
    old = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "b2xk"}}
    new = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"k": "bmV3", "n": "eA=="},
    }
    (delta,) = compare_revisions(by_key(old), by_key(new))
    assert {(c.path, c.desired, c.live) for c in delta.changes} == {
        ("/data/k", SECRET_MASK, SECRET_MASK),
        ("/data/n", SECRET_MASK, None),
    }
    assert all(change.secret for change in delta.changes)


def test_dry_run_ignores_what_the_server_rewrites() -> None:
    live = deployment("web", 2, "web:1")
    live["metadata"].update(resourceVersion="10", generation=1, managedFields=[{"manager": "kubectl"}])
    dry = copy.deepcopy(live)
    dry["metadata"].update(resourceVersion="11", generation=2, managedFields=[{"manager": "kubedrift"}])
    assert dry_run_changes(live, dry) == ()
    dry["spec"]["replicas"] = 4
    assert [c.to_json() for c in dry_run_changes(live, dry)] == [
        {"path": "/spec/replicas", "desired": 4, "live": 2}
    ]


def test_a_dry_run_that_only_adds_tracking_or_drops_last_applied_changes_nothing() -> None:
    # Drift rule 7: check never compares these, so a sync that writes only them changes nothing.
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "web",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "data": {"a": "b"},
    }
    answer = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "web",
            "labels": {TRACKING_LABEL: "kubedrift"},
            "annotations": {TRACKING_ANNOTATION: "demo:/ConfigMap:default/web"},
        },
        "data": {"a": "b"},
    }
    assert dry_run_changes(live, answer) == ()
    changed = {
        **answer,
        "metadata": {**answer["metadata"], "labels": {TRACKING_LABEL: "kubedrift", "x": "1"}},
    }
    assert [change.path for change in dry_run_changes(live, changed)] == ["/metadata/labels"]
