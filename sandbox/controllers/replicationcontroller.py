"""The replication manager: a ReplicationController keeps `spec.replicas` active pods from its template.

The same rules as the ReplicaSet controller (pods `<rc>-<5 random characters>`, orphans adopted,
the cheapest pods deleted first when scaling down), with the ReplicationController's plain-map
selector and its status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas).
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


def rc_selector(rc: dict[str, Any]) -> LabelSelector:
    """A ReplicationController's selector is a map of labels (equality only)."""
    return label_selector_from_object({"matchLabels": dict((rc.get("spec") or {}).get("selector") or {})})


class ReplicationManager(ReconcileLoop):
    name = "replication-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [Source("v1", "ReplicationController", own_key), Source("v1", "Pod", self._pod_keys)]

    def resync(self) -> Iterable[Key]:
        controllers = self.api.resource("v1", "ReplicationController")
        return [namespace_name(rc.obj) for rc in self.api.store.iter_objects(controllers.storage_key)]

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        keys = set(controller_keys("ReplicationController")(event))
        labels = event.new.obj["metadata"].get("labels")
        if not keys and event.type != "DELETED" and labels:
            controllers = self.api.resource("v1", "ReplicationController")
            for rc in self.api.store.iter_objects(controllers.storage_key, event.new.namespace):
                if (rc.obj.get("spec") or {}).get("selector") and rc_selector(rc.obj).matches(labels):
                    keys.add(namespace_name(rc.obj))
        return keys

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        stored = self.api.find(self.api.resource("v1", "ReplicationController"), namespace, name)
        if stored is None:
            return None
        rc = stored.obj
        selector = rc_selector(rc) if (rc.get("spec") or {}).get("selector") else None
        pods_type = self.api.resource("v1", "Pod")
        pods = [p for p in owned(self.api, pods_type, rc, selector, manager=self.manager) if is_active(p.obj)]
        if not is_deleting(rc):
            pods = self._manage(rc, pods)
        return self._update_status(stored, pods)

    def _manage(self, rc: dict[str, Any], pods: list[StoredObject]) -> list[StoredObject]:
        desired = int((rc.get("spec") or {}).get("replicas", 1))
        pods_type = self.api.resource("v1", "Pod")
        namespace = rc["metadata"].get("namespace")
        if len(pods) < desired:
            template = (rc.get("spec") or {}).get("template") or {}
            for _ in range(desired - len(pods)):
                created = self.api.create(
                    pods_type, namespace, pod_from_template(template, rc), manager=self.manager
                )
                pods.append(created)
                self.events.record(self.api, rc, NORMAL, "SuccessfulCreate", f"Created pod: {created.name}")
        elif len(pods) > desired:
            doomed = sorted(pods, key=lambda p: deletion_rank(p.obj))[: len(pods) - desired]
            for pod in doomed:
                self.api.delete(pods_type, pod.namespace, pod.name)
                self.events.record(self.api, rc, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod.name}")
            gone = {p.name for p in doomed}
            pods = [p for p in pods if p.name not in gone]
        return pods

    def _update_status(self, stored: StoredObject, pods: list[StoredObject]) -> float | None:
        rc = stored.obj
        spec = rc.get("spec") or {}
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
        if rc["metadata"].get("generation"):
            status["observedGeneration"] = rc["metadata"]["generation"]
        conditions = (rc.get("status") or {}).get("conditions")
        if conditions:
            status["conditions"] = conditions
        if status != rc.get("status"):
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)
        return recheck
