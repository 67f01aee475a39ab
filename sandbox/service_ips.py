"""Service clusterIP and nodePort allocation: the stateful part of Service defaulting."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

NODE_PORT_RANGE = (30000, 32767)


class ServiceIPAllocator:
    """Hands out free addresses of the service CIDR (the first one is the `kubernetes` Service's)."""

    def __init__(self, cidr: str, *, seed: int = 1) -> None:
        self.network = ipaddress.ip_network(cidr)
        self._random = random.Random(seed)

    @property
    def first_address(self) -> str:
        return str(self.network.network_address + 1)

    def allocate(
        self, service: dict[str, Any], old: dict[str, Any] | None, existing: list[dict[str, Any]]
    ) -> None:
        """Fill in clusterIP(s) and nodePorts in place; an update keeps what was allocated before."""
        spec = service.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        service_type = spec.get("type", "ClusterIP")
        if service_type == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        if not spec.get("clusterIP"):
            used = {s.get("spec", {}).get("clusterIP") for s in existing}
            spec["clusterIP"] = self._free_address(used)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if service_type in ("NodePort", "LoadBalancer"):
            self._allocate_node_ports(spec, old_spec, existing)

    def _free_address(self, used: set[Any]) -> str:
        size = self.network.num_addresses
        while True:
            offset = self._random.randrange(2, size - 1)
            candidate = str(self.network.network_address + offset)
            if candidate not in used:
                return candidate

    def _allocate_node_ports(
        self, spec: dict[str, Any], old_spec: dict[str, Any], existing: list[dict[str, Any]]
    ) -> None:
        used = {port.get("nodePort") for s in existing for port in (s.get("spec", {}).get("ports") or [])}
        previous = {
            (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []
        }
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                continue
            kept = previous.get((port.get("port"), port.get("protocol", "TCP")))
            if kept:
                port["nodePort"] = kept
                continue
            while True:
                candidate = self._random.randint(*NODE_PORT_RANGE)
                if candidate not in used:
                    port["nodePort"] = candidate
                    used.add(candidate)
                    break
