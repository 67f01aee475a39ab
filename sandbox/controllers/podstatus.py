"""The pod statuses the kubelet reports, built as a real kubelet (containerd runtime) writes them.

Pure functions: the kubelet controller decides what each container is doing, these build the
container statuses, the phase (kubelet getPhase) and the conditions (kubelet status/generate.go).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sandbox.controllers.conditions import get_condition, keep_transition_times

CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
CRASH_LOOP = "CrashLoopBackOff"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
RUNNING = "Running"
PENDING = "Pending"


def image_reference(image: str) -> str:
    """The image as the runtime reports it: `nginx` -> `docker.io/library/nginx:latest`."""
    name, digest = (image.split("@", 1) + [""])[:2]
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    reference = image_reference(image)
    if "@" in reference:
        return reference
    repository = reference.rsplit(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(reference.encode()).hexdigest()}"


def container_id(pod_uid: str, name: str, attempt: int) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{name}/{attempt}".encode()).hexdigest()


def go_duration(seconds: float) -> str:
    """time.Duration.String for whole seconds: `10s`, `1m20s`, `5m0s`."""
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def runs_to_completion(pod: dict[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("restartPolicy", "Always") != "Always")


def is_sidecar(container: dict[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


@dataclass(frozen=True)
class PodContext:
    """What every status of one pod shares."""

    uid: str
    name: str
    namespace: str
    host_ip: str
    start_time: str
    qos_class: str


def terminated_state(
    pod: PodContext, name: str, attempt: int, exit_code: int, started: str, finished: str
) -> dict[str, Any]:
    """A `state.terminated` (or `lastState.terminated`) of one run of a container."""
    return {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "startedAt": started,
        "finishedAt": finished,
        "containerID": container_id(pod.uid, name, attempt),
    }


def waiting(container: dict[str, Any], reason: str) -> dict[str, Any]:
    """A container not started yet (ContainerCreating, PodInitializing)."""
    return {
        "name": container["name"],
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": image_reference(str(container.get("image") or "")),
        "imageID": "",
        "started": False,
    }


def _started_container(
    container: dict[str, Any], pod: PodContext, attempt: int, last_state: dict[str, Any] | None
) -> dict[str, Any]:
    image = str(container.get("image") or "")
    return {
        "name": container["name"],
        "state": {},
        "lastState": {"terminated": last_state} if last_state else {},
        "ready": False,
        "restartCount": attempt,
        "image": image_reference(image),
        "imageID": image_id(image),
        "containerID": container_id(pod.uid, container["name"], attempt),
        "started": False,
    }


def running(
    container: dict[str, Any],
    pod: PodContext,
    started_at: str,
    *,
    restarts: int = 0,
    last_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status = _started_container(container, pod, restarts, last_state)
    status["state"] = {"running": {"startedAt": started_at}}
    status["ready"] = True
    status["started"] = True
    return status


def terminated(
    container: dict[str, Any],
    pod: PodContext,
    started_at: str,
    finished_at: str,
    exit_code: int,
    *,
    restarts: int = 0,
    last_state: dict[str, Any] | None = None,
    ready: bool = False,
) -> dict[str, Any]:
    """An exited container; a completed init container counts as ready."""
    status = _started_container(container, pod, restarts, last_state)
    status["state"] = {
        "terminated": terminated_state(pod, container["name"], restarts, exit_code, started_at, finished_at)
    }
    status["ready"] = ready
    return status


def crash_looping(
    container: dict[str, Any], pod: PodContext, restarts: int, back_off: float, last_state: dict[str, Any]
) -> dict[str, Any]:
    """Waiting out the kubelet's back-off before the next restart of a container that exited."""
    status = _started_container(container, pod, restarts - 1, last_state)
    status["restartCount"] = restarts
    status["state"] = {
        "waiting": {
            "reason": CRASH_LOOP,
            "message": (
                f"back-off {go_duration(back_off)} restarting failed container={container['name']} "
                f"pod={pod.name}_{pod.namespace}({pod.uid})"
            ),
        }
    }
    return status


def _state_of(status: dict[str, Any]) -> str:
    state = status.get("state") or {}
    if "running" in state:
        return "running"
    if "terminated" in state:
        return "terminated"
    return "waiting"


def phase_of(statuses: list[dict[str, Any]], restart_policy: str, *, terminal: bool) -> str:
    """kubelet getPhase over the regular containers; `terminal`: the kubelet has stopped the pod."""
    running_count = stopped = succeeded = waiting_count = 0
    for status in statuses:
        state = _state_of(status)
        if state == "running":
            running_count += 1
        elif state == "terminated":
            stopped += 1
            if status["state"]["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif (status.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting_count += 1
    if waiting_count:
        return PENDING
    if running_count:
        return RUNNING
    if not stopped:
        return PENDING
    if terminal:
        return SUCCEEDED if stopped == succeeded else FAILED
    if restart_policy == "Always":
        return RUNNING
    if stopped == succeeded:
        return SUCCEEDED
    return FAILED if restart_policy == "Never" else RUNNING


def _condition(
    condition_type: str, status: bool, now: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": condition_type,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def pod_conditions(
    old_status: dict[str, Any],
    now: str,
    *,
    phase: str,
    sandbox_ready: bool,
    pending_init: list[str],
    unready: list[str],
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady and the scheduler's PodScheduled."""
    conditions = [_condition("PodReadyToStartContainers", sandbox_ready, now)]
    if phase == SUCCEEDED:
        conditions.append(_condition("Initialized", True, now, POD_COMPLETED))
    elif pending_init:
        conditions.append(
            _condition(
                "Initialized",
                False,
                now,
                CONTAINERS_NOT_INITIALIZED,
                f"containers with incomplete status: [{' '.join(pending_init)}]",
            )
        )
    else:
        conditions.append(_condition("Initialized", True, now))
    for condition_type in ("Ready", "ContainersReady"):
        if phase in (SUCCEEDED, FAILED):
            reason = POD_COMPLETED if phase == SUCCEEDED else POD_FAILED
            conditions.append(_condition(condition_type, False, now, reason))
        elif unready:
            conditions.append(
                _condition(
                    condition_type,
                    False,
                    now,
                    CONTAINERS_NOT_READY,
                    f"containers with unready status: [{' '.join(unready)}]",
                )
            )
        else:
            conditions.append(_condition(condition_type, True, now))
    scheduled = get_condition(old_status.get("conditions"), "PodScheduled")
    if scheduled is not None:
        conditions.append(dict(scheduled))
    return keep_transition_times(conditions, old_status.get("conditions"))


def pod_status(
    old_status: dict[str, Any],
    pod: PodContext,
    *,
    phase: str,
    pod_ip: str | None,
    init_statuses: list[dict[str, Any]],
    container_statuses: list[dict[str, Any]],
    now: str,
    sandbox_ready: bool,
) -> dict[str, Any]:
    """The whole status the kubelet writes for a pod in `phase`."""
    pending_init = [s["name"] for s in init_statuses if not s.get("ready") and _state_of(s) != "running"]
    unready = [s["name"] for s in container_statuses if not s.get("ready")]
    conditions = pod_conditions(
        old_status,
        now,
        phase=phase,
        sandbox_ready=sandbox_ready,
        pending_init=pending_init if phase == PENDING else [],
        unready=unready,
    )
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    status["hostIP"] = pod.host_ip
    status["hostIPs"] = [{"ip": pod.host_ip}]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status["startTime"] = pod.start_time
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = container_statuses
    status["qosClass"] = old_status.get("qosClass") or pod.qos_class
    return status


def pending_status(
    spec: dict[str, Any], old_status: dict[str, Any], pod: PodContext, now: str
) -> dict[str, Any]:
    """Accepted by the kubelet: the sandbox is being made and images pulled."""
    init = list(spec.get("initContainers") or [])
    waiting_reason = "PodInitializing" if init else "ContainerCreating"
    return pod_status(
        old_status,
        pod,
        phase=PENDING,
        pod_ip=None,
        init_statuses=[waiting(c, "PodInitializing") for c in init],
        container_statuses=[waiting(c, waiting_reason) for c in spec.get("containers") or []],
        now=now,
        sandbox_ready=False,
    )


def init_statuses_after_start(
    spec: dict[str, Any], pod: PodContext, started_at: str, *, stopped_at: str | None = None
) -> list[dict[str, Any]]:
    """Init containers once the regular ones started at `started_at`: run-once ones completed just
    before, sidecars running (or, once the pod was stopped at `stopped_at`, exited)."""
    statuses = []
    for container in spec.get("initContainers") or []:
        if not is_sidecar(container):
            statuses.append(terminated(container, pod, pod.start_time, started_at, 0, ready=True))
        elif stopped_at is None:
            statuses.append(running(container, pod, started_at))
        else:
            statuses.append(terminated(container, pod, started_at, stopped_at, 0))
    return statuses
