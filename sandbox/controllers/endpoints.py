"""The Endpoints controller: for each Service with a selector, an Endpoints object of the same name
listing the matching pods' IPs (ready ones in `addresses`, the rest in `notReadyAddresses`) with the
Service's ports resolved against each pod's named container ports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name, own_key
from sandbox.controllers.podstate import is_ready, is_terminal
from sandbox.errors import StatusError
from sandbox.selectors import LabelSelector, Requirement
from sandbox.store import StoredObject, WatchEvent

LAST_CHANGE = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def _selector(service: dict[str, Any]) -> LabelSelector | None:
    selector = (service.get("spec") or {}).get("selector")
    if not selector:
        return None
    return LabelSelector(tuple(Requirement(str(k), "=", (str(v),)) for k, v in selector.items()))


def _target_port(service_port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    """podutil.FindPort: a number as is, a name looked up among the pod's container ports."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_subsets(service: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subsets: pods grouped by the ports they resolve to, addresses sorted by IP."""
    service_ports = (service.get("spec") or {}).get("ports") or []
    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in pods:
        ip = (pod.get("status") or {}).get("podIP")
        # ShouldPodBeInEndpoints: a terminating pod stays only for publishNotReadyAddresses.
        if not ip or is_terminal(pod) or (is_deleting(pod) and not publish_not_ready):
            continue
        ports = []
        for service_port in service_ports:
            number = _target_port(service_port, pod)
            if number is not None:
                ports.append(
                    (str(service_port.get("name") or ""), number, str(service_port.get("protocol", "TCP")))
                )
        if service_ports and not ports:
            continue
        address = {
            "ip": ip,
            "nodeName": (pod.get("spec") or {}).get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"].get("namespace"),
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"].get("uid"),
            },
        }
        if not address["nodeName"]:
            del address["nodeName"]
        group = groups.setdefault(tuple(ports), {"addresses": [], "notReadyAddresses": []})
        group["addresses" if publish_not_ready or is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for port_set, addresses in groups.items():
        subset: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if addresses[field]:
                subset[field] = sorted(addresses[field], key=lambda a: (a["ip"], a["targetRef"]["uid"] or ""))
        port_list = []
        for name, number, protocol in port_set:
            entry: dict[str, Any] = {"port": number, "protocol": protocol}
            if name:
                entry = {"name": name, **entry}
            port_list.append(entry)
        if port_list:
            subset["ports"] = port_list
        subsets.append(subset)
    return subsets


class EndpointsController(ReconcileLoop):
    name = "endpoints-controller"

    def sources(self) -> list[Source]:
        return [
            Source("v1", "Service", own_key),
            Source("v1", "Pod", self._pod_keys),
            Source("v1", "Endpoints", own_key),
        ]

    def resync(self) -> Iterable[Key]:
        services = self.api.resource("v1", "Service")
        return [namespace_name(s.obj) for s in self.api.store.iter_objects(services.storage_key)]

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        services = self.api.resource("v1", "Service")
        keys: set[Key] = set()
        versions = [v for v in (event.new, event.old) if v is not None]
        for service in self.api.store.iter_objects(services.storage_key, event.new.namespace):
            selector = _selector(service.obj)
            if selector is not None and any(
                selector.matches(v.obj["metadata"].get("labels")) for v in versions
            ):
                keys.add(namespace_name(service.obj))
        return keys

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        endpoints_type = self.api.resource("v1", "Endpoints")
        service = self.api.find(self.api.resource("v1", "Service"), namespace, name)
        existing = self.api.find(endpoints_type, namespace, name)
        if service is None:
            if existing is not None and LAST_CHANGE in (existing.obj["metadata"].get("annotations") or {}):
                self._delete(existing)
            return None
        selector = _selector(service.obj)
        if selector is None or is_deleting(service.obj):
            return None
        pods = [
            p.obj
            for p in self.api.store.iter_objects(self.api.resource("v1", "Pod").storage_key, namespace)
            if selector.matches(p.obj["metadata"].get("labels"))
        ]
        subsets = endpoint_subsets(service.obj, pods)
        labels = dict(service.obj["metadata"].get("labels") or {})
        if (service.obj.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        if (
            existing is not None
            and (existing.obj.get("subsets") or []) == subsets
            and (existing.obj["metadata"].get("labels") or {}) == labels
        ):
            return None
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": {LAST_CHANGE: self.api.clock()},
            },
        }
        if labels:
            body["metadata"]["labels"] = labels
        if subsets:
            body["subsets"] = subsets
        if existing is None:
            self.api.create(endpoints_type, namespace, body, manager=self.manager)
            return None
        updated = existing.copy()
        updated["metadata"]["annotations"] = {
            **(updated["metadata"].get("annotations") or {}),
            LAST_CHANGE: self.api.clock(),
        }
        if labels:
            updated["metadata"]["labels"] = labels
        else:
            updated["metadata"].pop("labels", None)
        updated.pop("subsets", None)
        if subsets:
            updated["subsets"] = subsets
        self.api.update(endpoints_type, namespace, name, updated, manager=self.manager)
        return None

    def _delete(self, endpoints: StoredObject) -> None:
        try:
            self.api.delete(self.api.resource("v1", "Endpoints"), endpoints.namespace, endpoints.name)
        except StatusError as error:
            if error.code != 404:
                raise
