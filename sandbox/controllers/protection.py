"""The pvc-protection and pv-protection controllers: they release the finalizers admission puts on
claims and volumes (sandbox.admission), so a deleted claim or volume goes only once nothing uses it.

- A claim being deleted keeps `kubernetes.io/pvc-protection` while a scheduled pod that has not
  finished (phase other than Succeeded or Failed) mounts it, directly or as a generic ephemeral volume.
- A volume being deleted keeps `kubernetes.io/pv-protection` while it is Bound to a claim.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.admission import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, own_key
from sandbox.controllers.volumes import VolumeKey
from sandbox.store import DELETED, StoredObject, WatchEvent

_FINISHED = ("Succeeded", "Failed")


def claims_of(pod: dict[str, Any]) -> list[str]:
    """The claims a pod mounts: named ones, and `<pod>-<volume>` for generic ephemeral volumes."""
    names: list[str] = []
    pod_name = str((pod.get("metadata") or {}).get("name") or "")
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            names.append(str(claim))
        elif volume.get("ephemeral") is not None:
            names.append(f"{pod_name}-{volume.get('name')}")
    return names


def _uses_claims(pod: dict[str, Any]) -> bool:
    """Whether a pod holds its claims: scheduled, and not finished."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    return (pod.get("status") or {}).get("phase") not in _FINISHED


class StorageProtection(ReconcileLoop):
    name = "pvc-protection-controller"

    def sources(self) -> list[Source]:
        return [
            Source("v1", "PersistentVolumeClaim", own_key),
            Source("v1", "Pod", self._claims_of_pod),
            Source("v1", "PersistentVolume", self._volume_key),
        ]

    def resync(self) -> Iterable[Key]:
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        volumes = self.api.resource("v1", "PersistentVolume")
        keys: list[Key] = [
            (claim.namespace, claim.name)
            for claim in self.api.store.iter_objects(claims.storage_key)
            if is_deleting(claim.obj)
        ]
        keys.extend(VolumeKey(v.name) for v in self.api.store.iter_objects(volumes.storage_key))
        return keys

    @staticmethod
    def _claims_of_pod(event: WatchEvent) -> Iterable[Key]:
        return [(event.new.namespace, name) for name in claims_of(event.new.obj)]

    @staticmethod
    def _volume_key(event: WatchEvent) -> Iterable[Key]:
        return [] if event.type == DELETED else [VolumeKey(event.new.name)]

    def reconcile(self, key: Key) -> float | None:
        if isinstance(key, VolumeKey):
            volumes = self.api.resource("v1", "PersistentVolume")
            volume = self.api.find(volumes, None, key.name)
            if volume is not None and (volume.obj.get("status") or {}).get("phase") != "Bound":
                self._release(volume, PV_PROTECTION_FINALIZER)
            return None
        namespace, name = split_key(key)
        claims = self.api.resource("v1", "PersistentVolumeClaim")
        claim = self.api.find(claims, namespace, name)
        if claim is not None and not self._in_use(namespace, name):
            self._release(claim, PVC_PROTECTION_FINALIZER)
        return None

    def _in_use(self, namespace: str, claim: str) -> bool:
        pods = self.api.resource("v1", "Pod")
        return any(
            _uses_claims(pod.obj) and claim in claims_of(pod.obj)
            for pod in self.api.store.iter_objects(pods.storage_key, namespace)
        )

    def _release(self, stored: StoredObject, finalizer: str) -> None:
        """Drop the finalizer from an object being deleted (the update then completes the delete)."""
        finalizers = stored.obj["metadata"].get("finalizers") or []
        if not is_deleting(stored.obj) or finalizer not in finalizers:
            return
        updated = stored.copy()
        updated["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
        resource_type = self.api.resource(str(stored.obj["apiVersion"]), str(stored.obj["kind"]))
        self.api.update(resource_type, stored.namespace or None, stored.name, updated, manager=self.manager)
