"""The Deployment controller: one ReplicaSet per template version, rolled as the strategy says.

The new ReplicaSet is `<deployment>-<pod-template-hash>`; the hash label also goes on its selector,
template and pods. A template change creates a new ReplicaSet and moves replicas over within
maxSurge and maxUnavailable (RollingUpdate) or all at once (Recreate). Like the real controller,
each reconcile takes one step (create, scale up, or scale down) and then reports status; the
ReplicaSets' own status changes bring the next step.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from sandbox.controllers.conditions import get_condition, set_condition
from sandbox.controllers.deploymentstatus import (
    calculate_status,
    deployment_complete,
    paused_condition,
    progress_recheck,
    rollout_conditions,
)
from sandbox.controllers.events import NORMAL, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import (
    controller_keys,
    is_controlled_by,
    is_deleting,
    namespace_name,
    own_key,
    owned,
)
from sandbox.controllers.replicasets import (
    has_template_of,
    latest,
    new_replicaset,
    new_rs_annotations,
    replica_annotations,
    revision_of,
    split_new_and_old,
)
from sandbox.controllers.rollout import (
    REVISION,
    is_rolling,
    new_rs_replicas,
    old_rs_scale_down,
    proportional_targets,
    replicas_of,
    status_count,
)
from sandbox.controllers.settings import ControllerSettings
from sandbox.errors import StatusError
from sandbox.selectors import label_selector_from_object
from sandbox.store import StoredObject, WatchEvent


class DeploymentController(ReconcileLoop):
    name = "deployment-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [
            Source("apps/v1", "Deployment", own_key),
            Source("apps/v1", "ReplicaSet", self._replicaset_keys),
        ]

    def resync(self) -> Iterable[Key]:
        deployments = self.api.resource("apps/v1", "Deployment")
        return [namespace_name(d.obj) for d in self.api.store.iter_objects(deployments.storage_key)]

    def _replicaset_keys(self, event: WatchEvent) -> Iterable[Key]:
        keys = set(controller_keys("Deployment")(event))
        labels = event.new.obj["metadata"].get("labels")
        if not keys and labels and event.type != "DELETED":
            deployments = self.api.resource("apps/v1", "Deployment")
            for d in self.api.list(deployments, event.new.namespace).items:
                if label_selector_from_object((d.obj.get("spec") or {}).get("selector")).matches(labels):
                    keys.add(namespace_name(d.obj))
        return keys

    # ---- one sync ----

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        deployments = self.api.resource("apps/v1", "Deployment")
        stored = self.api.find(deployments, namespace, name)
        if stored is None:
            return None
        d = stored.obj
        spec = d.get("spec") or {}
        selector = label_selector_from_object(spec.get("selector"))
        rs_type = self.api.resource("apps/v1", "ReplicaSet")
        rs_list = [rs.obj for rs in owned(self.api, rs_type, d, selector, manager=self.manager)]
        if is_deleting(d):
            new_rs, _old = split_new_and_old(d, rs_list)
            return self._write_status(stored, calculate_status(d, rs_list, new_rs, self.api.clock()))
        stored = self._check_paused(stored)
        d = stored.obj
        if spec.get("paused"):
            return self._sync_scale(stored, rs_list)
        if is_rolling(d):
            return self._rollout_rolling(stored, rs_list)
        return self._rollout_recreate(stored, rs_list)

    def _rollout_rolling(self, stored: StoredObject, rs_list: list[dict[str, Any]]) -> float | None:
        stored, new_rs, old_rs = self._sync_revision(stored, rs_list, create=True)
        d = stored.obj
        all_rs = [*old_rs, new_rs] if new_rs is not None else old_rs
        if new_rs is not None and replicas_of(new_rs) != replicas_of(d):
            target = (
                replicas_of(d) if replicas_of(new_rs) > replicas_of(d) else new_rs_replicas(d, all_rs, new_rs)
            )
            if self._scale(new_rs, target, d):
                return self._sync_rollout_status(stored, self._fresh(all_rs), self._fresh_one(new_rs))
        targets = old_rs_scale_down(d, all_rs, [rs for rs in old_rs if replicas_of(rs) > 0], new_rs)
        scaled = [
            self._scale(rs, targets[rs["metadata"]["name"]], d)
            for rs in old_rs
            if rs["metadata"]["name"] in targets
        ]
        if any(scaled):
            return self._sync_rollout_status(stored, self._fresh(all_rs), self._fresh_one(new_rs))
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, old_rs)
        return self._sync_rollout_status(stored, all_rs, new_rs)

    def _rollout_recreate(self, stored: StoredObject, rs_list: list[dict[str, Any]]) -> float | None:
        stored, new_rs, old_rs = self._sync_revision(stored, rs_list, create=False)
        d = stored.obj
        active_old = [rs for rs in old_rs if replicas_of(rs) > 0]
        if active_old:
            for rs in active_old:
                self._scale(rs, 0, d)
            return self._sync_rollout_status(stored, self._fresh(rs_list), self._fresh_one(new_rs))
        if any(status_count(rs, "replicas") > 0 for rs in old_rs):
            return self._sync_rollout_status(stored, rs_list, new_rs)
        if new_rs is None:
            stored, new_rs, old_rs = self._sync_revision(stored, rs_list, create=True)
            d = stored.obj
        if new_rs is not None and replicas_of(new_rs) != replicas_of(d):
            self._scale(new_rs, replicas_of(d), d)
            new_rs = self._fresh_one(new_rs)
        all_rs = [*old_rs, new_rs] if new_rs is not None else old_rs
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, old_rs)
        return self._sync_rollout_status(stored, all_rs, new_rs)

    def _sync_scale(self, stored: StoredObject, rs_list: list[dict[str, Any]]) -> float | None:
        """A paused deployment still follows scaling events, without starting a rollout."""
        stored, new_rs, old_rs = self._sync_revision(stored, rs_list, create=False)
        d = stored.obj
        candidates = ([new_rs] if new_rs is not None else []) + old_rs
        active = [rs for rs in candidates if replicas_of(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new_rs or latest(old_rs))
            if target is not None and replicas_of(target) != replicas_of(d):
                self._scale(target, replicas_of(d), d)
        else:
            targets = proportional_targets(d, active)
            for rs in active:
                if rs["metadata"]["name"] in targets:
                    self._scale(rs, targets[rs["metadata"]["name"]], d)
        all_rs = self._fresh(candidates)
        fresh_new = self._fresh_one(new_rs)
        return self._write_status(stored, calculate_status(d, all_rs, fresh_new, self.api.clock()))

    # ---- ReplicaSets ----

    def _sync_revision(
        self, stored: StoredObject, rs_list: list[dict[str, Any]], *, create: bool
    ) -> tuple[StoredObject, dict[str, Any] | None, list[dict[str, Any]]]:
        """getAllReplicaSetsAndSyncRevision: find or create the new ReplicaSet, keep revisions in step."""
        d = stored.obj
        new_rs, old_rs = split_new_and_old(d, rs_list)
        new_revision = max((revision_of(rs) for rs in old_rs), default=0) + 1
        rs_type = self.api.resource("apps/v1", "ReplicaSet")
        created = False
        if new_rs is not None:
            wanted = new_rs_annotations(d, new_rs, new_revision)
            if wanted != (new_rs["metadata"].get("annotations") or {}):
                updated = _copy(new_rs)
                updated["metadata"]["annotations"] = wanted
                new_rs = self.api.update(
                    rs_type,
                    updated["metadata"]["namespace"],
                    updated["metadata"]["name"],
                    updated,
                    manager=self.manager,
                ).obj
        elif create:
            new_rs = self._create_rs(stored, old_rs, new_revision)
            if new_rs is None:
                return (
                    self.api.get(self.api.resource("apps/v1", "Deployment"), *namespace_name(d)),
                    None,
                    old_rs,
                )
            created = True
        else:
            return stored, None, old_rs
        return self._record_revision(stored, new_rs, created), new_rs, old_rs

    def _create_rs(
        self, stored: StoredObject, old_rs: list[dict[str, Any]], revision: int
    ) -> dict[str, Any] | None:
        d = stored.obj
        body = new_replicaset(d, old_rs, revision)
        namespace = d["metadata"].get("namespace")
        rs_type = self.api.resource("apps/v1", "ReplicaSet")
        try:
            created = self.api.create(rs_type, namespace, body, manager=self.manager).obj
        except StatusError as error:
            if error.code != 409:
                raise
            existing = self.api.find(rs_type, namespace, body["metadata"]["name"])
            if (
                existing is not None
                and is_controlled_by(existing.obj, d["metadata"]["uid"])
                and has_template_of(existing.obj, d)
            ):
                return existing.obj
            # A hash collision: salt the hash and try again on the next sync.
            bumped = stored.copy()
            status = bumped.setdefault("status", {})
            status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
            self.api.update_status(bumped, manager=self.manager)
            return None
        replicas = replicas_of(created)
        if replicas > 0:
            self._record_scaling(d, created, replicas, 0)
        return created

    def _record_revision(self, stored: StoredObject, new_rs: dict[str, Any], created: bool) -> StoredObject:
        """The deployment's revision annotation and Progressing condition, through the status subresource
        as the real controller writes them (the deployment status strategy keeps annotations)."""
        d = stored.obj
        revision = (new_rs["metadata"].get("annotations") or {}).get(REVISION)
        updated = stored.copy()
        changed = False
        if revision and (d["metadata"].get("annotations") or {}).get(REVISION) != revision:
            updated["metadata"].setdefault("annotations", {})[REVISION] = revision
            changed = True
        if _has_progress_deadline(d):
            status = updated.setdefault("status", {})
            current = get_condition(status.get("conditions"), "Progressing")
            if created:
                message = f'Created new replica set "{new_rs["metadata"]["name"]}"'
                status["conditions"] = set_condition(
                    status.get("conditions"),
                    _progressing("True", "NewReplicaSetCreated", message, self.api.clock()),
                )
                changed = True
            elif current is None:
                message = f'Found new replica set "{new_rs["metadata"]["name"]}"'
                status["conditions"] = set_condition(
                    status.get("conditions"),
                    _progressing("True", "FoundNewReplicaSet", message, self.api.clock()),
                )
                changed = True
        if not changed:
            return stored
        return self.api.update_status(updated, manager=self.manager)

    def _scale(self, rs: dict[str, Any], size: int, d: dict[str, Any]) -> bool:
        """scaleReplicaSetAndRecordEvent: the size and the desired/max annotations, when they differ."""
        annotations = dict(rs["metadata"].get("annotations") or {})
        wanted = replica_annotations(d)
        current = replicas_of(rs)
        if current == size and all(annotations.get(k) == v for k, v in wanted.items()):
            return False
        updated = _copy(rs)
        updated["spec"]["replicas"] = size
        updated["metadata"]["annotations"] = {**annotations, **wanted}
        rs_type = self.api.resource("apps/v1", "ReplicaSet")
        self.api.update(
            rs_type, rs["metadata"]["namespace"], rs["metadata"]["name"], updated, manager=self.manager
        )
        if current != size:
            self._record_scaling(d, rs, size, current)
        return current != size

    def _record_scaling(self, d: dict[str, Any], rs: dict[str, Any], size: int, previous: int) -> None:
        direction = "up" if size > previous else "down"
        self.events.record(
            self.api,
            d,
            NORMAL,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} to {size} from {previous}",
        )

    def _cleanup(self, d: dict[str, Any], old_rs: list[dict[str, Any]]) -> None:
        """Delete old, empty ReplicaSets beyond revisionHistoryLimit, lowest revision first."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        empty = [
            rs
            for rs in old_rs
            if replicas_of(rs) == 0 and status_count(rs, "replicas") == 0 and not is_deleting(rs)
        ]
        rs_type = self.api.resource("apps/v1", "ReplicaSet")
        for rs in sorted(empty, key=revision_of)[: max(0, len(empty) - int(limit))]:
            self.api.delete(rs_type, rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _fresh(self, rs_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [fresh for fresh in (self._fresh_one(rs) for rs in rs_list) if fresh is not None]

    def _fresh_one(self, rs: dict[str, Any] | None) -> dict[str, Any] | None:
        if rs is None:
            return None
        found = self.api.find(self.api.resource("apps/v1", "ReplicaSet"), *namespace_name(rs))
        return None if found is None else found.obj

    # ---- status ----

    def _check_paused(self, stored: StoredObject) -> StoredObject:
        d = stored.obj
        if not _has_progress_deadline(d):
            return stored
        condition = paused_condition(d, self.api.clock())
        if condition is None:
            return stored
        updated = stored.copy()
        status = updated.setdefault("status", {})
        status["conditions"] = set_condition(status.get("conditions"), condition)
        return self.api.update_status(updated, manager=self.manager)

    def _sync_rollout_status(
        self, stored: StoredObject, all_rs: list[dict[str, Any]], new_rs: dict[str, Any] | None
    ) -> float | None:
        d = self.api.get(self.api.resource("apps/v1", "Deployment"), *namespace_name(stored.obj))
        now = self.api.clock()
        status = calculate_status(d.obj, all_rs, new_rs, now)
        if _has_progress_deadline(d.obj):
            status["conditions"] = rollout_conditions(d.obj, status, new_rs, now)
        self._write_status(d, status)
        return progress_recheck(d.obj, status, now)

    def _write_status(self, stored: StoredObject, status: dict[str, Any]) -> float | None:
        if status != stored.obj.get("status"):
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)
        return None


def _progressing(status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": "Progressing",
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _has_progress_deadline(d: dict[str, Any]) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and int(deadline) != 2**31 - 1


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)
