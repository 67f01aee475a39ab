"""What else lives in a Namespace that a prune would delete: the objects an app does not track.

Deleting a Namespace deletes everything in it. Git dropping the Namespace from an app says nothing
about the Deployment a person created there by hand, or another app's objects, so before a prune
deletes a Namespace it lists every namespaced kind the cluster serves in it, and the prune is
refused (unless forced) when anything there is not this app's.

Objects the cluster makes for every namespace or for other objects are not counted: the `default`
ServiceAccount and its token, the `kube-root-ca.crt` ConfigMap, Events, Endpoints and
EndpointSlices (they mirror Services), and anything owned by another object in the same namespace
(garbage collection follows that owner, which is itself listed and judged). An owner elsewhere (a
ClusterRole, a Node) does not make an object disposable: deleting the namespace still deletes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.cluster import ApiError, ClusterAdapter
from core.model import ResourceKey

SHOWN: Final = 3
"""Bystanders named in a message; the rest are counted."""
_DERIVED_KINDS: Final = frozenset(
    {("", "Event"), ("events.k8s.io", "Event"), ("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice")}
)
_PER_NAMESPACE: Final = frozenset({("", "ServiceAccount", "default"), ("", "ConfigMap", "kube-root-ca.crt")})


@dataclass(frozen=True, slots=True)
class NamespaceContents:
    """What a namespace holds that its app does not track, or why that could not be found out."""

    bystanders: tuple[ResourceKey, ...] = ()
    unknown: str | None = None
    """Why the contents could not be listed (a 403 on some kind, say): then nothing is safe to assume."""

    @property
    def clear(self) -> bool:
        return not self.bystanders and self.unknown is None

    def describe(self, namespace: str) -> str:
        """One sentence for the prune's outcome, ending in what to do."""
        if self.unknown is not None:
            return (
                f"not deleted: kubedrift could not list what namespace {namespace} holds ({self.unknown}); "
                "delete it by hand once you have checked it is empty"
            )
        named = ", ".join(str(key) for key in self.bystanders[:SHOWN])
        if len(self.bystanders) > SHOWN:
            named += f" and {len(self.bystanders) - SHOWN} more"
        return (
            f"not deleted: namespace {namespace} holds objects this app does not track ({named}), "
            "which deleting it would delete too; prune with --force to delete it anyway"
        )


def namespace_contents(
    adapter: ClusterAdapter, namespace: str, is_ours: Callable[[ResourceKey, Mapping[str, Any]], bool]
) -> NamespaceContents:
    """Every object in `namespace` that `is_ours` disowns and the cluster did not make itself."""
    found: list[tuple[ResourceKey, Mapping[str, Any]]] = []
    for resource in sorted(adapter.discover().by_kind.values(), key=lambda r: (r.group, r.kind)):
        if not resource.namespaced or "list" not in resource.verbs:
            continue
        if (resource.group, resource.kind) in _DERIVED_KINDS:
            continue
        try:
            objects, _ = adapter.list(resource, namespace)
        except ApiError as error:
            if error.code == 404:
                continue  # the kind went away since discovery
            return NamespaceContents(unknown=f"listing {resource.plural} failed: {error}")
        found.extend((ResourceKey.of(obj), obj) for obj in objects)
    uids = {str((obj.get("metadata") or {}).get("uid") or "") for _, obj in found} - {""}
    bystanders = [
        key
        for key, obj in found
        if not _owned_here(obj, uids) and not _made_by_the_cluster(key, obj) and not is_ours(key, obj)
    ]
    return NamespaceContents(tuple(sorted(bystanders)))


def _owned_here(obj: Mapping[str, Any], uids: set[str]) -> bool:
    """Owned by an object listed in the same namespace, which stands (and is judged) for it."""
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(owner, Mapping) and str(owner.get("uid") or "") in uids for owner in owners)


def _made_by_the_cluster(key: ResourceKey, obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata") or {}
    if (key.group, key.kind, key.name) in _PER_NAMESPACE:
        return True
    # The default ServiceAccount's token, on clusters old enough to make one.
    annotations = metadata.get("annotations") or {}
    return (
        key.kind == "Secret"
        and obj.get("type") == "kubernetes.io/service-account-token"
        and annotations.get("kubernetes.io/service-account.name") == "default"
    )
