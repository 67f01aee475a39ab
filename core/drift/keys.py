"""Keys of list-map elements, from the schema (`x-kubernetes-list-map-keys` and their defaults).

A keyed list's element is identified by the values of its key fields, with the defaults server-side
apply fills in when an element omits one (a container port's `protocol: TCP`). kubedrift's
managedFields entry names each element by the same values, as a `k:{...}` trie key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from core.drift.managedfields import element_trie_key
from core.schema import FieldType, Shape

_SCALARS: Final = frozenset({str, int, float, bool})

Identity = tuple[Any, ...]


def list_identity(element: Mapping[str, Any], list_type: FieldType) -> Identity | None:
    """The key values of an element of keyed list `list_type`, key defaults applied.

    None when the element names none of its keys, or a key is not a scalar (`name: {}` in a bad
    manifest): such an element matches no other, rather than breaking the comparison.
    """
    defaults = list_type.key_defaults
    identity = []
    found = False
    for key in list_type.list_keys:
        value = element.get(key)
        if value is None:
            value = defaults.get(key)
        elif value.__class__ not in _SCALARS:
            return None
        else:
            found = True
        identity.append(value)
    return tuple(identity) if found else None


def identity_trie_key(list_type: FieldType, identity: Identity) -> str:
    """The managedFields `k:` key of an element with `identity` (cached: the same few recur)."""
    return _trie_key(list_type.list_keys, identity)


@lru_cache(maxsize=8192)
def _trie_key(keys: tuple[str, ...], identity: Identity) -> str:
    return element_trie_key({k: v for k, v in zip(keys, identity, strict=True) if v is not None})


def type_at(schema: FieldType, segments: Sequence[str]) -> FieldType:
    """The schema node at a path of field names and list indices (pointer segments), or the untyped
    node where the schema says nothing; each step is one dictionary look-up."""
    node = schema
    for segment in segments:
        node = node.item() if node.shape is Shape.LIST else node.child(segment)
    return node
