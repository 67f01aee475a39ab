"""The default scheduler: binds every pending pod to the one node when the pod's constraints allow.

A real scheduler binds through `pods/binding`, whose storage update sets `spec.nodeName` and the
PodScheduled condition without a managedFields entry (BindingREST writes storage directly). The
binding is done the same way here, through the store, so the pod's managedFields look as on a real
cluster and the change still reaches every watcher. A pod the node cannot take gets PodScheduled
False with the scheduler's Unschedulable message, written through the status subresource.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.conditions import get_condition
from sandbox.controllers.events import NORMAL, WARNING, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.nodes import scheduling_refusal
from sandbox.controllers.ownership import is_deleting, namespace_name
from sandbox.controllers.settings import ControllerSettings
from sandbox.store import WatchEvent

DEFAULT_SCHEDULER = "default-scheduler"
SCHEDULER_MANAGER = "kube-scheduler"
PODS = ("", "pods")


def node_labels(node_name: str) -> dict[str, str]:
    """The labels the kubelet puts on its Node."""
    return {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": "linux",
    }


def _requirement_holds(requirement: dict[str, Any], value: str | None) -> bool:
    operator = requirement.get("operator")
    values = [str(v) for v in requirement.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            number, bound = int(value), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def fits_node(pod_spec: dict[str, Any], node_name: str, labels: dict[str, str]) -> bool:
    """Whether nodeSelector and required node affinity admit the node."""
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    terms = (affinity or {}).get("nodeSelectorTerms") or []
    if not terms:
        return True
    fields = {"metadata.name": node_name}
    for term in terms:
        expressions = term.get("matchExpressions") or []
        field_requirements = term.get("matchFields") or []
        if not expressions and not field_requirements:
            continue
        if all(_requirement_holds(r, labels.get(str(r.get("key")))) for r in expressions) and all(
            _requirement_holds(r, fields.get(str(r.get("key")))) for r in field_requirements
        ):
            return True
    return False


class Scheduler(ReconcileLoop):
    name = "default-scheduler"
    manager = SCHEDULER_MANAGER

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(
            DEFAULT_SCHEDULER, manager=SCHEDULER_MANAGER, enabled=self.settings.record_events
        )

    def sources(self) -> list[Source]:
        return [Source("v1", "Pod", self._unbound_keys), Source("v1", "Node", self._all_unbound)]

    def resync(self) -> Iterable[Key]:
        return self._unbound()

    def _unbound(self) -> list[Key]:
        pods = self.api.resource("v1", "Pod")
        return [namespace_name(p.obj) for p in self.api.store.iter_objects(pods.storage_key) if _wants(p.obj)]

    def _unbound_keys(self, event: WatchEvent) -> Iterable[Key]:
        if event.type != "DELETED" and _wants(event.new.obj):
            return [namespace_name(event.new.obj)]
        return []

    def _all_unbound(self, event: WatchEvent) -> Iterable[Key]:
        return self._unbound()

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        pods = self.api.resource("v1", "Pod")
        stored = self.api.find(pods, namespace, name)
        if stored is None or not _wants(stored.obj):
            return None
        node_name = self.settings.node_name
        node = self.api.find(self.api.resource("v1", "Node"), None, node_name)
        if node is None:
            return None  # the kubelet has not registered its node yet; the Node event requeues
        labels = node.obj["metadata"].get("labels") or {}
        # The filter plugins in their order: NodeUnschedulable and TaintToleration, then NodeAffinity.
        refusal = scheduling_refusal(stored.obj.get("spec") or {}, node.obj)
        if refusal is None and not fits_node(stored.obj.get("spec") or {}, node_name, labels):
            refusal = "node(s) didn't match Pod's node affinity/selector"
        if refusal is None:
            self._bind(stored.copy(), node_name)
            self.events.record(
                self.api,
                stored.obj,
                NORMAL,
                "Scheduled",
                f"Successfully assigned {namespace}/{name} to {node_name}",
            )
        else:
            self._mark_unschedulable(stored.copy(), refusal)
        return None

    def _bind(self, pod: dict[str, Any], node_name: str) -> None:
        pod["spec"]["nodeName"] = node_name
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": self.api.clock(),
            }
        )
        status["conditions"] = conditions
        self.api.store.update(PODS, pod)

    def _mark_unschedulable(self, pod: dict[str, Any], refusal: str) -> None:
        message = (
            f"0/1 nodes are available: 1 {refusal}. "
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        )
        status = pod.setdefault("status", {})
        current = get_condition(status.get("conditions"), "PodScheduled")
        if (
            current is not None
            and current.get("reason") == "Unschedulable"
            and current.get("message") == message
        ):
            return
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": self.api.clock(),
                "reason": "Unschedulable",
                "message": message,
            }
        )
        status["conditions"] = conditions
        self.api.update_status(pod, manager=self.manager)
        self.events.record(self.api, pod, WARNING, "FailedScheduling", message)


def _wants(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
        and not is_deleting(pod)
        and (pod.get("status") or {}).get("phase", "Pending") == "Pending"
    )
