"""Drift rule 7 for fields Git dropped: the server's defaulting puts some back at once, so a sync
changes only what differs from the live value."""

from __future__ import annotations

import copy
from typing import Any

from core.drift.comparator import diff
from core.drift.compiled import compile_checker
from core.drift.rules import rules_for
from core.model import ResourceKey

KUBEDRIFT_OWNS = {
    "f:spec": {
        "f:replicas": {},
        "f:revisionHistoryLimit": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}, "f:imagePullPolicy": {}}
                }
            },
        },
    }
}


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1.2"}]},
            },
            **spec,
        },
    }


def live_of(applied: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`applied` as the server stores it after kubedrift's apply (defaults in), then `changes`."""
    live = copy.deepcopy(applied)
    spec = live["spec"]
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault(
        "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    )
    container = spec["template"]["spec"]["containers"][0]
    container.setdefault("imagePullPolicy", "IfNotPresent")
    spec.update(changes)
    live["metadata"]["managedFields"] = [
        {"manager": "kubedrift", "operation": "Apply", "apiVersion": "apps/v1", "fieldsV1": KUBEDRIFT_OWNS}
    ]
    return live


def paths(desired: dict[str, Any], live: dict[str, Any]) -> list[str]:
    rules = rules_for(ResourceKey.of(desired))
    drift = diff(desired, live, rules)
    assert compile_checker(desired, rules).drift(live) == drift, "the fast path agrees"
    return [change.path for change in drift.changes]


def test_dropping_a_value_equal_to_its_default_changes_nothing() -> None:
    # kubedrift applied revisionHistoryLimit: 10 and imagePullPolicy: IfNotPresent; Git drops both.
    applied = deployment(revisionHistoryLimit=10)
    applied["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    assert paths(deployment(), live_of(applied)) == []


def test_dropping_a_value_the_default_differs_from_is_drift_at_that_value() -> None:
    applied = deployment(revisionHistoryLimit=3)
    applied["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    live = live_of(applied)
    desired = deployment()
    drift = diff(desired, live, rules_for(ResourceKey.of(desired)))
    by_path = {change.path: change for change in drift.changes}
    assert set(by_path) == {"/spec/revisionHistoryLimit", "/spec/template/spec/containers/0/imagePullPolicy"}
    # The desired side is what the sync leaves: the server's default.
    assert (by_path["/spec/revisionHistoryLimit"].desired, by_path["/spec/revisionHistoryLimit"].live) == (
        10,
        3,
    )
    pull_policy = by_path["/spec/template/spec/containers/0/imagePullPolicy"]
    assert (pull_policy.desired, pull_policy.live) == ("IfNotPresent", "Always")


def test_a_dropped_struct_is_drift_at_the_leaves_the_default_changes() -> None:
    custom = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}}
    applied = deployment(strategy=custom)
    owns = copy.deepcopy(KUBEDRIFT_OWNS)
    owns["f:spec"]["f:strategy"] = {
        "f:type": {},
        "f:rollingUpdate": {"f:maxSurge": {}, "f:maxUnavailable": {}},
    }
    live = live_of(applied)
    live["metadata"]["managedFields"][0]["fieldsV1"] = owns
    assert paths(deployment(), live) == ["/spec/strategy/rollingUpdate/maxSurge"]


def test_a_field_without_a_default_is_a_plain_removal() -> None:
    applied = deployment(minReadySeconds=5)
    owns = copy.deepcopy(KUBEDRIFT_OWNS)
    owns["f:spec"]["f:minReadySeconds"] = {}
    live = live_of(applied)
    live["metadata"]["managedFields"][0]["fieldsV1"] = owns
    desired = deployment()
    (change,) = diff(desired, live, rules_for(ResourceKey.of(desired))).changes
    assert (change.path, change.desired, change.live) == ("/spec/minReadySeconds", None, 5)
