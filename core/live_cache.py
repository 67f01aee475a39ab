"""The live state of one cluster, as plain dicts, fed only by list and watch (never by actions).

Objects are stored by kind, so a relist can tell which objects disappeared while the watch was
down, and a reconciler can ask for one key in O(1). Their managedFields tries are shared between
objects as they are stored (`core.drift.shared_fields`), which halves what a cached object costs; cached
objects are read-only from then on.

Most objects are kept cut down to what their verdict needs (core.live_projection): an object Git
does not declare as it is stored (`cut_down` says which), an object found in sync once it is judged
(`compact`). `is_cut_down` tells such an object from a whole one; a key marked stale takes the next
version seen, whatever its resourceVersion, so a GET or a relist can put the whole object back.

A list applied page by page (`PagedRelist`, as core.start_lists and KindWatch's relists deliver
pages) stores each page at once and deletes what the cache held in the list's scope but no page
returned only at the last page, so a relist after 410 Gone loses no change and finds every deletion
without holding the whole list; `replace_kind` is the one-page case.
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
        """A whole relist of a kind (in one namespace, or everywhere): a PagedRelist of one page."""
        relist = PagedRelist.begin(self, group, kind, namespace)
        return relist.page(self, objects) + relist.finish(self)

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


@dataclass(slots=True)
class PagedRelist:
    """One list under way: what the cache held in its scope that no page has returned yet."""

    unseen: set[ResourceKey]
    held: int
    """How many objects the cache held in the scope when the list began."""
    listed: int = 0
    """How many objects the pages so far returned."""

    @classmethod
    def begin(cls, cache: LiveCache, group: str, kind: str, namespace: str | None) -> PagedRelist:
        unseen = {
            key for key in cache.of_kind(group, kind) if namespace is None or key.namespace == namespace
        }
        return cls(unseen, len(unseen))

    def page(self, cache: LiveCache, objects: Iterable[Mapping[str, Any]]) -> list[LiveEvent]:
        """Store one page; the events of the objects that differ from what the cache held."""
        events: list[LiveEvent] = []
        unseen = self.unseen
        for obj in objects:
            event = LiveEvent(ResourceKey.of(obj), obj)
            unseen.discard(event.key)
            self.listed += 1
            # `apply` stores a new object or a new resourceVersion (or a stale key's) and skips the same one.
            if cache.apply(event):  # routed as the cache keeps it, which may be cut down
                events.append(LiveEvent(event.key, cache.get(event.key)))
        return events

    def finish(self, cache: LiveCache) -> list[LiveEvent]:
        """The list is complete: delete what it did not return; the deletions' events."""
        gone = [LiveEvent(key, None) for key in sorted(self.unseen)]
        self.unseen = set()
        return [event for event in gone if cache.apply(event)]


def _resource_version(obj: Mapping[str, Any]) -> Any:
    metadata = obj.get("metadata")
    return metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
