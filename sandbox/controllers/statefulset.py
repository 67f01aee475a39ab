"""The StatefulSet controller: pods `<set>-0`, `<set>-1`, ... with a claim per volumeClaimTemplate.

OrderedReady creates pod N only once pods 0..N-1 are Running and Ready, and removes the highest
ordinal first; Parallel does everything at once. Template versions are ControllerRevisions, and a
RollingUpdate replaces pods from the highest ordinal down to the partition, one at a time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from sandbox.controllers.events import NORMAL, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import controller_keys, is_deleting, namespace_name, own_key, owned
from sandbox.controllers.podstate import is_available, is_ready, is_terminal, phase, pod_from_template
from sandbox.controllers.revisions import (
    CONTROLLER_REVISION_HASH,
    ensure_revision,
    prune_revisions,
    template_of_revision,
)
from sandbox.controllers.settings import ControllerSettings
from sandbox.selectors import label_selector_from_object
from sandbox.store import StoredObject

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


class StatefulSetController(ReconcileLoop):
    name = "statefulset-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [
            Source("apps/v1", "StatefulSet", own_key),
            Source("v1", "Pod", controller_keys("StatefulSet")),
        ]

    def resync(self) -> Iterable[Key]:
        sets = self.api.resource("apps/v1", "StatefulSet")
        return [namespace_name(s.obj) for s in self.api.store.iter_objects(sets.storage_key)]

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        stored = self.api.find(self.api.resource("apps/v1", "StatefulSet"), namespace, name)
        if stored is None:
            return None
        sts = stored.obj
        spec = sts.get("spec") or {}
        pods_type = self.api.resource("v1", "Pod")
        selector = label_selector_from_object(spec.get("selector"))
        pods = owned(self.api, pods_type, sts, selector, manager=self.manager)
        by_ordinal = {ordinal: pod for pod in pods if (ordinal := _ordinal(name, pod.name)) is not None}
        if is_deleting(sts):
            status = sts.get("status") or {}
            current_name = str(status.get("currentRevision") or "")
            self._update_status(stored, pods, current_name, str(status.get("updateRevision") or current_name))
            return None
        template = spec.get("template") or {}
        update_revision, _hash = ensure_revision(self.api, sts, template, manager=self.manager)
        current_name = str((sts.get("status") or {}).get("currentRevision") or update_revision.name)
        current = self.api.find(self.api.resource("apps/v1", "ControllerRevision"), namespace, current_name)
        current_revision = current if current is not None else update_revision
        self._manage(sts, by_ordinal, current_revision, update_revision)
        pods = owned(self.api, pods_type, sts, None, manager=self.manager)
        self._update_status(stored, pods, current_revision.name, update_revision.name)
        limit = int(spec.get("revisionHistoryLimit", 10))
        prune_revisions(self.api, sts, {current_revision.name, update_revision.name}, limit=limit)
        return None

    def _manage(
        self,
        sts: dict[str, Any],
        by_ordinal: dict[int, StoredObject],
        current: StoredObject,
        update: StoredObject,
    ) -> None:
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0) if rolling else 0
        pods_type = self.api.resource("v1", "Pod")
        for ordinal in range(replicas):
            pod = by_ordinal.get(ordinal)
            if pod is None:
                revision = current if rolling and ordinal < partition else update
                self._create_pod(sts, ordinal, revision)
                if ordered:
                    return
                continue
            if is_terminal(pod.obj):
                self.api.delete(pods_type, pod.namespace, pod.name)
                self._record(
                    sts, "SuccessfulDelete", f"delete Pod {pod.name} in StatefulSet {_name(sts)} successful"
                )
                if ordered:
                    return
                continue
            if ordered and (is_deleting(pod.obj) or phase(pod.obj) != "Running" or not is_ready(pod.obj)):
                return
        condemned = sorted((o for o in by_ordinal if o >= replicas), reverse=True)
        for ordinal in condemned:
            pod = by_ordinal[ordinal]
            if not is_deleting(pod.obj):
                self.api.delete(pods_type, pod.namespace, pod.name)
                self._record(
                    sts, "SuccessfulDelete", f"delete Pod {pod.name} in StatefulSet {_name(sts)} successful"
                )
            if ordered:
                return
        if not rolling or condemned:
            return
        live = [by_ordinal[o] for o in range(replicas) if o in by_ordinal]
        if len(live) < replicas or not all(is_ready(p.obj) and not is_deleting(p.obj) for p in live):
            return
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = by_ordinal[ordinal]
            if (pod.obj["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) != update.name:
                self.api.delete(pods_type, pod.namespace, pod.name)
                self._record(
                    sts, "SuccessfulDelete", f"delete Pod {pod.name} in StatefulSet {_name(sts)} successful"
                )
                return

    def _create_pod(self, sts: dict[str, Any], ordinal: int, revision: StoredObject) -> None:
        spec = sts.get("spec") or {}
        set_name = _name(sts)
        pod_name = f"{set_name}-{ordinal}"
        template = template_of_revision(revision.obj) or (spec.get("template") or {})
        pod = pod_from_template(
            template,
            sts,
            name=pod_name,
            extra_labels={
                CONTROLLER_REVISION_HASH: revision.name,
                POD_NAME_LABEL: pod_name,
                POD_INDEX_LABEL: str(ordinal),
            },
        )
        pod_spec = pod["spec"]
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{pod_name}"
            self._ensure_claim(sts, claim, claim_name, pod_name)
            volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") != claim["metadata"]["name"]]
            volumes.append(
                {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
            )
            pod_spec["volumes"] = volumes
        self.api.create(
            self.api.resource("v1", "Pod"), pod["metadata"]["namespace"], pod, manager=self.manager
        )
        self._record(sts, "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {set_name} successful")

    def _ensure_claim(
        self, sts: dict[str, Any], claim: dict[str, Any], claim_name: str, pod_name: str
    ) -> None:
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        namespace = sts["metadata"].get("namespace")
        if self.api.find(claims, namespace, claim_name) is not None:
            return
        spec = sts.get("spec") or {}
        claim_metadata = claim.get("metadata") or {}
        labels = {
            **(claim_metadata.get("labels") or {}),
            **((spec.get("selector") or {}).get("matchLabels") or {}),
        }
        metadata: dict[str, Any] = {"name": claim_name, "namespace": namespace, "labels": labels}
        if claim_metadata.get("annotations"):
            metadata["annotations"] = dict(claim_metadata["annotations"])
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        if retention.get("whenDeleted") == "Delete":
            metadata["ownerReferences"] = [
                {
                    "apiVersion": sts["apiVersion"],
                    "kind": sts["kind"],
                    "name": sts["metadata"]["name"],
                    "uid": sts["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": metadata,
            "spec": copy.deepcopy(claim.get("spec") or {}),
        }
        self.api.create(claims, namespace, body, manager=self.manager)
        self._record(
            sts,
            "SuccessfulCreate",
            f"create Claim {claim_name} Pod {pod_name} in StatefulSet {_name(sts)} success",
        )

    def _update_status(
        self, stored: StoredObject, pods: list[StoredObject], current: str, update: str
    ) -> None:
        sts = stored.obj
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.api.clock()
        live = [p for p in pods if not is_terminal(p.obj)]
        revisions = [(p.obj["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) for p in live]
        replicas = len(live)
        ready = sum(1 for p in live if is_ready(p.obj))
        current_count = revisions.count(current)
        updated_count = revisions.count(update)
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        if rolling and updated_count == replicas and ready == replicas:
            current, current_count = update, updated_count
        status: dict[str, Any] = {}
        if sts["metadata"].get("generation"):
            status["observedGeneration"] = sts["metadata"]["generation"]
        status["replicas"] = replicas
        for field, value in (
            ("readyReplicas", ready),
            ("currentReplicas", current_count),
            ("updatedReplicas", updated_count),
        ):
            if value:
                status[field] = value
        status["currentRevision"] = current
        status["updateRevision"] = update
        status["collisionCount"] = int((sts.get("status") or {}).get("collisionCount") or 0)
        status["availableReplicas"] = sum(1 for p in live if is_available(p.obj, min_ready, now))
        if status != sts.get("status"):
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)

    def _record(self, sts: dict[str, Any], reason: str, message: str) -> None:
        self.events.record(self.api, sts, NORMAL, reason, message)


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _ordinal(set_name: str, pod_name: str) -> int | None:
    prefix = f"{set_name}-"
    suffix = pod_name[len(prefix) :] if pod_name.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None
