"""What the cache keeps of an object (core.live_projection): the verdict and health of the whole one.

Health must read the same from a cut-down object as from the whole: `HEALTH_SPEC_FIELDS` names the
spec fields each rule reads, and these tests hold it to the rules over Argo CD's own test objects and
a grid of built-in objects; dropping a field from the table fails them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.drift.rules import rules_for
from core.health import HEALTH_SPEC_FIELDS, health_of
from core.live_cache import LiveCache, LiveEvent
from core.live_projection import compacted, health_projection, may_compact, may_cut_down
from core.model import IgnoreDifference, ResourceKey

ARGO_CASES = Path(__file__).parents[1] / "fixtures" / "health" / "argo"
Obj = dict[str, Any]


def _argo_objects() -> Iterator[Obj]:
    for path in sorted(ARGO_CASES.glob("*.yaml")):
        for case in yaml.safe_load_all(path.read_text()):
            if isinstance(case, dict) and isinstance(case.get("object"), dict):
                yield case["object"]


_STATUSES: list[Obj] = [
    {},
    {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    },
    {
        "observedGeneration": 2,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
    },
    {
        "observedGeneration": 2,
        "replicas": 3,
        "currentReplicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "desiredNumberScheduled": 3,
        "updatedNumberScheduled": 1,
        "numberAvailable": 1,
        "currentRevision": "a",
        "updateRevision": "b",
    },
    {"phase": "Running", "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0}]},
    {
        "phase": "Running",
        "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
    },
    {"phase": "Failed"},
    {"phase": "Succeeded"},
    {"loadBalancer": {}},
    {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}},
]
_SPECS: dict[tuple[str, str], list[Obj]] = {
    ("apps", "Deployment"): [{"replicas": 3}, {"replicas": 1}, {"paused": True}, {}],
    ("apps", "StatefulSet"): [
        {"replicas": 3},
        {"replicas": 1, "updateStrategy": {"type": "OnDelete"}},
        {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
    ],
    ("apps", "DaemonSet"): [{"updateStrategy": {"type": "OnDelete"}}, {}],
    ("apps", "ReplicaSet"): [{"replicas": 3}, {"replicas": 1}, {}],
    ("", "Pod"): [{"restartPolicy": "Never"}, {"restartPolicy": "OnFailure"}, {}],
    ("", "Service"): [{"type": "LoadBalancer"}, {"type": "ClusterIP"}],
}


def _grid() -> Iterator[Obj]:
    for (group, kind), specs in _SPECS.items():
        for spec, status in itertools.product(specs, _STATUSES):
            yield {
                "apiVersion": f"{group}/v1" if group else "v1",
                "kind": kind,
                "metadata": {"name": "x", "namespace": "n", "generation": 2},
                "spec": {**spec, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
                "status": status,
            }


CORPUS = [*_argo_objects(), *_grid()]


def _key(obj: Obj) -> ResourceKey:
    return ResourceKey.of(obj)


def _without_spec(obj: Obj) -> Obj:
    return {name: value for name, value in obj.items() if name != "spec"}


@pytest.mark.parametrize("obj", CORPUS, ids=lambda obj: f"{obj['kind']}")
def test_health_of_a_cut_down_object_is_the_whole_objects(obj: Obj) -> None:
    key = _key(obj)
    assert health_of(health_projection(obj, key)) == health_of(obj)
    # Compacted against a desired object that names nothing of the spec (replicas left to an HPA).
    assert health_of(compacted(obj, _without_spec(obj), key)) == health_of(obj)


def test_the_corpus_needs_every_spec_field_the_table_names() -> None:
    """Without the table's fields the corpus reads other health: it exercises each of them."""
    for (group, kind), fields in HEALTH_SPEC_FIELDS.items():
        objects = [obj for obj in CORPUS if (_key(obj).group, _key(obj).kind) == (group, kind)]
        assert objects, f"no {kind} in the corpus"
        for field in fields:
            blind = [
                obj
                for obj in objects
                if health_of({**obj, "spec": {k: v for k, v in obj.get("spec", {}).items() if k != field}})
                != health_of(obj)
            ]
            assert blind, f"no {kind} in the corpus whose health reads spec.{field}"


def test_compacted_keeps_own_metadata_and_status_and_shares_desireds_sections() -> None:
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}},
    }
    live = {
        **desired,
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7", "uid": "u"},
        "spec": {
            "replicas": 4,
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "spec": {"dnsPolicy": "ClusterFirst", "containers": [{"name": "web", "image": "web:1"}]}
            },
        },
        "status": {"replicas": 4},
    }
    kept = compacted(live, desired, _key(desired))
    assert kept["metadata"] is live["metadata"] and kept["status"] is live["status"]
    assert kept["spec"]["template"] is desired["spec"]["template"]  # shared, not copied
    assert kept["spec"]["replicas"] == 4 and "strategy" not in kept["spec"]


def test_what_may_be_cut_down() -> None:
    web = ResourceKey("apps", "Deployment", "shop", "web")
    secret = ResourceKey("", "Secret", "shop", "db")
    crd = ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "x.example.com")
    assert may_cut_down(web, None) and not may_cut_down(secret, None) and not may_cut_down(crd, None)
    assert may_compact(web, rules_for(web), None)
    ignoring = (IgnoreDifference(kind="Deployment", group="apps", json_pointers=("/spec/replicas",)),)
    assert not may_compact(web, rules_for(web, ignoring), None)

    class LuaChecks:
        def check_for(self, group: str, kind: str) -> Any:
            return health_of if kind == "Deployment" else None

    assert not may_cut_down(web, LuaChecks())


def test_a_stale_key_takes_the_next_version_whatever_its_resource_version() -> None:
    cache = LiveCache(cut_down=lambda key: True)
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "3"},
        "data": {},
    }
    key = _key(obj)
    assert cache.apply(LiveEvent(key, obj))
    assert cache.is_cut_down(key) and "data" not in (cache.get(key) or {})
    assert not cache.apply(LiveEvent(key, obj))  # the same version again changes nothing
    cache.mark_stale([key])
    cache.cut_down = None
    assert cache.apply(LiveEvent(key, obj))
    assert not cache.is_cut_down(key) and cache.get(key) is obj
    events = cache.replace_kind("", "ConfigMap", [obj])
    assert events == []  # a relist of the same version: nothing to say
    cache.mark_stale([key])
    assert [event.key for event in cache.replace_kind("", "ConfigMap", [obj])] == [key]
