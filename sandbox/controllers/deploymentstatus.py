"""A Deployment's status: replica counts and the Available and Progressing conditions, with the real
controller's reasons and messages (pkg/controller/deployment/sync.go and progress.go)."""

from __future__ import annotations

from typing import Any

from sandbox.controllers.conditions import get_condition, set_condition
from sandbox.controllers.rollout import max_unavailable, replicas_of, status_count
from sandbox.controllers.timestamps import seconds_since

NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def calculate_status(
    d: dict[str, Any], all_rs: list[dict[str, Any]], new_rs: dict[str, Any] | None, now: str
) -> dict[str, Any]:
    """calculateStatus: counts from the ReplicaSets, and the Available condition."""
    old = d.get("status") or {}
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    total = sum(replicas_of(rs) for rs in all_rs)
    counts = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": sum(status_count(rs, "replicas") for rs in all_rs),
        "updatedReplicas": status_count(new_rs, "replicas"),
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    status: dict[str, Any] = {k: v for k, v in counts.items() if v}  # omitempty
    conditions = list(old.get("conditions") or [])
    if available >= replicas_of(d) - max_unavailable(d):
        available_condition = _condition(
            "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now
        )
    else:
        available_condition = _condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    conditions = set_condition(conditions, available_condition)
    if conditions:
        status["conditions"] = conditions
    if "collisionCount" in old:
        status["collisionCount"] = old["collisionCount"]
    return status


def deployment_complete(d: dict[str, Any], status: dict[str, Any]) -> bool:
    replicas = replicas_of(d)
    return (
        int(status.get("updatedReplicas") or 0) == replicas
        and int(status.get("replicas") or 0) == replicas
        and int(status.get("availableReplicas") or 0) == replicas
        and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0)
    )


def _progressing(d: dict[str, Any], new_status: dict[str, Any]) -> bool:
    """DeploymentProgressing: more updated, ready or available replicas, or fewer old ones."""
    old = d.get("status") or {}

    def count(status: dict[str, Any], field: str) -> int:
        return int(status.get(field) or 0)

    old_old = count(old, "replicas") - count(old, "updatedReplicas")
    new_old = count(new_status, "replicas") - count(new_status, "updatedReplicas")
    return (
        count(new_status, "updatedReplicas") > count(old, "updatedReplicas")
        or new_old < old_old
        or count(new_status, "readyReplicas") > count(old, "readyReplicas")
        or count(new_status, "availableReplicas") > count(old, "availableReplicas")
    )


def _timed_out(d: dict[str, Any], status: dict[str, Any], now: str) -> bool:
    condition = get_condition(status.get("conditions"), "Progressing")
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    elapsed = seconds_since(condition.get("lastUpdateTime"), now)
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 600)
    return elapsed is not None and elapsed > deadline


def rollout_conditions(
    d: dict[str, Any], status: dict[str, Any], new_rs: dict[str, Any] | None, now: str
) -> list[dict[str, Any]]:
    """syncRolloutStatus: the Progressing condition after this sync."""
    conditions = list(status.get("conditions") or [])
    current = get_condition(conditions, "Progressing")
    complete_already = (
        int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if complete_already:
        return conditions
    name = d["metadata"]["name"]
    rs_name = new_rs["metadata"]["name"] if new_rs is not None else None
    if deployment_complete(d, status):
        message = (
            f'ReplicaSet "{rs_name}" has successfully progressed.'
            if rs_name
            else f'Deployment "{name}" has successfully progressed.'
        )
        return set_condition(conditions, _condition("Progressing", "True", NEW_RS_AVAILABLE, message, now))
    if _progressing(d, status):
        message = (
            f'ReplicaSet "{rs_name}" is progressing.' if rs_name else f'Deployment "{name}" is progressing.'
        )
        condition = _condition("Progressing", "True", "ReplicaSetUpdated", message, now)
        if current is not None and current.get("status") == "True":
            condition["lastTransitionTime"] = current.get("lastTransitionTime", now)
        # Progress refreshes lastUpdateTime even when the reason stays the same.
        return [c for c in conditions if c.get("type") != "Progressing"] + [condition]
    if _timed_out(d, status, now):
        message = (
            f'ReplicaSet "{rs_name}" has timed out progressing.'
            if rs_name
            else f'Deployment "{name}" has timed out progressing.'
        )
        return set_condition(conditions, _condition("Progressing", "False", TIMED_OUT, message, now))
    return conditions


def progress_recheck(d: dict[str, Any], status: dict[str, Any], now: str) -> float | None:
    """Seconds until an unfinished rollout would pass its progress deadline (requeueStuckDeployment)."""
    if deployment_complete(d, status):
        return None
    condition = get_condition(status.get("conditions"), "Progressing")
    if condition is None or condition.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT, PAUSED):
        return None
    elapsed = seconds_since(condition.get("lastUpdateTime"), now)
    if elapsed is None:
        return None
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 600)
    return max(1.0, deadline - elapsed + 1)


def paused_condition(d: dict[str, Any], now: str) -> dict[str, Any] | None:
    """checkPausedConditions: the Progressing condition to set when pausing or resuming, if any."""
    current = get_condition((d.get("status") or {}).get("conditions"), "Progressing")
    if current is not None and current.get("reason") == TIMED_OUT:
        return None
    paused_now = current is not None and current.get("reason") == PAUSED
    if (d.get("spec") or {}).get("paused") and not paused_now:
        return _condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now)
    if not (d.get("spec") or {}).get("paused") and paused_now:
        return _condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now)
    return None
