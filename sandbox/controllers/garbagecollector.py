"""The garbage collector: deletes dependents whose owners are gone, and finishes foreground deletion.

It watches every served resource (custom ones too, as CRDs appear) and keeps the ownership graph
from ownerReferences. Like pkg/controller/garbagecollector:

- a dependent none of whose owners exists any more is deleted (Background; Foreground when an owner
  waits on it in foreground deletion and it has dependents of its own), and a dependent that keeps
  some owner loses only its dangling references;
- an owner deleted in the foreground (deletionTimestamp plus the `foregroundDeletion` finalizer)
  has its dependents deleted, and loses the finalizer once no dependent with
  `blockOwnerDeletion: true` remains, which lets the server remove it;
- orphaning is done by the server before the owner goes, so nothing is left for it here.

An owner reference "exists" when an object of that apiVersion, kind and name with the same uid is
stored: a re-created owner with a new uid does not keep the old dependents alive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.controllers.loop import Key, ReconcileLoop, Source, split_key
from sandbox.controllers.ownership import is_deleting
from sandbox.errors import StatusError
from sandbox.kinds import ResourceType
from sandbox.store import DELETED, StoredObject, WatchEvent

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_KIND = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")

# Work items: ("dependent", uid) checks whether an object should go; ("owner", uid) finishes a
# foreground deletion.
DEPENDENT = "dependent"
OWNER = "owner"


@dataclass(frozen=True)
class _Node:
    """Where an object with owner references lives."""

    api_version: str
    kind: str
    namespace: str
    name: str


class GarbageCollector(ReconcileLoop):
    name = "garbage-collector-controller"

    def started(self) -> None:
        self._watched: set[tuple[str, str]] = set()
        self._nodes: dict[str, _Node] = {}  # uid -> where it is, for objects with owners or being deleted
        self._owners: dict[str, set[str]] = {}  # dependent uid -> owner uids
        self._dependents: dict[str, set[str]] = {}  # owner uid -> dependent uids
        self._rebuild()

    def sources(self) -> list[Source]:
        sources = []
        for resource_type in self._storage_types():
            self._watched.add(resource_type.storage_key)
            sources.append(Source(resource_type.api_version, resource_type.kind, self._observe))
        return sources

    def _storage_types(self) -> list[ResourceType]:
        seen: dict[tuple[str, str], ResourceType] = {}
        for resource_type in self.api.registry:
            preferred = self.api.registry.preferred(resource_type.group, resource_type.plural)
            seen.setdefault(resource_type.storage_key, preferred or resource_type)
        return list(seen.values())

    def resync(self) -> Iterable[Key]:
        keys: list[Key] = [(DEPENDENT, uid) for uid in self._owners]
        for resource_type in self._storage_types():
            for stored in self.api.store.iter_objects(resource_type.storage_key):
                if _waits_for_dependents(stored.obj):
                    keys.append((OWNER, stored.uid))
        return keys

    def on_relist(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        self._nodes.clear()
        self._owners.clear()
        self._dependents.clear()
        for resource_type in self._storage_types():
            for stored in self.api.store.iter_objects(resource_type.storage_key):
                self._index(resource_type.api_version, stored)

    # ---- the graph ----

    def _index(self, api_version: str, stored: StoredObject) -> None:
        uid = stored.uid
        references = stored.obj["metadata"].get("ownerReferences") or []
        owner_uids = {str(r.get("uid")) for r in references if r.get("uid")}
        for owner_uid in self._owners.get(uid, set()) - owner_uids:
            self._dependents.get(owner_uid, set()).discard(uid)
        if owner_uids:
            self._owners[uid] = owner_uids
            for owner_uid in owner_uids:
                self._dependents.setdefault(owner_uid, set()).add(uid)
        else:
            self._owners.pop(uid, None)
        if owner_uids or _waits_for_dependents(stored.obj):
            self._nodes[uid] = _Node(api_version, str(stored.obj.get("kind")), stored.namespace, stored.name)
        else:
            self._nodes.pop(uid, None)

    def _forget(self, uid: str) -> None:
        for owner_uid in self._owners.pop(uid, set()):
            self._dependents.get(owner_uid, set()).discard(uid)
        if not self._dependents.get(uid):
            self._dependents.pop(uid, None)
        self._nodes.pop(uid, None)

    def _observe(self, event: WatchEvent) -> Iterable[Key]:
        stored = event.new
        uid = stored.uid
        keys: list[Key] = []
        if (str(stored.obj.get("apiVersion")), str(stored.obj.get("kind"))) == CRD_KIND:
            self._watch_new_types()
        if event.type == DELETED:
            owners = self._owners.get(uid, set())
            keys.extend((OWNER, owner_uid) for owner_uid in owners)
            keys.extend((DEPENDENT, dependent) for dependent in self._dependents.get(uid, set()))
            self._forget(uid)
            return keys
        self._index(str(stored.obj.get("apiVersion")), stored)
        if uid in self._owners:
            keys.append((DEPENDENT, uid))
        if _waits_for_dependents(stored.obj):
            keys.append((OWNER, uid))
        return keys

    def _watch_new_types(self) -> None:
        for resource_type in self._storage_types():
            if resource_type.storage_key not in self._watched:
                self._watched.add(resource_type.storage_key)
                self.watch_more(Source(resource_type.api_version, resource_type.kind, self._observe))

    # ---- work ----

    def reconcile(self, key: Key) -> float | None:
        kind, uid = split_key(key)
        if kind == OWNER:
            self._finish_foreground(str(uid))
        else:
            self._collect(str(uid))
        return None

    def _lookup(self, uid: str) -> tuple[ResourceType, StoredObject] | None:
        node = self._nodes.get(uid)
        if node is None:
            return None
        resource_type = self.api.registry.for_api_version(node.api_version, node.kind)
        if resource_type is None:
            return None
        stored = self.api.find(resource_type, node.namespace or None, node.name)
        if stored is None or stored.uid != uid:
            return None
        return resource_type, stored

    def _owner_state(self, reference: dict[str, Any], namespace: str) -> str:
        """'solid', 'waiting' (in foreground deletion) or 'dangling' (absent, or another uid)."""
        resource_type = self.api.registry.for_api_version(
            str(reference.get("apiVersion")), str(reference.get("kind"))
        )
        if resource_type is None:
            return "solid"  # an unknown kind cannot be checked; never delete on a guess
        owner = self.api.find(
            resource_type, namespace if resource_type.namespaced else None, str(reference.get("name"))
        )
        if owner is None or owner.uid != reference.get("uid"):
            return "dangling"
        return "waiting" if _waits_for_dependents(owner.obj) else "solid"

    def _collect(self, uid: str) -> None:
        """attemptToDeleteItem: delete the object, or drop its dangling references, or leave it."""
        found = self._lookup(uid)
        if found is None:
            return
        resource_type, stored = found
        obj = stored.obj
        if is_deleting(obj) and not _waits_for_dependents(obj):
            return
        references = obj["metadata"].get("ownerReferences") or []
        if not references:
            return
        states = [(r, self._owner_state(r, stored.namespace)) for r in references]
        solid = [r for r, state in states if state == "solid"]
        waiting = [r for r, state in states if state == "waiting"]
        dangling = [r for r, state in states if state == "dangling"]
        if solid:
            if dangling or waiting:
                self._drop_references(resource_type, stored, {str(r.get("uid")) for r in dangling + waiting})
            return
        if is_deleting(obj):
            return
        if waiting and self._dependents.get(uid):
            policy = "Foreground"
        else:
            finalizers = obj["metadata"].get("finalizers") or []
            policy = (
                "Orphan"
                if ORPHAN in finalizers
                else "Foreground"
                if FOREGROUND in finalizers
                else "Background"
            )
        try:
            self.api.delete(
                resource_type,
                stored.namespace or None,
                stored.name,
                propagation=policy,
                preconditions={"uid": uid},
            )
        except StatusError as error:
            if error.code not in (404, 409):
                raise

    def _drop_references(self, resource_type: ResourceType, stored: StoredObject, uids: set[str]) -> None:
        updated = stored.copy()
        kept = [r for r in updated["metadata"].get("ownerReferences") or [] if str(r.get("uid")) not in uids]
        if kept:
            updated["metadata"]["ownerReferences"] = kept
        else:
            updated["metadata"].pop("ownerReferences", None)
        self.api.update(resource_type, stored.namespace or None, stored.name, updated, manager=self.manager)

    def _finish_foreground(self, uid: str) -> None:
        """processDeletingDependentsItem: delete dependents; drop the finalizer once none blocks."""
        found = self._lookup(uid)
        if found is None:
            return
        resource_type, stored = found
        if not _waits_for_dependents(stored.obj):
            return
        blocking = False
        for dependent_uid in list(self._dependents.get(uid, set())):
            dependent = self._lookup(dependent_uid)
            if dependent is None:
                continue
            reference = next(
                (r for r in dependent[1].obj["metadata"].get("ownerReferences") or [] if r.get("uid") == uid),
                None,
            )
            if reference is None:
                continue
            if reference.get("blockOwnerDeletion"):
                blocking = True
            if not is_deleting(dependent[1].obj):
                self._collect(dependent_uid)
        if blocking:
            return  # each dependent's DELETED event brings this owner back
        updated = stored.copy()
        updated["metadata"]["finalizers"] = [
            f for f in updated["metadata"].get("finalizers") or [] if f != FOREGROUND
        ]
        self.api.update(resource_type, stored.namespace or None, stored.name, updated, manager=self.manager)


def _waits_for_dependents(obj: dict[str, Any]) -> bool:
    return is_deleting(obj) and FOREGROUND in (obj["metadata"].get("finalizers") or [])
