"""The mutating admission plugins a real API server runs by default, applied to new objects.

They run on create only, after the field manager has recorded the request, so what they add belongs
to no manager (kube-apiserver runs mutating admission after the field manager's update):

- ServiceAccount: a pod that does not opt out (`automountServiceAccountToken: false` on the pod, or
  else on its ServiceAccount) gets the projected `kube-api-access-xxxxx` volume (a bound token, the
  cluster CA from `kube-root-ca.crt` and the namespace) mounted read-only in every container and init
  container at /var/run/secrets/kubernetes.io/serviceaccount, unless one already mounts that path; a
  pod without `imagePullSecrets` gets its ServiceAccount's.
- DefaultStorageClass: a PersistentVolumeClaim with no `storageClassName` (absent, not `""`) gets the
  default StorageClass's name (annotation `storageclass.kubernetes.io/is-default-class: "true"`; the
  newest one when several claim it).
- DefaultIngressClass: likewise for an Ingress without `ingressClassName` or the
  `kubernetes.io/ingress.class` annotation.
- StorageObjectInUseProtection: the `kubernetes.io/pvc-protection` finalizer on claims and
  `kubernetes.io/pv-protection` on volumes; the protection controllers remove them once unused.

A real server refuses a pod whose ServiceAccount does not exist (403); the sandbox admits it as if
the account were there, since its tests often run without the controller that creates `default`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sandbox.store import Store, StoredObject

__all__ = [
    "PVC_PROTECTION_FINALIZER",
    "PV_PROTECTION_FINALIZER",
    "SERVICE_ACCOUNT_MOUNT_PATH",
    "admit_create",
    "default_class",
]

PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds: an hour and seven seconds.
TOKEN_EXPIRATION_SECONDS = 3607
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
DEFAULT_STORAGE_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
DEFAULT_INGRESS_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
STORAGE_CLASSES = ("storage.k8s.io", "storageclasses")
INGRESS_CLASSES = ("networking.k8s.io", "ingressclasses")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # names.SimpleNameGenerator's alphabet
_NAMESPACE_FIELD = {"apiVersion": "v1", "fieldPath": "metadata.namespace"}

Plugin = Callable[[Store, dict[str, Any]], None]


def admit_create(store: Store, group: str, kind: str, obj: dict[str, Any]) -> None:
    """Run the default mutating admission plugins on an object about to be created."""
    for plugin in _PLUGINS.get((group, kind), ()):
        plugin(store, obj)


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    return metadata if isinstance(metadata, dict) else {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.setdefault("spec", {})
    return spec if isinstance(spec, dict) else {}


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


# ---- ServiceAccount ----


def _token_volume(name: str) -> dict[str, Any]:
    """The projected volume the plugin adds (TokenVolumeSource), with its mode set explicitly."""
    return {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": dict(_NAMESPACE_FIELD)}]}},
            ],
            "defaultMode": 0o644,
        },
    }


def _should_automount(pod_spec: dict[str, Any], account: dict[str, Any] | None) -> bool:
    """The pod's preference, else its ServiceAccount's, else yes."""
    if pod_spec.get("automountServiceAccountToken") is not None:
        return bool(pod_spec["automountServiceAccountToken"])
    if account is not None and account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def _mount_token(pod_spec: dict[str, Any]) -> None:
    given = pod_spec.get("volumes")
    volumes: list[Any] = given if isinstance(given, list) else []
    existing = next(
        (
            v["name"]
            for v in volumes
            if isinstance(v, dict) and str(v.get("name") or "").startswith(TOKEN_VOLUME_PREFIX)
        ),
        None,
    )
    name = existing or TOKEN_VOLUME_PREFIX + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
    needs_volume = False
    for list_name in ("initContainers", "containers"):
        for container in pod_spec.get(list_name) or []:
            if not isinstance(container, dict):
                continue
            mounts = container.setdefault("volumeMounts", [])
            if not isinstance(mounts, list):
                continue
            if any(isinstance(m, dict) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH for m in mounts):
                continue
            mounts.append({"name": name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH})
            needs_volume = True
    if needs_volume and existing is None:
        pod_spec["volumes"] = [*volumes, _token_volume(name)]


def _service_account(store: Store, pod: dict[str, Any]) -> None:
    if MIRROR_POD_ANNOTATION in _annotations(pod):
        return
    spec = _spec(pod)
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = "default"
    namespace = str(_metadata(pod).get("namespace") or "")
    found = store.get(("", "serviceaccounts"), namespace, str(spec["serviceAccountName"]))
    account = found.obj if found is not None else None
    if _should_automount(spec, account):
        _mount_token(spec)
    pull_secrets = (account or {}).get("imagePullSecrets") or []
    if not spec.get("imagePullSecrets") and pull_secrets:
        spec["imagePullSecrets"] = [{"name": s.get("name")} for s in pull_secrets if isinstance(s, dict)]


# ---- default classes ----


def _newest(candidates: list[StoredObject]) -> StoredObject | None:
    """The newest by creationTimestamp, then the first by name (GetDefaultClass's order)."""
    if not candidates:
        return None
    candidates.sort(key=lambda c: c.name)
    return max(candidates, key=lambda c: str(c.obj["metadata"].get("creationTimestamp") or ""))


def default_class(store: Store, key: tuple[str, str], annotations: tuple[str, ...]) -> str | None:
    """The name of the default StorageClass or IngressClass (by its annotations), if any."""
    candidates = [
        stored
        for stored in store.iter_objects(key)
        if any(_annotations(stored.obj).get(name) == "true" for name in annotations)
    ]
    chosen = _newest(candidates)
    return None if chosen is None else chosen.name


def _default_storage_class(store: Store, claim: dict[str, Any]) -> None:
    spec = _spec(claim)
    if "storageClassName" in spec or BETA_STORAGE_CLASS_ANNOTATION in _annotations(claim):
        return  # a class was asked for; "" asks for none
    name = default_class(store, STORAGE_CLASSES, DEFAULT_STORAGE_CLASS_ANNOTATIONS)
    if name is not None:
        spec["storageClassName"] = name


def _default_ingress_class(store: Store, ingress: dict[str, Any]) -> None:
    spec = _spec(ingress)
    if "ingressClassName" in spec or INGRESS_CLASS_ANNOTATION in _annotations(ingress):
        return
    name = default_class(store, INGRESS_CLASSES, (DEFAULT_INGRESS_CLASS_ANNOTATION,))
    if name is not None:
        spec["ingressClassName"] = name


# ---- StorageObjectInUseProtection ----


def _protect(finalizer: str) -> Plugin:
    def add(_store: Store, obj: dict[str, Any]) -> None:
        metadata = _metadata(obj)
        given = metadata.get("finalizers")
        finalizers: list[Any] = given if isinstance(given, list) else []
        if finalizer not in finalizers:
            metadata["finalizers"] = [*finalizers, finalizer]

    return add


_PLUGINS: dict[tuple[str, str], tuple[Plugin, ...]] = {
    ("", "Pod"): (_service_account,),
    ("", "PersistentVolumeClaim"): (_default_storage_class, _protect(PVC_PROTECTION_FINALIZER)),
    ("", "PersistentVolume"): (_protect(PV_PROTECTION_FINALIZER),),
    ("networking.k8s.io", "Ingress"): (_default_ingress_class,),
}
