"""Service clusterIP and nodePort allocation: the stateful part of Service defaulting.

The allocator remembers which Service took each address and port, and asks the store whether that
Service still holds it only when a random pick lands on a remembered one, so allocating costs the same
with 25,000 Services as with 25 (scanning every Service per create made filling a store quadratic).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from typing import Any

NODE_PORT_RANGE = (30000, 32767)

ServiceLookup = Callable[[str, str], "dict[str, Any] | None"]
"""The stored Service of a namespace and name, or None."""
Holder = tuple[str, str]  # (namespace, name) of a Service


class ServiceIPAllocator:
    """Hands out free addresses of the service CIDR (the first one is the `kubernetes` Service's)."""

    def __init__(self, cidr: str, *, seed: int = 1) -> None:
        self.network = ipaddress.ip_network(cidr)
        self._random = random.Random(seed)
        self._ip_holders: dict[str, Holder] = {}
        self._port_holders: dict[int, Holder] = {}

    @property
    def first_address(self) -> str:
        return str(self.network.network_address + 1)

    def allocate(self, service: dict[str, Any], old: dict[str, Any] | None, lookup: ServiceLookup) -> None:
        """Fill in clusterIP(s) and nodePorts in place; an update keeps what was allocated before."""
        spec = service.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        service_type = spec.get("type", "ClusterIP")
        if service_type == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        metadata = service.get("metadata") or {}
        holder = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        if not spec.get("clusterIP"):
            spec["clusterIP"] = self._free_address(lookup)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for address in spec["clusterIPs"] if isinstance(spec["clusterIPs"], list) else ():
            if isinstance(address, str) and address != "None":
                self._ip_holders[address] = holder
        if service_type in ("NodePort", "LoadBalancer"):
            self._allocate_node_ports(spec, old_spec, holder, lookup)

    def _ip_taken(self, address: str, lookup: ServiceLookup) -> bool:
        holder = self._ip_holders.get(address)
        if holder is None:
            return False
        service = lookup(*holder)
        spec = (service or {}).get("spec") or {}
        if address == spec.get("clusterIP") or address in (spec.get("clusterIPs") or ()):
            return True
        del self._ip_holders[address]  # its Service went away or moved: the address is free again
        return False

    def _port_taken(self, port: int, lookup: ServiceLookup) -> bool:
        holder = self._port_holders.get(port)
        if holder is None:
            return False
        service = lookup(*holder)
        ports = ((service or {}).get("spec") or {}).get("ports") or []
        if any(p.get("nodePort") == port for p in ports if isinstance(p, dict)):
            return True
        del self._port_holders[port]
        return False

    def _free_address(self, lookup: ServiceLookup) -> str:
        size = self.network.num_addresses
        while True:
            offset = self._random.randrange(2, size - 1)
            candidate = str(self.network.network_address + offset)
            if not self._ip_taken(candidate, lookup):
                return candidate

    def _allocate_node_ports(
        self, spec: dict[str, Any], old_spec: dict[str, Any], holder: Holder, lookup: ServiceLookup
    ) -> None:
        previous = {
            (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []
        }
        taken_here: set[int] = set()
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                taken_here.add(port["nodePort"])
                continue
            kept = previous.get((port.get("port"), port.get("protocol", "TCP")))
            if kept:
                port["nodePort"] = kept
                taken_here.add(kept)
                continue
            while True:
                candidate = self._random.randint(*NODE_PORT_RANGE)
                if candidate not in taken_here and not self._port_taken(candidate, lookup):
                    port["nodePort"] = candidate
                    taken_here.add(candidate)
                    break
        for port in taken_here:
            if isinstance(port, int):
                self._port_holders[port] = holder
