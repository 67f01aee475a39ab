"""The drift comparator: what a sync would change in a live object, field by field (DESIGN "Drift rules").

One engine decides and explains: `diff` returns the list of changes, and an object is in sync
exactly when that list is empty. The structure of the kind comes from its schema (`DiffRules.schema`,
a `core.schema.FieldType`), never from tables keyed by field name:

- Rule 1: every field the desired object sets must equal the live field; live-only fields are
  server defaults or other controllers' and are ignored.
- Rule 2: a field kubedrift applied before (its Apply entry in managedFields) that desired no
  longer sets is drift, unless another manager also owns it (then a sync would keep it).
- Rule 3, lists by their schema type: `map` lists match by their list-map keys (key defaults
  applied; duplicates one to one, in order), and a different relative order of desired's elements
  in live is drift at the list (a sync reorders them); `set` lists compare as sets; `atomic` lists,
  and atomic maps such as label selectors, compare whole and in order. Inside an atomic value a
  live-only field is drift only when kubedrift no longer owns the value (another manager replaced
  it, as a hand-added toleration's `tolerationSeconds`); while kubedrift owns it, the live-only
  fields are what the server fills in again on every write (defaults).
- Rule 4, normalisation: Quantity fields by value wherever the schema says Quantity; an empty map
  or list equals an absent one; a struct's scalar field set to its zero value (`""`, `false`, `0`)
  reads back absent (Go `omitempty`), and a desired `""` there is left to the server (it defaults or
  allocates it: `clusterIP: ""`); in maps of strings (labels, annotations, ConfigMap data) `""` is a
  value; an explicit `null` sets nothing; fields `kubectl.kubernetes.io/last-applied-configuration`
  holds but Git dropped are drift while kubectl's client-side apply still owns them in
  managedFields; Secret `stringData` is compared as base64 `data`, line-wrapped base64 as one line.
- A kind no schema source knows is deduced from its values (maps granular, lists atomic), as
  structured-merge-diff types an untyped object.

This runs for every watch event that the compiled fast path cannot vouch for, so it is written to
allocate little: equal subtrees are skipped with one C-level `==`, and paths are only built where
the two sides differ.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from core.drift.keys import Identity, identity_trie_key, list_identity
from core.drift.last_applied import has_last_applied, last_applied_changes
from core.drift.managedfields import (
    FieldsTrie,
    applied_fields,
    element_key,
    other_owners,
    owns,
    set_value,
)
from core.drift.normalise import reads_back_absent, removal_changes
from core.drift.quantity import same_quantity
from core.drift.redefault import redefaulted
from core.drift.rules import (
    DEFAULT_RULES,
    IGNORE_ALL,
    DiffRules,
    IgnoreTrie,
    escape_segment,
    schema_for,
)
from core.drift.secret_data import masked_object, wanted_secret_data, without_data
from core.model import NO_DRIFT, SECRET_MASK, Change, Drift
from core.schema import ANY, ATOMIC_LIST, DEDUCED_MAP, SCALAR, FieldType, ListType, Shape

_ABSENT: Final = object()
_STRUCT: Final = Shape.STRUCT
_MAP: Final = Shape.MAP
_LIST: Final = Shape.LIST
_ANY: Final = Shape.ANY
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
        return Drift((Change("", masked_object(desired) if rules.secret else dict(desired), None),))
    schema = rules.schema
    if schema is None:
        schema = schema_for(desired, rules)
    comparer = _Comparer(live)
    if rules.secret:
        comparer.compare_secret(desired, live, rules.ignore, comparer.owned, schema)
    else:
        comparer.compare_map(desired, live, "", rules.ignore, comparer.owned, schema, (), in_sync)
    if has_last_applied(live):
        comparer.changes.extend(
            last_applied_changes(desired, live, rules.ignore, schema, {c.path for c in comparer.changes})
        )
    changes = comparer.changes
    if not rules.secret and any(change.desired is None for change in changes):
        changes = redefaulted(live, changes)  # what the server's defaulting puts back is no change
    if not changes:
        return NO_DRIFT
    return Drift(tuple(changes))


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
        ftype: FieldType,
        steps: tuple[str, ...],
        skip: Collection[str] = (),
    ) -> None:
        fields = ftype.fields  # a map's (`map[string]X`) are empty: its keys are data
        other = ftype.element or ANY
        for name, want in desired.items():
            if skip and name in skip:
                continue
            sub_ignore = ignore.get(name, _NO_IGNORE) if ignore else _NO_IGNORE
            if sub_ignore is IGNORE_ALL:
                continue
            have = live.get(name, _ABSENT)
            if want is have or want == have:
                continue
            child = fields.get(name)  # the schema's node, looked up once per differing field
            if child is None:
                child = other
                named = False
            else:
                named = True
            trie_key = "f:" + name
            if (
                want.__class__ is dict
                and have.__class__ is dict
                and (child.shape is _STRUCT or child.shape is _MAP)
                and not child.atomic
            ):
                # The common case, without a call through compare_value.
                self.compare_map(
                    want,
                    have,
                    f"{path}/{escape_segment(name)}",
                    sub_ignore,
                    _node(owned, trie_key),
                    child,
                    steps + (trie_key,),
                )
                continue
            self.compare_value(
                want,
                have,
                f"{path}/{escape_segment(name)}",
                sub_ignore,
                _node(owned, trie_key),
                child,
                named,
                steps + (trie_key,),
            )
        if owned:
            self._removed_fields(desired, live, path, ignore, owned, ftype, steps)

    def compare_value(
        self,
        want: Any,
        have: Any,
        path: str,
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
        ftype: FieldType,
        struct_field: bool,
        steps: tuple[str, ...],
    ) -> None:
        if want is None:
            return  # an explicit null in a manifest sets nothing
        if struct_field and want == "" and want.__class__ is str:
            return  # the server defaults or allocates a struct's empty string (`clusterIP: ""`)
        shape = ftype.shape
        if want.__class__ is dict:
            if shape is not _STRUCT and shape is not _MAP:
                ftype = DEDUCED_MAP
        elif want.__class__ is list:
            if shape is not _LIST:
                ftype = ATOMIC_LIST
        elif shape is _ANY:
            ftype = SCALAR
        if have is _ABSENT or have is None:
            if not reads_back_absent(want, ftype, struct_field):
                self.changes.append(Change(path, want, None))
            return
        if isinstance(want, dict):
            if not isinstance(have, dict):
                self.changes.append(Change(path, want, have))
            elif ftype.atomic:
                self._compare_atomic(want, have, path, ignore, ftype, self._replaced(owned))
            else:
                self.compare_map(want, have, path, ignore, owned, ftype, steps)
            return
        if isinstance(want, list):
            if not isinstance(have, list):
                if want:
                    self.changes.append(Change(path, want, have))
            elif ftype.list_type is ListType.SET:
                self._compare_set(want, have, path, owned, steps)
            elif ftype.list_type is ListType.MAP and ftype.list_keys and _all_maps(want):
                self._compare_keyed(want, have, path, ignore, owned, ftype, steps)
            elif not want:
                self.changes.append(Change(path, want, have))
            else:
                self._compare_atomic(want, have, path, ignore, ftype, self._replaced(owned))
            return
        if ftype.quantity and same_quantity(want, have):
            return
        self.changes.append(Change(path, want, have))

    def _replaced(self, owned: FieldsTrie | None) -> bool:
        """Whether an atomic value kubedrift applied was replaced by another manager since: kubedrift
        has an Apply entry but no longer owns the value. Its live-only fields are then drift."""
        return self.owned is not None and owned is None

    def _compare_atomic(
        self, want: Any, have: Any, path: str, ignore: IgnoreTrie, ftype: FieldType, strict: bool
    ) -> None:
        """An atomic value (list, or map with `x-kubernetes-map-type: atomic`), which a sync
        replaces whole: desired's parts must match in order; live-only parts count when `strict`."""
        if want is None:
            return
        ftype = ftype.resolved(want)
        if isinstance(want, dict):
            if not isinstance(have, dict):
                self.changes.append(Change(path, want, have))
                return
            struct = ftype.shape is Shape.STRUCT
            for name, value in want.items():
                sub_ignore = ignore.get(name, _NO_IGNORE) if ignore else _NO_IGNORE
                if sub_ignore is IGNORE_ALL or value is None:
                    continue
                other = have.get(name, _ABSENT)
                if value == other:
                    continue
                struct_field = struct and name in ftype.fields
                sub_path = f"{path}/{escape_segment(name)}"
                child = ftype.child(name)
                if other is _ABSENT or other is None:
                    if not reads_back_absent(value, child.resolved(value), struct_field):
                        self.changes.append(Change(sub_path, value, None))
                elif struct_field and value == "" and value.__class__ is str:
                    continue
                else:
                    self._compare_atomic(value, other, sub_path, sub_ignore, child, strict)
            if strict:
                # Inside a replaced atomic value even an empty map is a value a sync removes.
                for name, other in have.items():
                    if name in want and want[name] is not None:
                        continue
                    if ignore and ignore.get(name) is IGNORE_ALL:
                        continue
                    if other is not None:
                        self.changes.append(Change(f"{path}/{escape_segment(name)}", None, other))
            return
        if isinstance(want, list):
            if not isinstance(have, list):
                if want:
                    self.changes.append(Change(path, want, have))
                return
            if not want or not _all_maps(want) or not _all_maps(have):
                # Scalars (args, dnsNames) compare whole: reported once, at the list.
                if want != have:
                    self.changes.append(Change(path, want, have))
                return
            item = ftype.item()
            shared = min(len(want), len(have))
            for index in range(shared):
                sub_ignore = ignore.get(str(index), _NO_IGNORE) if ignore else _NO_IGNORE
                if sub_ignore is IGNORE_ALL or want[index] == have[index]:
                    continue
                self._compare_atomic(want[index], have[index], f"{path}/{index}", sub_ignore, item, strict)
            for index in range(shared, len(want)):
                self.changes.append(Change(f"{path}/{index}", want[index], None))
            for index in range(shared, len(have)):
                self.changes.append(Change(f"{path}/{index}", None, have[index]))
            return
        if want == have or (ftype.quantity and same_quantity(want, have)):
            return
        self.changes.append(Change(path, want, have))

    def _compare_keyed(
        self,
        want: list[Any],
        have: list[Any],
        path: str,
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
        ftype: FieldType,
        steps: tuple[str, ...],
    ) -> None:
        # Live positions by key. Duplicates (rare) keep their later positions in `extra`, in order,
        # so that desired's elements match them one to one.
        live_by_identity: dict[Identity, int] = {}
        extra: dict[Identity, list[int]] | None = None
        for index, element in enumerate(have):
            if element.__class__ is dict:
                identity = list_identity(element, ftype)
                if identity is not None:
                    if identity in live_by_identity:
                        if extra is None:
                            extra = {}
                        extra.setdefault(identity, []).append(index)
                    else:
                        live_by_identity[identity] = index
        item = ftype.item()
        found_before = len(self.changes)
        last_matched = -1
        reordered = False
        desired_identities: set[Identity] = set()
        for index, element in enumerate(want):
            identity = list_identity(element, ftype)
            live_index: int | None = None
            if identity is not None:
                live_index = live_by_identity.pop(identity, None)
                if live_index is None and extra and extra.get(identity):
                    live_index = extra[identity].pop(0)
                desired_identities.add(identity)
            if ignore and ignore.get(str(index)) is IGNORE_ALL:
                continue
            element_path = f"{path}/{index}"
            if live_index is None:
                self.changes.append(Change(element_path, element, None))
                continue
            if live_index < last_matched:
                reordered = True
            last_matched = live_index
            live_element = have[live_index]
            if element == live_element:
                continue
            sub_ignore = ignore.get(str(index), _NO_IGNORE) if ignore else _NO_IGNORE
            trie_key = identity_trie_key(ftype, identity) if owned and identity is not None else ""
            self.compare_map(
                element,
                live_element,
                element_path,
                sub_ignore,
                _node(owned, trie_key),
                item if item.shape is _STRUCT or item.shape is _MAP else DEDUCED_MAP,
                steps + (trie_key,),
            )
        if reordered and len(self.changes) == found_before:
            # A sync orders the elements as desired does ($(VAR) references in env depend on it).
            # Reported at the list, and only when no element differs (those changes already tell).
            self.changes.append(Change(path, want, have))
        if extra:
            # Leftover live occurrences of a key desired names: a sync replaces every one of them.
            for identity in desired_identities:
                for live_index in extra.get(identity) or ():
                    self.changes.append(Change(f"{path}/{live_index}", None, have[live_index]))
        if not owned:
            return
        # Rule 2 for elements: a live element kubedrift applied that Git no longer lists.
        for trie_key in owned:
            key_fields = element_key(trie_key)
            if key_fields is None:
                continue
            identity = list_identity(key_fields, ftype)
            if identity is None or identity in desired_identities or identity not in live_by_identity:
                continue
            if not self._owned_by_others(steps + (trie_key,)):
                occurrences = [live_by_identity[identity], *((extra or {}).get(identity) or ())]
                for live_index in occurrences:
                    self.changes.append(Change(f"{path}/{live_index}", None, have[live_index]))

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
        ftype: FieldType,
        steps: tuple[str, ...],
    ) -> None:
        for trie_key in owned:
            if not trie_key.startswith("f:"):
                continue
            name = trie_key[2:]
            if name in desired:
                continue  # set by Git, or applied as an explicit null (which sets nothing)
            if ignore and ignore.get(name) is IGNORE_ALL:
                continue
            have = live.get(name, _ABSENT)
            if have is _ABSENT or not removal_changes(have, ftype, name):
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
                    ftype.child(name).resolved(have),
                    steps + (trie_key,),
                )
            elif not self._owned_by_others(steps + (trie_key,)):
                self.changes.append(Change(f"{path}/{escape_segment(name)}", None, have))

    def _owned_by_others(self, steps: tuple[str, ...]) -> bool:
        if self._others is None:
            self._others = other_owners(self.live)
        return any(owns(trie, steps) for _, trie in self._others)

    # Rule 4: what kubectl's client-side apply would delete.

    # Secrets: compared through their base64 data, never shown.

    def compare_secret(
        self,
        desired: Mapping[str, Any],
        live: Mapping[str, Any],
        ignore: IgnoreTrie,
        owned: FieldsTrie | None,
        schema: FieldType,
    ) -> None:
        plain = {k: v for k, v in desired.items() if k not in ("data", "stringData")}
        self.compare_map(plain, live, "", ignore, without_data(owned) if owned else None, schema, ())
        live_data = live.get("data")
        if not isinstance(live_data, Mapping):
            live_data = {}
        wanted = wanted_secret_data(desired, ignore)
        for name, (pointer, encoded) in wanted.items():
            have = live_data.get(name)
            if have != encoded and not (isinstance(have, str) and "".join(have.split()) == encoded):
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


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _node(owned: FieldsTrie | None, step: str) -> FieldsTrie | None:
    """The child of a managedFields trie node; a malformed node counts as owning nothing."""
    if not owned:
        return None
    child = owned.get(step)
    return child if isinstance(child, dict) else None


def _all_maps(values: list[Any]) -> bool:
    return all(isinstance(v, dict) for v in values)
