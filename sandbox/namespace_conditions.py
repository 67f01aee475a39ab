"""The status conditions the namespace controller keeps on a terminating namespace.

Every condition is always present, True with what is wrong or False with its all-is-well reason, in
the controller's order (deletion/status_condition_utils.go). The sandbox discovers and deletes content
itself, so only the two content conditions ever turn True: what is left (`pods. has 2 resource
instances`: the resource, a dot, then its group) and which finalizers hold it.
"""

from __future__ import annotations

from typing import Any

NAMESPACE_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentRemoved", "All content successfully removed"),
)


def namespace_conditions(
    old: list[dict[str, Any]], remaining: dict[str, int], finalizers: dict[str, int], now: str
) -> list[dict[str, Any]]:
    """The conditions for this much content left (`{"pods.": 2}`) and these finalizers holding it; a
    condition's lastTransitionTime moves only when its status does."""
    failing: dict[str, tuple[str, str]] = {}
    if remaining:
        counts = sorted(f"{resource} has {count} resource instances" for resource, count in remaining.items())
        failing["NamespaceContentRemaining"] = (
            "SomeResourcesRemain",
            f"Some resources are remaining: {', '.join(counts)}",
        )
    if finalizers:
        held = sorted(f"{name} in {count} resource instances" for name, count in finalizers.items())
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizerRemain",
            f"Some finalizers are remaining: {', '.join(held)}",
        )
    conditions = list(old)
    for condition_type, ok_reason, ok_message in NAMESPACE_CONDITIONS:
        status, (reason, message) = (
            ("True", failing[condition_type])
            if condition_type in failing
            else ("False", (ok_reason, ok_message))
        )
        new = {
            "type": condition_type,
            "status": status,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
        index = next((i for i, c in enumerate(conditions) if c.get("type") == condition_type), None)
        if index is None:
            conditions.append(new)
            continue
        if conditions[index].get("status") == status:
            new["lastTransitionTime"] = conditions[index].get("lastTransitionTime", now)
        conditions[index] = new
    return conditions
