"""ReplicaSet health, after Argo CD's rule (gitops-engine `health_replicaset.go`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import (
    condition_of,
    int_at,
    observed_generation_behind,
    optional_int_at,
    str_at,
)
from core.model import Health, HealthStatus


def replicaset_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `apps/ReplicaSet`."""
    if observed_generation_behind(obj):
        return HealthStatus(
            Health.PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        )

    # ReplicaFailure is how the controller reports pods it could not create (quota, admission).
    failure = condition_of(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return HealthStatus(Health.DEGRADED, str_at(failure, "message"))

    desired = optional_int_at(obj, "spec", "replicas")
    available = int_at(obj, "status", "availableReplicas")
    if desired is not None and available < desired:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {desired} new replicas are available...",
        )
    return HealthStatus(Health.HEALTHY)
