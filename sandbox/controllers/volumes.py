"""The PersistentVolume controller: binding claims to volumes, dynamic provisioning, and reclaiming.

What a kind cluster's PV binder and its local-path provisioner do between them, with the binder's
annotations:

- A new volume with no claim becomes `Available`.
- A pending claim binds to the smallest free volume of its class that fits (access modes, volume mode,
  capacity); a claim that names a volume (`spec.volumeName`) binds to that one when it is free.
- Failing that, a claim of a StorageClass is provisioned a hostPath volume `pvc-<uid>` with the
  class's reclaim policy. A claim with `storageClassName: ""` asks for no class: it is never
  provisioned and stays Pending until a classless volume fits. A claim with no class at all gets the
  default class once one exists (RetroactiveDefaultStorageClass); until then it binds only statically.
  A class that does not exist, or one whose provisioner is `kubernetes.io/no-provisioner`, leaves the
  claim Pending.
- When a claim goes, its volume is released, then deleted (reclaim policy Delete) or kept (Retain).

A registry that does not serve StorageClass has no classes to consult: every claim but a `""` one is
then provisioned, as before classes existed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.schema.quantity import Quantity
from sandbox.admission import DEFAULT_STORAGE_CLASS_ANNOTATIONS, STORAGE_CLASSES, default_class
from sandbox.controllers.events import NORMAL, WARNING, EventRecorder
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name, own_key
from sandbox.controllers.settings import ControllerSettings
from sandbox.store import DELETED, StoredObject, WatchEvent

PROVISIONER = "sandbox.kubedrift.io/hostpath"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"

# The StorageClass a fresh sandbox has, as kind and minikube clusters have one named `standard`.
# It binds at once (kind's waits for the first consumer), since the sandbox provisions at once.
DEFAULT_STORAGE_CLASS: dict[str, Any] = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "standard",
        "annotations": {DEFAULT_STORAGE_CLASS_ANNOTATIONS[0]: "true"},
    },
    "provisioner": PROVISIONER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}


@dataclass(frozen=True)
class VolumeKey:
    """The key of a PersistentVolume (claims are keyed by namespace and name)."""

    name: str


class VolumeBinder(ReconcileLoop):
    name = "persistentvolume-binder-controller"

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        super().__init__(settings)
        self.events = EventRecorder(self.name, manager=self.manager, enabled=self.settings.record_events)

    def sources(self) -> list[Source]:
        return [
            Source("v1", "PersistentVolumeClaim", own_key),
            Source("v1", "PersistentVolume", self._volume_keys),
        ]

    def resync(self) -> Iterable[Key]:
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        volumes = self.api.resource("v1", "PersistentVolume")
        keys: list[Key] = [VolumeKey(v.name) for v in self.api.store.iter_objects(volumes.storage_key)]
        keys.extend(namespace_name(c.obj) for c in self.api.store.iter_objects(claims.storage_key))
        return keys

    @staticmethod
    def _volume_keys(event: WatchEvent) -> Iterable[Key]:
        keys: list[Key] = [] if event.type == DELETED else [VolumeKey(event.new.name)]
        reference = (event.new.obj.get("spec") or {}).get("claimRef") or {}
        if reference.get("name"):
            keys.append((str(reference.get("namespace") or ""), str(reference["name"])))
        return keys

    def reconcile(self, key: Key) -> float | None:
        if isinstance(key, VolumeKey):
            self._sync_volume(key.name)
            return None
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
            self._bind_claim(stored, self._claim_volume(volume, claim))
            return None
        match = self._matching_volume(claim)
        if match is not None:
            self._bind_claim(stored, self._claim_volume(match, claim))
            return None
        provisioned = self._provision_for(stored)
        if provisioned is not None:
            self._bind_claim(stored, provisioned)
        return None

    # ---- volumes ----

    def _sync_volume(self, name: str) -> None:
        """A volume nobody claims is Available (a new one starts Pending)."""
        volumes = self.api.resource("v1", "PersistentVolume")
        volume = self.api.find(volumes, None, name)
        if volume is None or is_deleting(volume.obj):
            return
        phase = (volume.obj.get("status") or {}).get("phase")
        if phase in (None, "Pending") and not (volume.obj.get("spec") or {}).get("claimRef"):
            self._volume_phase(volume, "Available")
            # The real binder finds it on its periodic resync of claims; look again at once.
            self.queue.add_all(self._pending_claims())

    def _pending_claims(self) -> list[Key]:
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        return [
            namespace_name(c.obj)
            for c in self.api.store.iter_objects(claims.storage_key)
            if (c.obj.get("status") or {}).get("phase") == "Pending" and not is_deleting(c.obj)
        ]

    def _matching_volume(self, claim: dict[str, Any]) -> StoredObject | None:
        """The smallest free volume of the claim's class that satisfies it (findBestMatchForClaim)."""
        spec = claim.get("spec") or {}
        wanted_class = str(spec.get("storageClassName") or "")
        wanted_modes = set(spec.get("accessModes") or [])
        wanted_mode = spec.get("volumeMode") or "Filesystem"
        request = _storage(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        volumes = self.api.resource("v1", "PersistentVolume")
        best: tuple[Quantity, StoredObject] | None = None
        for volume in self.api.store.iter_objects(volumes.storage_key):
            volume_spec = volume.obj.get("spec") or {}
            if is_deleting(volume.obj) or volume_spec.get("claimRef"):
                continue
            if (volume.obj.get("status") or {}).get("phase") not in (None, "Pending", "Available"):
                continue
            if str(volume_spec.get("storageClassName") or "") != wanted_class:
                continue
            if not wanted_modes <= set(volume_spec.get("accessModes") or []):
                continue
            if (volume_spec.get("volumeMode") or "Filesystem") != wanted_mode:
                continue
            capacity = _storage((volume_spec.get("capacity") or {}).get("storage"))
            if capacity is None or (request is not None and capacity.value < request.value):
                continue
            if best is None or capacity.value < best[0].value:
                best = (capacity, volume)
        return None if best is None else best[1]

    # ---- provisioning ----

    def _provision_for(self, stored: StoredObject) -> StoredObject | None:
        """A new volume for the claim, or None when its class does not provision (it stays Pending)."""
        claim = stored.obj
        spec = claim.get("spec") or {}
        class_name = spec.get("storageClassName")
        if class_name == "":
            return None
        if not self._classes_served():
            return self._provision(claim, None)
        if class_name is None:
            default = default_class(self.api.store, STORAGE_CLASSES, DEFAULT_STORAGE_CLASS_ANNOTATIONS)
            if default is not None:
                updated = stored.copy()
                updated.setdefault("spec", {})["storageClassName"] = default
                self.api.update(
                    self.api.resource("v1", "PersistentVolumeClaim"),
                    stored.namespace,
                    stored.name,
                    updated,
                    manager=self.manager,
                )
            return None  # the update brings the claim back with its class
        storage_class = self.api.store.get(STORAGE_CLASSES, "", str(class_name))
        if storage_class is None:
            self.events.record(
                self.api,
                claim,
                WARNING,
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
            )
            return None
        if storage_class.obj.get("provisioner") == NO_PROVISIONER:
            return None
        return self._provision(claim, storage_class.obj)

    def _classes_served(self) -> bool:
        return self.api.registry.preferred(*STORAGE_CLASSES) is not None

    def _provision(self, claim: dict[str, Any], storage_class: dict[str, Any] | None) -> StoredObject:
        volumes = self.api.resource("v1", "PersistentVolume")
        metadata = claim["metadata"]
        name = f"pvc-{metadata['uid']}"
        existing = self.api.find(volumes, None, name)
        if existing is not None:
            return existing
        spec = claim.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        provisioner = str((storage_class or {}).get("provisioner") or PROVISIONER)
        volume_spec: dict[str, Any] = {
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "capacity": {"storage": storage},
            "claimRef": _claim_reference(claim),
            "hostPath": {
                "path": f"/var/local-path-provisioner/{name}_{metadata.get('namespace')}_{metadata['name']}",
                "type": "DirectoryOrCreate",
            },
            "persistentVolumeReclaimPolicy": str((storage_class or {}).get("reclaimPolicy") or "Delete"),
            "volumeMode": spec.get("volumeMode", "Filesystem"),
        }
        if spec.get("storageClassName"):
            volume_spec["storageClassName"] = spec["storageClassName"]
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: provisioner}},
            "spec": volume_spec,
        }
        created = self.api.create(volumes, None, body, manager=self.manager)
        self.events.record(
            self.api, claim, NORMAL, "ProvisioningSucceeded", f"Successfully provisioned volume {name}"
        )
        return self._volume_phase(created, "Bound")

    # ---- binding ----

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
        provisioner = (volume.obj["metadata"].get("annotations") or {}).get(PROVISIONED_BY)
        if provisioner:
            annotations[STORAGE_PROVISIONER] = provisioner
            annotations[BETA_STORAGE_PROVISIONER] = provisioner
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
            # Released first: a volume still Bound is one the pv-protection finalizer holds.
            released = self._volume_phase(volume, "Released")
            if (volume.obj.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
                self.api.delete(volumes, None, released.name)


def _storage(value: Any) -> Quantity | None:
    try:
        return None if value is None else Quantity.parse(str(value))
    except ValueError:
        return None


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
