"""Pod health, after Argo CD's rule (gitops-engine `health_pod.go`).

Only pods that restart forever (`restartPolicy: Always`) are judged by their waiting containers:
a run-to-completion pod stuck on, say, ImagePullBackOff may still recover, and Argo CD keeps such
pods (typically hooks) Progressing rather than failing them early.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import condition_of, int_at, mapping_at, mappings_at, str_at
from core.model import Health, HealthStatus

# The API server defaults both fields, so an object without them was never stored by one; read it
# as the server would have stored it.
_DEFAULT_RESTART_POLICY = "Always"
_DEFAULT_PHASE = "Pending"


def pod_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `v1/Pod`."""
    restart_policy = str_at(obj, "spec", "restartPolicy") or _DEFAULT_RESTART_POLICY
    status = mapping_at(obj, "status")
    message = str_at(status, "message")
    containers = mappings_at(status, "containerStatuses")

    if restart_policy == "Always":
        waiting_states = (mapping_at(container, "state", "waiting") for container in containers)
        failing = [waiting for waiting in waiting_states if _is_failure(str_at(waiting, "reason"))]
        if failing:
            reasons = [str_at(waiting, "message") or str_at(waiting, "reason") for waiting in failing]
            return HealthStatus(Health.DEGRADED, ", ".join(reasons))

    phase = str_at(status, "phase") or _DEFAULT_PHASE
    if phase == "Pending":
        return HealthStatus(Health.PROGRESSING, message)
    if phase == "Succeeded":
        return HealthStatus(Health.HEALTHY, message)
    if phase == "Failed":
        return HealthStatus(Health.DEGRADED, message or _failure_message(obj))
    if phase == "Running":
        return _running_pod_health(obj, restart_policy, containers, message)
    return HealthStatus(Health.UNKNOWN, message)


def _running_pod_health(
    obj: Mapping[str, Any], restart_policy: str, containers: list[Mapping[str, Any]], message: str
) -> HealthStatus:
    if restart_policy == "Always":
        ready = condition_of(obj, "Ready")
        if ready is not None and ready.get("status") == "True":
            return HealthStatus(Health.HEALTHY, message)
        # Not ready after a container has already died once: it is failing, not starting.
        if any(_has_terminated_before(container) for container in containers):
            return HealthStatus(Health.DEGRADED, message)
        return HealthStatus(Health.PROGRESSING, message)
    if restart_policy in ("OnFailure", "Never"):
        # A run-to-completion pod is only done once it Succeeds, so running is progress.
        return HealthStatus(Health.PROGRESSING, message)
    return HealthStatus(Health.UNKNOWN, message)


def _has_terminated_before(container: Mapping[str, Any]) -> bool:
    return isinstance(mapping_at(container, "lastState").get("terminated"), Mapping)


def _is_failure(reason: str) -> bool:
    """Whether a waiting reason is an error (ErrImagePull, CreateContainerConfigError, CrashLoopBackOff)."""
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _failure_message(obj: Mapping[str, Any]) -> str:
    """The first container's reason for failing, init containers first, as Argo CD reports it."""
    status = mapping_at(obj, "status")
    for container in mappings_at(status, "initContainerStatuses") + mappings_at(status, "containerStatuses"):
        terminated = mapping_at(container, "state", "terminated")
        if not terminated:
            continue
        if message := str_at(terminated, "message"):
            return message
        if str_at(terminated, "reason") == "OOMKilled":
            return "OOMKilled"
        if exit_code := int_at(terminated, "exitCode"):
            return f'container "{str_at(container, "name")}" failed with exit code {exit_code}'
    return ""
