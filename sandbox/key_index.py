"""The names of one resource in etcd key order, kept sorted as objects come and go.

etcd orders a resource's objects by key, `namespace/name` (or `name` when cluster-scoped), and a
continue token is the key to start after; with this index a list page costs what it returns, never a
scan or sort of every object. Ordering namespaces by `namespace + "/"` gives exactly the string order
of the keys (a namespace that is a prefix of another, `team` and `team-1`, sorts as etcd sorts them).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator


def split_key(key: str) -> tuple[str, str]:
    """(namespace, name) of a storage key; names never contain "/", so a key has at most one."""
    namespace, slash, name = key.partition("/")
    return (namespace, name) if slash else ("", key)


def sort_key(namespace: str, name: str) -> tuple[str, str]:
    """What orders (namespace, name) pairs as their storage keys are ordered."""
    return (namespace + "/" if namespace else "", name)


class KeyIndex:
    """Sorted names per namespace, and the namespaces in key order."""

    def __init__(self) -> None:
        self._namespace_keys: list[str] = []  # `namespace/` (or "" for cluster-scoped), sorted
        self._names: dict[str, list[str]] = {}

    def add(self, namespace: str, name: str) -> None:
        names = self._names.get(namespace)
        if names is None:
            names = self._names[namespace] = []
            insort(self._namespace_keys, sort_key(namespace, "")[0])
        position = bisect_left(names, name)
        if position == len(names) or names[position] != name:
            names.insert(position, name)

    def remove(self, namespace: str, name: str) -> None:
        names = self._names.get(namespace)
        if names is None:
            return
        position = bisect_left(names, name)
        if position < len(names) and names[position] == name:
            del names[position]

    def _namespaces(self, namespace: str | None) -> list[str]:
        if namespace is not None:
            return [namespace] if namespace in self._names else []
        return [key[:-1] if key else "" for key in self._namespace_keys]

    def in_order(self, namespace: str | None = None, after: str = "") -> Iterator[tuple[str, str]]:
        """(namespace, name) in key order, strictly after the key `after` ("" for the start).

        Safe to keep iterating while objects are added or removed: each step finds its place again
        from the last key it gave, so it never repeats a key nor skips one that stayed."""
        after_sort = sort_key(*split_key(after)) if after else None
        for ns in self._namespaces(namespace):
            ns_key = sort_key(ns, "")[0]
            names = self._names[ns]
            if after_sort is None or ns_key > after_sort[0]:
                position = 0
            elif ns_key == after_sort[0]:
                position = bisect_right(names, after_sort[1])
            else:
                continue
            while position < len(names):
                name = names[position]
                yield ns, name
                if position < len(names) and names[position] == name:
                    position += 1
                else:
                    position = bisect_right(names, name)

    def count_after(self, namespace: str | None = None, after: str = "") -> int:
        """How many keys `in_order(namespace, after)` would give, without walking them."""
        after_sort = sort_key(*split_key(after)) if after else None
        total = 0
        for ns in self._namespaces(namespace):
            ns_key = sort_key(ns, "")[0]
            names = self._names[ns]
            if after_sort is None or ns_key > after_sort[0]:
                total += len(names)
            elif ns_key == after_sort[0]:
                total += len(names) - bisect_right(names, after_sort[1])
        return total
