"""cert-manager Certificate health, after Argo CD's `cert-manager.io/Certificate/health.lua`.

Issuing comes first: while a renewal runs, Ready may still be True from the previous certificate,
and Argo CD shows the renewal rather than the old state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import mappings_at, str_at
from core.model import Health, HealthStatus

_WAITING = HealthStatus(Health.PROGRESSING, "Waiting for certificate")


def certificate_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `cert-manager.io/Certificate`."""
    conditions = mappings_at(obj, "status", "conditions")
    for condition in conditions:
        if condition.get("type") == "Issuing" and condition.get("status") == "True":
            return HealthStatus(Health.PROGRESSING, str_at(condition, "message"))
    for condition in conditions:
        if condition.get("type") != "Ready":
            continue
        if condition.get("status") == "False":
            return HealthStatus(Health.DEGRADED, str_at(condition, "message"))
        if condition.get("status") == "True":
            return HealthStatus(Health.HEALTHY, str_at(condition, "message"))
    return _WAITING
