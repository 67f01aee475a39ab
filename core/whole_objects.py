"""Reading live objects whole again, where the cache keeps them cut down (core.live_projection).

A few keys of a kind cost one GET each; more than `GETS_AT_MOST` cost one paginated list of the
kind, so a sync of ten thousand in-sync objects reads five lists, not ten thousand objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from core.cluster import ClusterAdapter
from core.model import ResourceKey

GETS_AT_MOST: Final = 20
"""Above this many keys of one kind, the kind is listed (pages of 500) rather than read key by key."""


def read_whole(
    adapter: ClusterAdapter, keys: Iterable[ResourceKey]
) -> dict[ResourceKey, dict[str, Any] | None]:
    """Each key's whole live object, None for one that is gone. Blocking I/O; raises ClusterError."""
    by_kind: dict[tuple[str, str], list[ResourceKey]] = {}
    for key in keys:
        by_kind.setdefault((key.group, key.kind), []).append(key)
    found: dict[ResourceKey, dict[str, Any] | None] = {}
    for (group, kind), kind_keys in sorted(by_kind.items()):
        resource = adapter.resource_for(group, kind)
        if len(kind_keys) <= GETS_AT_MOST:
            for key in kind_keys:
                obj = adapter.get(resource, key.namespace or None, key.name)
                if obj is not None:
                    obj.setdefault("apiVersion", resource.api_version)
                    obj.setdefault("kind", resource.kind)
                found[key] = obj
            continue
        wanted = set(kind_keys)
        namespaces = {key.namespace for key in kind_keys}
        scopes: list[str | None] = [None] if len(namespaces) > 1 or not resource.namespaced else [*namespaces]
        for namespace in scopes:
            objects, _ = adapter.list(resource, namespace)
            for obj in objects:
                key = ResourceKey.of(obj)
                if key in wanted:
                    found[key] = obj
        for key in wanted - found.keys():
            found[key] = None
    return found
