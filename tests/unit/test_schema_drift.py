"""The comparator takes each kind's structure from its schema (DESIGN "Drift rules"), with the
schema source: official definitions, CRD schemas for custom resources, values for unknown kinds."""

from __future__ import annotations

from typing import Any

from core.drift.comparator import diff
from core.drift.compiled import compile_checker
from core.drift.rules import rules_for
from core.drift.schema_source import OfficialSchemaSource, default_schema_source
from core.model import App, ResourceKey, Source
from core.reconcile import AppReconciler

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "parts": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "name": {"type": "string"},
                                                "size": {"x-kubernetes-int-or-string": True},
                                                "memory": {
                                                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                                                    "x-kubernetes-int-or-string": True,
                                                },
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def widget(*parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"parts": list(parts)},
    }


def test_a_crd_schema_keys_its_lists() -> None:
    desired = widget({"name": "a", "size": 1})
    live = widget({"name": "other"}, {"name": "a", "size": 1})
    key = ResourceKey.of(desired)
    typed = rules_for(key, version="v1", source=OfficialSchemaSource(crds=[CRD]))
    assert not diff(desired, live, typed)  # keyed by name: another manager's element is left alone
    assert compile_checker(desired, typed).drift(live) == diff(desired, live, typed)
    # Without its CRD the kind is unknown: deduced from values, lists atomic.
    untyped = rules_for(key, version="v1")
    assert [c.path for c in diff(desired, live, untyped).changes] == [
        "/spec/parts/0/name",
        "/spec/parts/0/size",
        "/spec/parts/1",
    ]


def test_the_reconciler_types_custom_resources_by_the_apps_crds() -> None:
    app = App(name="shop", source=Source(repo_url="/repo", path="apps/shop"))
    reconciler = AppReconciler(app)
    desired = widget({"name": "a"})
    live = widget({"name": "other"}, {"name": "a"})
    reconciler.set_desired({ResourceKey.of(CRD): CRD, ResourceKey.of(desired): desired}, render_ok=True)
    rules = reconciler.rules_for(ResourceKey.of(desired), desired)
    assert not diff(desired, live, rules)


def test_unknown_kinds_fall_back_to_values() -> None:
    assert default_schema_source().kind_type("example.com", "v1", "Nothing") is None
    desired = {
        "apiVersion": "example.com/v1",
        "kind": "Nothing",
        "metadata": {"name": "n"},
        "spec": {"a": ""},
    }
    live = {"apiVersion": "example.com/v1", "kind": "Nothing", "metadata": {"name": "n"}, "spec": {}}
    # In an untyped object an empty string is a value, as the API server stores it.
    assert [c.path for c in diff(desired, live).changes] == ["/spec/a"]


def test_quantities_wherever_the_schema_says_so() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "l", "namespace": "default"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": 0.5, "memory": "1Gi"}}]},
    }
    live = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "l", "namespace": "default"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m", "memory": "1073741824"}}]},
    }
    assert not diff(desired, live)


def test_empty_strings_are_values_in_maps_and_defaults_in_structs() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default", "labels": {"flag": ""}},
        "spec": {"clusterIP": "", "type": "", "ports": [{"port": 80}]},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default", "labels": {}},
        "spec": {"clusterIP": "10.0.0.1", "type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}]},
    }
    assert [c.path for c in diff(desired, live).changes] == ["/metadata/labels/flag"]


def test_keyed_list_order_is_drift_at_the_list_but_others_elements_are_not() -> None:
    def deployment(*env: dict[str, Any]) -> dict[str, Any]:
        container = {"name": "app", "image": "app:1", "env": list(env)}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [container]}}},
        }

    a, b, c = ({"name": n, "value": n} for n in "abc")
    desired = deployment(a, b)
    assert not diff(desired, deployment(a, c, b))
    assert [ch.path for ch in diff(desired, deployment(b, a)).changes] == [
        "/spec/template/spec/containers/0/env"
    ]


def _managed(manager: str, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsV1": fields}


def test_an_atomic_selector_replaced_by_another_manager_is_compared_whole() -> None:
    # LabelSelector is `x-kubernetes-map-type: atomic`: while kubedrift owns it, a live-only part
    # is the server's; once another manager replaced it, a sync replaces it back.
    desired: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}},
    }
    live_spec = {"selector": {"matchLabels": {"app": "d"}, "matchExpressions": []}}
    owned = {"f:spec": {"f:selector": {}}}
    live = {**desired, "spec": live_spec, "metadata": {**desired["metadata"], "managedFields": []}}
    live["metadata"]["managedFields"] = [_managed("kubedrift", "Apply", owned)]
    assert not diff(desired, live)
    replaced = {
        **live,
        "spec": {
            "selector": {
                "matchLabels": {"app": "d"},
                "matchExpressions": [{"key": "x", "operator": "Exists"}],
            }
        },
        "metadata": {
            **live["metadata"],
            "managedFields": [
                _managed("kubedrift", "Apply", {"f:spec": {}}),
                _managed("kubectl-edit", "Update", owned),
            ],
        },
    }
    rules = rules_for(ResourceKey.of(desired))
    assert [c.path for c in diff(desired, replaced, rules).changes] == ["/spec/selector/matchExpressions"]
    assert compile_checker(desired, rules).drift(replaced) == diff(desired, replaced, rules)
    assert compile_checker(desired, rules).drift(live) == diff(desired, live, rules)


def test_type_at_walks_the_schema_by_pointer_segments() -> None:
    from core.drift.keys import type_at
    from core.drift.rules import schema_of

    ports = type_at(
        schema_of("apps/v1", "Deployment"), ["spec", "template", "spec", "containers", "0", "ports"]
    )
    assert ports.list_keys == ("containerPort", "protocol")
    assert ports.key_defaults == {"protocol": "TCP"}
