"""An app's resources as the resource tree shows them: what Git declares (or tracks) and what those
own in the cluster, found through ownerReferences in the live cache.

Deployment → ReplicaSet → Pod, StatefulSet / DaemonSet / Job → Pod, CronJob → Job → Pod: children
are matched by their owner's uid, level by level. Only kinds the engine caches for the tree (and
Jobs when Git declares some) can appear. Plain values out; the tree widget never reads the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.health import health_of
from core.live_cache import LiveCache
from core.model import SYNC_CHANGES_NOTHING, ResourceKey, ResourceResult
from core.runtime import AppRuntime

CHILD_KINDS: tuple[tuple[str, str], ...] = (("apps", "ReplicaSet"), ("batch", "Job"), ("", "Pod"))
"""Kinds looked at for owned children, in the order children are listed under a parent."""
MAX_DEPTH = 3
"""CronJob → Job → Pod is the deepest chain the tree follows."""


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One node of the resource tree below the kind level."""

    key: ResourceKey
    sync: str | None
    """A SyncStatus word; None for an owned child, which Git does not declare."""
    health: str
    """A Health word."""
    health_message: str = ""
    parent: ResourceKey | None = None
    """The owner, for an owned child; None for a resource Git declares or tracks."""
    sync_note: str = ""
    """Shown after the sync word: `sync changes nothing` for an OutOfSync a sync cannot fix (drift
    rule 7). The word itself stays, so counts and filters read it as any OutOfSync."""

    @property
    def owned(self) -> bool:
        return self.parent is not None


class AppEntries:
    """One app's entries, worked out again each time they are asked for, but only where what they
    are made from changed.

    The app screen asks every few seconds, since owned children change without any status
    changing. At 10,000 resources, sorting every key, reading every owner's uid and making fresh
    entries each time would cost a tenth of a second and keep Python's garbage collector busy. The
    reconciler's results and the cache's objects are replaced, never changed in place, so comparing
    them by identity with the last time tells what to redo; entries that read the same are the
    same objects as before, which lets the tree skip them by identity too.
    """

    def __init__(self) -> None:
        self._keys: list[ResourceKey] = []
        """The reconciler's keys as last seen, in its own (insertion) order."""
        self._results: list[ResourceResult] = []
        """Their results, in the same order."""
        self._by_result: list[TreeEntry] = []
        """The entry of each of `_results`, in the same order."""
        self._sorted: list[int] = []
        """Positions in `_keys`, in key order."""
        self._resources: list[TreeEntry] = []
        self._cache: LiveCache | None = None
        self._child_objects: list[list[Mapping[str, Any]]] = []
        self._children: list[TreeEntry] = []
        self._entries: list[TreeEntry] = []

    def of(self, runtime: AppRuntime, cache: LiveCache | None) -> list[TreeEntry]:
        """The app's resources (in key order), then their owned children, parents before children.

        The same list object comes back while nothing changed."""
        # Plain lists (no pair per item): at 10k items, pairs alone would set the collector off.
        results = runtime.reconciler.results
        keys, values = list(results), list(results.values())
        keys_changed = not _same(keys, self._keys)
        if keys_changed:
            self._resources_from(keys, values)
        changed = keys_changed or self._judge_again(values)
        child_objects = (
            []
            if cache is None
            else [list(cache.of_kind(group, kind).values()) for group, kind in CHILD_KINDS]
        )
        if (
            cache is not self._cache
            or keys_changed
            or len(child_objects) != len(self._child_objects)
            or not all(_same(new, old) for new, old in zip(child_objects, self._child_objects, strict=True))
        ):
            self._cache = cache
            self._child_objects = child_objects
            self._children = [] if cache is None or not any(child_objects) else self._owned(cache)
            changed = True
        if changed:
            self._entries = self._resources + self._children
        return self._entries

    def _resources_from(self, keys: list[ResourceKey], results: list[ResourceResult]) -> None:
        """Entries for a new set of keys: sorted again, reusing the entries that read the same."""
        earlier = {entry.key: entry for entry in self._by_result}
        self._keys, self._results = keys, results
        self._by_result = [
            _resource_entry(result, earlier.get(result.key) if earlier else None) for result in results
        ]
        self._sorted = sorted(range(len(keys)), key=lambda index: _sort_text(keys[index]))
        self._resources = [self._by_result[index] for index in self._sorted]

    def _judge_again(self, results: list[ResourceResult]) -> bool:
        """Same keys in the same order: redo the entries of the results that were replaced."""
        changed = False
        for index, (new, old) in enumerate(zip(results, self._results, strict=True)):
            if new is not old:
                entry = _resource_entry(new, self._by_result[index])
                changed = changed or entry is not self._by_result[index]
                self._by_result[index] = entry
        self._results = results
        if changed:
            self._resources = [self._by_result[index] for index in self._sorted]
        return changed

    def _owned(self, cache: LiveCache) -> list[TreeEntry]:
        owners: dict[str, ResourceKey] = {}
        for key in self._keys:
            uid = _uid(cache.get(key))
            if uid:
                owners[uid] = key
        return owned_entries(cache, owners, {entry.key: entry for entry in self._children})


def _same(new: list[Any], old: list[Any]) -> bool:
    return len(new) == len(old) and all(a is b for a, b in zip(new, old, strict=True))


def _resource_entry(result: ResourceResult, old: TreeEntry | None) -> TreeEntry:
    """The entry of a resource Git declares or tracks; `old` itself when it reads the same."""
    health = result.health
    if (
        old is not None
        and old.parent is None
        and old.sync == result.status
        and old.sync_note == _sync_note(result)
        and old.health == health.status
        and old.health_message == health.message
    ):
        return old
    return TreeEntry(
        result.key, str(result.status), str(health.status), health.message, sync_note=_sync_note(result)
    )


def _sync_note(result: ResourceResult) -> str:
    return SYNC_CHANGES_NOTHING if result.sync_changes_nothing else ""


def owned_entries(
    cache: LiveCache,
    owners: Mapping[str, ResourceKey],
    previous: Mapping[ResourceKey, TreeEntry] | None = None,
) -> list[TreeEntry]:
    """Objects of CHILD_KINDS owned, directly or through each other, by `owners` (uid -> key);
    an entry equal to its `previous` one is that same object."""
    earlier = previous or {}
    if not owners:
        return []
    namespaces = {key.namespace for key in owners.values()}
    by_owner = _children_by_owner(cache, namespaces)
    found: list[TreeEntry] = []
    seen = set(owners.values())
    frontier = list(owners.items())
    for _ in range(MAX_DEPTH):
        next_frontier: list[tuple[str, ResourceKey]] = []
        for uid, parent in frontier:
            for key, obj in by_owner.get(uid, ()):
                if key in seen:
                    continue
                seen.add(key)
                health = health_of(obj)
                entry = TreeEntry(key, None, str(health.status), health.message, parent)
                old = earlier.get(key)
                found.append(old if old == entry and old is not None else entry)
                child_uid = _uid(obj)
                if child_uid:
                    next_frontier.append((child_uid, key))
        if not next_frontier:
            break
        frontier = next_frontier
    return found


def kept_by_filter(entries: Iterable[TreeEntry], text: str) -> set[ResourceKey] | None:
    """The keys a filter keeps: resources whose name or kind contains `text` (any case), or whose
    children's do, with all their children. None when there is no filter: every key is kept."""
    wanted = text.strip().lower()
    if not wanted:
        return None
    listed = list(entries)
    children: dict[ResourceKey, list[ResourceKey]] = defaultdict(list)
    for entry in listed:
        if entry.parent is not None:
            children[entry.parent].append(entry.key)

    def family(key: ResourceKey) -> list[ResourceKey]:
        found = [key]
        for child in children.get(key, ()):
            found.extend(family(child))
        return found

    kept: set[ResourceKey] = set()
    for entry in listed:
        if entry.parent is None:
            keys = family(entry.key)
            if any(wanted in key.name.lower() or wanted in key.kind.lower() for key in keys):
                kept.update(keys)
    return kept


def _children_by_owner(
    cache: LiveCache, namespaces: Iterable[str]
) -> dict[str, list[tuple[ResourceKey, Mapping[str, Any]]]]:
    wanted = set(namespaces)
    by_owner: dict[str, list[tuple[ResourceKey, Mapping[str, Any]]]] = defaultdict(list)
    for group, kind in CHILD_KINDS:
        for key, obj in sorted(cache.of_kind(group, kind).items(), key=lambda item: _sort_text(item[0])):
            if key.namespace not in wanted:
                continue
            for reference in (obj.get("metadata") or {}).get("ownerReferences") or ():
                uid = reference.get("uid") if isinstance(reference, Mapping) else None
                if uid:
                    by_owner[str(uid)].append((key, obj))
    return by_owner


def _sort_text(key: ResourceKey) -> str:
    # The order of ResourceKey itself (its fields in turn; NUL sorts below any character a name can
    # hold). Its own comparison runs field by field in Python, ten times slower on 10k keys, and a
    # string, unlike a tuple, is no work for the garbage collector.
    return f"{key.group}\0{key.kind}\0{key.namespace}\0{key.name}"


def _uid(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str((obj.get("metadata") or {}).get("uid") or "")
