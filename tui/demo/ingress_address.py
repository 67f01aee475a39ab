"""The demo cluster's ingress controller: it publishes an address on every Ingress, as ingress-nginx does.

The sandbox simulates the controllers of kube-controller-manager, not an ingress controller, and an
Ingress without `status.loadBalancer.ingress` is Progressing (Argo CD's rule). A kind cluster with
ingress-nginx installed looks like this; without it the shop would never turn green.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name, own_key

INGRESS_API_VERSION: Final = "networking.k8s.io/v1"
LOAD_BALANCER_IP: Final = "127.0.0.1"


class IngressAddressController(ReconcileLoop):
    """Gives each Ingress a loopback load-balancer address once, and again if someone clears it."""

    name = "demo-ingress-controller"
    manager = "ingress-nginx-controller"

    def sources(self) -> list[Source]:
        return [Source(INGRESS_API_VERSION, "Ingress", own_key)]

    def resync(self) -> Iterable[Key]:
        ingresses = self.api.resource(INGRESS_API_VERSION, "Ingress")
        return [namespace_name(stored.obj) for stored in self.api.store.iter_objects(ingresses.storage_key)]

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        stored = self.api.find(self.api.resource(INGRESS_API_VERSION, "Ingress"), namespace, name)
        if stored is None or is_deleting(stored.obj):
            return None
        load_balancer = (stored.obj.get("status") or {}).get("loadBalancer") or {}
        if load_balancer.get("ingress"):
            return None
        updated = stored.copy()
        updated["status"] = {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}
        self.api.update_status(updated, manager=self.manager)
        return None
