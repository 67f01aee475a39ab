"""Where a progressive delivery stands: the facts the app screen shows for an Argo Rollouts `Rollout`
or a Flagger `Canary`, read from the live object alone.

For a Rollout these are the facts `kubectl argo rollouts get rollout` prints: the strategy, the
step (`status.currentStepIndex` of the canary steps), the weight the current step sets (Argo
Rollouts' GetCurrentSetWeight: 0 once aborted, 100 past the last step, else the nearest `setWeight`
at or before the current step), the weight the traffic router reports, the pause and its reasons,
and the ReplicaSets by pod-template hash: stable (`status.stableRS`) and canary
(`status.currentPodHash`, while it differs from stable), or for blue-green the ones behind the
active and preview Services. Argo Rollouts names each ReplicaSet `<rollout>-<hash>`.

A Flagger Canary shifts traffic between two Deployments, the primary (`<target>-primary`, stable)
and the target itself (canary); its weight and iterations are in its status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.health.live_fields import (
    int_at,
    mapping_at,
    mappings_at,
    optional_int_at,
    str_at,
    value_at,
)

ROLLOUT = ("argoproj.io", "Rollout")
FLAGGER_CANARY = ("flagger.app", "Canary")


@dataclass(frozen=True, slots=True)
class ReplicaCounts:
    """A Rollout's replicas, as `kubectl argo rollouts get` counts them."""

    desired: int
    current: int
    updated: int
    ready: int
    available: int


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    """What a Rollout or a Flagger Canary says of its progress; empty strings and None for facts
    it does not state."""

    kind: str
    """"Rollout" or "Canary"."""
    name: str
    strategy: str
    """"Canary" or "BlueGreen" for a Rollout; "Canary", "A/B testing", "Blue/Green" or
    "Blue/Green mirroring" for a Flagger Canary."""
    phase: str
    message: str
    step: int | None = None
    """The current step, counted from 0 as in status; equal to `steps` once every step is done."""
    steps: int = 0
    current_step: str = ""
    """What the current step does, in words: "set weight 40%", "pause until promoted"."""
    set_weight: int | None = None
    """The canary weight (percent) the current step sets."""
    actual_weight: int | None = None
    """The canary weight the traffic router reports, when it reports one."""
    max_weight: int | None = None
    paused: bool = False
    pause_reasons: tuple[str, ...] = ()
    aborted: bool = False
    stable: str = ""
    """The stable ReplicaSet (a Rollout) or Deployment (Flagger's primary)."""
    canary: str = ""
    """The canary ReplicaSet or Deployment; "" while the stable one is also the latest."""
    active: str = ""
    """Blue-green: the ReplicaSet behind the active Service."""
    preview: str = ""
    """Blue-green: the ReplicaSet behind the preview Service, while it differs from the active one."""
    replicas: ReplicaCounts | None = None
    failed_checks: int | None = None
    """Flagger: failed analysis checks so far, of `failure_threshold`."""
    failure_threshold: int | None = None


def rollout_status_of(obj: Mapping[str, Any] | None) -> RolloutStatus | None:
    """The progress of a live Rollout or Flagger Canary; None for any other object."""
    if obj is None:
        return None
    kind = (str_at(obj, "apiVersion").rpartition("/")[0], str_at(obj, "kind"))
    if kind == ROLLOUT:
        return _argo_rollout(obj)
    if kind == FLAGGER_CANARY:
        return _flagger_canary(obj)
    return None


# --- Argo Rollouts -----------------------------------------------------------------------------------


def _argo_rollout(obj: Mapping[str, Any]) -> RolloutStatus:
    name = str_at(obj, "metadata", "name")
    spec = mapping_at(obj, "spec")
    status = mapping_at(obj, "status")
    strategy = mapping_at(spec, "strategy")
    steps = mappings_at(strategy, "canary", "steps")
    index = optional_int_at(status, "currentStepIndex")
    aborted = status.get("abort") is True
    current_hash = str_at(status, "currentPodHash")
    stable_hash = str_at(status, "stableRS") or str_at(status, "canary", "stableRS")
    pause_reasons = tuple(
        reason
        for reason in (str_at(pause, "reason") for pause in mappings_at(status, "pauseConditions"))
        if reason
    )
    if spec.get("paused") is True:
        pause_reasons = ("paused by a person (spec.paused)", *pause_reasons)
    desired = optional_int_at(spec, "replicas")

    facts = RolloutStatus(
        kind="Rollout",
        name=name,
        strategy="BlueGreen" if "blueGreen" in strategy else "Canary" if "canary" in strategy else "",
        phase=str_at(status, "phase"),
        message=str_at(status, "message"),
        paused=bool(pause_reasons),
        pause_reasons=pause_reasons,
        aborted=aborted,
        stable=_replica_set(name, stable_hash),
        canary=_replica_set(name, current_hash) if current_hash != stable_hash else "",
        replicas=ReplicaCounts(
            desired=1 if desired is None else desired,  # the API server's default
            current=int_at(status, "replicas"),
            updated=int_at(status, "updatedReplicas"),
            ready=int_at(status, "readyReplicas"),
            available=int_at(status, "availableReplicas"),
        ),
    )
    if facts.strategy == "BlueGreen":
        active = str_at(status, "blueGreen", "activeSelector")
        preview = str_at(status, "blueGreen", "previewSelector")
        return replace(
            facts,
            active=_replica_set(name, active),
            preview=_replica_set(name, preview) if preview != active else "",
        )
    if facts.strategy != "Canary":
        return facts
    router_weight = optional_int_at(status, "canary", "weights", "canary", "weight")
    if steps and index is not None:
        facts = replace(facts, step=index, steps=len(steps), current_step=_step_words(steps, index))
    return replace(facts, set_weight=_set_weight(steps, index or 0, aborted), actual_weight=router_weight)


def _set_weight(steps: list[Mapping[str, Any]], index: int, aborted: bool) -> int:
    """Argo Rollouts' GetCurrentSetWeight."""
    if aborted:
        return 0
    if not steps or index >= len(steps) or index < 0:
        return 100
    for step in reversed(steps[: index + 1]):
        weight = optional_int_at(step, "setWeight")
        if weight is not None:
            return weight
    return 0


def _step_words(steps: list[Mapping[str, Any]], index: int) -> str:
    if index >= len(steps):
        return "all steps done"
    if index < 0:
        return ""
    step = steps[index]
    if "setWeight" in step:
        return f"set weight {int_at(step, 'setWeight')}%"
    if "pause" in step:
        duration = value_at(step, "pause", "duration")
        if duration is None:
            return "pause until promoted"
        return f"pause {duration}s" if isinstance(duration, int) else f"pause {duration}"
    for key, words in _STEP_WORDS.items():
        if key in step:
            return words
    return ", ".join(sorted(step)) or "empty step"


_STEP_WORDS = {
    "analysis": "analysis",
    "experiment": "experiment",
    "setCanaryScale": "set canary scale",
    "setHeaderRoute": "set header route",
    "setMirrorRoute": "set mirror route",
    "plugin": "plugin step",
}


def _replica_set(rollout_name: str, pod_hash: str) -> str:
    return f"{rollout_name}-{pod_hash}" if pod_hash else ""


# --- Flagger -----------------------------------------------------------------------------------------


def _flagger_canary(obj: Mapping[str, Any]) -> RolloutStatus:
    spec = mapping_at(obj, "spec")
    status = mapping_at(obj, "status")
    analysis = mapping_at(spec, "analysis") or mapping_at(spec, "canaryAnalysis")  # the pre-1.0 name
    target = str_at(spec, "targetRef", "name")
    phase = str_at(status, "phase")
    iterations = optional_int_at(analysis, "iterations")
    step: int | None = None
    steps = 0
    if iterations:
        step, steps = int_at(status, "iterations"), iterations
    pause_reasons: tuple[str, ...] = ()
    if spec.get("suspend") is True:
        pause_reasons = ("analysis suspended (spec.suspend)",)
    elif phase in _FLAGGER_WAITING:
        pause_reasons = (_FLAGGER_WAITING[phase],)
    promoted = next((c for c in mappings_at(status, "conditions") if c.get("type") == "Promoted"), None)
    return RolloutStatus(
        kind="Canary",
        name=str_at(obj, "metadata", "name"),
        strategy=_flagger_strategy(analysis),
        phase=phase,
        message=str_at(promoted, "message") if promoted is not None else "",
        step=step,
        steps=steps,
        set_weight=optional_int_at(status, "canaryWeight") if not iterations else None,
        max_weight=(optional_int_at(analysis, "maxWeight") or _last_step_weight(analysis))
        if not iterations
        else None,
        paused=bool(pause_reasons),
        pause_reasons=pause_reasons,
        aborted=phase == "Failed",
        stable=f"{target}-primary" if target else "",
        canary=target if phase not in ("", "Initialized", "Succeeded", "Failed") else "",
        failed_checks=optional_int_at(status, "failedChecks"),
        failure_threshold=optional_int_at(analysis, "threshold"),
    )


_FLAGGER_WAITING = {
    "Waiting": "waiting for the confirm-rollout webhook",
    "WaitingPromotion": "waiting for the confirm-promotion webhook",
}


def _flagger_strategy(analysis: Mapping[str, Any]) -> str:
    """Flagger's deployment strategies, told apart by the analysis settings, as its docs do."""
    if not analysis.get("iterations"):
        return "Canary"
    if analysis.get("match"):
        return "A/B testing"
    return "Blue/Green mirroring" if analysis.get("mirror") is True else "Blue/Green"


def _last_step_weight(analysis: Mapping[str, Any]) -> int | None:
    weights = value_at(analysis, "stepWeights")
    if isinstance(weights, list) and weights and isinstance(weights[-1], int):
        return weights[-1]
    return None
