"""APIService health, after Argo CD's rule (gitops-engine `health_apiservice.go`).

An aggregated API that is not Available yet is Progressing, not Degraded: its backing Service is
often still starting, which is what the generic conditions rule would otherwise call a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import condition_of, str_at
from core.model import Health, HealthStatus


def apiservice_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `apiregistration.k8s.io/APIService`, from its Available condition."""
    available = condition_of(obj, "Available")
    if available is None:
        return HealthStatus(Health.PROGRESSING, "Waiting to be processed")
    message = f"{str_at(available, 'reason')}: {str_at(available, 'message')}"
    if available.get("status") == "True":
        return HealthStatus(Health.HEALTHY, message)
    return HealthStatus(Health.PROGRESSING, message)
