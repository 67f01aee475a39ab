"""The node lifecycle controller's NoSchedule taints, and the taint rules the scheduler applies.

A cordoned node (`spec.unschedulable: true`, what `kubectl cordon` and `drain` patch) gets the
`node.kubernetes.io/unschedulable:NoSchedule` taint with its `timeAdded`, as doNoScheduleTaintingPass
adds it; uncordoning removes it. Node conditions map to their taints the same way (not-ready,
memory-pressure, ...). Only these controller-owned taints are touched; a user's own taints stay.

`scheduling_refusal` is the scheduler's verdict on a node from the NodeUnschedulable and
TaintToleration filter plugins, worded as the scheduler's FailedScheduling message words it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.store import WatchEvent

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
# nodeConditionToTaintKeyStatusMap: the condition statuses that taint a node NoSchedule.
CONDITION_TAINTS: dict[tuple[str, str], str] = {
    ("Ready", "False"): "node.kubernetes.io/not-ready",
    ("Ready", "Unknown"): "node.kubernetes.io/unreachable",
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
_MANAGED_KEYS = frozenset([UNSCHEDULABLE_TAINT, *CONDITION_TAINTS.values()])


def no_schedule_taint_keys(node: dict[str, Any]) -> list[str]:
    """The NoSchedule taints the node lifecycle controller wants on this node."""
    keys = []
    for condition in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get((str(condition.get("type")), str(condition.get("status"))))
        if key is not None:
            keys.append(key)
    if (node.get("spec") or {}).get("unschedulable"):
        keys.append(UNSCHEDULABLE_TAINT)
    return keys


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Toleration.ToleratesTaint: effect, then key (an empty key with Exists matches all), then value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


def scheduling_refusal(pod_spec: dict[str, Any], node: dict[str, Any]) -> str | None:
    """Why the scheduler's filters turn this node down for the pod, or None when they admit it."""
    tolerations = list(pod_spec.get("tolerations") or [])
    node_spec = node.get("spec") or {}
    if node_spec.get("unschedulable"):
        cordon = {"key": UNSCHEDULABLE_TAINT, "effect": NO_SCHEDULE}
        if not any(tolerates(t, cordon) for t in tolerations):
            return "node(s) were unschedulable"
    for taint in node_spec.get("taints") or []:
        if taint.get("effect") not in (NO_SCHEDULE, NO_EXECUTE):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"
    return None


class NodeLifecycleController(ReconcileLoop):
    name = "node-lifecycle-controller"

    def sources(self) -> list[Source]:
        return [Source("v1", "Node", self._node_key)]

    def resync(self) -> Iterable[Key]:
        nodes = self.api.resource("v1", "Node")
        return [("", n.name) for n in self.api.store.iter_objects(nodes.storage_key)]

    @staticmethod
    def _node_key(event: WatchEvent) -> Iterable[Key]:
        return [("", event.new.name)]

    def reconcile(self, key: Key) -> float | None:
        _scope, name = split_key(key)
        nodes = self.api.resource("v1", "Node")
        stored = self.api.find(nodes, None, name)
        if stored is None:
            return None
        node = stored.obj
        wanted = no_schedule_taint_keys(node)
        taints = list((node.get("spec") or {}).get("taints") or [])
        kept = [
            t for t in taints if not (t.get("effect") == NO_SCHEDULE and t.get("key") in _MANAGED_KEYS)
        ] + [t for t in taints if t.get("effect") == NO_SCHEDULE and t.get("key") in wanted]
        present = {t.get("key") for t in kept if t.get("effect") == NO_SCHEDULE}
        # SwapNodeControllerTaint stamps every taint it adds with the time it was added.
        added = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for taint_key in wanted:
            if taint_key not in present:
                kept.append({"key": taint_key, "effect": NO_SCHEDULE, "timeAdded": added})
        if sorted(map(repr, kept)) == sorted(map(repr, taints)):
            return None
        updated = stored.copy()
        if kept:
            updated.setdefault("spec", {})["taints"] = kept
        else:
            updated.setdefault("spec", {}).pop("taints", None)
        self.api.update(nodes, None, stored.name, updated, manager=self.manager)
        return None
