"""What the kubelet remembers of a pod's containers between reconciles, and the status each reports.

A `ContainerRun` is one container: its simulated process, the attempt now running (or the back-off
before the next), its restarts and how the previous attempt ended. The kubelet moves them forward
in time; `container_status` says what the pod's `containerStatuses` entry is at any point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.controllers.podstatus import PodContext, crash_looping, running, terminated
from sandbox.controllers.processes import Process


@dataclass
class ContainerRun:
    """One container as the kubelet tracks it."""

    process: Process
    started: float | None = None  # loop time the running attempt began; None when not running
    started_at: str = ""
    exit_code: int | None = None  # set once the current attempt exited and stays exited
    finished_at: str = ""
    restarts: int = 0
    last_state: dict[str, Any] | None = None  # lastState.terminated: the previous attempt
    restart_due: float | None = None  # while waiting out the back-off
    back_off: float = 0.0
    stop_due: float | None = None  # while stopping: when the process is gone
    killed: bool = False


@dataclass
class PodRun:
    """One pod as the kubelet tracks it."""

    uid: str
    ip: str | None = None
    start_due: float | None = None  # loop time the containers start
    started_at: str = ""  # when the regular containers started
    containers: dict[str, ContainerRun] = field(default_factory=dict)
    stopping: bool = False
    grace: int | None = None  # the deletion grace period the stop was planned for


def container_status(container: dict[str, Any], run: ContainerRun, pod: PodContext) -> dict[str, Any]:
    """Exited, waiting out a restart back-off, or running."""
    if run.exit_code is not None:
        return terminated(
            container,
            pod,
            run.started_at,
            run.finished_at,
            run.exit_code,
            restarts=run.restarts,
            last_state=run.last_state,
        )
    if run.restart_due is not None and run.last_state is not None:
        return crash_looping(container, pod, run.restarts, run.back_off, run.last_state)
    return running(container, pod, run.started_at, restarts=run.restarts, last_state=run.last_state)
