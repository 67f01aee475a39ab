"""The EndpointSlice controllers: slices for Services with a selector, and mirrors of custom Endpoints.

For a Service with a selector, the EndpointSlice controller keeps `discovery.k8s.io/v1` slices of the
matching pods, in step with the Endpoints controller's view of the same pods: one slice per set of
resolved ports (`<service>-<5 random characters>`, at most 100 endpoints each), labelled
`kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`, owned by the Service. Unlike Endpoints, a slice keeps a terminating
pod, with `terminating: true`, `ready: false` and `serving` as the pod's readiness. A Service with no
endpoints has one placeholder slice, whose `endpoints` and `ports` are null (as a real server returns
them; the official Python client's typed model cannot read such a slice).

For a Service without a selector, the EndpointSliceMirroring controller mirrors the Endpoints someone
wrote by hand, managed by `endpointslicemirroring-controller.k8s.io` and owned by the Endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.controllers.endpoints import HEADLESS_LABEL, LAST_CHANGE, _selector, _target_port
from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting, namespace_name, owner_reference
from sandbox.controllers.podstate import is_ready, is_terminal
from sandbox.errors import StatusError
from sandbox.store import StoredObject, WatchEvent

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
SLICE_MANAGER = "endpointslice-controller.k8s.io"
MIRROR_MANAGER = "endpointslicemirroring-controller.k8s.io"
MAX_ENDPOINTS = 100
DISCOVERY = "discovery.k8s.io/v1"

Ports = tuple[tuple[str, int, str, str], ...]  # (name, port, protocol, appProtocol)


def _endpoint(pod: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    """podToEndpoint: a terminating pod is never ready (unless publishNotReadyAddresses), but serves
    while its Ready condition holds."""
    spec = pod.get("spec") or {}
    serving = is_ready(pod)
    terminating = is_deleting(pod)
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: dict[str, Any] = {
        "addresses": [str((pod.get("status") or {}).get("podIP"))],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        endpoint["hostname"] = spec["hostname"]
    endpoint["targetRef"] = {
        "kind": "Pod",
        "namespace": pod["metadata"].get("namespace"),
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"].get("uid"),
    }
    if spec.get("nodeName"):
        endpoint["nodeName"] = spec["nodeName"]
    return endpoint


def service_slices(service: dict[str, Any], pods: list[dict[str, Any]]) -> dict[Ports, list[dict[str, Any]]]:
    """The endpoints of each port set: pods with an IP that have not finished, sorted by address."""
    service_ports = (service.get("spec") or {}).get("ports") or []
    groups: dict[Ports, list[dict[str, Any]]] = {}
    for pod in pods:
        if not (pod.get("status") or {}).get("podIP") or is_terminal(pod):
            continue
        ports = []
        for service_port in service_ports:
            number = _target_port(service_port, pod)
            if number is not None:
                ports.append(
                    (
                        str(service_port.get("name") or ""),
                        number,
                        str(service_port.get("protocol", "TCP")),
                        str(service_port.get("appProtocol") or ""),
                    )
                )
        if service_ports and not ports:
            continue
        groups.setdefault(tuple(ports), []).append(_endpoint(pod, service))
    for endpoints in groups.values():
        endpoints.sort(key=lambda e: (e["addresses"][0], e["targetRef"]["uid"] or ""))
    return groups


def _ports_json(ports: Ports) -> list[dict[str, Any]]:
    listed = []
    for name, number, protocol, app_protocol in ports:
        entry: dict[str, Any] = {"name": name, "protocol": protocol, "port": number}
        if app_protocol:
            entry["appProtocol"] = app_protocol
        listed.append(entry)
    return listed


def _ports_of(slice_obj: dict[str, Any]) -> Ports:
    return tuple(
        (
            str(p.get("name") or ""),
            int(p.get("port") or 0),
            str(p.get("protocol") or "TCP"),
            str(p.get("appProtocol") or ""),
        )
        for p in slice_obj.get("ports") or []
    )


def mirrored_slices(endpoints: dict[str, Any]) -> dict[Ports, list[dict[str, Any]]]:
    """EndpointSliceMirroring: each subset's addresses, ready or not, under the subset's ports."""
    groups: dict[Ports, list[dict[str, Any]]] = {}
    for subset in endpoints.get("subsets") or []:
        ports: Ports = tuple(
            (
                str(p.get("name") or ""),
                int(p.get("port") or 0),
                str(p.get("protocol") or "TCP"),
                str(p.get("appProtocol") or ""),
            )
            for p in subset.get("ports") or []
        )
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or []:
                endpoint: dict[str, Any] = {"addresses": [address.get("ip")], "conditions": {"ready": ready}}
                if address.get("hostname"):
                    endpoint["hostname"] = address["hostname"]
                if address.get("targetRef"):
                    endpoint["targetRef"] = dict(address["targetRef"])
                if address.get("nodeName"):
                    endpoint["nodeName"] = address["nodeName"]
                groups.setdefault(ports, []).append(endpoint)
    return groups


class EndpointSliceController(ReconcileLoop):
    """Both controllers, keyed by Service: slices from pods, or mirrors of a selectorless Service's
    Endpoints."""

    name = "endpointslice-controller"

    def sources(self) -> list[Source]:
        return [
            Source("v1", "Service", self._service_key),
            Source("v1", "Pod", self._pod_keys),
            Source("v1", "Endpoints", self._service_key),
            Source(DISCOVERY, "EndpointSlice", self._slice_keys),
        ]

    def resync(self) -> Iterable[Key]:
        services = self.api.resource("v1", "Service")
        return [namespace_name(s.obj) for s in self.api.store.iter_objects(services.storage_key)]

    @staticmethod
    def _service_key(event: WatchEvent) -> Iterable[Key]:
        return [namespace_name(event.new.obj)]

    @staticmethod
    def _slice_keys(event: WatchEvent) -> Iterable[Key]:
        service = (event.new.obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        return [(event.new.namespace, service)] if service else []

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        services = self.api.resource("v1", "Service")
        versions = [v for v in (event.new, event.old) if v is not None]
        keys: set[Key] = set()
        for service in self.api.store.iter_objects(services.storage_key, event.new.namespace):
            selector = _selector(service.obj)
            if selector is not None and any(
                selector.matches(v.obj["metadata"].get("labels")) for v in versions
            ):
                keys.add(namespace_name(service.obj))
        return keys

    def reconcile(self, key: Key) -> float | None:
        namespace, name = split_key(key)
        service = self.api.find(self.api.resource("v1", "Service"), namespace, name)
        if service is None or is_deleting(service.obj):
            return None  # the garbage collector removes slices owned by a deleted Service or Endpoints
        selector = _selector(service.obj)
        if (service.obj.get("spec") or {}).get("type") == "ExternalName":
            self._sync(namespace, name, SLICE_MANAGER, None, {}, {})
            return None
        if selector is not None:
            pods = [
                p.obj
                for p in self.api.store.iter_objects(self.api.resource("v1", "Pod").storage_key, namespace)
                if selector.matches(p.obj["metadata"].get("labels"))
            ]
            labels = self._labels(service.obj, SLICE_MANAGER)
            self._sync(namespace, name, SLICE_MANAGER, service.obj, service_slices(service.obj, pods), labels)
            return None
        endpoints = self.api.find(self.api.resource("v1", "Endpoints"), namespace, name)
        if (
            endpoints is None
            or (endpoints.obj["metadata"].get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true"
        ):
            self._sync(namespace, name, MIRROR_MANAGER, None, {}, {})
            return None
        labels = self._labels(endpoints.obj, MIRROR_MANAGER)
        self._sync(namespace, name, MIRROR_MANAGER, endpoints.obj, mirrored_slices(endpoints.obj), labels)
        return None

    @staticmethod
    def _labels(source: dict[str, Any], manager: str) -> dict[str, str]:
        """The parent's labels, then the service name and the managing controller."""
        labels = {
            k: v
            for k, v in (source["metadata"].get("labels") or {}).items()
            if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)
        }
        if source.get("kind") == "Service" and (source.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        labels[SERVICE_NAME_LABEL] = str(source["metadata"]["name"])
        labels[MANAGED_BY_LABEL] = manager
        return labels

    def _sync(
        self,
        namespace: str,
        service_name: str,
        manager: str,
        owner: dict[str, Any] | None,
        groups: dict[Ports, list[dict[str, Any]]],
        labels: dict[str, str],
    ) -> None:
        """Make the managed slices of one Service hold `groups`; no owner means none should exist."""
        slices_type = self.api.resource(DISCOVERY, "EndpointSlice")
        existing = [
            s
            for s in self.api.store.iter_objects(slices_type.storage_key, namespace)
            if (s.obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == service_name
            and (s.obj["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == manager
        ]
        if owner is None:
            for stale in existing:
                self._delete(stale)
            return
        wanted: list[tuple[Ports | None, list[dict[str, Any]] | None]] = []
        for port_set, members in groups.items():
            for start in range(0, len(members), MAX_ENDPOINTS):
                wanted.append((port_set, members[start : start + MAX_ENDPOINTS]))
        if not wanted:
            wanted.append((None, None))  # the placeholder: a Service with no endpoints has one empty slice
        unused = list(existing)
        for ports, endpoints in wanted:
            match = next((s for s in unused if self._same_ports(s.obj, ports)), None)
            if match is not None:
                unused.remove(match)
                self._update(match, ports, endpoints, labels)
            else:
                self._create(namespace, service_name, owner, ports, endpoints, labels)
        for stale in unused:
            self._delete(stale)

    @staticmethod
    def _same_ports(slice_obj: dict[str, Any], ports: Ports | None) -> bool:
        if ports is None:
            return slice_obj.get("ports") is None
        return slice_obj.get("ports") is not None and _ports_of(slice_obj) == ports

    def _create(
        self,
        namespace: str,
        service_name: str,
        owner: dict[str, Any],
        ports: Ports | None,
        endpoints: list[dict[str, Any]] | None,
        labels: dict[str, str],
    ) -> None:
        body = {
            "apiVersion": DISCOVERY,
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{service_name}-",
                "namespace": namespace,
                "labels": labels,
                "annotations": {LAST_CHANGE: self.api.clock()},
                "ownerReferences": [owner_reference(owner)],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": None if ports is None else _ports_json(ports),
        }
        self.api.create(self.api.resource(DISCOVERY, "EndpointSlice"), namespace, body, manager=self.manager)

    def _update(
        self,
        current: StoredObject,
        ports: Ports | None,
        endpoints: list[dict[str, Any]] | None,
        labels: dict[str, str],
    ) -> None:
        port_list = None if ports is None else _ports_json(ports)
        if (
            current.obj.get("endpoints") == endpoints
            and current.obj.get("ports") == port_list
            and (current.obj["metadata"].get("labels") or {}) == labels
        ):
            return
        updated = current.copy()
        updated["metadata"]["labels"] = labels
        updated["metadata"]["annotations"] = {
            **(updated["metadata"].get("annotations") or {}),
            LAST_CHANGE: self.api.clock(),
        }
        updated["endpoints"] = endpoints
        updated["ports"] = port_list
        self.api.update(
            self.api.resource(DISCOVERY, "EndpointSlice"),
            current.namespace,
            current.name,
            updated,
            manager=self.manager,
        )

    def _delete(self, stale: StoredObject) -> None:
        try:
            self.api.delete(self.api.resource(DISCOVERY, "EndpointSlice"), stale.namespace, stale.name)
        except StatusError as error:
            if error.code != 404:
                raise
