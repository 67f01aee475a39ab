"""Resource health: one rule per kind, after Argo CD's, and the roll-up.

The rules follow gitops-engine `pkg/health` for built-in kinds, and Argo CD's own
`resource_customizations/<group>/<Kind>/health.lua` for the kinds Argo CD judges with Lua
(Argo Rollouts, Flagger, cert-manager, PodDisruptionBudget), written here in Python.

`health_of` decides in Argo CD's order: an object being deleted is Progressing; then a user's
health check for its kind, when one is given (`HealthOverrides`, Argo CD-format Lua scripts, see
core.lua_health); then the rule in `HEALTH_CHECKS` by (group, kind); then, for every other kind,
the status conventions of `conditions_health` (a kind with no conditions is Healthy once it
exists). An app's health is the worst of its resources' (`roll_up`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from core.health.apiservice import apiservice_health
from core.health.certificate import certificate_health
from core.health.conditions import conditions_health
from core.health.daemonset import daemonset_health
from core.health.deployment import deployment_health
from core.health.flagger_canary import flagger_canary_health
from core.health.hpa import hpa_health
from core.health.ingress import ingress_health
from core.health.job import job_health
from core.health.live_fields import str_at, value_at
from core.health.pdb import pdb_health
from core.health.pod import pod_health
from core.health.pvc import pvc_health
from core.health.replicaset import replicaset_health
from core.health.rollout import rollout_health
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
        ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
        ("apiregistration.k8s.io", "APIService"): apiservice_health,
        ("policy", "PodDisruptionBudget"): pdb_health,
        ("argoproj.io", "Rollout"): rollout_health,
        ("flagger.app", "Canary"): flagger_canary_health,
        ("cert-manager.io", "Certificate"): certificate_health,
    }
)
"""The health rule of each (group, kind) that has one."""

HEALTH_SPEC_FIELDS: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType(
    {
        ("apps", "Deployment"): frozenset({"paused", "replicas"}),
        ("apps", "StatefulSet"): frozenset({"replicas", "updateStrategy"}),
        ("apps", "DaemonSet"): frozenset({"updateStrategy"}),
        ("apps", "ReplicaSet"): frozenset({"replicas"}),
        ("", "Pod"): frozenset({"restartPolicy"}),
        ("", "Service"): frozenset({"type"}),
        ("argoproj.io", "Rollout"): frozenset({"paused", "replicas", "strategy", "workloadRef"}),
    }
)
"""The `spec` fields each rule reads besides `metadata` and `status` (every rule reads those two):
a cached projection keeps them (core.live_projection), so its health is the whole object's. A test
holds this table to the rules."""


class HealthOverrides(Protocol):
    """Health checks a user brought, which win over the built-in rule of their kind."""

    def check_for(self, group: str, kind: str) -> HealthCheck | None:
        """The user's check for (group, kind), or None to use the built-in rule."""
        ...


_MISSING = HealthStatus(Health.MISSING)
_PENDING_DELETION = HealthStatus(Health.PROGRESSING, "Pending deletion")


def health_of(obj: Mapping[str, Any] | None, overrides: HealthOverrides | None = None) -> HealthStatus:
    """The health of one live object (a plain dict); None, for an object not in the cluster, is Missing."""
    if obj is None:
        return _MISSING
    if value_at(obj, "metadata", "deletionTimestamp"):
        return _PENDING_DELETION
    group = str_at(obj, "apiVersion").rpartition("/")[0]
    kind = str_at(obj, "kind")
    check = overrides.check_for(group, kind) if overrides is not None else None
    if check is None:
        check = HEALTH_CHECKS.get((group, kind), conditions_health)
    return check(obj)


def roll_up(healths: Iterable[Health]) -> Health:
    """The health of a whole app: the worst of its resources' (Healthy when there are none)."""
    return Health.worst(healths)


__all__ = ["HEALTH_CHECKS", "HEALTH_SPEC_FIELDS", "HealthCheck", "HealthOverrides", "health_of", "roll_up"]
