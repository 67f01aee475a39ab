"""The resource quota controller: each ResourceQuota's `status.hard` and `status.used`.

`status.hard` is the quota's `spec.hard`; `status.used` is what the namespace holds of each listed
resource: object counts (`pods`, `services`, `configmaps`, `secrets`, `persistentvolumeclaims`,
`replicationcontrollers`, `resourcequotas`, `services.loadbalancers`, `services.nodeports` and any
`count/<resource>.<group>`), the compute requests and limits of the pods that have not finished
(`requests.cpu` or `cpu`, `limits.memory`, ...), and the storage the claims request. Quota scopes are
not applied, and nothing is refused for exceeding a quota (the quota admission plugin is not
simulated).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from core.schema.quantity import Quantity, QuantityFormat, canonical_quantity
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name, own_key
from sandbox.controllers.podstate import is_terminal
from sandbox.store import WatchEvent

# What the quota's short names count: (group, plural).
_COUNTED = {
    "pods": ("", "pods"),
    "services": ("", "services"),
    "configmaps": ("", "configmaps"),
    "secrets": ("", "secrets"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"),
    "replicationcontrollers": ("", "replicationcontrollers"),
    "resourcequotas": ("", "resourcequotas"),
}
_COMPUTE = {
    "cpu": ("requests", "cpu"),
    "memory": ("requests", "memory"),
    "ephemeral-storage": ("requests", "ephemeral-storage"),
}
_WATCHED = (
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ReplicationController"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
)


def _sum(values: Iterable[str]) -> str:
    total = Fraction(0)
    quantity_format = QuantityFormat.DECIMAL_SI
    for value in values:
        parsed = Quantity.parse(str(value))
        total += parsed.value
        if parsed.format is QuantityFormat.BINARY_SI:
            quantity_format = QuantityFormat.BINARY_SI
    return str(Quantity(total, quantity_format))


def _pod_amounts(pod: dict[str, Any], section: str, resource: str) -> list[str]:
    """The container amounts a pod asks for; a limit without a request counts as the request too."""
    amounts = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        value = (resources.get(section) or {}).get(resource)
        if value is None and section == "requests":
            value = (resources.get("limits") or {}).get(resource)
        if value is not None:
            amounts.append(str(value))
    return amounts


class ResourceQuotaController(ReconcileLoop):
    name = "resourcequota-controller"

    def sources(self) -> list[Source]:
        return [Source("v1", "ResourceQuota", own_key)] + [
            Source(api_version, kind, self._namespace_quotas) for api_version, kind in _WATCHED
        ]

    def resync(self) -> Iterable[Key]:
        quotas = self.api.resource("v1", "ResourceQuota")
        return [namespace_name(q.obj) for q in self.api.store.iter_objects(quotas.storage_key)]

    def _namespace_quotas(self, event: WatchEvent) -> Iterable[Key]:
        quotas = self.api.resource("v1", "ResourceQuota")
        return [
            namespace_name(q.obj)
            for q in self.api.store.iter_objects(quotas.storage_key, event.new.namespace)
        ]

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        quotas = self.api.resource("v1", "ResourceQuota")
        stored = self.api.find(quotas, namespace, name)
        if stored is None or is_deleting(stored.obj):
            return None
        hard = {
            k: canonical_quantity(str(v), round_to_milli=False)
            for k, v in ((stored.obj.get("spec") or {}).get("hard") or {}).items()
        }
        used = {resource: self._used(namespace, resource) for resource in hard}
        status = {"hard": hard, "used": used}
        if status != stored.obj.get("status"):
            updated = stored.copy()
            updated["status"] = status
            self.api.update_status(updated, manager=self.manager)
        return None

    def _objects(self, namespace: str, group: str, plural: str) -> list[dict[str, Any]]:
        for resource_type in self.api.registry:
            if resource_type.group == group and resource_type.plural == plural:
                return [o.obj for o in self.api.store.iter_objects(resource_type.storage_key, namespace)]
        return []

    def _used(self, namespace: str, resource: str) -> str:
        if resource.startswith("count/"):
            plural, _, group = resource[len("count/") :].partition(".")
            return str(len(self._objects(namespace, group, plural)))
        if resource in _COUNTED:
            objects = self._objects(namespace, *_COUNTED[resource])
            if resource == "pods":
                objects = [p for p in objects if not is_terminal(p)]
            return str(len(objects))
        if resource in ("services.loadbalancers", "services.nodeports"):
            services = self._objects(namespace, "", "services")
            if resource == "services.loadbalancers":
                return str(sum(1 for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"))
            return str(
                sum(
                    len([p for p in (s.get("spec") or {}).get("ports") or [] if p.get("nodePort")])
                    for s in services
                )
            )
        section, compute = _COMPUTE.get(resource, (resource.partition(".")[0], resource.partition(".")[2]))
        if section in ("requests", "limits") and compute in ("cpu", "memory", "ephemeral-storage"):
            pods = [p for p in self._objects(namespace, "", "pods") if not is_terminal(p)]
            return _sum(a for p in pods for a in _pod_amounts(p, section, compute))
        if resource == "requests.storage":
            claims = self._objects(namespace, "", "persistentvolumeclaims")
            return _sum(
                str(
                    (((c.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
                    or "0"
                )
                for c in claims
            )
        return "0"
