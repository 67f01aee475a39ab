"""HorizontalPodAutoscaler health, after Argo CD's rule (gitops-engine `health_hpa.go`).

`autoscaling/v1` has no conditions field: the controller keeps them, as JSON, in the annotation
`autoscaling.alpha.kubernetes.io/conditions`. Later versions carry them in `status.conditions`.
Argo CD judges only v1 and v2 and calls a `v2beta1`/`v2beta2` object Unknown ("unsupported HPA
GVK"); clusters before 1.26 still serve those, with v2's conditions, so they are read as v2 here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.health.live_fields import mappings_at, str_at
from core.model import Health, HealthStatus

CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"

_WAITING = HealthStatus(Health.PROGRESSING, "Waiting to Autoscale")

# (type, reason) pairs that mean the autoscaler cannot do its job, whatever the condition's status.
_FAILURES = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedComputeMetricsReplicas"),
        ("ScalingActive", "InvalidSelector"),
    }
)
_HEALTHY_WHEN_TRUE = ("AbleToScale", "ScalingLimited")


def hpa_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `autoscaling/HorizontalPodAutoscaler`, from its conditions."""
    if str_at(obj, "apiVersion") != "autoscaling/v1":
        return _from_conditions(mappings_at(obj, "status", "conditions"))
    annotation = str_at(obj, "metadata", "annotations", CONDITIONS_ANNOTATION)
    if not annotation:
        return _WAITING
    try:
        conditions = json.loads(annotation)
    except ValueError as error:
        return HealthStatus(
            Health.UNKNOWN, f"the {CONDITIONS_ANNOTATION} annotation is not valid JSON: {error}"
        )
    if not isinstance(conditions, list):
        return HealthStatus(Health.UNKNOWN, f"the {CONDITIONS_ANNOTATION} annotation is not a JSON list")
    return _from_conditions([condition for condition in conditions if isinstance(condition, Mapping)])


def _from_conditions(conditions: Sequence[Mapping[str, Any]]) -> HealthStatus:
    for condition in conditions:
        if (str_at(condition, "type"), str_at(condition, "reason")) in _FAILURES:
            return HealthStatus(Health.DEGRADED, str_at(condition, "message"))
    for condition in conditions:
        if str_at(condition, "type") in _HEALTHY_WHEN_TRUE and condition.get("status") == "True":
            return HealthStatus(Health.HEALTHY, str_at(condition, "message"))
    return _WAITING
