"""Resource health: one rule per kind, after Argo CD's (gitops-engine `pkg/health`), and the roll-up.

`health_of` picks the rule from `HEALTH_CHECKS` by (group, kind). Kinds without a rule are Healthy
once they exist, and an app's health is the worst of its resources' (`roll_up`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from core.health.daemonset import daemonset_health
from core.health.deployment import deployment_health
from core.health.ingress import ingress_health
from core.health.job import job_health
from core.health.live_fields import str_at, value_at
from core.health.pod import pod_health
from core.health.pvc import pvc_health
from core.health.replicaset import replicaset_health
from core.health.service import service_health
from core.health.statefulset import statefulset_health
from core.model import Health, HealthStatus

HealthCheck = Callable[[Mapping[str, Any]], HealthStatus]

HEALTH_CHECKS: Mapping[tuple[str, str], HealthCheck] = MappingProxyType(
    {
        ("apps", "Deployment"): deployment_health,
        ("apps", "StatefulSet"): statefulset_health,
        ("apps", "DaemonSet"): daemonset_health,
        ("apps", "ReplicaSet"): replicaset_health,
        ("", "Pod"): pod_health,
        ("", "Service"): service_health,
        ("", "PersistentVolumeClaim"): pvc_health,
        ("networking.k8s.io", "Ingress"): ingress_health,
        # Removed from Kubernetes in 1.22, but older clusters still serve it; Argo CD keeps it too.
        ("extensions", "Ingress"): ingress_health,
        ("batch", "Job"): job_health,
    }
)
"""The health rule of each (group, kind) that has one."""

_MISSING = HealthStatus(Health.MISSING)
_PENDING_DELETION = HealthStatus(Health.PROGRESSING, "Pending deletion")
_EXISTS = HealthStatus(Health.HEALTHY)


def health_of(obj: Mapping[str, Any] | None) -> HealthStatus:
    """The health of one live object (a plain dict); None, for an object not in the cluster, is Missing."""
    if obj is None:
        return _MISSING
    if value_at(obj, "metadata", "deletionTimestamp"):
        return _PENDING_DELETION
    group = str_at(obj, "apiVersion").rpartition("/")[0]
    check = HEALTH_CHECKS.get((group, str_at(obj, "kind")))
    return _EXISTS if check is None else check(obj)


def roll_up(healths: Iterable[Health]) -> Health:
    """The health of a whole app: the worst of its resources' (Healthy when there are none)."""
    return Health.worst(healths)


__all__ = ["HEALTH_CHECKS", "HealthCheck", "health_of", "roll_up"]
