"""The disruption controller: each PodDisruptionBudget's status, which the eviction subresource reads.

For a budget it counts the pods its selector picks (a nil selector picks none, `{}` every pod of the
namespace), the healthy ones (Ready, not being deleted, not just evicted), and how many may go:
`disruptionsAllowed = currentHealthy - desiredHealthy`, never below zero. With an integer
`minAvailable` the expected count is the pods found; with a percentage or `maxUnavailable` it is the
scale of the pods' controllers (Deployment, ReplicaSet, StatefulSet, ReplicationController), and a pod
without one makes the sync fail (condition reason SyncFailed), as the real controller's does.
Evicted pods stay in `disruptedPods` until they are gone or two minutes have passed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import controller_ref, is_deleting, namespace_name, own_key
from sandbox.controllers.podstate import is_ready
from sandbox.controllers.timestamps import seconds_since
from sandbox.eviction import disruption_allowed_condition
from sandbox.selectors import LabelSelector, label_selector_from_object
from sandbox.store import WatchEvent

DELETION_TIMEOUT = 120.0  # seconds an evicted pod is kept out of the healthy count
_SCALED = {
    "ReplicaSet": ("apps/v1", "ReplicaSet"),
    "StatefulSet": ("apps/v1", "StatefulSet"),
    "ReplicationController": ("v1", "ReplicationController"),
    "Deployment": ("apps/v1", "Deployment"),
}


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value)


def _selector(pdb: dict[str, Any]) -> LabelSelector | None:
    selector = (pdb.get("spec") or {}).get("selector")
    return None if selector is None else label_selector_from_object(selector)


class DisruptionController(ReconcileLoop):
    name = "disruption-controller"

    def sources(self) -> list[Source]:
        return [
            Source("policy/v1", "PodDisruptionBudget", own_key),
            Source("v1", "Pod", self._pod_budgets),
            Source("apps/v1", "Deployment", self._namespace_budgets),
            Source("apps/v1", "ReplicaSet", self._namespace_budgets),
            Source("apps/v1", "StatefulSet", self._namespace_budgets),
        ]

    def resync(self) -> Iterable[Key]:
        budgets = self.api.resource("policy/v1", "PodDisruptionBudget")
        return [namespace_name(b.obj) for b in self.api.store.iter_objects(budgets.storage_key)]

    def _budgets_in(self, namespace: str) -> list[dict[str, Any]]:
        budgets = self.api.resource("policy/v1", "PodDisruptionBudget")
        return [b.obj for b in self.api.store.iter_objects(budgets.storage_key, namespace)]

    def _pod_budgets(self, event: WatchEvent) -> Iterable[Key]:
        versions = [v for v in (event.new, event.old) if v is not None]
        keys: set[Key] = set()
        for budget in self._budgets_in(event.new.namespace):
            selector = _selector(budget)
            if selector is not None and any(
                selector.matches(v.obj["metadata"].get("labels")) for v in versions
            ):
                keys.add(namespace_name(budget))
        return keys

    def _namespace_budgets(self, event: WatchEvent) -> Iterable[Key]:
        return [namespace_name(b) for b in self._budgets_in(event.new.namespace)]

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        budgets = self.api.resource("policy/v1", "PodDisruptionBudget")
        stored = self.api.find(budgets, namespace, name)
        if stored is None or is_deleting(stored.obj):
            return None
        pdb = stored.obj
        spec = pdb.get("spec") or {}
        selector = _selector(pdb)
        pods = [
            p.obj
            for p in self.api.store.iter_objects(self.api.resource("v1", "Pod").storage_key, namespace)
            if selector is not None and selector.matches(p.obj["metadata"].get("labels"))
        ]
        now = self.api.clock()
        old_status = pdb.get("status") or {}
        disrupted, recheck = self._still_disrupted(old_status.get("disruptedPods") or {}, pods, now)
        healthy = sum(
            1 for p in pods if is_ready(p) and not is_deleting(p) and p["metadata"]["name"] not in disrupted
        )
        failure = ""
        expected = desired = 0
        if spec.get("maxUnavailable") is not None:
            expected, failure = self._expected_scale(pods, namespace)
            desired = max(0, expected - scaled_value(spec["maxUnavailable"], expected, round_up=True))
        elif spec.get("minAvailable") is not None:
            minimum = spec["minAvailable"]
            if isinstance(minimum, str) and minimum.endswith("%"):
                expected, failure = self._expected_scale(pods, namespace)
                desired = scaled_value(minimum, expected, round_up=True)
            else:
                expected, desired = len(pods), int(minimum)
        generation = int(pdb["metadata"].get("generation") or 0)
        status: dict[str, Any] = {"observedGeneration": generation}
        if disrupted:
            status["disruptedPods"] = disrupted
        status["disruptionsAllowed"] = 0 if failure else max(0, healthy - desired)
        status["currentHealthy"] = healthy
        status["desiredHealthy"] = desired
        status["expectedPods"] = expected
        condition = disruption_allowed_condition({**old_status, **status}, generation, now)
        if failure:
            condition.update(status="False", reason="SyncFailed", message=failure)
        status["conditions"] = [
            c for c in old_status.get("conditions") or [] if c.get("type") != "DisruptionAllowed"
        ] + [condition]
        if status != old_status:
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)
        return recheck

    def _still_disrupted(
        self, disrupted: dict[str, str], pods: list[dict[str, Any]], now: str
    ) -> tuple[dict[str, str], float | None]:
        """buildDisruptedPodMap: keep an evicted pod while it exists, is not yet being deleted, and its
        eviction is recent; the seconds until the next one expires."""
        present = {p["metadata"]["name"]: p for p in pods}
        kept: dict[str, str] = {}
        recheck: float | None = None
        for pod_name, evicted_at in disrupted.items():
            pod = present.get(pod_name)
            if pod is None or is_deleting(pod):
                continue
            age = seconds_since(evicted_at, now) or 0.0
            if age >= DELETION_TIMEOUT:
                continue
            kept[pod_name] = evicted_at
            left = DELETION_TIMEOUT - age
            recheck = left if recheck is None else min(recheck, left)
        return kept, recheck

    def _expected_scale(self, pods: list[dict[str, Any]], namespace: str) -> tuple[int, str]:
        """The summed replicas of the pods' controllers, or why they cannot be found."""
        seen: set[str] = set()
        total = 0
        for pod in pods:
            reference = controller_ref(pod)
            if reference is None:
                return 0, f"found no controllers for pod {pod['metadata']['name']!r}"
            owner = self._scaling_owner(namespace, reference)
            if owner is None:
                return 0, f"found no controllers for pod {pod['metadata']['name']!r}"
            uid = str(owner["metadata"].get("uid"))
            if uid not in seen:
                seen.add(uid)
                total += int((owner.get("spec") or {}).get("replicas", 1))
        return total, ""

    def _scaling_owner(self, namespace: str, reference: dict[str, Any]) -> dict[str, Any] | None:
        """The object whose scale counts: a ReplicaSet's Deployment when it has one."""
        kind = str(reference.get("kind"))
        if kind not in _SCALED:
            return None
        found = self.api.find(self.api.resource(*_SCALED[kind]), namespace, str(reference.get("name")))
        if found is None:
            return None
        if kind == "ReplicaSet":
            parent = controller_ref(found.obj)
            if parent is not None and parent.get("kind") == "Deployment":
                return self._scaling_owner(namespace, parent) or found.obj
        return found.obj
