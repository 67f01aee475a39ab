"""Job health, after Argo CD's rule (gitops-engine `health_job.go`).

A Job is judged by its terminal conditions: Failed is Degraded, Complete is Healthy, a Suspended
condition that is True is Suspended, and anything else is still running.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import mappings_at, str_at
from core.model import Health, HealthStatus


def job_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `batch/Job`."""
    failed = complete = suspended = False
    failure_message = message = ""
    for condition in mappings_at(obj, "status", "conditions"):
        condition_type = condition.get("type")
        if condition_type == "Failed":
            failed = complete = True
            failure_message = str_at(condition, "message")
        elif condition_type == "Complete":
            complete = True
            message = str_at(condition, "message")
        elif condition_type == "Suspended" and condition.get("status") == "True":
            # Argo CD also ends here on a Suspended condition that is False, which the controller
            # leaves behind on resume ("Job resumed"); that would call a running Job Healthy.
            complete = suspended = True
            message = str_at(condition, "message")

    if not complete:
        return HealthStatus(Health.PROGRESSING, message)
    if failed:
        return HealthStatus(Health.DEGRADED, failure_message)
    if suspended:
        return HealthStatus(Health.SUSPENDED, message)
    return HealthStatus(Health.HEALTHY, message)
