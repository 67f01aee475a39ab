"""The live state of one cluster, as plain dicts, fed only by list and watch (never by actions).

Objects are stored by kind, so a relist can tell which objects disappeared while the watch was
down, and a reconciler can ask for one key in O(1). Their managedFields tries are shared between
objects as they are stored (`core.drift.shared_fields`), which halves what a cached object costs; cached
objects are read-only from then on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.drift.shared_fields import SharedFields
from core.model import ResourceKey

GroupKind = tuple[str, str]


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One change of one live object: `obj` is None when it was deleted."""

    key: ResourceKey
    obj: Mapping[str, Any] | None


class LiveCache:
    """Live objects of one cluster by (group, kind) and key."""

    def __init__(self) -> None:
        self._kinds: dict[GroupKind, dict[ResourceKey, Mapping[str, Any]]] = {}
        self._fields = SharedFields()

    def get(self, key: ResourceKey) -> Mapping[str, Any] | None:
        objects = self._kinds.get((key.group, key.kind))
        return None if objects is None else objects.get(key)

    def of_kind(self, group: str, kind: str) -> Mapping[ResourceKey, Mapping[str, Any]]:
        return self._kinds.get((group, kind), {})

    def kinds(self) -> Iterable[GroupKind]:
        return self._kinds.keys()

    def count(self, group: str, kind: str, namespace: str | None = None) -> int:
        """How many objects of a kind are cached (in one namespace, or everywhere)."""
        objects = self._kinds.get((group, kind), {})
        if namespace is None:
            return len(objects)
        return sum(1 for key in objects if key.namespace == namespace)

    def __len__(self) -> int:
        return sum(len(objects) for objects in self._kinds.values())

    def __iter__(self) -> Iterator[tuple[ResourceKey, Mapping[str, Any]]]:
        for objects in self._kinds.values():
            yield from objects.items()

    def apply(self, event: LiveEvent) -> bool:
        """Store one event; False when it changes nothing (same resourceVersion, or an unknown delete)."""
        key = event.key
        objects = self._kinds.setdefault((key.group, key.kind), {})
        if event.obj is None:
            return objects.pop(key, None) is not None
        previous = objects.get(key)
        version = _resource_version(event.obj)
        if previous is not None and version is not None and _resource_version(previous) == version:
            return False
        self._store(objects, key, event.obj)
        return True

    def replace_kind(
        self, group: str, kind: str, objects: Iterable[Mapping[str, Any]], namespace: str | None = None
    ) -> list[LiveEvent]:
        """A relist of a kind (in one namespace, or everywhere): store exactly `objects` there.

        Returns the events that differ from what was stored, deletions of objects that vanished
        while the watch was down included, so a relist after 410 Gone loses no change.
        """
        stored = self._kinds.setdefault((group, kind), {})
        gone = {key for key in stored if namespace is None or key.namespace == namespace}
        events: list[LiveEvent] = []
        for obj in objects:
            key = ResourceKey.of(obj)
            gone.discard(key)
            old = stored.get(key)
            if (
                old is None
                or _resource_version(old) != _resource_version(obj)
                or _resource_version(obj) is None
            ):
                events.append(LiveEvent(key, obj))
                self._store(stored, key, obj)
        for key in gone:
            del stored[key]
            events.append(LiveEvent(key, None))
        return events

    def _store(
        self, objects: dict[ResourceKey, Mapping[str, Any]], key: ResourceKey, obj: Mapping[str, Any]
    ) -> None:
        """The one place an object enters the cache (every path that stores goes through here)."""
        self._fields.share(obj)
        objects[key] = obj


def _resource_version(obj: Mapping[str, Any]) -> Any:
    metadata = obj.get("metadata")
    return metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
