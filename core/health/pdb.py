"""PodDisruptionBudget health, after Argo CD's `policy/PodDisruptionBudget/health.lua`.

Each condition is read in turn, and the last one decides, except that a False condition stops the
reading as Degraded. InsufficientPods is the exception Argo CD makes (argo-cd#20171): a budget
that allows no disruption right now, say during a rollout, is doing its job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import mappings_at, str_at
from core.model import Health, HealthStatus


def pdb_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `policy/PodDisruptionBudget`."""
    health = HealthStatus(Health.PROGRESSING, "Waiting for status")
    for condition in mappings_at(obj, "status", "conditions"):
        reason = str_at(condition, "reason")
        if condition.get("status") == "False" and reason != "InsufficientPods":
            return HealthStatus(Health.DEGRADED, f"PodDisruptionBudget has {reason}")
        health = HealthStatus(Health.HEALTHY, f"PodDisruptionBudget has {reason}")
    return health
