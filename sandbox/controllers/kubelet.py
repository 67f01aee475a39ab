"""The kubelet of the one simulated node: registers the Node and runs the pods bound to it.

A bound pod is accepted (Pending, ContainerCreating), then after `pod_start_delay` its containers
run and it becomes Ready. A container whose image contains `crashloop` keeps crashing instead:
the pod stays Running but not Ready, the container waits in CrashLoopBackOff, and its restart count
grows on the kubelet's doubling back-off. A pod with restartPolicy Never or OnFailure runs for
`pod_run_duration` and then Succeeds, or Fails when an image contains `fail`.

Status goes through the status subresource with manager `kubelet`, as on a real node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.controllers.events import NORMAL, WARNING, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name
from sandbox.controllers.podnetwork import PodAddresses
from sandbox.controllers.podstatus import (
    PodContext,
    crashes,
    finished_status,
    pending_status,
    running_status,
    runs_to_completion,
)
from sandbox.controllers.scheduler import node_labels
from sandbox.controllers.settings import ControllerSettings
from sandbox.store import StoredObject, WatchEvent
from sandbox.strategies import pod_qos_class

KUBELET = "kubelet"
MAX_BACK_OFF = 300.0
KUBELET_VERSION = "v1.31.4"


@dataclass
class _PodRun:
    """What the kubelet remembers of one pod between reconciles."""

    uid: str
    ip: str | None = None
    due: float | None = None  # loop time at which the pod's next stage is due
    restarts: int = 0
    last_run: tuple[str, str] = ("", "")


class Kubelet(ReconcileLoop):
    name = "kubelet"
    manager = KUBELET

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(
            KUBELET, manager=KUBELET, host=self.settings.node_name, enabled=self.settings.record_events
        )
        self._addresses = PodAddresses(self.settings.pod_cidr)
        self._runs: dict[Key, _PodRun] = {}

    # ---- the node ----

    def started(self) -> None:
        self._addresses = PodAddresses(self.settings.pod_cidr)
        self._runs = {}
        self.register_node()

    def register_node(self) -> StoredObject:
        nodes = self.api.resource("v1", "Node")
        name = self.settings.node_name
        stored = self.api.find(nodes, None, name)
        if stored is None:
            body = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": node_labels(name),
                    "annotations": {
                        "node.alpha.kubernetes.io/ttl": "0",
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    },
                },
                "spec": {"podCIDR": self.settings.pod_cidr, "podCIDRs": [self.settings.pod_cidr]},
            }
            stored = self.api.create(nodes, None, body, manager=KUBELET)
        if (stored.obj.get("status") or {}).get("nodeInfo"):
            return stored
        node = stored.copy()
        node["status"] = self._node_status()
        return self.api.update_status(node, manager=KUBELET)

    def _node_status(self) -> dict[str, Any]:
        now = self.api.clock()

        def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }

        resources = {
            "cpu": "8",
            "ephemeral-storage": "100Gi",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": "16Gi",
            "pods": "110",
        }
        return {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [
                condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                condition(
                    "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
                ),
                condition(
                    "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"
                ),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.settings.node_ip},
                {"type": "Hostname", "address": self.settings.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "5a1d1b0c5a1d1b0c5a1d1b0c5a1d1b0c",
                "systemUUID": "5a1d1b0c-5a1d-1b0c-5a1d-1b0c5a1d1b0c",
                "bootID": "0d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a",
                "kernelVersion": "6.1.0-sandbox",
                "osImage": "kubedrift sandbox",
                "containerRuntimeVersion": "containerd://1.7.18",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    # ---- pods ----

    def sources(self) -> list[Source]:
        return [Source("v1", "Pod", self._pod_keys)]

    def resync(self) -> Iterable[Key]:
        pods = self.api.resource("v1", "Pod")
        keys: list[Key] = [
            namespace_name(p.obj)
            for p in self.api.store.iter_objects(pods.storage_key)
            if (p.obj.get("spec") or {}).get("nodeName") == self.settings.node_name
        ]
        return keys + list(self._runs)

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        key = namespace_name(event.new.obj)
        if (event.new.obj.get("spec") or {}).get("nodeName") == self.settings.node_name or key in self._runs:
            return [key]
        return []

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        pods = self.api.resource("v1", "Pod")
        stored = self.api.find(pods, namespace, name)
        run = self._runs.get(key)
        if stored is None or (stored.obj.get("spec") or {}).get("nodeName") != self.settings.node_name:
            self._forget(key)
            return None
        pod = stored.obj
        uid = str(pod["metadata"].get("uid") or "")
        if run is None or run.uid != uid:
            self._forget(key)
            run = self._adopt_run(pod)
            self._runs[key] = run
        status = pod.get("status") or {}
        phase = status.get("phase", "Pending")
        if is_deleting(pod) or phase in ("Succeeded", "Failed"):
            return None
        now = asyncio.get_running_loop().time()
        if not status.get("startTime"):
            self._write(
                stored, pending_status(pod.get("spec") or {}, status, self._context(pod), self.api.clock())
            )
            run.due = now + self.settings.pod_start_delay
            return self.settings.pod_start_delay
        if run.due is None:
            run.due = now
        if now < run.due:
            return run.due - now
        if phase == "Pending":
            return self._start(stored, run, now)
        if runs_to_completion(pod):
            self._write(
                stored,
                finished_status(
                    pod.get("spec") or {}, status, self._context(pod), run.ip or "", self.api.clock()
                ),
            )
            return None
        if self._crash_looping(pod):
            return self._restart(stored, run, now)
        return None

    def _start(self, stored: StoredObject, run: _PodRun, now: float) -> float | None:
        pod = stored.obj
        spec = pod.get("spec") or {}
        run.ip = run.ip or self._addresses.allocate()
        text_now = self.api.clock()
        crash_looping = self._crash_looping(pod)
        if crash_looping:
            run.restarts = 1
            run.last_run = (text_now, text_now)
        back_off = self._back_off(run.restarts)
        self._write(
            stored,
            running_status(
                spec,
                pod.get("status") or {},
                self._context(pod),
                run.ip,
                text_now,
                restarts=run.restarts,
                back_off=back_off,
                crash_window=run.last_run,
            ),
        )
        self._record_started(pod)
        if runs_to_completion(pod):
            run.due = now + self.settings.pod_run_duration
            return self.settings.pod_run_duration
        if crash_looping:
            self._record_back_off(pod)
            run.due = now + back_off
            return back_off
        run.due = None
        return None

    def _restart(self, stored: StoredObject, run: _PodRun, now: float) -> float:
        pod = stored.obj
        text_now = self.api.clock()
        run.restarts += 1
        run.last_run = (text_now, text_now)
        back_off = self._back_off(run.restarts)
        self._write(
            stored,
            running_status(
                pod.get("spec") or {},
                pod.get("status") or {},
                self._context(pod),
                run.ip or self._addresses.allocate(),
                text_now,
                restarts=run.restarts,
                back_off=back_off,
                crash_window=run.last_run,
            ),
        )
        self._record_back_off(pod)
        run.due = now + back_off
        return back_off

    def _back_off(self, restarts: int) -> float:
        back_off: float = min(self.settings.crashloop_backoff * (2.0 ** max(0, restarts - 1)), MAX_BACK_OFF)
        return back_off

    def _crash_looping(self, pod: dict[str, Any]) -> bool:
        return not runs_to_completion(pod) and any(
            crashes(c) for c in (pod.get("spec") or {}).get("containers") or []
        )

    def _adopt_run(self, pod: dict[str, Any]) -> _PodRun:
        """Pick up a pod this kubelet did not start (or started before a resync)."""
        status = pod.get("status") or {}
        run = _PodRun(uid=str(pod["metadata"].get("uid") or ""))
        if status.get("podIP"):
            run.ip = str(status["podIP"])
            self._addresses.reserve(run.ip)
        run.restarts = max(
            (int(s.get("restartCount") or 0) for s in status.get("containerStatuses") or []), default=0
        )
        return run

    def _forget(self, key: Key) -> None:
        run = self._runs.pop(key, None)
        if run is not None:
            self._addresses.release(run.ip)

    def _context(self, pod: dict[str, Any]) -> PodContext:
        metadata = pod["metadata"]
        status = pod.get("status") or {}
        return PodContext(
            uid=str(metadata.get("uid") or ""),
            name=str(metadata["name"]),
            namespace=str(metadata.get("namespace") or ""),
            host_ip=self.settings.node_ip,
            start_time=str(status.get("startTime") or self.api.clock()),
            qos_class=pod_qos_class(pod.get("spec") or {}),
        )

    def _write(self, stored: StoredObject, status: dict[str, Any]) -> None:
        if status == stored.obj.get("status"):
            return
        pod = stored.copy()
        pod["status"] = status
        self.api.update_status(pod, manager=KUBELET)

    def _record_started(self, pod: dict[str, Any]) -> None:
        for container in (pod.get("spec") or {}).get("containers") or []:
            image = str(container.get("image") or "")
            name = container["name"]
            if container.get("imagePullPolicy") == "Always":
                pulled = (
                    f'Successfully pulled image "{image}" in 200ms (200ms including waiting). '
                    "Image size: 0 bytes."
                )
            else:
                pulled = f'Container image "{image}" already present on machine'
            self.events.record(self.api, pod, NORMAL, "Pulled", pulled)
            self.events.record(self.api, pod, NORMAL, "Created", f"Created container {name}")
            self.events.record(self.api, pod, NORMAL, "Started", f"Started container {name}")

    def _record_back_off(self, pod: dict[str, Any]) -> None:
        metadata = pod["metadata"]
        for container in (pod.get("spec") or {}).get("containers") or []:
            if crashes(container):
                self.events.record(
                    self.api,
                    pod,
                    WARNING,
                    "BackOff",
                    f"Back-off restarting failed container {container['name']} in pod "
                    f"{metadata['name']}_{metadata.get('namespace')}({metadata.get('uid')})",
                )
