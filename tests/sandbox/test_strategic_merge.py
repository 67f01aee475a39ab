"""Strategic merge patch as a real API server applies it: merge keys, directives, ordering, errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.errors import StatusError
from sandbox.patching import strategic_merge_patch


def deployment(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            **spec,
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": list(containers)}},
        },
    }


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def patch_deployment(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return strategic_merge_patch(original, patch, group="apps", kind="Deployment")


def pod_spec_patch(**fields: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": fields}}}


WEB = {"name": "web", "image": "nginx:1.25"}
SIDECAR = {"name": "sidecar", "image": "busybox:1.36"}


def test_kubectl_apply_adds_a_sidecar_with_set_element_order() -> None:
    live = deployment(WEB)
    patch = pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}]}, containers=[SIDECAR]
    )
    result = patch_deployment(live, patch)
    assert containers_of(result) == [WEB, SIDECAR]


def test_kubectl_apply_removes_the_sidecar_with_a_delete_directive() -> None:
    live = deployment(WEB, SIDECAR)
    patch = pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "web"}]},
        containers=[{"$patch": "delete", "name": "sidecar"}],
    )
    assert containers_of(patch_deployment(live, patch)) == [WEB]


def test_set_element_order_places_a_new_container_between_existing_ones() -> None:
    live = deployment({"name": "a", "image": "a"}, {"name": "b", "image": "b"})
    patch = pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "a"}, {"name": "s"}, {"name": "b"}]},
        containers=[{"name": "s", "image": "s"}],
    )
    assert [c["name"] for c in containers_of(patch_deployment(live, patch))] == ["a", "s", "b"]


def test_a_server_only_element_keeps_its_place_among_ordered_ones() -> None:
    live = deployment({"name": "a"}, {"name": "injected"}, {"name": "b"})
    patch = pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "s"}]},
        containers=[{"name": "s"}],
    )
    assert [c["name"] for c in containers_of(patch_deployment(live, patch))] == ["a", "injected", "b", "s"]


def test_without_set_element_order_patch_items_follow_the_patch_order() -> None:
    # The real algorithm puts a patch element that the live list lacks before the live ones it
    # cannot place, and keeps the patch's own order among patched elements.
    live = deployment({"name": "a"}, {"name": "b"})
    patch = pod_spec_patch(containers=[{"name": "c"}, {"name": "a", "image": "x"}])
    assert containers_of(patch_deployment(live, patch)) == [
        {"name": "c"},
        {"name": "a", "image": "x"},
        {"name": "b"},
    ]


def test_a_new_element_goes_right_after_the_patched_ones() -> None:
    live = deployment({"name": "a"}, {"name": "b"})
    patch = pod_spec_patch(containers=[{"name": "a", "image": "x"}, {"name": "c"}])
    assert [c["name"] for c in containers_of(patch_deployment(live, patch))] == ["a", "c", "b"]


def test_env_merges_by_name() -> None:
    live = deployment({"name": "web", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})
    patch = pod_spec_patch(
        containers=[{"name": "web", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]
    )
    env = containers_of(patch_deployment(live, patch))[0]["env"]
    assert env == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]


def test_env_element_is_deleted_by_name_and_null_drops_a_member() -> None:
    live = deployment(
        {
            "name": "web",
            "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
        }
    )
    patch = pod_spec_patch(
        containers=[
            {
                "name": "web",
                "env": [
                    {"$patch": "delete", "name": "A"},
                    {"name": "B", "value": "x", "valueFrom": None},
                ],
            }
        ]
    )
    assert containers_of(patch_deployment(live, patch))[0]["env"] == [{"name": "B", "value": "x"}]


def test_volume_mounts_merge_by_mount_path() -> None:
    live = deployment({"name": "web", "volumeMounts": [{"name": "data", "mountPath": "/data"}]})
    patch = pod_spec_patch(
        containers=[
            {
                "name": "web",
                "volumeMounts": [
                    {"name": "data2", "mountPath": "/data", "readOnly": True},
                    {"name": "cache", "mountPath": "/cache"},
                ],
            }
        ]
    )
    mounts = containers_of(patch_deployment(live, patch))[0]["volumeMounts"]
    assert mounts == [
        {"name": "data2", "mountPath": "/data", "readOnly": True},
        {"name": "cache", "mountPath": "/cache"},
    ]


def test_container_ports_merge_by_container_port() -> None:
    live = deployment({"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}]})
    patch = pod_spec_patch(
        containers=[
            {
                "name": "web",
                "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443},
                ],
            }
        ]
    )
    ports = containers_of(patch_deployment(live, patch))[0]["ports"]
    assert ports == [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}]


def test_service_ports_merge_by_port() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    result = strategic_merge_patch(live, patch, group="", kind="Service")
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "protocol": "TCP"}]


def test_a_list_without_merge_key_is_replaced_whole() -> None:
    live = deployment({"name": "web", "args": ["--a", "--b"]})
    patch = pod_spec_patch(containers=[{"name": "web", "args": ["--c"]}])
    assert containers_of(patch_deployment(live, patch))[0]["args"] == ["--c"]


def test_retain_keys_clears_the_rolling_update_when_switching_to_recreate() -> None:
    live = deployment(
        WEB, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    )
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    assert patch_deployment(live, patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_refuses_a_patched_key_it_does_not_list() -> None:
    live = deployment(WEB, strategy={"type": "RollingUpdate"})
    patch = {
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}
    }
    with pytest.raises(StatusError) as raised:
        patch_deployment(live, patch)
    assert (raised.value.code, raised.value.reason) == (400, "BadRequest")
    assert raised.value.message == "invalid patch format of retainKeys"


def test_delete_from_primitive_list_removes_finalizers() -> None:
    live = deployment(WEB)
    live["metadata"]["finalizers"] = ["a.example.com/x", "b.example.com/y", "c.example.com/z"]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b.example.com/y"]}}
    assert patch_deployment(live, patch)["metadata"]["finalizers"] == ["a.example.com/x", "c.example.com/z"]


def test_finalizers_merge_as_a_set() -> None:
    live = deployment(WEB)
    live["metadata"]["finalizers"] = ["a", "b"]
    patch = {"metadata": {"finalizers": ["b", "c"]}}
    assert patch_deployment(live, patch)["metadata"]["finalizers"] == ["a", "b", "c"]


def test_patch_replace_on_a_map_replaces_it() -> None:
    live = deployment(WEB)
    patch = {"metadata": {"labels": {"$patch": "replace", "tier": "front"}}}
    assert patch_deployment(live, patch)["metadata"]["labels"] == {"tier": "front"}


def test_patch_replace_on_a_list_replaces_it() -> None:
    live = deployment(WEB, SIDECAR)
    patch = pod_spec_patch(containers=[{"$patch": "replace"}, {"name": "only", "image": "x"}])
    assert containers_of(patch_deployment(live, patch)) == [{"name": "only", "image": "x"}]


def test_patch_delete_on_a_map_empties_it() -> None:
    live = deployment(WEB)
    patch = {"metadata": {"labels": {"$patch": "delete"}}}
    assert patch_deployment(live, patch)["metadata"]["labels"] == {}


def test_null_deletes_a_key_and_maps_merge() -> None:
    live = deployment(WEB)
    live["metadata"]["labels"]["tier"] = "front"
    patch = {"metadata": {"labels": {"tier": None, "team": "a"}}, "spec": {"replicas": 3}}
    result = patch_deployment(live, patch)
    assert result["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert result["spec"]["replicas"] == 3


def test_nulls_inside_a_new_value_are_dropped() -> None:
    live = deployment(WEB)
    patch = {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}
    assert patch_deployment(live, patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_owner_references_merge_by_uid() -> None:
    live = deployment(WEB)
    live["metadata"]["ownerReferences"] = [{"uid": "1", "name": "a", "kind": "X", "apiVersion": "v1"}]
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "kind": "X", "apiVersion": "v1"}]}}
    uids = [ref["uid"] for ref in patch_deployment(live, patch)["metadata"]["ownerReferences"]]
    assert uids == ["2", "1"]


def test_the_original_is_not_changed() -> None:
    live = deployment(WEB, SIDECAR)
    before = copy.deepcopy(live)
    patch_deployment(live, pod_spec_patch(containers=[{"$patch": "delete", "name": "sidecar"}]))
    assert live == before


def test_custom_resources_do_not_support_strategic_merge() -> None:
    with pytest.raises(StatusError) as raised:
        strategic_merge_patch({"spec": {}}, {"spec": {"a": 1}}, group="example.com", kind="Widget")
    assert (raised.value.code, raised.value.reason) == (415, "UnsupportedMediaType")
    assert "application/merge-patch+json" in raised.value.message
    assert "strategic" not in raised.value.message


def test_a_merge_list_element_without_its_key_is_an_unreasoned_500() -> None:
    with pytest.raises(StatusError) as raised:
        patch_deployment(deployment(WEB), pod_spec_patch(containers=[{"image": "x"}]))
    assert raised.value.code == 500
    assert raised.value.reason == ""
    assert raised.value.message == "map: map[image:x] does not contain declared merge key: name"


def test_a_list_of_lists_is_422() -> None:
    live = deployment(WEB)
    live["metadata"]["finalizers"] = []
    with pytest.raises(StatusError) as raised:
        patch_deployment(live, {"metadata": {"finalizers": [["b"]]}})
    assert (raised.value.code, raised.value.reason) == (422, "Invalid")


def test_mixed_element_types_are_an_unreasoned_500() -> None:
    live = deployment(WEB)
    live["metadata"]["finalizers"] = ["a"]
    with pytest.raises(StatusError) as raised:
        patch_deployment(live, {"metadata": {"finalizers": [["b"]]}})
    assert (raised.value.code, raised.value.reason) == (500, "")
    assert raised.value.message.startswith("list element types are not identical")


def test_a_malformed_set_element_order_key_is_400() -> None:
    with pytest.raises(StatusError) as raised:
        patch_deployment(
            deployment(WEB), pod_spec_patch(**{"$setElementOrderX/containers": [{"name": "web"}]})
        )
    assert (raised.value.code, raised.value.message) == (400, "invalid patch format of setElementOrder list")


def test_set_element_order_that_contradicts_the_patch_is_rejected() -> None:
    patch = pod_spec_patch(
        **{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]},
        containers=[{"name": "b"}, {"name": "a"}],
    )
    with pytest.raises(StatusError) as raised:
        patch_deployment(deployment({"name": "a"}, {"name": "b"}), patch)
    assert raised.value.code == 500
    assert "doesn't match $setElementOrder list" in raised.value.message


def test_merge_directive_inside_a_list_is_refused() -> None:
    with pytest.raises(StatusError) as raised:
        patch_deployment(deployment(WEB), pod_spec_patch(containers=[{"$patch": "merge"}]))
    assert raised.value.message == "merging lists cannot yet be specified in the patch"


def test_a_patch_that_is_not_an_object_is_400() -> None:
    with pytest.raises(StatusError) as raised:
        patch_deployment(deployment(WEB), [1, 2])  # type: ignore[arg-type]
    assert raised.value.code == 400
