"""DaemonSet health, after Argo CD's rule (gitops-engine `health_daemonset.go`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import int_at, observed_generation_behind, str_at
from core.model import Health, HealthStatus


def daemonset_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `apps/DaemonSet`."""
    if observed_generation_behind(obj):
        return HealthStatus(
            Health.PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )

    desired = int_at(obj, "status", "desiredNumberScheduled")
    updated = int_at(obj, "status", "updatedNumberScheduled")
    available = int_at(obj, "status", "numberAvailable")
    # With OnDelete, old pods are replaced only when someone deletes them, so an unfinished
    # rollout is the intended steady state, not progress.
    if str_at(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return HealthStatus(
            Health.HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated"
        )

    name = str_at(obj, "metadata", "name")
    if updated < desired:
        return HealthStatus(
            Health.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: '
            f"{updated} out of {desired} new pods have been updated...",
        )
    if available < desired:
        return HealthStatus(
            Health.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: '
            f"{available} of {desired} updated pods are available...",
        )
    return HealthStatus(Health.HEALTHY)
