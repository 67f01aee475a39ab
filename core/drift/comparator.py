"""The drift comparator: what a sync would change in a live object, field by field (DESIGN "Drift rules").

One engine decides and explains: `diff` returns the list of changes, and an object is in sync
exactly when that list is empty.

- Rule 1: every field the desired object sets must equal the live field; live-only fields are
  server defaults or other controllers' and are ignored.
- Rule 2: a field kubedrift applied before (its Apply entry in managedFields) that desired no
  longer sets is drift, unless another manager also owns it (then a sync would keep it).
- Lists of objects with a merge key match by key; other lists compare whole and in order.

This runs for every watch event, so it is written to allocate little: equal subtrees are skipped
with one C-level `==`, and paths are only built where the two sides differ.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from core.drift.managedfields import (
    FieldsTrie,
    applied_fields,
    element_key,
    element_trie_key,
    other_owners,
    owns,
    set_value,
)
from core.drift.quantity import same_quantity
from core.drift.rules import (
    DEFAULT_RULES,
    IGNORE_ALL,
    MERGE_KEYS,
    OMITTED_WHEN_ZERO,
    QUANTITY_FIELDS,
    QUANTITY_MAPS,
    SET_LISTS,
    DiffRules,
    IgnoreTrie,
    element_identity,
    escape_segment,
    identity_fields,
    is_keyed_list,
)
from core.model import NO_DRIFT, SECRET_MASK, Change, Drift

_ABSENT: Final = object()
_NO_IGNORE: Final[IgnoreTrie] = {}


def diff(
    desired: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    rules: DiffRules = DEFAULT_RULES,
    *,
    in_sync: Collection[str] = (),
) -> Drift:
    """The changes a sync of `desired` would make to `live` (None: the object is missing).

    `in_sync` names top-level fields already proven to match (by `core.drift.compiled`): they are
    not walked again. The verdict is the same either way; only the time differs.
    """
    if live is None:
        return Drift((Change("", _masked_object(desired) if rules.secret else dict(desired), None),))
    comparer = _Comparer(live)
    if rules.secret:
        comparer.compare_secret(desired, live, rules.ignore, comparer.owned)
    else:
        comparer.compare_map(desired, live, "", rules.ignore, comparer.owned, "", (), in_sync)
    if not comparer.changes:
        return NO_DRIFT
    return Drift(tuple(comparer.changes))


class _Comparer:
    """One comparison's state: the changes found and the managedFields it consults."""

    __slots__ = ("_others", "changes", "live", "owned")

    def __init__(self, live: Mapping[str, Any]) -> None:
        self.live = live
        self.owned: FieldsTrie | None = applied_fields(live)
        self._others: list[tuple[str, FieldsTrie]] | None = None
        self.changes: list[Change] = []

    # Rule 1 and the recursion.

    def compare_map(
        self,
        desired: Mapping[str, Any],
        live: Mapping[str, Any],
        path: str,
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
        owner_field: str,
        steps: tuple[str, ...],
        skip: Collection[str] = (),
    ) -> None:
        for name, want in desired.items():
            if skip and name in skip:
                continue
            sub_ignore = ignore.get(name, _NO_IGNORE) if ignore else _NO_IGNORE
            if sub_ignore is IGNORE_ALL:
                continue
            have = live.get(name, _ABSENT)
            if want is have or want == have:
                continue
            sub_owned = _node(owned, "f:" + name)
            self.compare_value(
                want,
                have,
                f"{path}/{escape_segment(name)}",
                sub_ignore,
                sub_owned,
                name,
                owner_field,
                steps + ("f:" + name,),
            )
        if owned:
            self._removed_fields(desired, live, path, ignore, owned, steps)

    def compare_value(
        self,
        want: Any,
        have: Any,
        path: str,
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
        field: str,
        owner_field: str,
        steps: tuple[str, ...],
    ) -> None:
        if want is None:
            return  # an explicit null in a manifest sets nothing
        if have is _ABSENT or have is None:
            if not _reads_back_absent(want, field):
                self.changes.append(Change(path, want, None))
            return
        if isinstance(want, dict):
            if isinstance(have, dict):
                self.compare_map(want, have, path, ignore, owned, field, steps)
            else:
                self.changes.append(Change(path, want, have))
            return
        if isinstance(want, list):
            if not isinstance(have, list):
                if want:
                    self.changes.append(Change(path, want, have))
            elif field in SET_LISTS:
                self._compare_set(want, have, path, owned, steps)
            elif is_keyed_list(field, owner_field) and _all_maps(want):
                self._compare_keyed(want, have, path, ignore, owned, field, steps)
            elif not _lists_match(want, have, ignore, field):
                self.changes.append(Change(path, want, have))
            return
        if (owner_field in QUANTITY_MAPS or field in QUANTITY_FIELDS) and same_quantity(want, have):
            return
        self.changes.append(Change(path, want, have))

    def _compare_keyed(
        self,
        want: list[Any],
        have: list[Any],
        path: str,
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
        field: str,
        steps: tuple[str, ...],
    ) -> None:
        live_by_identity: dict[tuple[Any, ...], tuple[int, Mapping[str, Any]]] = {}
        for index, element in enumerate(have):
            if isinstance(element, dict):
                identity = element_identity(element, field)
                if identity is not None:
                    live_by_identity.setdefault(identity, (index, element))
        desired_identities: set[tuple[Any, ...]] = set()
        for index, element in enumerate(want):
            sub_ignore = ignore.get(str(index), _NO_IGNORE) if ignore else _NO_IGNORE
            identity = element_identity(element, field)
            if identity is not None:
                desired_identities.add(identity)
            if sub_ignore is IGNORE_ALL:
                continue
            found = live_by_identity.get(identity) if identity is not None else None
            element_path = f"{path}/{index}"
            if found is None:
                self.changes.append(Change(element_path, element, None))
                continue
            live_element = found[1]
            if element == live_element:
                continue
            trie_key = _element_trie_key(field, identity, "containerPort" in element) if owned else ""
            sub_owned = _node(owned, trie_key)
            self.compare_map(
                element, live_element, element_path, sub_ignore, sub_owned, field, steps + (trie_key,)
            )
        if not owned:
            return
        # Rule 2 for elements: a live element kubedrift applied that Git no longer lists.
        for trie_key in owned:
            key_fields = element_key(trie_key)
            if key_fields is None:
                continue
            identity = element_identity(key_fields, field)
            if identity is None or identity in desired_identities:
                continue
            found = live_by_identity.get(identity)
            if found is not None and not self._owned_by_others(steps + (trie_key,)):
                self.changes.append(Change(f"{path}/{found[0]}", None, found[1]))

    def _compare_set(
        self, want: list[Any], have: list[Any], path: str, owned: FieldsTrie | None, steps: tuple[str, ...]
    ) -> None:
        present = set(_hashable(v) for v in have)
        for index, value in enumerate(want):
            if _hashable(value) not in present:
                self.changes.append(Change(f"{path}/{index}", value, None))
        if not owned:
            return
        wanted = set(_hashable(v) for v in want)
        for trie_key in owned:
            if not trie_key.startswith("v:"):
                continue
            value = set_value(trie_key)
            if _hashable(value) in wanted or _hashable(value) not in present:
                continue
            if not self._owned_by_others(steps + (trie_key,)):
                position = next(i for i, v in enumerate(have) if _hashable(v) == _hashable(value))
                self.changes.append(Change(f"{path}/{position}", None, value))

    # Rule 2: fields removed in Git.

    def _removed_fields(
        self,
        desired: Mapping[str, Any],
        live: Mapping[str, Any],
        path: str,
        ignore: IgnoreTrie,
        owned: FieldsTrie,
        steps: tuple[str, ...],
    ) -> None:
        for trie_key in owned:
            if not trie_key.startswith("f:"):
                continue
            name = trie_key[2:]
            if name in desired and desired[name] is not None:
                continue
            if ignore and ignore.get(name) is IGNORE_ALL:
                continue
            have = live.get(name)
            if _is_empty(have):
                continue
            sub_ignore = ignore.get(name, _NO_IGNORE) if ignore else _NO_IGNORE
            if sub_ignore and isinstance(have, dict):
                # Part of this field is ignored (kubedrift's own tracking label, say): judge the rest.
                self.compare_map(
                    {},
                    have,
                    f"{path}/{escape_segment(name)}",
                    sub_ignore,
                    _node(owned, trie_key),
                    name,
                    steps + (trie_key,),
                )
            elif not self._owned_by_others(steps + (trie_key,)):
                self.changes.append(Change(f"{path}/{escape_segment(name)}", None, have))

    def _owned_by_others(self, steps: tuple[str, ...]) -> bool:
        if self._others is None:
            self._others = other_owners(self.live)
        return any(owns(trie, steps) for _, trie in self._others)

    # Secrets: compared through their base64 data, never shown.

    def compare_secret(
        self,
        desired: Mapping[str, Any],
        live: Mapping[str, Any],
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
    ) -> None:
        plain = {k: v for k, v in desired.items() if k not in ("data", "stringData")}
        self.compare_map(plain, live, "", ignore, _without_data(owned) if owned else None, "", ())
        live_data = live.get("data")
        if not isinstance(live_data, Mapping):
            live_data = {}
        wanted = wanted_secret_data(desired, ignore)
        for name, (pointer, encoded) in wanted.items():
            have = live_data.get(name)
            if have != encoded:
                self.changes.append(Change(pointer, SECRET_MASK, None if have is None else SECRET_MASK, True))
        if not owned:
            return
        # The server folds stringData into data, so either section of the Apply entry names a data key.
        for section in ("f:data", "f:stringData"):
            for trie_key in owned.get(section) or {}:
                name = trie_key[2:]
                if not trie_key.startswith("f:") or name in wanted or name not in live_data:
                    continue
                if not self._owned_by_others(("f:data", trie_key)):
                    self.changes.append(Change(f"/data/{escape_segment(name)}", None, SECRET_MASK, True))


def wanted_secret_data(desired: Mapping[str, Any], ignore: IgnoreTrie) -> dict[str, tuple[str, str]]:
    """What a sync of Secret `desired` leaves in `data`, by key: (pointer in desired, base64 value).

    The server folds `stringData` into `data` (stringData wins), and base64 may be wrapped.
    """
    wanted: dict[str, tuple[str, str]] = {}
    for section in ("data", "stringData"):
        values = desired.get(section) or {}
        section_ignore = ignore.get(section, _NO_IGNORE) if ignore else _NO_IGNORE
        if section_ignore is IGNORE_ALL or not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            if section_ignore.get(name) is IGNORE_ALL:
                continue
            encoded = _b64(value) if section == "stringData" else "".join(str(value).split())
            wanted[name] = (f"/{section}/{escape_segment(name)}", encoded)
    return wanted


@lru_cache(maxsize=4096)
def _element_trie_key(field: str, identity: tuple[Any, ...], container_port: bool) -> str:
    """The managedFields `k:` key of a list element, cached since the same few elements recur."""
    if field == "ports":
        names: tuple[str, ...] = ("containerPort" if container_port else "port", "protocol")
    else:
        names = MERGE_KEYS[field]
    return element_trie_key(identity_fields(dict(zip(names, identity, strict=True)), field))


def _node(owned: FieldsTrie | None, step: str) -> FieldsTrie | None:
    """The child of a managedFields trie node; a malformed node counts as owning nothing."""
    if not owned:
        return None
    child = owned.get(step)
    return child if isinstance(child, dict) else None


def _reads_back_absent(value: Any, field: str) -> bool:
    """True when a desired value would be absent from the live object after a sync."""
    if _is_empty(value):
        return True
    return field in OMITTED_WHEN_ZERO and (value is False or value == 0)


def _is_empty(value: Any) -> bool:
    """Empty maps, lists and strings equal absence (the server omits them); so do maps of empties."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    return isinstance(value, dict) and all(_is_empty(v) for v in value.values())


def _all_maps(values: Sequence[Any]) -> bool:
    return all(isinstance(v, dict) for v in values)


def _lists_match(want: list[Any], have: list[Any], ignore: IgnoreTrie, field: str) -> bool:
    """Atomic lists: same length and order; object elements match on what desired sets."""
    if len(want) != len(have):
        return False
    for index, (left, right) in enumerate(zip(want, have, strict=True)):
        if left == right:
            continue
        if isinstance(left, dict) and isinstance(right, dict):
            probe = _Comparer({})
            sub_ignore = ignore.get(str(index), _NO_IGNORE) if ignore else _NO_IGNORE
            if sub_ignore is IGNORE_ALL:
                continue
            probe.compare_map(left, right, "", sub_ignore, None, field, ())
            if probe.changes:
                return False
        else:
            return False
    return True


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _b64(value: Any) -> str:
    return base64.b64encode(str(value).encode()).decode()


def _without_data(owned: FieldsTrie) -> FieldsTrie:
    return {k: v for k, v in owned.items() if k not in ("f:data", "f:stringData")}


def _masked_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    masked = dict(obj)
    for section in ("data", "stringData"):
        values = masked.get(section)
        if isinstance(values, Mapping):
            masked[section] = {k: SECRET_MASK for k in values}
    return masked
