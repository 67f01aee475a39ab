"""Per-kind registry strategy: what the API server resets, keeps and bumps around a write.

These mirror the `PrepareForCreate` / `PrepareForUpdate` methods of the real registry strategies
(pkg/registry/*/strategy.go): status is the controllers' business and is reset on create and kept on
a main-resource update; a status write changes only status; `generation` moves with the spec.
"""

from __future__ import annotations

from typing import Any

from sandbox.kinds import Generation, ResourceType

# What a freshly created object's status is, for kinds whose create strategy sets one.
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Namespace"): {"phase": "Active"},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("", "Service"): {"loadBalancer": {}},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
    ("policy", "PodDisruptionBudget"): {
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "disruptionsAllowed": 0,
        "expectedPods": 0,
    },
    ("autoscaling", "HorizontalPodAutoscaler"): {"desiredReplicas": 0},
}


def pod_qos_class(pod_spec: dict[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed, by the rule of pkg/apis/core/helper/qos."""
    containers = list(pod_spec.get("containers") or []) + list(pod_spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for resource in ("cpu", "memory"):
            if resource not in limits or (resource in requests and requests[resource] != limits[resource]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def prepare_for_create(obj: dict[str, Any], resource_type: ResourceType) -> None:
    """Reset what a client may not set on create: status (to its initial value) and generation."""
    metadata = obj["metadata"]
    if resource_type.generation is not Generation.NONE:
        metadata["generation"] = 1
    else:
        metadata.pop("generation", None)
    if not resource_type.has_status:
        return
    key = (resource_type.group, resource_type.kind)
    if resource_type.custom:
        obj.pop("status", None)
    elif key == ("", "Pod"):
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj.get("spec") or {})}
    elif key == ("", "Namespace"):
        obj["status"] = {"phase": "Active"}
        finalizers = obj.setdefault("spec", {}).setdefault("finalizers", [])
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
    elif key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        obj["status"] = {}
    else:
        obj["status"] = dict(_INITIAL_STATUS.get(key, {}))


def prepare_for_update(
    new: dict[str, Any], old: dict[str, Any], resource_type: ResourceType, subresource: str | None
) -> dict[str, Any]:
    """The object to store for an update of the main resource or of its `status`."""
    if subresource == "status":
        # ResetObjectMetaForStatus: only status changes through the status subresource.
        result = {key: value for key, value in old.items() if key != "status"}
        result["metadata"] = dict(old["metadata"])
        if "status" in new:
            result["status"] = new["status"]
        result["metadata"]["managedFields"] = new["metadata"].get("managedFields")
        if result["metadata"]["managedFields"] is None:
            result["metadata"].pop("managedFields")
        return result
    if resource_type.has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if (resource_type.group, resource_type.kind) == ("", "Namespace"):
        # spec.finalizers belongs to the namespace controller (the finalize subresource).
        new["spec"] = old.get("spec", {})
    bump_generation(new, old, resource_type)
    return new


def bump_generation(new: dict[str, Any], old: dict[str, Any], resource_type: ResourceType) -> None:
    metadata = new["metadata"]
    previous = old["metadata"].get("generation")
    if resource_type.generation is Generation.NONE or previous is None:
        metadata.pop("generation", None)
        return
    changed = False
    if resource_type.generation is Generation.NOT_METADATA:
        changed = _without(new, "metadata", "status") != _without(old, "metadata", "status")
    else:
        changed = new.get("spec") != old.get("spec")
        if resource_type.generation is Generation.SPEC_OR_ANNOTATIONS:
            changed = changed or (metadata.get("annotations") or {}) != (
                old["metadata"].get("annotations") or {}
            )
    metadata["generation"] = previous + 1 if changed else previous


def _without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def selector_is_immutable(resource_type: ResourceType) -> bool:
    return (resource_type.group, resource_type.kind) in {
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
    }
