"""DESIGN rule 4, last-applied: what `kubectl apply` (client-side) would delete, kubedrift's sync deletes.

Objects first made with `kubectl apply` carry `kubectl.kubernetes.io/last-applied-configuration`.
A field it holds but Git dropped is drift while kubectl's client-side apply still owns the field in
managedFields: kubedrift's sync moves that ownership to itself and then removes the field. Once
another manager took the field (an HPA's scale write of replicas), the sync leaves it: ownership, not
the annotation alone, decides (corpus case 030).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, Final

from core.drift.keys import Identity, identity_trie_key, list_identity
from core.drift.managedfields import FieldsTrie, owns
from core.drift.normalise import is_empty
from core.drift.rules import IGNORE_ALL, IgnoreTrie, escape_segment
from core.model import Change
from core.schema import FieldType, ListType

_ABSENT: Final = object()
_NO_IGNORE: Final[IgnoreTrie] = {}
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
# The managers that write last-applied-configuration: `kubectl apply` (client-side) records its
# writes as an Update by `kubectl-client-side-apply`; kubectl before 1.18 as an Update by `kubectl`.
# (`kubectl apply --server-side` is an Apply by `kubectl`, and leaves no annotation.)
CLIENT_SIDE_APPLY_MANAGERS: Final = frozenset({"kubectl-client-side-apply", "kubectl"})


def has_last_applied(live: Mapping[str, Any]) -> bool:
    """Whether `live` carries kubectl's last-applied-configuration while kubectl's client-side
    apply still owns fields of it: only then can the annotation name drift (see compare_last_applied).
    Cheap when it does not, as after kubedrift's first sync took the client-side ownership over."""
    metadata = live.get("metadata")
    if metadata.__class__ is not dict:
        return False
    annotations = metadata.get("annotations")
    if annotations.__class__ is not dict or LAST_APPLIED not in annotations:
        return False
    entries = metadata.get("managedFields")
    if entries.__class__ is not list:
        return False
    for entry in entries:
        if entry.__class__ is dict:
            manager = entry.get("manager")
            if manager.__class__ is str and manager in CLIENT_SIDE_APPLY_MANAGERS:
                return True
    return False


def last_applied_changes(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    ignore: IgnoreTrie,
    schema: FieldType,
    reported: set[str],
) -> list[Change]:
    """Fields last-applied-configuration holds but Git dropped, that kubectl's client-side
    apply still owns: a sync (after moving that ownership to kubedrift) removes them. A field
    another manager took since (an HPA's replicas) stays, whatever the annotation says. Paths in
    `reported` (found by the comparator already) are not reported again."""
    metadata = live.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str):
        return []
    owners = _client_side_owners(live)
    if not owners:
        return []
    try:
        applied = json.loads(text)
    except ValueError:
        return []
    if not isinstance(applied, dict):
        return []
    walker = _LastApplied(owners, set(reported))
    walker.walk_map(applied, desired, live, "", ignore, schema, ())
    return walker.changes


def _client_side_owners(live: Mapping[str, Any]) -> list[FieldsTrie]:
    found = []
    for entry in _managed_entries(live):
        manager = entry.get("manager")
        fields = entry.get("fieldsV1")
        if (
            isinstance(manager, str)
            and manager in CLIENT_SIDE_APPLY_MANAGERS
            and entry.get("operation") == "Update"
            and not entry.get("subresource")
            and isinstance(fields, Mapping)
        ):
            found.append(fields)
    return found


class _LastApplied:
    """Walks last-applied-configuration against desired and live, reporting what Git dropped."""

    __slots__ = ("changes", "owners", "reported")

    def __init__(self, owners: list[FieldsTrie], reported: set[str]) -> None:
        self.owners = owners
        self.reported = reported
        self.changes: list[Change] = []

    def _owned(self, steps: tuple[str, ...]) -> bool:
        return any(owns(trie, steps) for trie in self.owners)

    def _report(self, path: str, have: Any) -> None:
        if path not in self.reported:
            self.reported.add(path)
            self.changes.append(Change(path, None, have))

    def walk_map(
        self,
        applied: Mapping[str, Any],
        desired: Mapping[str, Any],
        live: Mapping[str, Any],
        path: str,
        ignore: IgnoreTrie,
        ftype: FieldType,
        steps: tuple[str, ...],
        skip: Collection[str] = (),
    ) -> None:
        for name, old in applied.items():
            if old is None or (skip and name in skip):
                continue
            sub_ignore = ignore.get(name, _NO_IGNORE) if ignore else _NO_IGNORE
            if sub_ignore is IGNORE_ALL:
                continue
            have = live.get(name, _ABSENT)
            if have is _ABSENT or have is None:
                continue
            sub_steps = steps + ("f:" + name,)
            sub_path = f"{path}/{escape_segment(name)}"
            want = desired.get(name)
            child = ftype.child(name).resolved(old)
            if want is None and isinstance(old, dict) and isinstance(have, dict) and not child.atomic:
                # A granular map Git dropped: judge each of its fields (kubectl's own annotations
                # are never compared, and others may own some).
                self.walk_map(old, {}, have, sub_path, sub_ignore, child, sub_steps)
            elif want is None:
                if self._owned(sub_steps) and not is_empty(have):
                    self._report(sub_path, have)
            elif isinstance(old, dict) and isinstance(want, dict) and isinstance(have, dict):
                if not child.atomic:
                    self.walk_map(old, want, have, sub_path, sub_ignore, child, sub_steps)
            elif (
                isinstance(old, list)
                and isinstance(want, list)
                and isinstance(have, list)
                and child.list_type is ListType.MAP
                and child.list_keys
            ):
                self.walk_keyed(old, want, have, sub_path, sub_ignore, child, sub_steps)

    def walk_keyed(
        self,
        applied: list[Any],
        desired: list[Any],
        live: list[Any],
        path: str,
        ignore: IgnoreTrie,
        ftype: FieldType,
        steps: tuple[str, ...],
    ) -> None:
        wanted = {list_identity(element, ftype): element for element in desired if isinstance(element, dict)}
        live_at: dict[Identity, int] = {}
        for index, element in enumerate(live):
            if isinstance(element, dict):
                identity = list_identity(element, ftype)
                if identity is not None:
                    live_at.setdefault(identity, index)
        item = ftype.item()
        for old in applied:
            if not isinstance(old, dict):
                continue
            identity = list_identity(old, ftype)
            if identity is None or identity not in live_at:
                continue
            live_index = live_at[identity]
            sub_steps = steps + (identity_trie_key(ftype, identity),)
            want = wanted.get(identity)
            if want is None:
                if self._owned(sub_steps):
                    self._report(f"{path}/{live_index}", live[live_index])
                continue
            desired_index = next(i for i, e in enumerate(desired) if e is want)
            sub_ignore = ignore.get(str(desired_index), _NO_IGNORE) if ignore else _NO_IGNORE
            if sub_ignore is IGNORE_ALL:
                continue
            self.walk_map(
                old,
                want,
                live[live_index],
                f"{path}/{desired_index}",
                sub_ignore,
                item.resolved(old),
                sub_steps,
            )


def _managed_entries(live: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    metadata = live.get("metadata")
    entries = metadata.get("managedFields") if isinstance(metadata, Mapping) else None
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, Mapping)]
