"""A list applied to the live cache page by page, as its pages arrive (core.kind_watch.Relisted).

Each page's objects are stored at once (those whose resourceVersion changed, as a whole relist
stores them) and their events go to the reconcilers. What the cache held in the list's scope (a
kind, in one namespace or everywhere) and no page returned is deleted only at the last page: until
then it may still come. So a relist after 410 Gone loses no change and finds every deletion, as
`LiveCache.replace_kind` does for a whole list, without holding the whole list in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.live_cache import LiveCache, LiveEvent
from core.model import ResourceKey


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
            # `apply` stores a new object or a new resourceVersion and skips the same one: exactly
            # what a whole relist (`replace_kind`) stores.
            if cache.apply(event):  # routed as the cache keeps it, which may be cut down
                events.append(LiveEvent(event.key, cache.get(event.key)))
        return events

    def finish(self, cache: LiveCache) -> list[LiveEvent]:
        """The list is complete: delete what it did not return; the deletions' events."""
        gone = [LiveEvent(key, None) for key in sorted(self.unseen)]
        self.unseen = set()
        return [event for event in gone if cache.apply(event)]
