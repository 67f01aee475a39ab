"""Status conditions, set the way the real controllers set them."""

from __future__ import annotations

from typing import Any

Condition = dict[str, Any]


def get_condition(conditions: list[Condition] | None, condition_type: str) -> Condition | None:
    for condition in conditions or []:
        if condition.get("type") == condition_type:
            return condition
    return None


def set_condition(conditions: list[Condition] | None, new: Condition) -> list[Condition]:
    """SetDeploymentCondition's rule (also the Job's): the same status and reason change nothing; the
    same status keeps lastTransitionTime; the updated condition moves to the end of the list."""
    current = get_condition(conditions, new["type"])
    if (
        current is not None
        and current.get("status") == new["status"]
        and current.get("reason") == new.get("reason")
    ):
        return list(conditions or [])
    updated = dict(new)
    if current is not None and current.get("status") == new["status"] and "lastTransitionTime" in current:
        updated["lastTransitionTime"] = current["lastTransitionTime"]
    return [c for c in conditions or [] if c.get("type") != new["type"]] + [updated]


def keep_transition_times(new: list[Condition], old: list[Condition] | None) -> list[Condition]:
    """The kubelet's rule for pod and node conditions: a condition whose status did not change keeps
    its lastTransitionTime."""
    kept = []
    for condition in new:
        previous = get_condition(old, condition["type"])
        if previous is not None and previous.get("status") == condition.get("status"):
            condition = {**condition, "lastTransitionTime": previous.get("lastTransitionTime")}
        kept.append(condition)
    return kept


def is_true(conditions: list[Condition] | None, condition_type: str) -> bool:
    condition = get_condition(conditions, condition_type)
    return condition is not None and condition.get("status") == "True"
