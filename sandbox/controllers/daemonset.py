"""The DaemonSet controller: one pod on the node when the template's node constraints admit it.

The pod carries the node affinity and tolerations the real controller adds, and the scheduler binds
it. A template change replaces the pod (RollingUpdate) or waits for someone to delete it (OnDelete).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.events import NORMAL, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import controller_keys, is_deleting, namespace_name, own_key, owned
from sandbox.controllers.podstate import is_available, is_ready, is_terminal, pod_from_template
from sandbox.controllers.revisions import (
    CONTROLLER_REVISION_HASH,
    compute_hash,
    ensure_revision,
    prune_revisions,
    revision_data,
)
from sandbox.controllers.scheduler import fits_node
from sandbox.controllers.settings import ControllerSettings
from sandbox.selectors import label_selector_from_object
from sandbox.store import StoredObject, WatchEvent

TEMPLATE_GENERATION = "pod-template-generation"

# AddOrUpdateDaemonPodTolerations: daemon pods survive node conditions that evict other pods.
DAEMON_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)


def daemon_pod_spec(template_spec: dict[str, Any], node_name: str) -> dict[str, Any]:
    """The template's pod spec with node affinity pinned to the node, and the daemon tolerations."""
    spec = dict(template_spec)
    affinity = dict(spec.get("affinity") or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
        ]
    }
    affinity["nodeAffinity"] = node_affinity
    spec["affinity"] = affinity
    tolerations = list(spec.get("tolerations") or [])
    for toleration in DAEMON_TOLERATIONS:
        if not any(
            t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"] for t in tolerations
        ):
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations
    return spec


class DaemonSetController(ReconcileLoop):
    name = "daemonset-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [
            Source("apps/v1", "DaemonSet", own_key),
            Source("v1", "Pod", controller_keys("DaemonSet")),
            Source("v1", "Node", self._every_set),
        ]

    def resync(self) -> Iterable[Key]:
        sets = self.api.resource("apps/v1", "DaemonSet")
        return [namespace_name(s.obj) for s in self.api.store.iter_objects(sets.storage_key)]

    def _every_set(self, event: WatchEvent) -> Iterable[Key]:
        return self.resync()

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        stored = self.api.find(self.api.resource("apps/v1", "DaemonSet"), namespace, name)
        if stored is None:
            return None
        ds = stored.obj
        spec = ds.get("spec") or {}
        pods_type = self.api.resource("v1", "Pod")
        selector = label_selector_from_object(spec.get("selector"))
        pods = owned(self.api, pods_type, ds, selector, manager=self.manager)
        node = self.api.find(self.api.resource("v1", "Node"), None, self.settings.node_name)
        node_labels = (node.obj["metadata"].get("labels") or {}) if node is not None else {}
        template = spec.get("template") or {}
        should_run = node is not None and fits_node(
            template.get("spec") or {}, self.settings.node_name, node_labels
        )
        if is_deleting(ds):
            collision_count = int((ds.get("status") or {}).get("collisionCount") or 0)
            self._update_status(
                stored, pods, should_run, compute_hash(revision_data(template), collision_count)
            )
            return None
        revision, revision_hash = ensure_revision(self.api, ds, template, manager=self.manager)
        self._manage(ds, pods, should_run, revision_hash)
        pods = owned(self.api, pods_type, ds, None, manager=self.manager)
        self._update_status(stored, pods, should_run, revision_hash)
        limit = int(spec.get("revisionHistoryLimit", 10))
        prune_revisions(self.api, ds, {revision.name}, limit=limit)
        return None

    def _manage(
        self, ds: dict[str, Any], pods: list[StoredObject], should_run: bool, revision_hash: str
    ) -> None:
        for pod in pods:
            if is_terminal(pod.obj) and not is_deleting(pod.obj):
                self._delete(ds, pod)
        active = sorted(
            (p for p in pods if not is_terminal(p.obj) and not is_deleting(p.obj)),
            key=lambda p: str(p.obj["metadata"].get("creationTimestamp") or ""),
        )
        if not should_run:
            for pod in active:
                self._delete(ds, pod)
            return
        if not active:
            if any(is_deleting(p.obj) for p in pods):
                return  # wait for the old pod to go before its replacement starts
            self._create(ds, revision_hash)
            return
        for extra in active[1:]:
            self._delete(ds, extra)
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        current = active[0]
        outdated = (current.obj["metadata"].get("labels") or {}).get(
            CONTROLLER_REVISION_HASH
        ) != revision_hash
        if outdated and strategy.get("type", "RollingUpdate") == "RollingUpdate":
            self._delete(ds, current)
            self._create(ds, revision_hash)

    def _create(self, ds: dict[str, Any], revision_hash: str) -> None:
        template = (ds.get("spec") or {}).get("template") or {}
        pod = pod_from_template(
            template,
            ds,
            extra_labels={
                CONTROLLER_REVISION_HASH: revision_hash,
                TEMPLATE_GENERATION: str(ds["metadata"].get("generation") or 1),
            },
        )
        pod["spec"] = daemon_pod_spec(pod["spec"], self.settings.node_name)
        created = self.api.create(
            self.api.resource("v1", "Pod"), pod["metadata"]["namespace"], pod, manager=self.manager
        )
        self.events.record(self.api, ds, NORMAL, "SuccessfulCreate", f"Created pod: {created.name}")

    def _delete(self, ds: dict[str, Any], pod: StoredObject) -> None:
        self.api.delete(self.api.resource("v1", "Pod"), pod.namespace, pod.name)
        self.events.record(self.api, ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod.name}")

    def _update_status(
        self, stored: StoredObject, pods: list[StoredObject], should_run: bool, revision_hash: str
    ) -> None:
        ds = stored.obj
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.api.clock()
        active = [p for p in pods if not is_terminal(p.obj) and not is_deleting(p.obj)]
        scheduled = 1 if active else 0
        ready = 1 if any(is_ready(p.obj) for p in active) else 0
        available = 1 if any(is_available(p.obj, min_ready, now) for p in active) else 0
        updated = (
            1
            if any(
                (p.obj["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) == revision_hash
                for p in active
            )
            else 0
        )
        desired = 1 if should_run else 0
        status: dict[str, Any] = {
            "currentNumberScheduled": scheduled if should_run else 0,
            "numberMisscheduled": 0 if should_run else scheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready if should_run else 0,
        }
        if ds["metadata"].get("generation"):
            status["observedGeneration"] = ds["metadata"]["generation"]
        for field, value in (
            ("updatedNumberScheduled", updated if should_run else 0),
            ("numberAvailable", available if should_run else 0),
            ("numberUnavailable", max(0, desired - (available if should_run else 0))),
        ):
            if value:
                status[field] = value
        old_status = ds.get("status") or {}
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        if status != old_status:
            copy_ = stored.copy()
            copy_["status"] = status
            self.api.update_status(copy_, manager=self.manager)
