"""The kubelet of the one simulated node: registers the Node, renews its Lease, runs and stops pods.

A bound pod is accepted (Pending, ContainerCreating), then after `pod_start_delay` its containers
start. What each container's process does comes from its command and image (see processes.py):
it runs until stopped, or exits after a while with an exit code. An exited container is restarted
on the kubelet's doubling back-off (waiting in CrashLoopBackOff) when the pod's restartPolicy says so
(Always; OnFailure after a failure); otherwise it stays terminated, and once every container has
exited the pod is Succeeded, or Failed when one exited non-zero.

A pod being deleted (deletionTimestamp set) is stopped: each container gets SIGTERM (a Killing
event) and exits `pod_stop_delay` later (status 143 unless its command traps the signal), or is killed
(137) when the grace period ends if it ignores SIGTERM. The kubelet then reports the pod terminal
(Succeeded when every container exited 0, else Failed; Ready False) and deletes it with grace period 0
and a UID precondition, as the status manager does. A pod that never started is deleted at once.

Status goes through the status subresource with manager `kubelet`, as on a real node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sandbox.controllers.containerruns import ContainerRun, PodRun, container_status
from sandbox.controllers.events import NORMAL, WARNING, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.nodestatus import NODE_LEASE_NAMESPACE, node_lease, node_status
from sandbox.controllers.ownership import is_deleting, namespace_name
from sandbox.controllers.podnetwork import PodAddresses
from sandbox.controllers.podstatus import (
    FAILED,
    PENDING,
    SUCCEEDED,
    PodContext,
    init_statuses_after_start,
    pending_status,
    phase_of,
    pod_status,
    terminated_state,
)
from sandbox.controllers.processes import KILLED_EXIT_CODE, planned
from sandbox.controllers.scheduler import node_labels
from sandbox.controllers.settings import ControllerSettings
from sandbox.errors import StatusError
from sandbox.store import StoredObject, WatchEvent
from sandbox.strategies import pod_qos_class

KUBELET = "kubelet"
MAX_BACK_OFF = 300.0
# The queue key of the lease renewal; pod keys are (namespace, name) tuples, so it cannot clash.
LEASE_KEY = "node-lease"


class Kubelet(ReconcileLoop):
    name = "kubelet"
    manager = KUBELET

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(
            KUBELET, manager=KUBELET, host=self.settings.node_name, enabled=self.settings.record_events
        )
        self._addresses = PodAddresses(self.settings.pod_cidr)
        self._runs: dict[Key, PodRun] = {}

    # ---- the node and its lease ----

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
        node["status"] = node_status(self.settings, self.api.clock())
        return self.api.update_status(node, manager=KUBELET)

    def renew_lease(self) -> float:
        """The node lease: created with the Node as owner, its renewTime moved every interval."""
        leases = self.api.resource("coordination.k8s.io/v1", "Lease")
        name = self.settings.node_name
        renew_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        existing = self.api.find(leases, NODE_LEASE_NAMESPACE, name)
        if existing is not None:
            renewed = existing.copy()
            renewed.setdefault("spec", {})["renewTime"] = renew_time
            self.api.update(leases, NODE_LEASE_NAMESPACE, name, renewed, manager=KUBELET)
        else:
            node = self.api.find(self.api.resource("v1", "Node"), None, name)
            body = node_lease(name, None if node is None else str(node.obj["metadata"]["uid"]), renew_time)
            self.api.create(leases, NODE_LEASE_NAMESPACE, body, manager=KUBELET)
        return self.settings.node_lease_interval

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
        return [LEASE_KEY, *keys, *self._runs]

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        key = namespace_name(event.new.obj)
        if (event.new.obj.get("spec") or {}).get("nodeName") == self.settings.node_name or key in self._runs:
            return [key]
        return []

    def reconcile(self, key: Key) -> float | None:
        if key == LEASE_KEY:
            return self.renew_lease()
        namespace, name = split_key(key)
        pods = self.api.resource("v1", "Pod")
        stored = self.api.find(pods, namespace, name)
        if stored is None or (stored.obj.get("spec") or {}).get("nodeName") != self.settings.node_name:
            self._forget(key)
            return None
        pod = stored.obj
        uid = str(pod["metadata"].get("uid") or "")
        run = self._runs.get(key)
        if run is None or run.uid != uid:
            self._forget(key)
            run = self._adopt_run(pod)
            self._runs[key] = run
        status = pod.get("status") or {}
        now = asyncio.get_running_loop().time()
        if status.get("phase") in (SUCCEEDED, FAILED):
            if is_deleting(pod):
                self._delete_now(stored)
            return None
        if is_deleting(pod):
            return self._stop(stored, run, now)
        if not status.get("startTime"):
            self._write(
                stored, pending_status(pod.get("spec") or {}, status, self._context(pod), self.api.clock())
            )
            run.start_due = now + self.settings.pod_start_delay
            return self.settings.pod_start_delay
        if run.start_due is None:
            run.start_due = now
        if not run.started_at:
            if now < run.start_due:
                return run.start_due - now
            self._start(pod, run, now)
        recheck = self._advance(pod, run, now)
        self._write(stored, self._status(pod, run))
        return recheck

    # ---- running containers ----

    def _start(self, pod: dict[str, Any], run: PodRun, now: float) -> None:
        run.ip = run.ip or self._addresses.allocate()
        run.started_at = self.api.clock()
        for container_run in run.containers.values():
            container_run.started = now
            container_run.started_at = run.started_at
        self._record_started(pod)

    def _advance(self, pod: dict[str, Any], run: PodRun, now: float) -> float | None:
        """Play each container forward to `now`; the seconds until the next thing is due."""
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        due: list[float] = []
        for name, container_run in run.containers.items():
            wait = self._advance_container(pod, name, container_run, policy, now)
            if wait is not None:
                due.append(wait)
        return min(due) if due else None

    def _advance_container(
        self, pod: dict[str, Any], name: str, container_run: ContainerRun, policy: str, now: float
    ) -> float | None:
        while True:
            if container_run.restart_due is not None:
                if now < container_run.restart_due:
                    return container_run.restart_due - now
                container_run.restart_due = None
                container_run.started = now
                container_run.started_at = self.api.clock()
                continue
            if container_run.started is None or container_run.exit_code is not None:
                return None
            runs_for = container_run.process.runs_for
            if runs_for is None:
                return None
            ends = container_run.started + runs_for
            if now < ends:
                return ends - now
            code = container_run.process.exit_code
            finished_at = self.api.clock()
            if policy == "Always" or (policy == "OnFailure" and code != 0):
                # The kubelet restarts it after a back-off that doubles with every restart.
                pod_context = self._context(pod)
                container_run.last_state = terminated_state(
                    pod_context, name, container_run.restarts, code, container_run.started_at, finished_at
                )
                container_run.restarts += 1
                container_run.back_off = self._back_off(container_run.restarts)
                container_run.restart_due = now + container_run.back_off
                container_run.started = None
                self._record_back_off(pod, name)
                continue
            container_run.exit_code = code
            container_run.finished_at = finished_at
            return None

    def _back_off(self, restarts: int) -> float:
        back_off: float = min(self.settings.crashloop_backoff * (2.0 ** max(0, restarts - 1)), MAX_BACK_OFF)
        return back_off

    def _status(self, pod: dict[str, Any], run: PodRun, *, stopped_at: str | None = None) -> dict[str, Any]:
        spec = pod.get("spec") or {}
        pod_context = self._context(pod)
        statuses = []
        for container in spec.get("containers") or []:
            container_run = run.containers[container["name"]]
            statuses.append(container_status(container, container_run, pod_context))
        policy = str(spec.get("restartPolicy") or "Always")
        terminal = stopped_at is not None
        phase = phase_of(statuses, policy, terminal=terminal)
        finished = phase in (SUCCEEDED, FAILED)
        return pod_status(
            pod.get("status") or {},
            pod_context,
            phase=phase,
            pod_ip=run.ip,
            init_statuses=init_statuses_after_start(
                spec,
                pod_context,
                run.started_at,
                stopped_at=stopped_at or (self.api.clock() if finished else None),
            ),
            container_statuses=statuses,
            now=self.api.clock(),
            sandbox_ready=not finished,
        )

    # ---- stopping a pod being deleted ----

    def _stop(self, stored: StoredObject, run: PodRun, now: float) -> float | None:
        pod = stored.obj
        if not run.started_at:
            # Nothing runs yet: the kubelet drops the pod sandbox and lets the object go.
            self._delete_now(stored)
            return None
        grace = int(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        if not run.stopping or (run.grace is not None and grace < run.grace):
            self._plan_stop(pod, run, now, grace)
        due = [c.stop_due for c in run.containers.values() if c.stop_due is not None]
        if due and now < max(due):
            return max(due) - now
        stopped_at = self.api.clock()
        for container_run in run.containers.values():
            if container_run.exit_code is not None:
                continue
            if container_run.started is None and container_run.last_state is not None:
                # Waiting in back-off: its last run is how it ended.
                container_run.exit_code = int(container_run.last_state.get("exitCode") or 0)
                container_run.started_at = str(container_run.last_state.get("startedAt") or "")
                container_run.finished_at = str(container_run.last_state.get("finishedAt") or stopped_at)
                continue
            container_run.exit_code = (
                KILLED_EXIT_CODE if container_run.killed else container_run.process.sigterm_exit_code
            )
            container_run.finished_at = stopped_at
        self._write(stored, self._status(pod, run, stopped_at=stopped_at))
        self._delete_now(stored)
        return None

    def _plan_stop(self, pod: dict[str, Any], run: PodRun, now: float, grace: int) -> None:
        """SIGTERM to every running container; one that ignores it is killed when the grace ends."""
        first = not run.stopping
        run.stopping = True
        run.grace = grace
        deadline = now + grace
        for name, container_run in run.containers.items():
            if container_run.exit_code is not None or container_run.started is None:
                continue
            if container_run.process.ignores_sigterm:
                stop_due, killed = deadline, True
            else:
                stop_due = now + min(self.settings.pod_stop_delay, float(grace))
                killed = self.settings.pod_stop_delay > grace
            if container_run.stop_due is None or stop_due < container_run.stop_due:
                container_run.stop_due, container_run.killed = stop_due, killed
            if first:
                self.events.record(self.api, pod, NORMAL, "Killing", f"Stopping container {name}")

    def _delete_now(self, stored: StoredObject) -> None:
        """The status manager's final delete: grace period 0, only for this very pod (its UID)."""
        try:
            self.api.delete(
                self.api.resource("v1", "Pod"),
                stored.namespace,
                stored.name,
                grace_period=0,
                preconditions={"uid": stored.obj["metadata"].get("uid")},
            )
        except StatusError as error:
            if error.code not in (404, 409):
                raise

    # ---- bookkeeping ----

    def _adopt_run(self, pod: dict[str, Any]) -> PodRun:
        """Pick up a pod this kubelet did not start (or started before a restart of the kubelet)."""
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        policy = str(spec.get("restartPolicy") or "Always")
        run = PodRun(uid=str(pod["metadata"].get("uid") or ""))
        if status.get("podIP"):
            run.ip = str(status["podIP"])
            self._addresses.reserve(run.ip)
        previous = {s.get("name"): s for s in status.get("containerStatuses") or []}
        for container in spec.get("containers") or []:
            process = planned(container, policy, self.settings.pod_run_duration)
            container_run = ContainerRun(process=process)
            if status.get("phase", PENDING) != PENDING and status.get("startTime"):
                # It was running: its clock starts again now, with the restarts it had.
                container_run.restarts = int((previous.get(container["name"]) or {}).get("restartCount") or 0)
                run.started_at = str(status["startTime"])
            run.containers[container["name"]] = container_run
        if run.started_at:
            now = asyncio.get_running_loop().time()
            run.start_due = now
            for container_run in run.containers.values():
                container_run.started = now
                container_run.started_at = self.api.clock()
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

    def _record_back_off(self, pod: dict[str, Any], container_name: str) -> None:
        metadata = pod["metadata"]
        self.events.record(
            self.api,
            pod,
            WARNING,
            "BackOff",
            f"Back-off restarting failed container {container_name} in pod "
            f"{metadata['name']}_{metadata.get('namespace')}({metadata.get('uid')})",
        )
