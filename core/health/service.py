"""Service health, after Argo CD's rule (gitops-engine `health_service.go`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import mappings_at, str_at
from core.model import Health, HealthStatus


def service_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `v1/Service`: a LoadBalancer waits for its cloud load balancer."""
    if str_at(obj, "spec", "type") != "LoadBalancer":
        return HealthStatus(Health.HEALTHY)
    if mappings_at(obj, "status", "loadBalancer", "ingress"):
        return HealthStatus(Health.HEALTHY)
    return HealthStatus(Health.PROGRESSING)
