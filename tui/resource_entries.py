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
from core.model import ResourceKey
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

    @property
    def owned(self) -> bool:
        return self.parent is not None


def app_entries(runtime: AppRuntime, cache: LiveCache | None) -> list[TreeEntry]:
    """The app's resources (sorted by key), then their owned children, parents before children."""
    results = runtime.reconciler.results
    entries = [
        TreeEntry(key, str(result.status), str(result.health.status), result.health.message)
        for key, result in sorted(results.items())
    ]
    if cache is None:
        return entries
    owners: dict[str, ResourceKey] = {}
    for key in results:
        uid = _uid(cache.get(key))
        if uid:
            owners[uid] = key
    entries.extend(owned_entries(cache, owners))
    return entries


def owned_entries(cache: LiveCache, owners: Mapping[str, ResourceKey]) -> list[TreeEntry]:
    """Objects of CHILD_KINDS owned, directly or through each other, by `owners` (uid -> key)."""
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
                found.append(TreeEntry(key, None, str(health.status), health.message, parent))
                child_uid = _uid(obj)
                if child_uid:
                    next_frontier.append((child_uid, key))
        if not next_frontier:
            break
        frontier = next_frontier
    return found


def _children_by_owner(
    cache: LiveCache, namespaces: Iterable[str]
) -> dict[str, list[tuple[ResourceKey, Mapping[str, Any]]]]:
    wanted = set(namespaces)
    by_owner: dict[str, list[tuple[ResourceKey, Mapping[str, Any]]]] = defaultdict(list)
    for group, kind in CHILD_KINDS:
        for key, obj in sorted(cache.of_kind(group, kind).items()):
            if key.namespace not in wanted:
                continue
            for reference in (obj.get("metadata") or {}).get("ownerReferences") or ():
                uid = reference.get("uid") if isinstance(reference, Mapping) else None
                if uid:
                    by_owner[str(uid)].append((key, obj))
    return by_owner


def _uid(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str((obj.get("metadata") or {}).get("uid") or "")
