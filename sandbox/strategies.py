"""Per-kind registry strategy: what the API server resets, keeps and bumps around a write.

These mirror the `PrepareForCreate` / `PrepareForUpdate` methods of the real registry strategies
(pkg/registry/*/strategy.go): status is the controllers' business and is reset on create (to the
zero status Go serializes) and kept on a main-resource update; a status write keeps the old spec
(and, by kind, some old metadata); `generation` moves with the spec.
"""

from __future__ import annotations

from typing import Any

from core.schema.go_types import zero_status
from sandbox.kinds import Generation, ResourceType

# What a freshly created object's status is, for kinds whose create strategy (or the defaulting
# of the stored object) sets more than the zero status.
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Namespace"): {"phase": "Active"},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
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
        status = zero_status(resource_type.group, resource_type.version, resource_type.kind)
        obj["status"] = {**status, **_INITIAL_STATUS.get(key, {})}


def prepare_for_update(
    new: dict[str, Any], old: dict[str, Any], resource_type: ResourceType, subresource: str | None
) -> dict[str, Any]:
    """The object to store for an update of the main resource or of its `status`."""
    if subresource == "status":
        return _prepare_for_status_update(new, old, resource_type)
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


def _prepare_for_status_update(
    new: dict[str, Any], old: dict[str, Any], resource_type: ResourceType
) -> dict[str, Any]:
    """What a status write keeps. The built-in status strategies put back only the old spec (and
    some metadata, by kind), so labels, annotations and finalizers a status write changes are kept:
    the Deployment controller records its revision annotation that way. A custom resource's status
    strategy instead keeps nothing of the write but status and the managedFields it changed."""
    if resource_type.custom:
        result = {key: value for key, value in old.items() if key != "status"}
        result["metadata"] = dict(old["metadata"])
        if "status" in new:
            result["status"] = new["status"]
        result["metadata"]["managedFields"] = new["metadata"].get("managedFields")
        if result["metadata"]["managedFields"] is None:
            result["metadata"].pop("managedFields")
        return result
    if "spec" in old:
        new["spec"] = old["spec"]
    else:
        new.pop("spec", None)
    metadata = new["metadata"]
    for name in _STATUS_KEEPS_OLD_METADATA.get((resource_type.group, resource_type.kind), ()):
        if name in old["metadata"]:
            metadata[name] = old["metadata"][name]
        else:
            metadata.pop(name, None)
    if (resource_type.group, resource_type.kind) == ("", "Pod"):
        # The QoS class is set at creation; a status write that drops it gets the old one back.
        status = new.get("status")
        old_qos = (old.get("status") or {}).get("qosClass")
        if isinstance(status, dict) and not status.get("qosClass") and old_qos:
            status["qosClass"] = old_qos
    return new


# Metadata a status write cannot change, besides the system fields every write keeps: what the
# kind's status strategy copies from the old object in PrepareForUpdate.
_STATUS_KEEPS_OLD_METADATA: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "Deployment"): ("labels",),
    # Old kubelets corrupted ownerReferences through pods/status, so the strategy ignores them.
    ("", "Pod"): ("ownerReferences",),
}


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
