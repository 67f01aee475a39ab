"""Deployment health, after Argo CD's rule (gitops-engine `health_deployment.go`).

The rollout checks are kubectl's `rollout status`: a Deployment is Healthy once its controller has
seen the latest spec and every replica is updated and available.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import (
    condition_of,
    int_at,
    mapping_at,
    observed_generation_behind,
    optional_int_at,
    str_at,
)
from core.model import Health, HealthStatus


def deployment_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `apps/Deployment`."""
    spec = mapping_at(obj, "spec")
    if spec.get("paused") is True:
        return HealthStatus(Health.SUSPENDED, "Deployment is paused")
    if observed_generation_behind(obj):
        return HealthStatus(
            Health.PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )

    progressing = condition_of(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        name = str_at(obj, "metadata", "name")
        return HealthStatus(Health.DEGRADED, f'Deployment "{name}" exceeded its progress deadline')

    desired = optional_int_at(spec, "replicas")
    replicas = int_at(obj, "status", "replicas")
    updated = int_at(obj, "status", "updatedReplicas")
    available = int_at(obj, "status", "availableReplicas")
    if desired is not None and updated < desired:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated...",
        )
    if replicas > updated:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for rollout to finish: {replicas - updated} old replicas are pending termination...",
        )
    if available < updated:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas are available...",
        )
    return HealthStatus(Health.HEALTHY)
