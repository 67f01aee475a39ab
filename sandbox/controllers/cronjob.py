"""The CronJob controller: a Job per scheduled time, history limits, and `status.active` / `lastScheduleTime`.

Jobs are named `<cronjob>-<scheduled time in minutes since the epoch>`, as the real controller
names them, so a schedule fires at most once per time. The controller sleeps until the next
scheduled minute; `tick(now)` runs a pass at a given time, so tests need not wait for the clock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.controllers.conditions import is_true
from sandbox.controllers.cron import Schedule, ScheduleError
from sandbox.controllers.events import NORMAL, WARNING, EventRecorder
from sandbox.controllers.job import is_finished
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import (
    controller_keys,
    is_deleting,
    namespace_name,
    own_key,
    owned,
    owner_reference,
)
from sandbox.controllers.settings import ControllerSettings
from sandbox.controllers.timestamps import format_time, parse_time
from sandbox.errors import StatusError
from sandbox.store import StoredObject

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def _rfc3339(moment: datetime) -> str:
    if moment.utcoffset() == UTC.utcoffset(None):
        return format_time(moment)
    return moment.isoformat(timespec="seconds")


def _reference(job: dict[str, Any]) -> dict[str, Any]:
    metadata = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": metadata["name"],
        "namespace": metadata.get("namespace"),
        "resourceVersion": metadata.get("resourceVersion"),
        "uid": metadata.get("uid"),
    }


class CronJobController(ReconcileLoop):
    name = "cronjob-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [Source("batch/v1", "CronJob", own_key), Source("batch/v1", "Job", controller_keys("CronJob"))]

    def resync(self) -> Iterable[Key]:
        cronjobs = self.api.resource("batch/v1", "CronJob")
        return [namespace_name(c.obj) for c in self.api.store.iter_objects(cronjobs.storage_key)]

    def tick(self, now: datetime | None = None) -> None:
        """Run one pass over every CronJob as if the time were `now` (must run on the server's loop)."""
        moment = now or self.settings.clock()
        for key in list(self.resync()):
            self.sync(key, moment)

    def reconcile(self, key: Key) -> float | None:
        return self.sync(key, self.settings.clock())

    def sync(self, key: Key, now: datetime) -> float | None:
        namespace, name = split_key(key)
        stored = self.api.find(self.api.resource("batch/v1", "CronJob"), namespace, name)
        if stored is None or is_deleting(stored.obj):
            return None
        cronjob = stored.obj
        spec = cronjob.get("spec") or {}
        jobs_type = self.api.resource("batch/v1", "Job")
        jobs = owned(self.api, jobs_type, cronjob, None, manager=self.manager)
        old_status = cronjob.get("status") or {}
        status = self._observe_jobs(cronjob, jobs, old_status)
        self._clean_history(cronjob, jobs)
        zone = self._zone(cronjob)
        try:
            schedule = Schedule.parse(str(spec.get("schedule") or ""))
        except ScheduleError as error:
            self.events.record(
                self.api, cronjob, WARNING, "UnparseableSchedule", f"unparseable schedule: {error}"
            )
            self._write(stored, status)
            return None
        local_now = now.astimezone(zone)
        next_time = schedule.next_after(local_now)
        recheck = max(1.0, (next_time - local_now).total_seconds()) if next_time is not None else None
        if spec.get("suspend"):
            self._write(stored, status)
            return None
        last = parse_time(old_status.get("lastScheduleTime")) or parse_time(
            cronjob["metadata"].get("creationTimestamp")
        )
        scheduled, _missed = schedule.most_recent((last or now).astimezone(zone), local_now)
        if scheduled is None:
            self._write(stored, status)
            return recheck
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and (local_now - scheduled).total_seconds() > int(deadline):
            self.events.record(
                self.api,
                cronjob,
                WARNING,
                "MissSchedule",
                f"Missed scheduled time to start a job: {_rfc3339(scheduled)}",
            )
            self._write(stored, status)
            return recheck
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and status.get("active"):
            self._write(stored, status)
            return recheck
        if policy == "Replace" and status.get("active"):
            for reference in status.pop("active"):
                try:
                    self.api.delete(jobs_type, namespace, reference["name"], propagation="Background")
                except StatusError as error:
                    if error.code != 404:
                        raise
                self.events.record(
                    self.api, cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {reference['name']}"
                )
        created = self._create_job(cronjob, scheduled)
        if created is not None:
            status["active"] = [*status.get("active", []), _reference(created)]
        status["lastScheduleTime"] = format_time(scheduled)
        self._write(stored, status)
        return recheck

    def _observe_jobs(
        self, cronjob: dict[str, Any], jobs: list[StoredObject], old_status: dict[str, Any]
    ) -> dict[str, Any]:
        """status.active from the Jobs still running, and lastSuccessfulTime from the ones that completed."""
        status = {k: copy.deepcopy(v) for k, v in old_status.items() if k != "active"}
        previously_active = {r.get("uid") for r in old_status.get("active") or []}
        active = []
        for job in sorted(jobs, key=lambda j: str(j.obj["metadata"].get("creationTimestamp") or "")):
            job_status = job.obj.get("status") or {}
            if not is_finished(job.obj):
                if not is_deleting(job.obj):
                    active.append(_reference(job.obj))
                continue
            if job.uid in previously_active:
                outcome = "Complete" if is_true(job_status.get("conditions"), "Complete") else "Failed"
                self.events.record(
                    self.api,
                    cronjob,
                    NORMAL,
                    "SawCompletedJob",
                    f"Saw completed job: {job.name}, status: {outcome}",
                )
            completed = job_status.get("completionTime")
            if completed and completed > str(status.get("lastSuccessfulTime") or ""):
                status["lastSuccessfulTime"] = completed
        ordered: dict[str, Any] = {}
        if active:
            ordered["active"] = active
        for field in ("lastScheduleTime", "lastSuccessfulTime"):
            if field in status:
                ordered[field] = status[field]
        return ordered

    def _clean_history(self, cronjob: dict[str, Any], jobs: list[StoredObject]) -> None:
        spec = cronjob.get("spec") or {}
        jobs_type = self.api.resource("batch/v1", "Job")
        finished = [j for j in jobs if is_finished(j.obj) and not is_deleting(j.obj)]
        for outcome, limit in (
            ("Complete", int(spec.get("successfulJobsHistoryLimit", 3))),
            ("Failed", int(spec.get("failedJobsHistoryLimit", 1))),
        ):
            matching = sorted(
                (j for j in finished if is_true((j.obj.get("status") or {}).get("conditions"), outcome)),
                key=lambda j: str(
                    (j.obj.get("status") or {}).get("startTime") or j.obj["metadata"].get("creationTimestamp")
                ),
            )
            for job in matching[: max(0, len(matching) - limit)]:
                self.api.delete(jobs_type, job.namespace, job.name, propagation="Background")
                self.events.record(self.api, cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {job.name}")

    def _create_job(self, cronjob: dict[str, Any], scheduled: datetime) -> dict[str, Any] | None:
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        template_metadata = template.get("metadata") or {}
        metadata: dict[str, Any] = {
            "name": job_name(cronjob["metadata"]["name"], scheduled),
            "namespace": cronjob["metadata"].get("namespace"),
        }
        if template_metadata.get("labels"):
            metadata["labels"] = dict(template_metadata["labels"])
        metadata["annotations"] = {
            **(template_metadata.get("annotations") or {}),
            SCHEDULED_TIMESTAMP: _rfc3339(scheduled),
        }
        metadata["ownerReferences"] = [owner_reference(cronjob)]
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        jobs_type = self.api.resource("batch/v1", "Job")
        try:
            created = self.api.create(jobs_type, metadata["namespace"], body, manager=self.manager)
        except StatusError as error:
            if error.code != 409:
                raise
            return None  # this scheduled time already has its Job
        self.events.record(self.api, cronjob, NORMAL, "SuccessfulCreate", f"Created job {created.name}")
        return created.obj

    def _zone(self, cronjob: dict[str, Any]) -> tzinfo:
        zone_name = (cronjob.get("spec") or {}).get("timeZone")
        if not zone_name:
            return UTC
        try:
            return ZoneInfo(str(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            return UTC

    def _write(self, stored: StoredObject, status: dict[str, Any]) -> None:
        if status != (stored.obj.get("status") or {}):
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)
