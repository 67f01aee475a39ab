"""How the simulated cluster behaves: the one node, pod timings, and the clock CronJobs read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ControllerSettings:
    """Knobs of the simulated controllers; the defaults make a small, quick, believable cluster."""

    node_name: str = "sandbox-node"
    node_ip: str = "172.18.0.2"
    # One node holds every pod, so its pod range is wider than a real node's /24.
    pod_cidr: str = "10.244.0.0/16"
    # Seconds from a pod being bound to its containers running (image pull and start).
    pod_start_delay: float = 0.2
    # Seconds the image's own program runs in a run-to-completion pod (restartPolicy Never or
    # OnFailure) whose command says nothing about time (see sandbox/controllers/processes.py).
    pod_run_duration: float = 0.2
    # Seconds a container takes to exit on SIGTERM when its pod is deleted; never more than the
    # deletion's grace period. A process that ignores SIGTERM is killed when the grace period ends.
    pod_stop_delay: float = 0.5
    # Seconds between the kubelet's renewals of its Lease in kube-node-lease (a real kubelet: 10).
    node_lease_interval: float = 10.0
    # The kubelet's first crash-loop back-off; it doubles per restart up to five minutes.
    crashloop_backoff: float = 10.0
    # The Job controller's first back-off before replacing a failed pod; it doubles per failure.
    job_backoff: float = 10.0
    # Whether controllers record v1 Events (ScalingReplicaSet, Scheduled, BackOff, ...).
    record_events: bool = True
    # What CronJobs take as "now"; tests pass a fixed clock and call `CronJobController.tick`.
    clock: Callable[[], datetime] = field(default=utc_now)
