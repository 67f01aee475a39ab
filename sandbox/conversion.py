"""Conversion between the served versions of a built-in kind, as the API server's scheme converts
through the internal type.

Only HorizontalPodAutoscaler is served in two shapes: objects are stored as autoscaling/v2, and
autoscaling/v1 (which `kubectl autoscale` before 1.33 writes) is a view of them. Its single CPU
utilization target is the v2 `Resource` metric for `cpu` with a `Utilization` target, as in
k8s.io/kubernetes pkg/apis/autoscaling/v1/conversion.go. What v1 cannot express (other metrics,
behavior, conditions) a real server round-trips through `autoscaling.alpha.kubernetes.io/*`
annotations; the sandbox instead keeps it from the stored object when a v1 write replaces it, which
has the same effect for the read-modify-write and apply clients do.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kinds import KindRegistry, ResourceType
from sandbox.store import StoredObject

_HPA = ("autoscaling", "HorizontalPodAutoscaler")
# The version each convertible kind is stored in.
_STORAGE_VERSIONS: dict[tuple[str, str], str] = {_HPA: "v2"}
# What the v1 conversion applies when a v1 object names no CPU target (autoscaling.DefaultCPUUtilization).
_DEFAULT_CPU_UTILIZATION = 80


def storage_type_of(registry: KindRegistry, resource_type: ResourceType) -> ResourceType:
    """The resource whose version storage holds the kind in: what writes go through."""
    version = (
        None if resource_type.custom else _STORAGE_VERSIONS.get((resource_type.group, resource_type.kind))
    )
    if version is None or version == resource_type.version:
        return resource_type
    return registry.for_kind(resource_type.group, version, resource_type.kind) or resource_type


def to_storage(
    storage_type: ResourceType, obj: dict[str, Any], stored: StoredObject | None
) -> dict[str, Any]:
    """A written object in the storage version, whatever served version its body is in; `stored`
    is the object the write replaces."""
    if storage_type.custom or (storage_type.group, storage_type.kind) not in _STORAGE_VERSIONS:
        return obj
    return convert(obj, storage_type.api_version, stored=None if stored is None else stored.obj)


def convert(obj: dict[str, Any], api_version: str, *, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """`obj` in `api_version`: `obj` itself when it already is, else a new object that shares
    nothing with `obj` but, for kinds without a converter, its members. `stored` is the object a
    write of `obj` replaces: what the target version has and `obj`'s version cannot say comes from it."""
    if obj.get("apiVersion") == api_version:
        return obj
    group, _, version = api_version.rpartition("/")
    if (group, str(obj.get("kind") or "")) == _HPA:
        if version == "v1":
            return _hpa_to_v1(obj)
        return _hpa_to_v2(obj, stored)
    converted = dict(obj)
    converted["apiVersion"] = api_version
    return converted


def _is_cpu_resource(metric: Any) -> bool:
    if not isinstance(metric, dict) or metric.get("type") != "Resource":
        return False
    resource = metric.get("resource")
    return isinstance(resource, dict) and resource.get("name") == "cpu"


def _cpu_target(metric: Any) -> int | None:
    """The utilization target of a v2 CPU metric, else None."""
    if not _is_cpu_resource(metric):
        return None
    target = metric["resource"].get("target") or {}
    value = target.get("averageUtilization") if target.get("type") == "Utilization" else None
    return value if isinstance(value, int) else None


def _cpu_current(metric: Any) -> int | None:
    if not _is_cpu_resource(metric):
        return None
    value = (metric["resource"].get("current") or {}).get("averageUtilization")
    return value if isinstance(value, int) else None


def _copy_keys(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: copy.deepcopy(source[key]) for key in keys if key in source}


def _hpa_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    result = {key: copy.deepcopy(value) for key, value in obj.items() if key not in ("spec", "status")}
    result["apiVersion"] = "autoscaling/v1"
    spec: dict[str, Any] = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    v1_spec = _copy_keys(spec, ("scaleTargetRef", "minReplicas", "maxReplicas"))
    for metric in spec.get("metrics") or []:
        if _is_cpu_resource(metric):
            target = _cpu_target(metric)
            if target is not None:
                v1_spec["targetCPUUtilizationPercentage"] = target
            break
    result["spec"] = v1_spec
    if isinstance(obj.get("status"), dict):
        status = obj["status"]
        v1_status = _copy_keys(status, ("observedGeneration", "lastScaleTime"))
        # Both counters are required in v1; v2 omits a zero currentReplicas.
        v1_status["currentReplicas"] = status.get("currentReplicas", 0)
        v1_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        for metric in status.get("currentMetrics") or []:
            current = _cpu_current(metric)
            if current is not None:
                v1_status["currentCPUUtilizationPercentage"] = current
        result["status"] = v1_status
    return result


def _hpa_to_v2(obj: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    result = {key: copy.deepcopy(value) for key, value in obj.items() if key not in ("spec", "status")}
    result["apiVersion"] = "autoscaling/v2"
    previous_spec = (stored or {}).get("spec") or {}
    previous_status = (stored or {}).get("status") or {}
    spec: dict[str, Any] = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    v2_spec = _copy_keys(spec, ("scaleTargetRef", "minReplicas", "maxReplicas"))
    metrics: list[Any] = []
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None:
        metrics.append(_cpu_metric("target", {"type": "Utilization", "averageUtilization": target}))
    metrics.extend(copy.deepcopy(m) for m in previous_spec.get("metrics") or [] if _cpu_target(m) is None)
    if not metrics:
        metrics.append(
            _cpu_metric("target", {"type": "Utilization", "averageUtilization": _DEFAULT_CPU_UTILIZATION})
        )
    v2_spec["metrics"] = metrics
    if "behavior" in previous_spec:
        v2_spec["behavior"] = copy.deepcopy(previous_spec["behavior"])
    result["spec"] = v2_spec
    if isinstance(obj.get("status"), dict):
        status = obj["status"]
        v2_status = _copy_keys(status, ("observedGeneration", "lastScaleTime"))
        if status.get("currentReplicas"):
            v2_status["currentReplicas"] = status["currentReplicas"]
        v2_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        current_metrics: list[Any] = []
        current = status.get("currentCPUUtilizationPercentage")
        if current is not None:
            current_metrics.append(_cpu_metric("current", {"averageUtilization": current}))
        current_metrics.extend(
            copy.deepcopy(m) for m in previous_status.get("currentMetrics") or [] if _cpu_current(m) is None
        )
        if current_metrics:
            v2_status["currentMetrics"] = current_metrics
        if "conditions" in previous_status:
            v2_status["conditions"] = copy.deepcopy(previous_status["conditions"])
        result["status"] = v2_status
    return result


def _cpu_metric(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", key: value}}
