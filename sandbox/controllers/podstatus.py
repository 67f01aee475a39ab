"""The pod statuses the kubelet reports, built as a real kubelet (containerd runtime) writes them.

Pure functions: the kubelet controller decides which stage a pod is in, these build its status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sandbox.controllers.conditions import get_condition, keep_transition_times

CONTAINERS_NOT_READY = "ContainersNotReady"
CRASH_LOOP = "CrashLoopBackOff"
CRASH_MARKER = "crashloop"
FAIL_MARKER = "fail"


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


def crashes(container: dict[str, Any]) -> bool:
    return CRASH_MARKER in str(container.get("image") or "")


def fails(container: dict[str, Any]) -> bool:
    return FAIL_MARKER in str(container.get("image") or "")


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


def _base(container: dict[str, Any]) -> dict[str, Any]:
    return {"name": container["name"], "image": image_reference(str(container.get("image") or ""))}


def waiting(container: dict[str, Any], reason: str) -> dict[str, Any]:
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


def running(container: dict[str, Any], pod: PodContext, started_at: str) -> dict[str, Any]:
    base = _base(container)
    return {
        "name": base["name"],
        "state": {"running": {"startedAt": started_at}},
        "lastState": {},
        "ready": True,
        "restartCount": 0,
        "image": base["image"],
        "imageID": image_id(str(container.get("image") or "")),
        "containerID": container_id(pod.uid, base["name"], 0),
        "started": True,
    }


def terminated(
    container: dict[str, Any],
    pod: PodContext,
    started_at: str,
    finished_at: str,
    exit_code: int,
    *,
    ready: bool = False,
) -> dict[str, Any]:
    """An exited container; a completed init container counts as ready."""
    base = _base(container)
    return {
        "name": base["name"],
        "state": {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": started_at,
                "finishedAt": finished_at,
                "containerID": container_id(pod.uid, base["name"], 0),
            }
        },
        "lastState": {},
        "ready": ready,
        "restartCount": 0,
        "image": base["image"],
        "imageID": image_id(str(container.get("image") or "")),
        "containerID": container_id(pod.uid, base["name"], 0),
        "started": False,
    }


def crash_looping(
    container: dict[str, Any], pod: PodContext, restarts: int, back_off: float, last_run: tuple[str, str]
) -> dict[str, Any]:
    base = _base(container)
    attempt_id = container_id(pod.uid, base["name"], restarts - 1)
    return {
        "name": base["name"],
        "state": {
            "waiting": {
                "reason": CRASH_LOOP,
                "message": (
                    f"back-off {go_duration(back_off)} restarting failed container={base['name']} "
                    f"pod={pod.name}_{pod.namespace}({pod.uid})"
                ),
            }
        },
        "lastState": {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": last_run[0],
                "finishedAt": last_run[1],
                "containerID": attempt_id,
            }
        },
        "ready": False,
        "restartCount": restarts,
        "image": base["image"],
        "imageID": image_id(str(container.get("image") or "")),
        "containerID": attempt_id,
        "started": False,
    }


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
    sandbox_ready: bool,
    pending_init: list[str],
    unready: list[str],
    finished_reason: str = "",
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady and the scheduler's PodScheduled."""
    conditions = [_condition("PodReadyToStartContainers", sandbox_ready, now)]
    if pending_init:
        conditions.append(
            _condition(
                "Initialized",
                False,
                now,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(pending_init)}]",
            )
        )
    else:
        conditions.append(_condition("Initialized", True, now))
    for condition_type in ("Ready", "ContainersReady"):
        if finished_reason:
            conditions.append(_condition(condition_type, False, now, finished_reason))
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


def _status(
    old_status: dict[str, Any],
    phase: str,
    conditions: list[dict[str, Any]],
    pod: PodContext,
    pod_ip: str | None,
    init_statuses: list[dict[str, Any]],
    container_statuses: list[dict[str, Any]],
) -> dict[str, Any]:
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
    containers = list(spec.get("containers") or [])
    waiting_reason = "PodInitializing" if init else "ContainerCreating"
    conditions = pod_conditions(
        old_status,
        now,
        sandbox_ready=False,
        pending_init=[c["name"] for c in init],
        unready=[c["name"] for c in containers],
    )
    return _status(
        old_status,
        "Pending",
        conditions,
        pod,
        None,
        [waiting(c, "PodInitializing") for c in init],
        [waiting(c, waiting_reason) for c in containers],
    )


def running_status(
    spec: dict[str, Any],
    old_status: dict[str, Any],
    pod: PodContext,
    pod_ip: str,
    now: str,
    *,
    restarts: int,
    back_off: float,
    crash_window: tuple[str, str],
) -> dict[str, Any]:
    """Containers started; a crash-looping container waits in CrashLoopBackOff after `restarts` runs."""
    init_statuses = [
        running(c, pod, now) if is_sidecar(c) else terminated(c, pod, pod.start_time, now, 0, ready=True)
        for c in spec.get("initContainers") or []
    ]
    statuses = []
    unready = []
    for container in spec.get("containers") or []:
        if crashes(container):
            statuses.append(crash_looping(container, pod, restarts, back_off, crash_window))
            unready.append(container["name"])
        else:
            statuses.append(_keep_started_at(running(container, pod, now), old_status))
    conditions = pod_conditions(old_status, now, sandbox_ready=True, pending_init=[], unready=unready)
    return _status(old_status, "Running", conditions, pod, pod_ip, init_statuses, statuses)


def finished_status(
    spec: dict[str, Any], old_status: dict[str, Any], pod: PodContext, pod_ip: str, now: str
) -> dict[str, Any]:
    """Every container exited: Succeeded, or Failed when one of them fails."""
    failed = any(fails(c) or crashes(c) for c in spec.get("containers") or [])
    started_at = {
        s["name"]: ((s.get("state") or {}).get("running") or {}).get("startedAt", pod.start_time)
        for s in old_status.get("containerStatuses") or []
    }
    statuses = [
        terminated(c, pod, started_at.get(c["name"], pod.start_time), now, 1 if fails(c) or crashes(c) else 0)
        for c in spec.get("containers") or []
    ]
    init_statuses = [
        terminated(c, pod, pod.start_time, pod.start_time, 0, ready=True)
        for c in spec.get("initContainers") or []
    ]
    conditions = pod_conditions(
        old_status,
        now,
        sandbox_ready=False,
        pending_init=[],
        unready=[],
        finished_reason="PodFailed" if failed else "PodCompleted",
    )
    return _status(
        old_status, "Failed" if failed else "Succeeded", conditions, pod, pod_ip, init_statuses, statuses
    )


def _keep_started_at(status: dict[str, Any], old_status: dict[str, Any]) -> dict[str, Any]:
    for previous in old_status.get("containerStatuses") or []:
        if previous.get("name") == status["name"]:
            started = ((previous.get("state") or {}).get("running") or {}).get("startedAt")
            if started:
                status["state"] = {"running": {"startedAt": started}}
    return status
