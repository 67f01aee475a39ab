"""Pod IP addresses from the node's pod CIDR, as the CNI plugin hands them out."""

from __future__ import annotations

import ipaddress


class PodAddresses:
    """Allocates addresses round-robin from a CIDR, skipping the network and gateway addresses."""

    def __init__(self, cidr: str) -> None:
        self._network = ipaddress.ip_network(cidr, strict=False)
        # .0 is the network and .1 the bridge (cni0) on a real node.
        self._first = 2
        self._size = self._network.num_addresses - 1
        self._next = self._first
        self._used: set[int] = set()

    def allocate(self) -> str:
        for _ in range(self._size):
            offset = self._next
            self._next = self._first if self._next + 1 >= self._size else self._next + 1
            if offset not in self._used:
                self._used.add(offset)
                return str(self._network.network_address + offset)
        raise RuntimeError(f"the pod network {self._network} has no free address")

    def reserve(self, address: str) -> None:
        """Mark an address some pod already has (after a restart of the kubelet)."""
        try:
            offset = int(ipaddress.ip_address(address)) - int(self._network.network_address)
        except ValueError:
            return
        if 0 <= offset < self._network.num_addresses:
            self._used.add(offset)

    def release(self, address: str | None) -> None:
        if not address:
            return
        offset = int(ipaddress.ip_address(address)) - int(self._network.network_address)
        self._used.discard(offset)
