"""The Job controller (and the TTL-after-finished controller): pods until enough succeed or too many fail.

A finished Job has, as in Kubernetes 1.31, `SuccessCriteriaMet` then `Complete` (reason
CompletionsReached), or `FailureTarget` then `Failed` (reason BackoffLimitExceeded). A failed pod is
replaced after the controller's doubling back-off. `spec.suspend` deletes the active pods and sets
the Suspended condition; resuming restarts the clock. Indexed Jobs give each pod its completion index.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from sandbox.controllers.conditions import get_condition, is_true, set_condition
from sandbox.controllers.events import NORMAL, WARNING, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import controller_keys, is_deleting, namespace_name, own_key, owned
from sandbox.controllers.podstate import FAILED, SUCCEEDED, is_active, is_ready, phase, pod_from_template
from sandbox.controllers.settings import ControllerSettings
from sandbox.controllers.timestamps import seconds_since
from sandbox.selectors import label_selector_from_object
from sandbox.store import StoredObject

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
MAX_BACK_OFF = 360.0


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def is_finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions")
    return is_true(conditions, "Complete") or is_true(conditions, "Failed")


def format_indexes(indexes: set[int]) -> str:
    """`0-2,5`: the completedIndexes interval notation."""
    parts: list[str] = []
    ordered = sorted(indexes)
    start = previous = None
    for index in [*ordered, None]:
        if index is not None and previous is not None and index == previous + 1:
            previous = index
            continue
        if start is not None and previous is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = index
    return ",".join(parts)


class JobController(ReconcileLoop):
    name = "job-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)
        # Per Job: the failure count last seen and the loop time it was first seen, for back-off.
        self._failures: dict[Key, tuple[int, float]] = {}

    def sources(self) -> list[Source]:
        return [Source("batch/v1", "Job", own_key), Source("v1", "Pod", controller_keys("Job"))]

    def resync(self) -> Iterable[Key]:
        jobs = self.api.resource("batch/v1", "Job")
        return [namespace_name(j.obj) for j in self.api.store.iter_objects(jobs.storage_key)]

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        jobs = self.api.resource("batch/v1", "Job")
        stored = self.api.find(jobs, namespace, name)
        if stored is None:
            self._failures.pop(key, None)
            return None
        job = stored.obj
        if is_deleting(job):
            return None
        if is_finished(job):
            return self._expire(stored)
        spec = job.get("spec") or {}
        pods_type = self.api.resource("v1", "Pod")
        selector = label_selector_from_object(spec.get("selector"))
        pods = owned(self.api, pods_type, job, selector, manager=self.manager)
        now = self.api.clock()
        old_status = job.get("status") or {}
        status: dict[str, Any] = {"conditions": list(old_status.get("conditions") or [])}
        for field in ("startTime", "completionTime"):
            if field in old_status:
                status[field] = old_status[field]
        active = [p for p in pods if is_active(p.obj)]
        indexed = spec.get("completionMode") == "Indexed"
        succeeded_indexes = {_index(p.obj) for p in pods if phase(p.obj) == SUCCEEDED} - {None}
        succeeded = len(succeeded_indexes) if indexed else sum(1 for p in pods if phase(p.obj) == SUCCEEDED)
        succeeded = max(succeeded, int(old_status.get("succeeded") or 0))
        failed = max(sum(1 for p in pods if phase(p.obj) == FAILED), int(old_status.get("failed") or 0))
        recheck: float | None = None

        if spec.get("suspend"):
            self._delete_pods(job, active)
            active = []
            if not is_true(status["conditions"], "Suspended"):
                status["conditions"] = set_condition(
                    status["conditions"],
                    _condition("Suspended", "True", "JobSuspended", "Job suspended", now),
                )
                self.events.record(self.api, job, NORMAL, "Suspended", "Job suspended")
        else:
            if is_true(status["conditions"], "Suspended"):
                status["conditions"] = set_condition(
                    status["conditions"], _condition("Suspended", "False", "JobResumed", "Job resumed", now)
                )
                status["startTime"] = now
                self.events.record(self.api, job, NORMAL, "Resumed", "Job resumed")
            status.setdefault("startTime", now)
            completions = spec.get("completions")
            parallelism = int(spec.get("parallelism", 1))
            backoff_limit = int(spec.get("backoffLimit", 6))
            deadline = spec.get("activeDeadlineSeconds")
            elapsed = seconds_since(status.get("startTime"), now) or 0.0
            if failed > backoff_limit or _past_backoff_limit_on_failure(spec, active, backoff_limit):
                self._fail(
                    job,
                    status,
                    active,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    now,
                )
                active = []
            elif deadline is not None and elapsed >= int(deadline):
                self._fail(
                    job,
                    status,
                    active,
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    now,
                )
                active = []
            elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active
            ):
                self._delete_pods(job, active)
                active = []
                message = "Reached expected number of succeeded pods"
                for kind in ("SuccessCriteriaMet", "Complete"):
                    status["conditions"] = set_condition(
                        status["conditions"], _condition(kind, "True", "CompletionsReached", message, now)
                    )
                status["completionTime"] = now
                self.events.record(self.api, job, NORMAL, "Completed", "Job completed")
            else:
                want = parallelism if completions is None else min(parallelism, int(completions) - succeeded)
                if completions is None and succeeded > 0:
                    want = 0
                if len(active) < want:
                    wait = self._back_off_left(key, failed)
                    if wait > 0:
                        recheck = wait
                    else:
                        active += self._create_pods(job, want - len(active), active, succeeded_indexes)
                elif len(active) > want:
                    surplus = sorted(
                        active, key=lambda p: str(p.obj["metadata"].get("creationTimestamp") or "")
                    )
                    self._delete_pods(job, surplus[want:])
                    active = surplus[:want]
                if deadline is not None:
                    left = int(deadline) - elapsed
                    recheck = left if recheck is None else min(recheck, left)
        if active:
            status["active"] = len(active)
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        # JobPodReplacementPolicy (on since 1.29): pods being deleted that have not finished yet.
        status["terminating"] = sum(
            1 for p in pods if is_deleting(p.obj) and phase(p.obj) not in (SUCCEEDED, FAILED)
        )
        if indexed and succeeded_indexes:
            status["completedIndexes"] = format_indexes({i for i in succeeded_indexes if i is not None})
        status["uncountedTerminatedPods"] = {}
        status["ready"] = sum(1 for p in active if is_ready(p.obj))
        if not status["conditions"]:
            del status["conditions"]
        if status != old_status:
            updated = stored.copy()
            updated["status"] = status
            stored = self.api.update_status(updated, manager=self.manager)
        if is_finished(stored.obj):
            return self._expire(stored)
        return recheck

    def _fail(
        self,
        job: dict[str, Any],
        status: dict[str, Any],
        active: list[StoredObject],
        reason: str,
        message: str,
        now: str,
    ) -> None:
        self._delete_pods(job, active)
        for kind in ("FailureTarget", "Failed"):
            status["conditions"] = set_condition(
                status["conditions"], _condition(kind, "True", reason, message, now)
            )
        self.events.record(self.api, job, WARNING, reason, message)

    def _back_off_left(self, key: Key, failed: int) -> float:
        if failed == 0:
            self._failures.pop(key, None)
            return 0.0
        now = asyncio.get_running_loop().time()
        seen = self._failures.get(key)
        if seen is None or seen[0] != failed:
            seen = (failed, now)
            self._failures[key] = seen
        delay: float = min(self.settings.job_backoff * (2.0 ** (failed - 1)), MAX_BACK_OFF)
        return max(0.0, seen[1] + delay - now)

    def _create_pods(
        self, job: dict[str, Any], count: int, active: list[StoredObject], succeeded: set[int | None]
    ) -> list[StoredObject]:
        spec = job.get("spec") or {}
        template = spec.get("template") or {}
        name = job["metadata"]["name"]
        uid = job["metadata"]["uid"]
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        labels.update(((template.get("metadata") or {}).get("labels")) or {})
        indexes: list[int | None] = [None] * count
        if spec.get("completionMode") == "Indexed":
            taken = succeeded | {_index(p.obj) for p in active}
            free = [i for i in range(int(spec.get("completions") or 0)) if i not in taken]
            indexes = list(free[:count])
        created = []
        pods_type = self.api.resource("v1", "Pod")
        for index in indexes:
            pod_labels = dict(labels)
            generate_name = f"{name}-"
            if index is not None:
                pod_labels[COMPLETION_INDEX] = str(index)
                generate_name = f"{name}-{index}-"
            pod = pod_from_template(template, job, generate_name=generate_name, extra_labels=pod_labels)
            if index is not None:
                pod["metadata"].setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
                pod["spec"]["hostname"] = f"{name}-{index}"
            stored = self.api.create(pods_type, job["metadata"].get("namespace"), pod, manager=self.manager)
            self.events.record(self.api, job, NORMAL, "SuccessfulCreate", f"Created pod: {stored.name}")
            created.append(stored)
        return created

    def _delete_pods(self, job: dict[str, Any], pods: list[StoredObject]) -> None:
        pods_type = self.api.resource("v1", "Pod")
        for pod in pods:
            self.api.delete(pods_type, pod.namespace, pod.name)
            self.events.record(self.api, job, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod.name}")

    def _expire(self, stored: StoredObject) -> float | None:
        """ttlSecondsAfterFinished: delete a finished Job (foreground, as the TTL controller does)."""
        job = stored.obj
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return None
        status = job.get("status") or {}
        finished_at = status.get("completionTime")
        if not finished_at:
            failed = get_condition(status.get("conditions"), "Failed") or {}
            finished_at = failed.get("lastTransitionTime")
        elapsed = seconds_since(finished_at, self.api.clock())
        if elapsed is not None and elapsed < int(ttl):
            return int(ttl) - elapsed
        self.api.delete(
            self.api.resource("batch/v1", "Job"), stored.namespace, stored.name, propagation="Foreground"
        )
        return None


def _past_backoff_limit_on_failure(spec: dict[str, Any], active: list[StoredObject], limit: int) -> bool:
    """pastBackoffLimitOnFailure: with restartPolicy OnFailure the kubelet restarts failing containers in
    place, so their restarts in running or pending pods count against the backoff limit."""
    template_spec = (spec.get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in active:
        status = pod.obj.get("status") or {}
        if status.get("phase", "Pending") in ("Running", "Pending"):
            for container in [
                *(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or []),
            ]:
                restarts += int(container.get("restartCount") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


def _index(pod: dict[str, Any]) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    return int(value) if value is not None and str(value).isdigit() else None
