"""ownerReferences: the controller reference a controller puts on what it creates, reading it back,
and adopting orphans that match a controller's selector (ControllerRefManager's job)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sandbox.controllers.loop import Key, KeysOf
from sandbox.kinds import ResourceType
from sandbox.selectors import LabelSelector
from sandbox.store import StoredObject, WatchEvent

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI


def owner_reference(owner: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """metav1.NewControllerRef: a reference that blocks the owner's foreground deletion."""
    metadata = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            return dict(reference)
    return None


def is_controlled_by(obj: dict[str, Any], owner_uid: str) -> bool:
    reference = controller_ref(obj)
    return reference is not None and reference.get("uid") == owner_uid


def is_deleting(obj: dict[str, Any]) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def namespace_name(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj["metadata"]
    return str(metadata.get("namespace") or ""), str(metadata["name"])


def own_key(event: WatchEvent) -> Iterable[Key]:
    """The key of the event's own object: how a controller watches its primary kind."""
    return [namespace_name(event.new.obj)]


def controller_keys(kind: str) -> KeysOf:
    """The key of the owner of kind `kind` that controls the event's object, before or after it changed."""

    def keys(event: WatchEvent) -> Iterable[Key]:
        found: set[Key] = set()
        for version in (event.new, event.old):
            if version is None:
                continue
            reference = controller_ref(version.obj)
            if reference is not None and reference.get("kind") == kind:
                found.add((version.namespace, str(reference["name"])))
        return found

    return keys


def owned(
    api: ResourceAPI,
    resource_type: ResourceType,
    owner: dict[str, Any],
    selector: LabelSelector | None,
    *,
    manager: str,
) -> list[StoredObject]:
    """The objects in the owner's namespace it controls, after adopting matching orphans.

    An orphan is adopted when it matches the selector and neither it nor the owner is being deleted,
    as ControllerRefManager.ClaimObject does. A None selector adopts nothing.
    """
    namespace = owner["metadata"].get("namespace") or None
    uid = owner["metadata"]["uid"]
    found: list[StoredObject] = []
    for stored in api.list(resource_type, namespace).items:
        reference = controller_ref(stored.obj)
        if reference is not None:
            if reference.get("uid") == uid:
                found.append(stored)
            continue
        if selector is None or selector.empty or is_deleting(owner) or is_deleting(stored.obj):
            continue
        if selector.matches(stored.obj["metadata"].get("labels")):
            found.append(adopt(api, resource_type, stored, owner, manager=manager))
    return found


def adopt(
    api: ResourceAPI,
    resource_type: ResourceType,
    stored: StoredObject,
    owner: dict[str, Any],
    *,
    manager: str,
) -> StoredObject:
    adopted = stored.copy()
    references = adopted["metadata"].setdefault("ownerReferences", [])
    references.append(owner_reference(owner))
    return api.update(resource_type, stored.namespace or None, stored.name, adopted, manager=manager)
