"""Dynamic provisioning and binding: every pending claim gets a hostPath PersistentVolume `pvc-<uid>`.

What a kind cluster's local-path provisioner and the PV binder do between them, with the binder's
annotations. A claim that names a volume (`spec.volumeName`) is bound to it when that volume is free.
When a claim goes, its volume is deleted (reclaim policy Delete) or released (Retain).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.events import NORMAL, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name, own_key
from sandbox.controllers.settings import ControllerSettings
from sandbox.store import StoredObject, WatchEvent

PROVISIONER = "sandbox.kubedrift.io/hostpath"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"


class VolumeBinder(ReconcileLoop):
    name = "persistentvolume-binder-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [
            Source("v1", "PersistentVolumeClaim", own_key),
            Source("v1", "PersistentVolume", self._claim_of_volume),
        ]

    def resync(self) -> Iterable[Key]:
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        return [namespace_name(c.obj) for c in self.api.store.iter_objects(claims.storage_key)]

    def _claim_of_volume(self, event: WatchEvent) -> Iterable[Key]:
        reference = (event.new.obj.get("spec") or {}).get("claimRef") or {}
        if reference.get("name"):
            return [(str(reference.get("namespace") or ""), str(reference["name"]))]
        return []

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        stored = self.api.find(claims, namespace, name)
        if stored is None:
            self._reclaim(namespace, name)
            return None
        claim = stored.obj
        if is_deleting(claim) or (claim.get("status") or {}).get("phase") == "Bound":
            return None
        volumes = self.api.resource("v1", "PersistentVolume")
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = self.api.find(volumes, None, volume_name)
            reference = ((volume.obj.get("spec") or {}).get("claimRef") or {}) if volume is not None else {}
            if volume is None or reference.get("uid") not in (None, claim["metadata"]["uid"]):
                return None  # the named volume is missing or taken: the claim stays Pending
            volume = self._claim_volume(volume, claim)
        else:
            volume = self._provision(claim)
        self._bind_claim(stored, volume)
        return None

    def _provision(self, claim: dict[str, Any]) -> StoredObject:
        volumes = self.api.resource("v1", "PersistentVolume")
        metadata = claim["metadata"]
        name = f"pvc-{metadata['uid']}"
        existing = self.api.find(volumes, None, name)
        if existing is not None:
            return existing
        spec = claim.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        volume_spec: dict[str, Any] = {
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "capacity": {"storage": storage},
            "claimRef": _claim_reference(claim),
            "hostPath": {
                "path": f"/var/local-path-provisioner/{name}_{metadata.get('namespace')}_{metadata['name']}",
                "type": "DirectoryOrCreate",
            },
            "persistentVolumeReclaimPolicy": "Delete",
            "volumeMode": spec.get("volumeMode", "Filesystem"),
        }
        if spec.get("storageClassName"):
            volume_spec["storageClassName"] = spec["storageClassName"]
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": volume_spec,
        }
        created = self.api.create(volumes, None, body, manager=self.manager)
        self.events.record(
            self.api, claim, NORMAL, "ProvisioningSucceeded", f"Successfully provisioned volume {name}"
        )
        return self._volume_phase(created, "Bound")

    def _claim_volume(self, volume: StoredObject, claim: dict[str, Any]) -> StoredObject:
        if (volume.obj.get("spec") or {}).get("claimRef", {}).get("uid") != claim["metadata"]["uid"]:
            updated = volume.copy()
            updated.setdefault("spec", {})["claimRef"] = _claim_reference(claim)
            annotations = updated["metadata"].setdefault("annotations", {})
            annotations[BOUND_BY_CONTROLLER] = "yes"
            volume = self.api.update(
                self.api.resource("v1", "PersistentVolume"), None, volume.name, updated, manager=self.manager
            )
        return self._volume_phase(volume, "Bound")

    def _volume_phase(self, volume: StoredObject, phase: str) -> StoredObject:
        if (volume.obj.get("status") or {}).get("phase") == phase:
            return volume
        updated = volume.copy()
        updated["status"] = {"phase": phase, "lastPhaseTransitionTime": self.api.clock()}
        return self.api.update_status(updated, manager=self.manager)

    def _bind_claim(self, stored: StoredObject, volume: StoredObject) -> None:
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        claim = stored.copy()
        claim.setdefault("spec", {})["volumeName"] = volume.name
        annotations = claim["metadata"].setdefault("annotations", {})
        annotations[BIND_COMPLETED] = "yes"
        annotations[BOUND_BY_CONTROLLER] = "yes"
        if PROVISIONED_BY in (volume.obj["metadata"].get("annotations") or {}):
            annotations[STORAGE_PROVISIONER] = PROVISIONER
            annotations[BETA_STORAGE_PROVISIONER] = PROVISIONER
        bound = self.api.update(claims, stored.namespace, stored.name, claim, manager=self.manager).copy()
        volume_spec = volume.obj.get("spec") or {}
        bound["status"] = {
            "phase": "Bound",
            "accessModes": list(volume_spec.get("accessModes") or []),
            "capacity": dict(volume_spec.get("capacity") or {}),
        }
        self.api.update_status(bound, manager=self.manager)

    def _reclaim(self, namespace: str, name: str) -> None:
        volumes = self.api.resource("v1", "PersistentVolume")
        for volume in list(self.api.store.iter_objects(volumes.storage_key)):
            reference = (volume.obj.get("spec") or {}).get("claimRef") or {}
            if (
                reference.get("namespace") != namespace
                or reference.get("name") != name
                or is_deleting(volume.obj)
            ):
                continue
            if (volume.obj.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
                self.api.delete(volumes, None, volume.name)
            else:
                self._volume_phase(volume, "Released")


def _claim_reference(claim: dict[str, Any]) -> dict[str, Any]:
    metadata = claim["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "name": metadata["name"],
        "namespace": metadata.get("namespace"),
        "resourceVersion": metadata.get("resourceVersion"),
        "uid": metadata.get("uid"),
    }
