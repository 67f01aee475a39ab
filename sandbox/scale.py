"""The `scale` subresource: an `autoscaling/v1` Scale view of Deployments, ReplicaSets, StatefulSets
and custom resources that declare one."""

from __future__ import annotations

from typing import Any

from sandbox import crds
from sandbox.kinds import ResourceType
from sandbox.selectors import format_label_selector


def scale_of(resource_type: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale a GET of `.../{name}/scale` answers."""
    paths = resource_type.scale_paths
    if paths is not None:
        spec_replicas = crds.read_path(obj, paths.spec_replicas)
        status_replicas = crds.read_path(obj, paths.status_replicas)
        selector = crds.read_path(obj, paths.label_selector) if paths.label_selector else None
    else:
        spec_replicas = (obj.get("spec") or {}).get("replicas")
        status_replicas = (obj.get("status") or {}).get("replicas")
        selector = format_label_selector((obj.get("spec") or {}).get("selector"))
    metadata = obj["metadata"]
    scale_metadata = {
        key: metadata[key]
        for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if key in metadata
    }
    status: dict[str, Any] = {"replicas": int(status_replicas or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_metadata,
        "spec": {"replicas": int(spec_replicas or 0)},
        "status": status,
    }


def set_spec_replicas(resource_type: ResourceType, obj: dict[str, Any], replicas: int) -> None:
    """Write a Scale's `spec.replicas` back into the scaled object, in place."""
    paths = resource_type.scale_paths
    if paths is not None:
        crds.write_path(obj, paths.spec_replicas, replicas)
    else:
        obj.setdefault("spec", {})["replicas"] = replicas
