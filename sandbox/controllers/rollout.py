"""A Deployment's rollout arithmetic (pkg/controller/deployment/util): surge and unavailability bounds,
how far the new ReplicaSet may grow and how far the old ones may shrink. Pure functions over dicts."""

from __future__ import annotations

import math
from typing import Any

DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Annotations of a Deployment that are not copied to its ReplicaSets (skipCopyAnnotation).
NOT_COPIED = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS}


def replicas_of(obj: dict[str, Any] | None) -> int:
    if obj is None:
        return 0
    return int((obj.get("spec") or {}).get("replicas", 1) or 0)


def status_count(obj: dict[str, Any] | None, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    percent = int(text[:-1]) * total / 100
    return math.ceil(percent) if round_up else math.floor(percent)


def resolve_fenceposts(deployment: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for a RollingUpdate deployment; never both zero."""
    spec = deployment.get("spec") or {}
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    replicas = replicas_of(deployment)
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(deployment: dict[str, Any]) -> bool:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def max_unavailable(deployment: dict[str, Any]) -> int:
    replicas = replicas_of(deployment)
    if not is_rolling(deployment) or replicas == 0:
        return 0
    return min(resolve_fenceposts(deployment)[1], replicas)


def max_surge(deployment: dict[str, Any]) -> int:
    if not is_rolling(deployment):
        return 0
    return resolve_fenceposts(deployment)[0]


def new_rs_replicas(
    deployment: dict[str, Any], all_rs: list[dict[str, Any]], new_rs: dict[str, Any] | None
) -> int:
    """NewRSNewReplicas: how many replicas the new ReplicaSet should have now."""
    replicas = replicas_of(deployment)
    if not is_rolling(deployment):
        return replicas
    current = replicas_of(new_rs) if new_rs is not None else 0
    pods = sum(replicas_of(rs) for rs in all_rs)
    max_total = replicas + max_surge(deployment)
    if pods >= max_total:
        return current
    return current + min(max_total - pods, replicas - current)


def old_rs_scale_down(
    deployment: dict[str, Any],
    all_rs: list[dict[str, Any]],
    old_rs: list[dict[str, Any]],
    new_rs: dict[str, Any] | None,
) -> dict[str, int]:
    """reconcileOldReplicaSets: the new replica counts of old ReplicaSets (by name) that may shrink now.

    First unhealthy replicas are removed (cleanupUnhealthyReplicas), then available ones as far as
    minAvailable allows (scaleDownOldReplicaSetsForRollingUpdate), oldest ReplicaSet first.
    """
    if sum(replicas_of(rs) for rs in old_rs) == 0:
        return {}
    replicas = replicas_of(deployment)
    min_available = replicas - max_unavailable(deployment)
    all_pods = sum(replicas_of(rs) for rs in all_rs)
    new_unavailable = replicas_of(new_rs) - status_count(new_rs, "availableReplicas")
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    targets: dict[str, int] = {}
    ordered = sorted(old_rs, key=_creation_order)
    cleaned = 0
    for rs in ordered:
        if cleaned >= max_scaled_down:
            break
        current = replicas_of(rs)
        unhealthy = current - status_count(rs, "availableReplicas")
        if current == 0 or unhealthy <= 0:
            continue
        down = min(max_scaled_down - cleaned, unhealthy)
        targets[rs["metadata"]["name"]] = current - down
        cleaned += down
    sizes = {rs["metadata"]["name"]: targets.get(rs["metadata"]["name"], replicas_of(rs)) for rs in all_rs}
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    if available > min_available:
        to_scale_down = available - min_available
        scaled = 0
        for rs in ordered:
            name = rs["metadata"]["name"]
            if scaled >= to_scale_down:
                break
            if sizes[name] == 0:
                continue
            down = min(sizes[name], to_scale_down - scaled)
            targets[name] = sizes[name] - down
            scaled += down
    return targets


def proportional_targets(deployment: dict[str, Any], active: list[dict[str, Any]]) -> dict[str, int]:
    """A scaling event while several ReplicaSets are active (paused mid-rollout): spread the change
    over them in proportion to their sizes, the remainder to the newest (scale up) or the oldest."""
    allowed = replicas_of(deployment) + max_surge(deployment)
    current = sum(replicas_of(rs) for rs in active)
    delta = allowed - current
    if delta == 0 or current == 0:
        return {}
    targets: dict[str, int] = {}
    ordered = sorted(active, key=_creation_order, reverse=delta > 0)
    assigned = 0
    for rs in ordered:
        share = int(replicas_of(rs) * delta / current)
        targets[rs["metadata"]["name"]] = max(0, replicas_of(rs) + share)
        assigned += share
    leftover = delta - assigned
    if leftover and ordered:
        first = ordered[0]["metadata"]["name"]
        targets[first] = max(0, targets[first] + leftover)
    return targets


def _creation_order(rs: dict[str, Any]) -> tuple[str, str]:
    return (str(rs["metadata"].get("creationTimestamp") or ""), str(rs["metadata"]["name"]))
