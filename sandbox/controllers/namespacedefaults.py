"""What kube-controller-manager puts in every namespace: the `default` ServiceAccount (the
serviceaccount controller) and the `kube-root-ca.crt` ConfigMap (the root CA certificate publisher).

Each is put back when deleted; the ConfigMap's data and description annotation are restored when
changed. A namespace being terminated gets nothing new, as the real controllers' creates would be
refused there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.loop import Key, ReconcileLoop, Source
from sandbox.controllers.ownership import is_deleting
from sandbox.errors import StatusError
from sandbox.store import DELETED, MODIFIED, WatchEvent

DEFAULT_SERVICE_ACCOUNT = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
    "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
    "distributions of Kubernetes clusters."
)
# The sandbox cluster's CA (CN=kubernetes). The sandbox serves plain HTTP, so nothing verifies
# against it; it is a well-formed certificate so that clients reading the bundle can parse it.
ROOT_CA_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBXTCCAQOgAwIBAgIBATAKBggqhkjOPQQDAjAVMRMwEQYDVQQDDAprdWJlcm5l
dGVzMCAXDTI0MDEwMTAwMDAwMFoYDzIxMjMxMjMxMDAwMDAwWjAVMRMwEQYDVQQD
DAprdWJlcm5ldGVzMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElR5GWMB3/PQz
qsO5Zi/KBV1jcnTSwpKwBtfIiyrCtjuxNZOi6dfgMofNTDONUELjRrcpKl+LCABk
UTVxFO907aNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAqQwHQYD
VR0OBBYEFLNxortRkRLIjttycHXv5oODCRtIMAoGCCqGSM49BAMCA0gAMEUCIQCM
+RLJMRXUo8YmtCIO2z0X3W6hw1JXiLG0y/kTdKknsQIgFceof+1tnFwc92+UZbJf
SnhCiLjVdKgydwYLIoBwYGc=
-----END CERTIFICATE-----
"""


def _namespace_key(event: WatchEvent) -> Iterable[Key]:
    return [] if event.type == DELETED else [event.new.name]


class _PerNamespace(ReconcileLoop):
    """A controller keyed by namespace name that ensures one object in each live namespace."""

    def resync(self) -> Iterable[Key]:
        namespaces = self.api.resource("v1", "Namespace")
        return [stored.name for stored in self.api.store.iter_objects(namespaces.storage_key)]

    def _accepts_content(self, namespace: str) -> bool:
        found = self.api.find(self.api.resource("v1", "Namespace"), None, namespace)
        if found is None or is_deleting(found.obj):
            return False
        return bool((found.obj.get("status") or {}).get("phase", "Active") == "Active")

    def _create(self, api_version: str, kind: str, namespace: str, body: dict[str, Any]) -> None:
        try:
            self.api.create(self.api.resource(api_version, kind), namespace, body, manager=self.manager)
        except StatusError as error:
            # Already there, or the namespace went away or began terminating meanwhile: no retry.
            if error.code not in (403, 404, 409):
                raise


class ServiceAccountsController(_PerNamespace):
    """The `default` ServiceAccount in every active namespace."""

    name = "serviceaccount-controller"

    def sources(self) -> list[Source]:
        return [
            Source("v1", "Namespace", _namespace_key),
            Source("v1", "ServiceAccount", self._deleted_default),
        ]

    @staticmethod
    def _deleted_default(event: WatchEvent) -> Iterable[Key]:
        if event.type == DELETED and event.new.name == DEFAULT_SERVICE_ACCOUNT:
            return [event.new.namespace]
        return []

    def reconcile(self, key: Key) -> float | None:
        namespace = str(key)
        if not self._accepts_content(namespace):
            return None
        accounts = self.api.resource("v1", "ServiceAccount")
        if self.api.find(accounts, namespace, DEFAULT_SERVICE_ACCOUNT) is None:
            body = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": DEFAULT_SERVICE_ACCOUNT},
            }
            self._create("v1", "ServiceAccount", namespace, body)
        return None


class RootCAPublisher(_PerNamespace):
    """The `kube-root-ca.crt` ConfigMap, holding the cluster CA, in every namespace."""

    name = "root-ca-certificate-publisher"

    def sources(self) -> list[Source]:
        return [
            Source("v1", "Namespace", _namespace_key),
            Source("v1", "ConfigMap", self._changed_bundle),
        ]

    @staticmethod
    def _changed_bundle(event: WatchEvent) -> Iterable[Key]:
        if event.type in (MODIFIED, DELETED) and event.new.name == ROOT_CA_CONFIGMAP:
            return [event.new.namespace]
        return []

    def reconcile(self, key: Key) -> float | None:
        namespace = str(key)
        if not self._accepts_content(namespace):
            return None
        configmaps = self.api.resource("v1", "ConfigMap")
        data = {"ca.crt": ROOT_CA_CERTIFICATE}
        found = self.api.find(configmaps, namespace, ROOT_CA_CONFIGMAP)
        if found is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": ROOT_CA_CONFIGMAP,
                    "annotations": {DESCRIPTION_ANNOTATION: ROOT_CA_DESCRIPTION},
                },
                "data": data,
            }
            self._create("v1", "ConfigMap", namespace, body)
            return None
        annotations = found.obj["metadata"].get("annotations") or {}
        if found.obj.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return None
        updated = found.copy()
        updated["data"] = data
        updated["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = ROOT_CA_DESCRIPTION
        self.api.update(configmaps, namespace, ROOT_CA_CONFIGMAP, updated, manager=self.manager)
        return None
