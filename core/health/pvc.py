"""PersistentVolumeClaim health, after Argo CD's rule (gitops-engine `health_pvc.go`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import str_at
from core.model import Health, HealthStatus

_HEALTH_BY_PHASE = {
    "Bound": Health.HEALTHY,
    "Pending": Health.PROGRESSING,
    "Lost": Health.DEGRADED,
}


def pvc_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `v1/PersistentVolumeClaim`, from its phase."""
    # The API server sets Pending on create, so a claim without a phase has not been looked at yet.
    phase = str_at(obj, "status", "phase") or "Pending"
    return HealthStatus(_HEALTH_BY_PHASE.get(phase, Health.UNKNOWN))
