"""Pods as the workload controllers see them: active, ready, available; and pods made from templates."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.controllers.conditions import get_condition
from sandbox.controllers.ownership import is_deleting, owner_reference
from sandbox.controllers.timestamps import seconds_since

SUCCEEDED = "Succeeded"
FAILED = "Failed"
RUNNING = "Running"
PENDING = "Pending"


def phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or PENDING)


def is_terminal(pod: dict[str, Any]) -> bool:
    return phase(pod) in (SUCCEEDED, FAILED)


def is_active(pod: dict[str, Any]) -> bool:
    """controller.IsPodActive: not finished and not being deleted."""
    return not is_terminal(pod) and not is_deleting(pod)


def is_ready(pod: dict[str, Any]) -> bool:
    condition = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    return condition is not None and condition.get("status") == "True"


def available_in(pod: dict[str, Any], min_ready_seconds: int, now: str) -> float | None:
    """0 when the pod is available (ready for minReadySeconds), the seconds until it will be when it is
    ready but not yet long enough, None when it is not ready."""
    if not is_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    condition = get_condition((pod.get("status") or {}).get("conditions"), "Ready") or {}
    elapsed = seconds_since(condition.get("lastTransitionTime"), now)
    if elapsed is None:
        return 0.0
    return max(0.0, min_ready_seconds - elapsed)


def is_available(pod: dict[str, Any], min_ready_seconds: int, now: str) -> bool:
    return available_in(pod, min_ready_seconds, now) == 0.0


def pod_from_template(
    template: dict[str, Any],
    owner: dict[str, Any],
    *,
    name: str | None = None,
    generate_name: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """controller.GetPodFromTemplate: labels, annotations and finalizers of the template, the owner's
    controller reference, and a copy of the template's spec."""
    template_metadata = template.get("metadata") or {}
    metadata: dict[str, Any] = {}
    if name is not None:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name or f"{owner['metadata']['name']}-"
    metadata["namespace"] = owner["metadata"].get("namespace")
    labels = {**(template_metadata.get("labels") or {}), **(extra_labels or {})}
    if labels:
        metadata["labels"] = labels
    if template_metadata.get("annotations"):
        metadata["annotations"] = dict(template_metadata["annotations"])
    if template_metadata.get("finalizers"):
        metadata["finalizers"] = list(template_metadata["finalizers"])
    metadata["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def deletion_rank(pod: dict[str, Any]) -> tuple[int, int, int, str]:
    """ActivePods ordering: pods that are cheapest to lose sort first (unscheduled, pending, not ready,
    newest)."""
    spec = pod.get("spec") or {}
    phase_rank = {PENDING: 0, "Unknown": 1, RUNNING: 2}.get(phase(pod), 0)
    created = str(pod["metadata"].get("creationTimestamp") or "")
    # Newer pods go first: invert the timestamp's characters so a plain ascending sort does it.
    newest_first = "".join(chr(0x10FFFF - ord(c)) for c in created)
    return (1 if spec.get("nodeName") else 0, phase_rank, 1 if is_ready(pod) else 0, newest_first)
