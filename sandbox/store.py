"""The sandbox's etcd and watch cache: objects, the global resourceVersion, history and watchers.

Everything here runs on the server's event loop, so no locks are needed. A stored object is never
mutated: every write stores a new dict, and its JSON encoding is made once and shared by lists, gets
and every watcher, which keeps 10k-object lists and watch fan-out cheap.
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

# The Expired message etcd gives a list at a compacted revision (resourceVersionMatch=Exact).
LIST_EXPIRED = "The resourceVersion for the provided list is too old."

StorageKey = tuple[str, str]  # (group, plural)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

_TYPE_META = ("apiVersion", "kind")


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class StoredObject:
    """One version of one object, with its encodings made at most once."""

    __slots__ = ("_full", "_item", "obj", "rv")

    def __init__(self, obj: dict[str, Any], rv: int) -> None:
        self.obj = obj
        self.rv = rv
        self._full: bytes | None = None
        self._item: bytes | None = None

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.obj["metadata"].get("uid") or "")

    def full_json(self) -> bytes:
        """The object as a get or a watch event carries it, with apiVersion and kind."""
        if self._full is None:
            self._full = encode_json(self.obj)
        return self._full

    def item_json(self) -> bytes:
        """The object as a built-in list item: a real server drops apiVersion and kind there."""
        if self._item is None:
            self._item = encode_json({k: v for k, v in self.obj.items() if k not in _TYPE_META})
        return self._item

    def copy(self) -> dict[str, Any]:
        """A private deep copy, made from the cached encoding (faster than copy.deepcopy)."""
        copied: dict[str, Any] = json.loads(self.full_json())
        return copied


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
        self._sorted_names: dict[tuple[StorageKey, str], list[str]] = {}
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
        by_namespace = self._objects.get(key, {})
        namespaces = [namespace] if namespace is not None else sorted(by_namespace)
        for ns in namespaces:
            objects = by_namespace.get(ns)
            if not objects:
                continue
            for name in self._names(key, ns):
                if after and _storage_name(ns, name) <= after:
                    continue
                yield objects[name]

    def _objects_at(
        self, key: StorageKey, namespace: str | None, after: str, rv: int
    ) -> Iterator[StoredObject]:
        """The state at `rv`: the current objects with every later event undone, newest first, so the
        last undo of an object leaves the version it had at `rv` (None: it did not exist yet)."""
        if rv < self.oldest_resumable(key):
            raise expired(LIST_EXPIRED)
        undone: dict[tuple[str, str], StoredObject | None] = {}
        for event in reversed(self._history.get(key, ())):
            if event.rv <= rv:
                break
            if namespace is None or event.namespace == namespace:
                undone[(event.namespace, event.new.name)] = event.old
        if not undone:
            yield from self.iter_objects(key, namespace, after)
            return
        by_namespace = self._objects.get(key, {})
        namespaces = [namespace] if namespace is not None else list(by_namespace)
        state: dict[tuple[str, str], StoredObject] = {
            (ns, name): stored for ns in namespaces for name, stored in by_namespace.get(ns, {}).items()
        }
        for object_key, old in undone.items():
            if old is None:
                state.pop(object_key, None)
            else:
                state[object_key] = old
        for ns, name in sorted(state):
            if after and _storage_name(ns, name) <= after:
                continue
            yield state[(ns, name)]

    def count(self, key: StorageKey, namespace: str | None = None) -> int:
        by_namespace = self._objects.get(key, {})
        if namespace is not None:
            return len(by_namespace.get(namespace, {}))
        return sum(len(objects) for objects in by_namespace.values())

    def _names(self, key: StorageKey, namespace: str) -> list[str]:
        cache_key = (key, namespace)
        names = self._sorted_names.get(cache_key)
        if names is None:
            names = sorted(self._objects[key][namespace])
            self._sorted_names[cache_key] = names
        return names

    # ---- writes (the object dict becomes the store's; callers must not touch it afterwards) ----

    def create(self, key: StorageKey, obj: dict[str, Any]) -> StoredObject:
        stored = self._stamp(obj)
        by_name = self._objects.setdefault(key, {}).setdefault(stored.namespace, {})
        by_name[stored.name] = stored
        self._sorted_names.pop((key, stored.namespace), None)
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
        self._sorted_names.pop((key, namespace), None)
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
