"""Reading `metadata.managedFields`: which fields kubedrift applied last time, and who else owns a field.

`fieldsV1` is a trie: `f:<name>` for a field, `k:{json}` for a list-map element by its key fields,
`v:<json>` for an element of a set list, `i:<n>` for an element by index, and `.` for the node itself.
Drift rule 2 ("removed in Git") rests on it: what kubedrift's Apply entry lists but desired no longer
has is exactly what the next sync would remove.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from core.model import FIELD_MANAGER

FieldsTrie = Mapping[str, Any]


def applied_fields(live: Mapping[str, Any], manager: str = FIELD_MANAGER) -> FieldsTrie | None:
    """The fieldsV1 trie of `manager`'s Apply operation on the main resource, or None."""
    # On the hot path of every event: a plain loop, no generator.
    metadata = live.get("metadata")
    entries = metadata.get("managedFields") if metadata.__class__ is dict else None
    if entries.__class__ is not list:
        return None
    for entry in entries:
        if entry.__class__ is dict and entry.get("manager") == manager and entry.get("operation") == "Apply":
            if entry.get("subresource"):
                continue
            fields = entry.get("fieldsV1")
            return fields if isinstance(fields, Mapping) else None
    return None


def other_owners(live: Mapping[str, Any], manager: str = FIELD_MANAGER) -> list[tuple[str, FieldsTrie]]:
    """Every (manager, fieldsV1) entry on the main resource except `manager`'s own Apply entry."""
    owners: list[tuple[str, FieldsTrie]] = []
    for entry in _entries(live):
        if entry.get("subresource"):
            continue
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        fields = entry.get("fieldsV1")
        if isinstance(fields, Mapping):
            owners.append((str(entry.get("manager") or ""), fields))
    return owners


def owns(trie: FieldsTrie, steps: Sequence[str]) -> bool:
    """True when `trie` holds the node reached through `steps` (trie keys such as `f:spec`)."""
    node: Any = trie
    for step in steps:
        if not isinstance(node, Mapping) or step not in node:
            return False
        node = node[step]
    return True


def element_key(trie_key: str) -> Mapping[str, Any] | None:
    """The key fields of a `k:{...}` trie key, or None for any other kind of step."""
    if not trie_key.startswith("k:"):
        return None
    return _parse_json_object(trie_key[2:])


def set_value(trie_key: str) -> Any:
    """The scalar of a `v:<json>` trie key (an element of a set list such as finalizers)."""
    return json.loads(trie_key[2:])


def element_trie_key(key_fields: Mapping[str, Any]) -> str:
    """The `k:` trie key of a list-map element, in the compact, sorted-keys JSON the server writes."""
    return "k:" + json.dumps(dict(sorted(key_fields.items())), separators=(",", ":"))


@lru_cache(maxsize=8192)
def _parse_json_object(text: str) -> Mapping[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _entries(live: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    metadata = live.get("metadata")
    if not isinstance(metadata, Mapping):
        return ()
    entries = metadata.get("managedFields")
    if not isinstance(entries, list):
        return ()
    return (entry for entry in entries if isinstance(entry, Mapping))
