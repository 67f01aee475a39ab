"""Ingress health, after Argo CD's rule (gitops-engine `health_ingress.go`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import mappings_at
from core.model import Health, HealthStatus


def ingress_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live Ingress: Healthy once its controller has published an address."""
    if mappings_at(obj, "status", "loadBalancer", "ingress"):
        return HealthStatus(Health.HEALTHY)
    return HealthStatus(Health.PROGRESSING)
