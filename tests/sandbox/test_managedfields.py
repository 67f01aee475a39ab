"""Server-side apply and managedFields bookkeeping, with the real server's fieldsV1 and conflicts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sandbox.defaults import apply_defaults
from sandbox.errors import StatusError
from sandbox.managedfields import ApplyConflict, fields_of, server_side_apply, track_update
from sandbox.schemas import custom_schema

T0, T1, T2, T3 = (f"2024-05-01T10:0{minute}:00Z" for minute in range(4))


def deployment(*containers: dict[str, Any], replicas: int | None = 2, **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"containers": list(containers)}}}
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels or {"app": "web"}},
        "spec": spec,
    }


WEB = {"name": "web", "image": "nginx:1.25"}


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """managedFields by (manager, operation)."""
    return {
        (entry["manager"], entry["operation"]): entry for entry in obj["metadata"].get("managedFields", [])
    }


def owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    fields: dict[str, Any] = entries(obj)[(manager, operation)]["fieldsV1"]
    return fields


def container_names(obj: dict[str, Any]) -> list[str]:
    return [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]


def update(obj: dict[str, Any], manager: str, now: str, change: Any) -> dict[str, Any]:
    """A non-apply write (PUT) by `manager`: change a copy, default it, track it."""
    new = copy.deepcopy(obj)
    change(new)
    apply_defaults(new, group="apps", kind="Deployment")
    new["metadata"]["managedFields"] = track_update(obj, new, manager=manager, now=now)
    return new


def test_create_by_apply_records_exactly_the_applied_fields() -> None:
    created = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    [entry] = created["metadata"]["managedFields"]
    assert json.dumps(entry, separators=(",", ":")) == (
        '{"manager":"kubedrift","operation":"Apply","apiVersion":"apps/v1","time":"2024-05-01T10:00:00Z",'
        '"fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},'
        '"f:template":{"f:spec":{"f:containers":{"k:{\\"name\\":\\"web\\"}":{".":{},"f:image":{},"f:name":{}}}}}}}}'
    )
    assert entry["fieldsV1"] == fields_of(deployment(WEB), group="apps", kind="Deployment")


def test_apply_result_carries_server_defaults() -> None:
    created = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"
    assert created["spec"]["replicas"] == 2


def test_container_ports_are_keyed_by_port_and_defaulted_protocol() -> None:
    web = {**WEB, "ports": [{"containerPort": 8080}]}
    created = server_side_apply(None, deployment(web), manager="kubedrift", force=False, now=T0)
    container = owned(created, "kubedrift")["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"web"}'
    ]
    assert container["f:ports"] == {
        'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
    }


def test_reapply_without_a_field_removes_it_when_only_that_manager_owned_it() -> None:
    first = server_side_apply(
        None, deployment(WEB, app="web", tier="front"), manager="kubedrift", force=False, now=T0
    )
    second = server_side_apply(first, deployment(WEB, app="web"), manager="kubedrift", force=False, now=T1)
    assert second["metadata"]["labels"] == {"app": "web"}
    assert owned(second, "kubedrift")["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_reapply_without_a_field_keeps_it_when_another_manager_also_owns_it() -> None:
    first = server_side_apply(
        None, deployment(WEB, app="web", tier="front"), manager="kubedrift", force=False, now=T0
    )
    shared = server_side_apply(first, deployment(WEB, tier="front"), manager="other", force=False, now=T1)
    second = server_side_apply(shared, deployment(WEB, app="web"), manager="kubedrift", force=False, now=T2)
    assert second["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert owned(second, "other")["f:metadata"] == {"f:labels": {"f:tier": {}}}


def test_applying_a_different_value_to_a_field_another_applier_owns_is_a_conflict() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    with pytest.raises(ApplyConflict) as raised:
        server_side_apply(first, deployment(WEB, replicas=5), manager="helm", force=False, now=T1)
    conflict = raised.value
    assert (conflict.code, conflict.reason) == (409, "Conflict")
    assert conflict.message == 'Apply failed with 1 conflict: conflict with "kubedrift": .spec.replicas'
    assert conflict.conflicts == [(".spec.replicas", "kubedrift")]
    assert conflict.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubedrift"',
                "field": ".spec.replicas",
            }
        ]
    }


def test_a_conflict_with_an_update_manager_names_its_api_version() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    scaled = update(first, "kubectl-scale", T1, lambda obj: obj["spec"].__setitem__("replicas", 7))
    image = {**WEB, "image": "nginx:1.26"}
    with pytest.raises(ApplyConflict) as raised:
        server_side_apply(scaled, deployment(image), manager="kubedrift", force=False, now=T2)
    assert raised.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )


def test_several_conflicts_are_listed_per_manager() -> None:
    first = server_side_apply(None, deployment(WEB, app="web"), manager="kubedrift", force=False, now=T0)
    with pytest.raises(ApplyConflict) as raised:
        server_side_apply(
            first, deployment(WEB, replicas=3, app="other"), manager="helm", force=False, now=T1
        )
    assert raised.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubedrift":\n- .metadata.labels.app\n- .spec.replicas'
    )


def test_applying_the_same_value_shares_ownership_without_conflict() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    shared = server_side_apply(first, deployment(WEB), manager="helm", force=False, now=T1)
    assert "f:replicas" in owned(shared, "kubedrift")["f:spec"]
    assert "f:replicas" in owned(shared, "helm")["f:spec"]


def test_force_moves_ownership_to_the_applier() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    forced = server_side_apply(first, deployment(WEB, replicas=5), manager="helm", force=True, now=T1)
    assert forced["spec"]["replicas"] == 5
    assert "f:replicas" not in owned(forced, "kubedrift")["f:spec"]
    assert "f:replicas" in owned(forced, "helm")["f:spec"]


def test_a_container_added_by_another_manager_survives_a_reapply_without_it() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    injected = update(
        first,
        "injector",
        T1,
        lambda obj: obj["spec"]["template"]["spec"]["containers"].append(
            {"name": "proxy", "image": "envoy:1"}
        ),
    )
    again = server_side_apply(injected, deployment(WEB), manager="kubedrift", force=False, now=T2)
    assert container_names(again) == ["web", "proxy"]
    proxy = owned(again, "injector", "Update")["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert 'k:{"name":"proxy"}' in proxy


def test_a_sidecar_the_applier_stops_applying_is_removed() -> None:
    sidecar = {"name": "sidecar", "image": "busybox:1.36"}
    first = server_side_apply(None, deployment(WEB, sidecar), manager="kubedrift", force=False, now=T0)
    second = server_side_apply(first, deployment(WEB), manager="kubedrift", force=False, now=T1)
    assert container_names(second) == ["web"]


def test_an_update_takes_the_fields_it_changes_from_other_managers() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    edited = update(
        first,
        "kubectl-edit",
        T1,
        lambda obj: obj["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"),
    )
    kubedrift_container = owned(edited, "kubedrift")["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert kubedrift_container == {'k:{"name":"web"}': {".": {}, "f:name": {}}}
    editor = owned(edited, "kubectl-edit", "Update")
    assert editor == {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}}
    }
    assert entries(edited)[("kubectl-edit", "Update")]["time"] == T1


def test_managers_coexist_sorted_by_operation_then_time() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    edited = update(first, "kubectl-edit", T1, lambda obj: obj["metadata"]["labels"].update(team="a"))
    applied = server_side_apply(
        edited, deployment(WEB, app="web", tier="x"), manager="argocd", force=False, now=T2
    )
    order = [(entry["manager"], entry["operation"]) for entry in applied["metadata"]["managedFields"]]
    assert order == [("kubedrift", "Apply"), ("argocd", "Apply"), ("kubectl-edit", "Update")]


def test_a_new_applier_whose_configuration_changes_nothing_gets_an_entry_without_time() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    shared = server_side_apply(first, deployment(WEB), manager="argocd", force=False, now=T1)
    assert "time" not in entries(shared)[("argocd", "Apply")]
    assert [entry["manager"] for entry in shared["metadata"]["managedFields"]] == ["argocd", "kubedrift"]


def test_a_create_is_tracked_with_the_defaulted_fields_as_kubectl_create_shows() -> None:
    web = {**WEB, "ports": [{"containerPort": 80}]}
    created = deployment(web)
    created["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    created["spec"]["template"]["metadata"] = {"labels": {"app": "web"}}
    apply_defaults(created, group="apps", kind="Deployment")
    [entry] = track_update(None, created, manager="kubectl-create", now=T0)
    assert (entry["operation"], entry["apiVersion"], entry["time"]) == ("Update", "apps/v1", T0)
    spec = entry["fieldsV1"]["f:spec"]
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert spec["f:selector"] == {}
    assert spec["f:strategy"] == {
        "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
        "f:type": {},
    }
    pod = spec["f:template"]["f:spec"]
    assert set(pod) == {
        "f:containers",
        "f:dnsPolicy",
        "f:restartPolicy",
        "f:schedulerName",
        "f:securityContext",
        "f:terminationGracePeriodSeconds",
    }
    assert pod["f:containers"]['k:{"name":"web"}'] == {
        ".": {},
        "f:image": {},
        "f:imagePullPolicy": {},
        "f:name": {},
        "f:ports": {
            ".": {},
            'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:protocol": {}},
        },
        "f:resources": {},
        "f:terminationMessagePath": {},
        "f:terminationMessagePolicy": {},
    }


def test_an_update_that_changes_nothing_adds_no_entry() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    same = update(first, "noop", T1, lambda obj: None)
    assert list(entries(same)) == [("kubedrift", "Apply")]


def test_reapplying_the_same_configuration_keeps_the_entry_time() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    again = server_side_apply(first, deployment(WEB), manager="kubedrift", force=False, now=T1)
    assert entries(again)[("kubedrift", "Apply")]["time"] == T0
    assert again["spec"] == first["spec"]


def test_status_writes_are_tracked_under_the_status_subresource_only() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    new = copy.deepcopy(first)
    new["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    [*_, status_entry] = track_update(
        first, new, manager="deployment-controller", now=T1, subresource="status"
    )
    assert status_entry["subresource"] == "status"
    assert status_entry["fieldsV1"] == {
        "f:status": {
            "f:conditions": {".": {}, 'k:{"type":"Available"}': {".": {}, "f:status": {}, "f:type": {}}},
            "f:replicas": {},
        }
    }


def test_status_is_never_owned_through_the_main_resource() -> None:
    applied = deployment(WEB)
    applied["status"] = {"replicas": 9}
    created = server_side_apply(None, applied, manager="kubedrift", force=False, now=T0)
    assert "f:status" not in owned(created, "kubedrift")


def test_an_update_of_an_object_without_managed_fields_is_not_tracked() -> None:
    old = deployment(WEB)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assert track_update(old, new, manager="kubectl", now=T1) == []


def test_an_empty_managed_fields_list_in_the_request_clears_them() -> None:
    first = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    new = copy.deepcopy(first)
    new["metadata"]["managedFields"] = []
    assert track_update(first, new, manager="kubectl", now=T1) == []


def test_the_first_apply_over_an_untracked_object_leaves_existing_fields_to_before_first_apply() -> None:
    live = deployment(WEB, app="web", tier="front")
    applied = server_side_apply(live, deployment(WEB, app="web"), manager="kubedrift", force=True, now=T1)
    assert applied["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert ("before-first-apply", "Update") in entries(applied)


def test_update_managers_beyond_ten_are_folded_into_ancient_changes() -> None:
    obj = server_side_apply(None, deployment(WEB), manager="kubedrift", force=False, now=T0)
    for number in range(12):
        obj = update(
            obj,
            f"writer-{number:02d}",
            f"2024-05-01T11:{number:02d}:00Z",
            lambda o, n=number: o["metadata"]["labels"].update({f"l{n}": "x"}),
        )
    managers = [
        entry["manager"] for entry in obj["metadata"]["managedFields"] if entry["operation"] == "Update"
    ]
    assert len(managers) == 10
    assert "ancient-changes" in managers
    assert "writer-11" in managers and "writer-00" not in managers


def test_finalizers_are_owned_as_set_elements() -> None:
    applied = deployment(WEB)
    applied["metadata"]["finalizers"] = ["example.com/cleanup"]
    created = server_side_apply(None, applied, manager="kubedrift", force=False, now=T0)
    assert owned(created, "kubedrift")["f:metadata"]["f:finalizers"] == {'v:"example.com/cleanup"': {}}
    new = copy.deepcopy(created)
    new["metadata"]["finalizers"].append("example.com/audit")
    [*_, tracked] = track_update(created, new, manager="auditor", now=T1)
    assert tracked["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"example.com/audit"': {}}}}


def test_kubectl_server_side_takes_over_fields_its_client_side_apply_set() -> None:
    config = deployment(WEB)
    last_applied = json.dumps(config)
    config["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last_applied}
    apply_defaults(config, group="apps", kind="Deployment")
    config["metadata"]["managedFields"] = track_update(
        None, config, manager="kubectl-client-side-apply", now=T0
    )
    scaled = deployment(WEB, replicas=4)
    result = server_side_apply(config, scaled, manager="kubectl", force=False, now=T1)
    assert result["spec"]["replicas"] == 4
    annotation = result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert json.loads(annotation)["spec"]["replicas"] == 4
    with pytest.raises(ApplyConflict):
        server_side_apply(config, scaled, manager="helm", force=False, now=T1)


def test_managed_fields_in_an_apply_configuration_are_refused() -> None:
    applied = deployment(WEB)
    applied["metadata"]["managedFields"] = []
    with pytest.raises(StatusError) as raised:
        server_side_apply(None, applied, manager="kubedrift", force=False, now=T0)
    assert (raised.value.code, raised.value.message) == (400, "metadata.managedFields must be nil")


def test_a_container_without_its_name_cannot_be_applied() -> None:
    with pytest.raises(StatusError) as raised:
        server_side_apply(None, deployment({"image": "nginx"}), manager="kubedrift", force=False, now=T0)
    assert raised.value.code == 500
    assert raised.value.message == (
        "failed to create typed patch object (/web; apps/v1, Kind=Deployment): "
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits all "
        'key fields ["name"] (and doesn\'t have default values for any key fields)'
    )


def test_custom_resources_are_applied_with_an_open_schema() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3, "ports": [1, 2], "nested": {"a": 1}},
    }
    open_spec = custom_schema(
        {
            "type": "object",
            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }
    )
    created = server_side_apply(None, widget, manager="kubedrift", force=False, now=T0, field_type=open_spec)
    assert created["spec"] == widget["spec"]
    # Under preserve-unknown-fields every key is data, not a declared field, so a map below spec is
    # owned as an item as well as through its leaves (structured-merge-diff's deduced type).
    assert owned(created, "kubedrift") == {
        "f:spec": {"f:nested": {".": {}, "f:a": {}}, "f:ports": {}, "f:size": {}}
    }
    new = copy.deepcopy(created)
    new["spec"]["extra"] = {"b": 2}
    [*_, tracked] = track_update(created, new, manager="editor", now=T1, field_type=open_spec)
    assert tracked["fieldsV1"] == {"f:spec": {"f:extra": {".": {}, "f:b": {}}}}
