"""Graceful deletion: the grace period of a pod's DELETE, and when an update finishes a deletion.

A pod is the one kind a real server deletes gracefully (podStrategy.CheckGracefulDelete with
rest.BeforeDelete): a scheduled, unfinished pod gets `deletionTimestamp` (now plus the grace period)
and `deletionGracePeriodSeconds`, and stays until its kubelet has stopped it and deletes it with grace
period 0. A later DELETE may only shorten the grace period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.kinds import ResourceType

PODS = ("", "pods")
NAMESPACES = ("", "namespaces")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def later(timestamp: str, seconds: int) -> str:
    """An RFC 3339 timestamp moved by `seconds` (deletionTimestamp is when the grace period ends)."""
    try:
        moment = datetime.strptime(timestamp, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return timestamp
    return (moment + timedelta(seconds=seconds)).strftime(_TIME_FORMAT)


def grace_period_for(resource_type: ResourceType, obj: dict[str, Any], requested: int | None) -> int | None:
    """podStrategy.CheckGracefulDelete: the grace period of a pod's deletion (None for kinds that are
    not deleted gracefully). An unscheduled or finished pod goes at once."""
    if resource_type.storage_key != PODS:
        return None
    spec = obj.get("spec") or {}
    period = requested
    if period is None:
        period = int(spec.get("terminationGracePeriodSeconds") or 0)
    if not spec.get("nodeName"):
        period = 0
    if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        period = 0
    return 1 if period < 0 else period


def should_delete_during_update(
    resource_type: ResourceType, old: dict[str, Any], new: dict[str, Any]
) -> bool:
    """ShouldDeleteDuringUpdate: an update that removes the last finalizer of an object being deleted
    deletes it, unless a graceful deletion is still running (its kubelet deletes the pod), or a
    namespace still has `spec.finalizers` (the namespace controller finalizes it)."""
    metadata = old["metadata"]
    if not metadata.get("deletionTimestamp") or new["metadata"].get("finalizers"):
        return False
    if metadata.get("deletionGracePeriodSeconds"):
        return False
    return not (resource_type.storage_key == NAMESPACES and (new.get("spec") or {}).get("finalizers"))
