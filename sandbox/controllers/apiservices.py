"""The CRD registration controller: an APIService for every group-version a CRD serves.

A real API server's crdregistration controller keeps `v1.example.com`-style APIServices (Local,
labelled `kube-aggregator.kubernetes.io/automanaged: "true"`, group priority 1000, version priority
100) in step with the served versions of established CRDs; the built-in group-versions got theirs at
start (bootstrap_objects.py) and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.bootstrap_objects import AUTOMANAGED, api_service_name, create_api_service
from sandbox.controllers.loop import Key, ReconcileLoop, Source
from sandbox.errors import StatusError
from sandbox.store import WatchEvent

ALL_CRDS = "crd-group-versions"  # one key: the whole set is recomputed on any CRD change


class CRDRegistrationController(ReconcileLoop):
    name = "crd-registration-controller"

    def sources(self) -> list[Source]:
        return [Source("apiextensions.k8s.io/v1", "CustomResourceDefinition", self._all)]

    def resync(self) -> Iterable[Key]:
        return [ALL_CRDS]

    @staticmethod
    def _all(event: WatchEvent) -> Iterable[Key]:
        return [ALL_CRDS]

    def reconcile(self, key: Key) -> float | None:
        api_services = self.api.resource("apiregistration.k8s.io/v1", "APIService")
        wanted = {(rt.group, rt.version) for rt in self.api.registry if rt.custom}
        names = {api_service_name(group, version): (group, version) for group, version in wanted}
        for stored in list(self.api.store.iter_objects(api_services.storage_key)):
            if (stored.obj["metadata"].get("labels") or {}).get(AUTOMANAGED) != "true":
                names.pop(stored.name, None)
                continue
            if stored.name in names:
                names.pop(stored.name)
                continue
            try:
                self.api.delete(api_services, None, stored.name)
            except StatusError as error:
                if error.code != 404:
                    raise
        for group, version in names.values():
            create_api_service(self.api, group, version, automanaged="true")
        return None
