"""Argo Rollouts `Rollout` health, after Argo CD's `argoproj.io/Rollout/health.lua`.

Argo Rollouts 1.0 and later write the verdict themselves (`status.phase`, `status.message`), and
Argo CD surfaces it, with Paused read as Suspended. Older controllers leave it to be worked out
from conditions, pause state, replica counts and the stable and current pod-template hashes, in
the order below. The script's Lua quirks are kept where they decide a verdict: `observedGeneration`
is compared only when it reads as a number (before 0.10 it was a hash), and a stable ReplicaSet
recorded under `status.canary` counts even for a blue-green Rollout.

Where the script would stop on a Lua error (a Rollout without `metadata.generation`, without
`spec.strategy`, or without conditions), an absent field is read as absent instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import lua_number, mapping_at, mappings_at, value_at
from core.model import Health, HealthStatus

WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"

_NOT_OBSERVED = HealthStatus(Health.PROGRESSING, "Waiting for rollout spec update to be observed")
_PAUSED = HealthStatus(Health.SUSPENDED, "Rollout is paused")
_PHASES = {health.value: health for health in Health} | {"Paused": Health.SUSPENDED}
_DEGRADING_PROGRESS_REASONS = ("RolloutAborted", "ProgressDeadlineExceeded")


def rollout_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `argoproj.io/Rollout`."""
    if not _generation_observed(obj) or not _workload_generation_observed(obj):
        return _NOT_OBSERVED
    status = mapping_at(obj, "status")
    phase = status.get("phase")
    if phase is not None:
        message = status.get("message")
        text = message if isinstance(message, str) else ""
        health = _PHASES.get(phase) if isinstance(phase, str) else None
        if health is None:
            return HealthStatus(Health.UNKNOWN, f"the Rollout reports an unknown phase {phase!r}")
        return HealthStatus(health, text)

    for condition in mappings_at(status, "conditions"):
        condition_type = condition.get("type")
        if condition_type == "InvalidSpec" or (
            condition_type == "Progressing" and condition.get("reason") in _DEGRADING_PROGRESS_REASONS
        ):
            message = condition.get("message")
            return HealthStatus(Health.DEGRADED, message if isinstance(message, str) else "")

    if mappings_at(status, "pauseConditions") or value_at(obj, "spec", "paused") not in (None, False):
        return _PAUSED
    current_hash = status.get("currentPodHash")
    if current_hash is None:
        return HealthStatus(
            Health.PROGRESSING, "Waiting for rollout to finish: status has not been reconciled."
        )

    desired = _number(value_at(obj, "spec", "replicas"), 1)
    replicas = _number(status.get("replicas"), 0)
    updated = _number(status.get("updatedReplicas"), 0)
    available = _number(status.get("availableReplicas"), 0)
    if updated < desired:
        return HealthStatus(
            Health.PROGRESSING, "Waiting for roll out to finish: More replicas need to be updated"
        )
    if available < updated:
        return HealthStatus(
            Health.PROGRESSING,
            "Waiting for roll out to finish: updated replicas are still becoming available",
        )

    stable_hash = _stable_hash(status)
    strategy = mapping_at(obj, "spec", "strategy")
    if strategy.get("blueGreen") is not None:
        if current_hash != value_at(status, "blueGreen", "activeSelector"):
            return HealthStatus(Health.PROGRESSING, "active service cutover pending")
        if stable_hash != "" and stable_hash != current_hash:
            return HealthStatus(Health.PROGRESSING, "waiting for analysis to complete")
    elif strategy.get("canary") is not None:
        if replicas > updated:
            return HealthStatus(
                Health.PROGRESSING, "Waiting for roll out to finish: old replicas are pending termination"
            )
        if stable_hash == "" or stable_hash != current_hash:
            return HealthStatus(Health.PROGRESSING, "Waiting for rollout to finish steps")
    return HealthStatus(Health.HEALTHY)


def _generation_observed(obj: Mapping[str, Any]) -> bool:
    """Whether the controller has seen the latest spec; always so for a pre-0.10 (hash) observedGeneration."""
    status = value_at(obj, "status")
    if not isinstance(status, Mapping):
        return False
    observed = lua_number(status.get("observedGeneration"))
    generation = lua_number(value_at(obj, "metadata", "generation"))
    if observed is None or generation is None or observed > generation:
        return True
    return observed == generation


def _workload_generation_observed(obj: Mapping[str, Any]) -> bool:
    """Whether a Rollout built on a Deployment (`workloadRef`) has seen that Deployment's latest spec."""
    annotations = value_at(obj, "metadata", "annotations")
    if value_at(obj, "spec", "workloadRef") is None or not isinstance(annotations, Mapping):
        return True
    wanted = lua_number(annotations.get(WORKLOAD_GENERATION_ANNOTATION))
    return wanted == lua_number(value_at(obj, "status", "workloadObservedGeneration"))


def _stable_hash(status: Mapping[str, Any]) -> Any:
    """The stable ReplicaSet's hash: `status.stableRS` since 0.8, `status.canary.stableRS` before.

    None (not "") when `status.canary` exists without one, as in the script, where nil then differs
    from both "" and the current hash.
    """
    if status.get("stableRS") is not None:
        return status["stableRS"]
    canary = status.get("canary")
    if canary is not None:
        return canary.get("stableRS") if isinstance(canary, Mapping) else None
    return ""


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
