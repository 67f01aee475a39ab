"""The live state of one cluster, as plain dicts, fed only by list and watch (never by actions).

Objects are stored by kind, so a relist can tell which objects disappeared while the watch was
down, and a reconciler can ask for one key in O(1). Their managedFields tries are shared between
objects as they are stored (`core.drift.shared_fields`), which halves what a cached object costs; cached
objects are read-only from then on.

Most objects are kept cut down to what their verdict needs (core.live_projection): an object Git
does not declare as it is stored (`cut_down` says which), an object found in sync once it is judged
(`compact`). `is_cut_down` tells such an object from a whole one; a key marked stale takes the next
version seen, whatever its resourceVersion, so a GET or a relist can put the whole object back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.drift.shared_fields import SharedFields
from core.live_projection import health_projection
from core.model import ResourceKey

GroupKind = tuple[str, str]


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One change of one live object: `obj` is None when it was deleted."""

    key: ResourceKey
    obj: Mapping[str, Any] | None


class LiveCache:
    """Live objects of one cluster by (group, kind) and key."""

    def __init__(self, cut_down: Callable[[ResourceKey], bool] | None = None) -> None:
        self._kinds: dict[GroupKind, dict[ResourceKey, Mapping[str, Any]]] = {}
        self._fields = SharedFields()
        self.cut_down = cut_down
        """Whether an object is stored cut down to its health projection (Git does not declare it);
        None: every object is stored whole (a cache without an engine, in tests and benchmarks)."""
        self._cut: dict[ResourceKey, Mapping[str, Any] | None] = {}
        """Keys stored cut down: the desired object a compacted one was found in sync with, or None."""
        self._stale: set[ResourceKey] = set()

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

    def is_cut_down(self, key: ResourceKey) -> bool:
        """Whether `key`'s cached object is cut down (core.live_projection), not the whole object."""
        return key in self._cut

    def compacted_against(self, key: ResourceKey) -> Mapping[str, Any] | None:
        """The desired object `key`'s cached object was compacted against, if it was."""
        return self._cut.get(key)

    def compact(self, key: ResourceKey, compacted: Mapping[str, Any], desired: Mapping[str, Any]) -> None:
        """Keep `compacted` for `key` (its object, found in sync with `desired`) instead of the whole."""
        objects = self._kinds.get((key.group, key.kind))
        if objects is not None and key in objects:
            objects[key] = compacted
            self._cut[key] = desired

    def mark_stale(self, keys: Iterable[ResourceKey]) -> None:
        """Take the next version seen of each of `keys` whatever its resourceVersion (a GET or a relist
        bringing back the whole object)."""
        self._stale.update(keys)

    def __iter__(self) -> Iterator[tuple[ResourceKey, Mapping[str, Any]]]:
        for objects in self._kinds.values():
            yield from objects.items()

    def apply(self, event: LiveEvent) -> bool:
        """Store one event; False when it changes nothing (same resourceVersion, or an unknown delete)."""
        key = event.key
        objects = self._kinds.setdefault((key.group, key.kind), {})
        if event.obj is None:
            self._cut.pop(key, None)
            self._stale.discard(key)
            return objects.pop(key, None) is not None
        previous = objects.get(key)
        version = _resource_version(event.obj)
        if (
            previous is not None
            and version is not None
            and _resource_version(previous) == version
            and key not in self._stale
        ):
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
                or key in self._stale
            ):
                events.append(LiveEvent(key, self._store(stored, key, obj)))
        for key in gone:
            del stored[key]
            self._cut.pop(key, None)
            self._stale.discard(key)
            events.append(LiveEvent(key, None))
        return events

    def _store(
        self, objects: dict[ResourceKey, Mapping[str, Any]], key: ResourceKey, obj: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The one place an object enters the cache (every path that stores goes through here); returns
        what was stored: the object, or its health projection when `cut_down` says so."""
        self._fields.share(obj)
        self._stale.discard(key)
        if self.cut_down is not None and self.cut_down(key):
            obj = health_projection(obj, key)
            self._cut[key] = None
        else:
            self._cut.pop(key, None)
        objects[key] = obj
        return obj


def _resource_version(obj: Mapping[str, Any]) -> Any:
    metadata = obj.get("metadata")
    return metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
