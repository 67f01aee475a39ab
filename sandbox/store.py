"""The sandbox's etcd and watch cache: objects, the global resourceVersion, history and watchers.

Everything here runs on the server's event loop, so no locks are needed. A stored object is never
mutated: every write stores a new version (sandbox/stored.py), encoded once and shared by lists, gets
and every watcher. A sorted key index per resource makes a list page cost what it returns, so a
paginated list of 100,000 objects is linear, not quadratic. Memory is bounded by the objects
themselves (as JSON), `history_size` events per resource, and `watcher_backlog` events per watch.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.errors import StatusError, bad_request, expired
from sandbox.key_index import KeyIndex, sort_key, split_key
from sandbox.stored import StoredObject, encode_json

__all__ = ["StoredObject", "encode_json"]  # re-exported: where the rest of the sandbox imports them

# The Expired message etcd gives a list at a compacted revision (resourceVersionMatch=Exact).
LIST_EXPIRED = "The resourceVersion for the provided list is too old."

StorageKey = tuple[str, str]  # (group, plural)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str
    rv: int
    new: StoredObject
    old: StoredObject | None  # the previous version, so selector watches can tell enter from leave
    namespace: str


class Watcher:
    """One subscriber's queue of events. Pushing never blocks; a watcher that falls too far
    behind is closed, as a real API server closes a slow watch, and its client re-watches."""

    def __init__(self, store: Store, key: StorageKey, namespace: str | None, backlog: int) -> None:
        self._store = store
        self.key = key
        self.namespace = namespace
        self._backlog = backlog
        self._queue: deque[WatchEvent] = deque()
        self._wakeup = asyncio.Event()
        self.closed = False
        self.overflowed = False

    def push(self, event: WatchEvent) -> None:
        if self.closed or (self.namespace and event.namespace != self.namespace):
            return
        if len(self._queue) >= self._backlog:
            self.overflowed = True
            self.close()
            return
        self._queue.append(event)
        self._wakeup.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._store.unsubscribe(self)
        self._wakeup.set()

    def pending(self) -> list[WatchEvent]:
        """Take every queued event without waiting."""
        events = list(self._queue)
        self._queue.clear()
        if not self.closed:
            self._wakeup.clear()
        return events

    async def wait(self, timeout: float | None) -> bool:
        """Wait until an event is queued or the watcher closes; False when `timeout` passed first."""
        if self._queue or self.closed:
            return True
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def __aiter__(self) -> AsyncIterator[WatchEvent]:
        while not self.closed or self._queue:
            await self.wait(None)
            for event in self.pending():
                yield event


class Store:
    """Objects by resource, namespace and name, a global resourceVersion, and per-resource history."""

    def __init__(self, *, history_size: int = 10_000, watcher_backlog: int = 100_000) -> None:
        self._objects: dict[StorageKey, dict[str, dict[str, StoredObject]]] = {}
        self._index: dict[StorageKey, KeyIndex] = {}
        self._history: dict[StorageKey, deque[WatchEvent]] = {}
        self._floor: dict[StorageKey, int] = {}
        self._compacted_at = 0
        self._watchers: dict[StorageKey, set[Watcher]] = {}
        self._history_size = history_size
        self._watcher_backlog = watcher_backlog
        self._rv = 1
        # Requests waiting for the store to reach a resourceVersion: (version, future) pairs.
        self._version_waiters: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def resource_version(self) -> int:
        return self._rv

    # ---- reads ----

    def get(self, key: StorageKey, namespace: str, name: str) -> StoredObject | None:
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def namespaces_of(self, key: StorageKey) -> list[str]:
        return sorted(ns for ns, objects in self._objects.get(key, {}).items() if objects)

    def iter_objects(
        self, key: StorageKey, namespace: str | None = None, after: str = "", at: int | None = None
    ) -> Iterator[StoredObject]:
        """Objects in key order (`namespace/name`, or `name` when cluster-scoped), from after `after`;
        with `at` older than now, the objects as they were at that resourceVersion (410 Expired when
        history no longer reaches back that far)."""
        if at is not None and at < self._rv:
            yield from self._objects_at(key, namespace, after, at)
            return
        index = self._index.get(key)
        if index is None:
            return
        by_namespace = self._objects[key]
        for ns, name in index.in_order(namespace, after):
            stored = by_namespace[ns].get(name)
            if stored is not None:
                yield stored

    def _undone_since(
        self, key: StorageKey, namespace: str | None, rv: int
    ) -> dict[tuple[str, str], StoredObject | None]:
        """For each object changed after `rv`, the version it had at `rv` (None: it did not exist):
        the events after `rv` undone newest first, so the last undo of an object leaves that version."""
        if rv < self.oldest_resumable(key):
            raise expired(LIST_EXPIRED)
        undone: dict[tuple[str, str], StoredObject | None] = {}
        for event in reversed(self._history.get(key, ())):
            if event.rv <= rv:
                break
            if namespace is None or event.namespace == namespace:
                undone[(event.namespace, event.new.name)] = event.old
        return undone

    def _objects_at(
        self, key: StorageKey, namespace: str | None, after: str, rv: int
    ) -> Iterator[StoredObject]:
        """The state at `rv`: the current objects in key order, merged with the versions the changes
        since `rv` replaced (so a page costs its own size plus the changes since, never all objects)."""
        undone = self._undone_since(key, namespace, rv)
        after_sort = sort_key(*split_key(after)) if after else None
        changed = sorted(
            (sort_key(*object_key), object_key)
            for object_key in undone
            if after_sort is None or sort_key(*object_key) > after_sort
        )
        position = 0
        for current in self.iter_objects(key, namespace, after):
            current_sort = sort_key(current.namespace, current.name)
            while position < len(changed) and changed[position][0] < current_sort:
                old = undone[changed[position][1]]
                position += 1
                if old is not None:
                    yield old  # deleted since `rv`
            if position < len(changed) and changed[position][0] == current_sort:
                old = undone[changed[position][1]]
                position += 1
                if old is not None:
                    yield old  # changed since `rv`; None: created since
                continue
            yield current
        for _sort, object_key in changed[position:]:
            old = undone[object_key]
            if old is not None:
                yield old

    def count(self, key: StorageKey, namespace: str | None = None) -> int:
        by_namespace = self._objects.get(key, {})
        if namespace is not None:
            return len(by_namespace.get(namespace, {}))
        return sum(len(objects) for objects in by_namespace.values())

    def count_after(self, key: StorageKey, namespace: str | None, after: str, at: int | None = None) -> int:
        """How many objects `iter_objects` would still give after the key `after`, without reading them."""
        index = self._index.get(key)
        total = index.count_after(namespace, after) if index is not None else 0
        if at is None or at >= self._rv:
            return total
        after_sort = sort_key(*split_key(after)) if after else None
        by_namespace = self._objects.get(key, {})
        for (ns, name), old in self._undone_since(key, namespace, at).items():
            if after_sort is not None and sort_key(ns, name) <= after_sort:
                continue
            exists_now = name in by_namespace.get(ns, {})
            total += (old is not None) - exists_now
        return total

    # ---- writes (the object dict becomes the store's; callers must not touch it afterwards) ----

    def create(self, key: StorageKey, obj: dict[str, Any]) -> StoredObject:
        stored = self._stamp(obj)
        by_name = self._objects.setdefault(key, {}).setdefault(stored.namespace, {})
        by_name[stored.name] = stored
        self._index.setdefault(key, KeyIndex()).add(stored.namespace, stored.name)
        self._emit(key, ADDED, stored, None)
        return stored

    def update(self, key: StorageKey, obj: dict[str, Any]) -> StoredObject:
        namespace = str(obj["metadata"].get("namespace") or "")
        old = self._objects[key][namespace][obj["metadata"]["name"]]
        stored = self._stamp(obj)
        self._objects[key][namespace][stored.name] = stored
        self._emit(key, MODIFIED, stored, old)
        return stored

    def delete(self, key: StorageKey, namespace: str, name: str) -> StoredObject:
        old = self._objects[key][namespace].pop(name)
        self._index[key].remove(namespace, name)
        # The DELETED event carries the last state at the deletion's own resourceVersion.
        final = dict(old.obj)
        final["metadata"] = dict(old.obj["metadata"])
        stored = self._stamp(final)
        self._emit(key, DELETED, stored, old)
        return stored

    def _stamp(self, obj: dict[str, Any]) -> StoredObject:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if self._version_waiters:
            self._wake_version_waiters()
        return StoredObject(obj, self._rv)

    def _wake_version_waiters(self) -> None:
        still_waiting = []
        for version, future in self._version_waiters:
            if version <= self._rv:
                if not future.done():
                    future.set_result(None)
            else:
                still_waiting.append((version, future))
        self._version_waiters = still_waiting

    async def wait_for_version(self, rv: int, timeout: float) -> bool:
        """Wait until the store has reached `rv`, as the watch cache waits for a resourceVersion it has
        not seen yet; False when `timeout` passed first."""
        if rv <= self._rv:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (rv, future)
        self._version_waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        finally:
            if entry in self._version_waiters:
                self._version_waiters.remove(entry)
        return True

    def _emit(self, key: StorageKey, event_type: str, new: StoredObject, old: StoredObject | None) -> None:
        event = WatchEvent(event_type, new.rv, new, old, new.namespace)
        history = self._history.setdefault(key, deque())
        if len(history) >= self._history_size:
            self._floor[key] = history.popleft().rv
        history.append(event)
        for watcher in list(self._watchers.get(key, ())):
            watcher.push(event)

    # ---- watch ----

    def subscribe(self, key: StorageKey, namespace: str | None = None) -> Watcher:
        """A watcher that receives every later event of this resource (in one namespace, if given)."""
        watcher = Watcher(self, key, namespace or None, self._watcher_backlog)
        self._watchers.setdefault(key, set()).add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.key, set()).discard(watcher)

    def oldest_resumable(self, key: StorageKey) -> int:
        """The oldest resourceVersion a watch of this resource can still start from."""
        return max(self._floor.get(key, 0), self._compacted_at)

    def events_since(self, key: StorageKey, rv: int) -> list[WatchEvent]:
        """The events of a resource newer than `rv`; 410 Expired when history no longer reaches back."""
        oldest = self.oldest_resumable(key)
        if rv < oldest:
            raise expired(f"too old resource version: {rv} ({oldest})")
        return [event for event in self._history.get(key, ()) if event.rv > rv]

    def watcher_count(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    # ---- faults ----

    def compact(self) -> None:
        """Forget all history, so every older resourceVersion gets 410 Gone."""
        self._compacted_at = self._rv
        self._history.clear()
        self._floor.clear()

    def drop_watchers(self) -> int:
        watchers = [w for group in self._watchers.values() for w in group]
        for watcher in watchers:
            watcher.close()
        return len(watchers)


def _storage_name(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def encode_continue(rv: int, namespace: str, name: str) -> str:
    """A continue token in the real format: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":KEY\\0}`."""
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": _storage_name(namespace, name) + "\x00"}
    return base64.b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def decode_continue(token: str, store: Store, key: StorageKey) -> tuple[int, str]:
    """The list resourceVersion and the key to resume after; 400 when malformed, 410 when compacted."""
    try:
        decoded = json.loads(base64.b64decode(token, validate=False))
        rv = int(decoded["rv"])
        start = str(decoded["start"])
        if decoded.get("v") != "meta.k8s.io/v1":
            raise ValueError("version")
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise bad_request(f"continue key is not valid: {error}") from None
    if rv < store.oldest_resumable(key):
        raise StatusError(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start "
            "a new list without the continue parameter, or use the continue token in this response to "
            "retrieve the remainder of the results. Continuing with the provided token results in an "
            "inconsistent list - objects that were created, modified, or deleted between the time the "
            "first chunk was returned and now may show up in the list.",
        )
    return rv, start.rstrip("\x00")
