"""Drift engine details beyond the fixture pairs: quantities, sets, pointers, the diff text."""

from __future__ import annotations

from typing import Any

import pytest

from core.drift.comparator import diff
from core.drift.quantity import quantity_value, same_quantity
from core.drift.rules import compile_ignore_trie, escape_segment, pointer_segments, rules_for
from core.drift.text import drift_text
from core.model import SECRET_MASK, IgnoreDifference, ResourceKey


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        ("0.5", "500m"),
        (0.5, "500m"),
        ("1Gi", "1073741824"),
        ("1.5Gi", "1536Mi"),
        ("1000m", "1"),
        (2, "2"),
        ("1e3", "1k"),
        ("2048Ki", "2Mi"),
        ("100M", "100000k"),
    ],
)
def test_equal_quantities(desired: object, live: object) -> None:
    assert same_quantity(desired, live)


@pytest.mark.parametrize(("desired", "live"), [("1Gi", "1G"), ("500m", "0.6"), ("1", "abc"), (True, "1")])
def test_different_quantities(desired: object, live: object) -> None:
    assert not same_quantity(desired, live)


def test_quantity_rejects_garbage() -> None:
    assert quantity_value("12 apples") is None
    assert quantity_value("Gi") is None


def test_pointer_escaping_round_trips() -> None:
    assert pointer_segments("/metadata/annotations/a~1b~0c") == ("metadata", "annotations", "a/b~c")
    assert escape_segment("a/b~c") == "a~1b~0c"
    with pytest.raises(ValueError, match="must start with '/'"):
        pointer_segments("spec/replicas")


def test_ignore_trie_wider_pointer_wins() -> None:
    trie = compile_ignore_trie(["/spec/template/spec", "/spec/template"])
    assert repr(trie["spec"]["template"]) == "IGNORE_ALL"


def configmap(data: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", **metadata},
        "data": data,
    }


def test_missing_object_is_one_change_at_the_root() -> None:
    desired = configmap({"a": "1"})
    drift = diff(desired, None)
    assert [(c.path, c.live) for c in drift.changes] == [("", None)]
    assert drift.changes[0].desired == desired


def test_missing_secret_is_masked() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dmFsdWU="}}
    drift = diff(secret, None, rules_for(ResourceKey.of(secret)))
    assert drift.changes[0].desired["data"] == {"k": SECRET_MASK}


def test_finalizers_are_a_set() -> None:
    desired = configmap({}, finalizers=["example.com/keep"])
    live_ok = configmap({}, finalizers=["kubernetes.io/other", "example.com/keep"])
    live_missing = configmap({}, finalizers=["kubernetes.io/other"])
    assert not diff(desired, live_ok)
    assert [c.to_json() for c in diff(desired, live_missing).changes] == [
        {"path": "/metadata/finalizers/0", "desired": "example.com/keep", "live": None}
    ]


def test_zero_values_the_server_omits_are_not_drift() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"hostNetwork": False, "containers": [{"name": "a", "image": "x", "tty": False}]},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}]},
    }
    assert not diff(desired, live)


def test_struct_zero_values_read_back_absent() -> None:
    # The schema cannot tell a Go pointer field (which keeps `false`) from an `omitempty` one, so
    # every struct scalar field holding its zero value reads back absent (DESIGN rule 4).
    desired = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"automountServiceAccountToken": False, "hostNetwork": False, "priority": 0},
    }
    live = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert not diff(desired, live)
    live_true = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostNetwork": True}}
    assert [c.path for c in diff(desired, live_true).changes] == ["/spec/hostNetwork"]


def test_network_policy_ports_are_atomic() -> None:
    desired = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np"},
        "spec": {"ingress": [{"ports": [{"port": 80}]}]},
    }
    live_defaulted = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np"},
        "spec": {"ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}]},
    }
    live_extra = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "np"},
        "spec": {"ingress": [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 22}]}]},
    }
    assert not diff(desired, live_defaulted)
    # Atomic lists compare whole; the difference is reported where it is (the live-only port).
    assert [c.path for c in diff(desired, live_extra).changes] == ["/spec/ingress/0/ports/1"]


def test_annotation_keys_with_slashes_are_escaped_in_paths() -> None:
    desired = configmap({}, annotations={"example.com/owner": "team-a"})
    live = configmap({}, annotations={"example.com/owner": "team-b"})
    assert [c.path for c in diff(desired, live).changes] == ["/metadata/annotations/example.com~1owner"]


def test_ignore_rule_matches_by_name_and_namespace() -> None:
    rule = IgnoreDifference(kind="ConfigMap", name="c", namespace="n", json_pointers=("/data",))
    desired, live = configmap({"a": "1"}), configmap({"a": "2"})
    assert not diff(desired, live, rules_for(ResourceKey.of(desired), (rule,)))
    other = IgnoreDifference(kind="ConfigMap", name="other", json_pointers=("/data",))
    assert diff(desired, live, rules_for(ResourceKey.of(desired), (other,)))


def test_diff_text_shows_only_what_differs_and_skips_defaults() -> None:
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}},
    }
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "uid": "u", "resourceVersion": "7"},
        "spec": {
            "replicas": 5,
            "revisionHistoryLimit": 10,
            "template": {
                "spec": {"containers": [{"name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent"}]}
            },
        },
        "status": {"replicas": 5},
    }
    drift = diff(desired, live)
    text = drift_text(desired, live, rules_for(ResourceKey.of(desired)), drift)
    assert "-  replicas: 5\n" in text and "+  replicas: 2\n" in text
    for default in ("revisionHistoryLimit", "imagePullPolicy", "resourceVersion", "status"):
        assert default not in text
    assert drift_text(desired, desired, rules_for(ResourceKey.of(desired)), diff(desired, desired)) == ""


def test_diff_text_masks_secrets_and_marks_the_changed_key() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"user": "admin"},
        "data": {"pass": "c2VjcmV0"},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"user": "YWRtaW4=", "pass": "b3RoZXI="},
    }
    rules = rules_for(ResourceKey.of(desired))
    drift = diff(desired, live, rules)
    text = drift_text(desired, live, rules, drift)
    for secret in ("admin", "YWRtaW4=", "c2VjcmV0", "b3RoZXI=", "secret", "other"):
        assert secret not in text
    assert "+  pass: '*** (changed)'" in text
    assert "user" in text and "(changed)" not in text.split("user")[1].split("\n")[0]


def test_diff_text_shows_only_the_owned_parts_of_a_map_git_dropped() -> None:
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "annotations": {"deployment.kubernetes.io/revision": "3", "team": "payments"},
            "managedFields": [
                {
                    "manager": "kubedrift",
                    "operation": "Apply",
                    "fieldsV1": {
                        "f:metadata": {"f:annotations": {"f:team": {}}},
                        "f:spec": {"f:replicas": {}},
                    },
                }
            ],
        },
        "spec": {"replicas": 5},
    }
    drift = diff(desired, live)
    assert sorted(c.path for c in drift.changes) == ["/metadata/annotations/team", "/spec/replicas"]
    text = drift_text(desired, live, rules_for(ResourceKey.of(desired)), drift)
    assert "team: payments" in text
    assert "deployment.kubernetes.io/revision" not in text, (
        "another manager's annotation is not kubedrift's drift"
    )
