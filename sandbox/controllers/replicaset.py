"""The ReplicaSet controller: keeps `spec.replicas` active pods from the template, and reports them.

Pods are named `<replicaset>-<5 random characters>` through generateName. Scaling down deletes the
pods that are cheapest to lose first (unscheduled, pending, not ready, newest), as ActivePods sorts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.events import NORMAL, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import controller_keys, is_deleting, namespace_name, own_key, owned
from sandbox.controllers.podstate import available_in, deletion_rank, is_active, is_ready, pod_from_template
from sandbox.controllers.settings import ControllerSettings
from sandbox.selectors import LabelSelector, label_selector_from_object
from sandbox.store import StoredObject, WatchEvent


class ReplicaSetController(ReconcileLoop):
    """Also the replication manager's engine (see `replicationcontroller`), as in
    kube-controller-manager, where the ReplicationController is served by the ReplicaSet code."""

    name = "replicaset-controller"
    api_version = "apps/v1"
    kind = "ReplicaSet"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def selector_of(self, owner: dict[str, Any]) -> LabelSelector | None:
        """The owner's pod selector; None adopts nothing (only pods it already controls count)."""
        return label_selector_from_object((owner.get("spec") or {}).get("selector"))

    def sources(self) -> list[Source]:
        return [
            Source(self.api_version, self.kind, own_key),
            Source("v1", "Pod", self._pod_keys),
        ]

    def resync(self) -> Iterable[Key]:
        owners = self.api.resource(self.api_version, self.kind)
        return [namespace_name(rs.obj) for rs in self.api.store.iter_objects(owners.storage_key)]

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        keys = set(controller_keys(self.kind)(event))
        if not keys and event.type != "DELETED":
            keys.update(self._selecting(event.new))
        return keys

    def _selecting(self, pod: StoredObject) -> list[Key]:
        """Owners that would adopt this orphan pod."""
        labels = pod.obj["metadata"].get("labels")
        if not labels:
            return []
        owners = self.api.resource(self.api_version, self.kind)
        keys: list[Key] = []
        for owner in self.api.list(owners, pod.namespace).items:
            selector = self.selector_of(owner.obj)
            if selector is not None and selector.matches(labels):
                keys.append(namespace_name(owner.obj))
        return keys

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        stored = self.api.find(self.api.resource(self.api_version, self.kind), namespace, name)
        if stored is None:
            return None
        rs = stored.obj
        pods_type = self.api.resource("v1", "Pod")
        selector = self.selector_of(rs)
        pods = [p for p in owned(self.api, pods_type, rs, selector, manager=self.manager) if is_active(p.obj)]
        if not is_deleting(rs):
            pods = self._manage(rs, pods)
        return self._update_status(stored, pods)

    def _manage(self, rs: dict[str, Any], pods: list[StoredObject]) -> list[StoredObject]:
        desired = int((rs.get("spec") or {}).get("replicas", 1))
        pods_type = self.api.resource("v1", "Pod")
        namespace = rs["metadata"].get("namespace")
        if len(pods) < desired:
            template = (rs.get("spec") or {}).get("template") or {}
            for _ in range(desired - len(pods)):
                created = self.api.create(
                    pods_type, namespace, pod_from_template(template, rs), manager=self.manager
                )
                pods.append(created)
                self.events.record(self.api, rs, NORMAL, "SuccessfulCreate", f"Created pod: {created.name}")
        elif len(pods) > desired:
            doomed = sorted(pods, key=lambda p: deletion_rank(p.obj))[: len(pods) - desired]
            for pod in doomed:
                self.api.delete(pods_type, pod.namespace, pod.name)
                self.events.record(self.api, rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod.name}")
            gone = {p.name for p in doomed}
            pods = [p for p in pods if p.name not in gone]
        return pods

    def _update_status(self, stored: StoredObject, pods: list[StoredObject]) -> float | None:
        rs = stored.obj
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.api.clock()
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        fully_labeled = ready = available = 0
        recheck: float | None = None
        for pod in pods:
            labels = pod.obj["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_ready(pod.obj):
                ready += 1
            wait = available_in(pod.obj, min_ready, now)
            if wait == 0.0:
                available += 1
            elif wait is not None:
                recheck = wait if recheck is None else min(recheck, wait)
        status: dict[str, Any] = {"replicas": len(pods)}
        if fully_labeled:
            status["fullyLabeledReplicas"] = fully_labeled
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        if rs["metadata"].get("generation"):
            status["observedGeneration"] = rs["metadata"]["generation"]
        conditions = (rs.get("status") or {}).get("conditions")
        if conditions:
            status["conditions"] = conditions
        if status != rs.get("status"):
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)
        return recheck
