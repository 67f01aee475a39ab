"""One copy of each managedFields trie node, shared by every cached object that has it.

A parsed `fieldsV1` trie is about half of a cached object's memory, yet objects of one kind from
one chart own the same fields: the tries differ in a node or two (a container's name, an owner's
uid) and agree everywhere else. Hash-consing them bottom up (a node is looked up by its keys and
the identities of its already-shared children) keeps one copy of each distinct node; every leaf
`{}` becomes one shared empty dict. Cached objects are never mutated, which is what makes the
sharing safe.

The table only grows with distinct nodes, but objects come and go (every new Pod brings its owner's
uid), so once it passes `limit` entries it starts again: nodes already shared stay shared, and
the memory it can hold on to is bounded.
"""

from __future__ import annotations

import sys
from typing import Any, Final

DEFAULT_LIMIT: Final = 1 << 17
MAX_DEPTH: Final = 64
"""Deeper tries (none that a real schema makes) are left as they are rather than recursed into."""
_ENTRY_STRINGS: Final = ("manager", "operation", "apiVersion", "fieldsType")

_EMPTY: Final[dict[str, Any]] = {}


class SharedFields:
    """Hash-conses the managedFields tries of the objects handed to `share`."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._nodes: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._nodes)

    def share(self, obj: Any) -> None:
        """Replace, in place, each fieldsV1 trie of `obj` with its shared copy."""
        metadata = obj.get("metadata") if obj.__class__ is dict else None
        entries = metadata.get("managedFields") if metadata.__class__ is dict else None
        if entries.__class__ is not list:
            return
        if len(self._nodes) > self._limit:
            self._nodes.clear()
        for entry in entries:
            if entry.__class__ is not dict:
                continue
            fields = entry.get("fieldsV1")
            if fields.__class__ is dict:
                entry["fieldsV1"] = self._node(fields, 0)
            for name in _ENTRY_STRINGS:
                value = entry.get(name)
                if value.__class__ is str:
                    entry[name] = sys.intern(value)

    def _node(self, node: dict[str, Any], depth: int) -> dict[str, Any]:
        if not node:
            return _EMPTY
        if depth > MAX_DEPTH:
            return node
        # A flat (key, child identity) signature: exact, since every child is already the one shared copy.
        signature: list[Any] = []
        for key, child in node.items():
            if child.__class__ is not dict:
                return node  # not a trie node (malformed): kept as it came, never merged with another
            if child:
                child = node[key] = self._node(child, depth + 1)
                signature.append(key)
                signature.append(id(child))
            else:
                node[key] = _EMPTY
                signature.append(key)
                signature.append(None)
        return self._nodes.setdefault(tuple(signature), node)
