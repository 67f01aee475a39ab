"""What the kubelet writes about its node: the Node's status and its Lease in kube-node-lease.

Pure functions; the kubelet controller decides when to write them.
"""

from __future__ import annotations

from typing import Any

from sandbox.controllers.settings import ControllerSettings

KUBELET_VERSION = "v1.31.4"
NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_LEASE_DURATION = 40  # seconds; a real kubelet renews every quarter of it


def node_status(settings: ControllerSettings, now: str) -> dict[str, Any]:
    """A healthy node's status: capacity, the four conditions, addresses and system info."""

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    resources = {
        "cpu": "8",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "16Gi",
        "pods": "110",
    }
    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": [
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition(
                "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"
            ),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": settings.node_ip},
            {"type": "Hostname", "address": settings.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "5a1d1b0c5a1d1b0c5a1d1b0c5a1d1b0c",
            "systemUUID": "5a1d1b0c-5a1d-1b0c-5a1d-1b0c5a1d1b0c",
            "bootID": "0d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a",
            "kernelVersion": "6.1.0-sandbox",
            "osImage": "kubedrift sandbox",
            "containerRuntimeVersion": "containerd://1.7.18",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def node_lease(node_name: str, node_uid: str | None, renew_time: str) -> dict[str, Any]:
    """The node's Lease (nodelease controller): held by the node, owned by its Node object."""
    metadata: dict[str, Any] = {"name": node_name, "namespace": NODE_LEASE_NAMESPACE}
    if node_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
        ]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": NODE_LEASE_DURATION,
            "renewTime": renew_time,
        },
    }
