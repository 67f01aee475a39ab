"""Moving `kubectl apply`'s client-side ownership to kubedrift's Apply entry (core.csa_upgrade)."""

from __future__ import annotations

from typing import Any

from core.csa_upgrade import has_client_side_owner, union_fields, upgraded_managed_fields

CSA_FIELDS = {
    "f:data": {".": {}, "f:a": {}, "f:old": {}},
    "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
}


def csa(api_version: str = "v1", fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": api_version,
        "time": "2026-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields if fields is not None else CSA_FIELDS,
    }


def test_without_a_client_side_entry_nothing_moves() -> None:
    entries = [{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {}}}]
    assert upgraded_managed_fields(entries) is None
    assert not has_client_side_owner({"metadata": {"managedFields": entries}})
    assert not has_client_side_owner(None)


def test_the_client_side_entry_becomes_kubedrifts_apply_entry_when_there_is_none() -> None:
    other = {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:status": {}}}
    assert has_client_side_owner({"metadata": {"managedFields": [csa(), other]}})
    upgraded = upgraded_managed_fields([csa(), other])
    assert upgraded is not None
    assert [(e["manager"], e["operation"]) for e in upgraded] == [
        ("kubedrift", "Apply"),
        ("kube-controller-manager", "Update"),
    ]
    assert upgraded[0]["fieldsV1"] == CSA_FIELDS  # the annotation too: the apply then removes it
    assert upgraded[0]["apiVersion"] == "v1"


def test_the_fields_are_merged_into_an_existing_apply_entry_and_the_client_side_entry_dropped() -> None:
    ours = {
        "manager": "kubedrift",
        "operation": "Apply",
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}, "f:b": {}}},
    }
    status = {"manager": "kubectl-client-side-apply", "operation": "Update", "subresource": "status"}
    upgraded = upgraded_managed_fields([csa(), ours, status])
    assert upgraded is not None
    assert [(e["manager"], e.get("subresource")) for e in upgraded] == [
        ("kubedrift", None),
        ("kubectl-client-side-apply", "status"),  # a subresource's entry is not the object's
    ]
    assert upgraded[0]["fieldsV1"]["f:data"] == {".": {}, "f:a": {}, "f:b": {}, "f:old": {}}
    assert "f:metadata" in upgraded[0]["fieldsV1"]


def test_only_the_client_side_entry_of_the_same_api_version_is_merged() -> None:
    ours = {"manager": "kubedrift", "operation": "Apply", "apiVersion": "apps/v1", "fieldsV1": {"f:spec": {}}}
    older = csa("apps/v1beta1", {"f:spec": {"f:paused": {}}})
    upgraded = upgraded_managed_fields([older, ours])
    assert upgraded is not None
    assert upgraded == [{**ours, "fieldsType": "FieldsV1"}]  # the other version's entry is dropped


def test_union_of_field_tries_is_a_deep_merge() -> None:
    left = {"f:spec": {"f:template": {"f:metadata": {"f:labels": {"f:app": {}}}}}}
    right = {"f:spec": {"f:template": {"f:metadata": {"f:labels": {"f:tier": {}}}}, "f:replicas": {}}}
    assert union_fields(left, right) == {
        "f:spec": {
            "f:template": {"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}},
            "f:replicas": {},
        }
    }
    assert left == {"f:spec": {"f:template": {"f:metadata": {"f:labels": {"f:app": {}}}}}}  # not changed


def test_a_refused_take_over_does_not_stop_the_apply_and_says_why(monkeypatch: Any) -> None:
    import core.resource_apply
    from core.actions import sync_app
    from core.cluster import ApiError
    from core.desired_state import DesiredState
    from core.model import App, ResourceAction, ResourceKey, Source
    from tests.unit.test_actions import FakeAdapter

    def refuse(_adapter: Any, _key: ResourceKey) -> bool:
        raise ApiError(403, "Forbidden", "cannot patch configmaps in the namespace shop")

    monkeypatch.setattr(core.resource_apply, "migrate_client_side_ownership", refuse)
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    key = ResourceKey.of(desired)
    live = {**desired, "metadata": {**desired["metadata"], "managedFields": [csa()]}, "data": {"old": "1"}}
    adapter = FakeAdapter({key: live})
    result = sync_app(adapter, App("shop", Source("x")), DesiredState("r", {key: desired}), {key: live})
    (outcome,) = result.outcomes
    assert outcome.action is ResourceAction.CONFIGURED  # applied all the same
    assert "could not take over the fields `kubectl apply` owns: cannot patch configmaps" in outcome.message
    assert adapter.methods() == ["apply"]
