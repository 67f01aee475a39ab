"""Ownership of fields across writes: structured-merge-diff's merge.Updater.

`update` records a non-apply write: the writer gains what it changed, the others lose it.
`apply` merges an applied configuration, makes the applier own exactly what it applied, removes what
it stopped applying (unless someone else owns it) and refuses to change fields others own unless
forced.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from core.schema.model import FieldType
from sandbox.ssa.fieldset import FieldSet, Path
from sandbox.ssa.typed import Comparison, compare, merge, remove_items, to_field_set
from sandbox.ssa.values import MISSING, json_equal

ManagerKey = Hashable


@dataclass(frozen=True)
class VersionedSet:
    """The fields one manager owns, at the API version it wrote them in."""

    fields: FieldSet
    api_version: str
    applied: bool


ManagedFields = dict[ManagerKey, VersionedSet]


class Conflicts(Exception):
    """Fields an apply would change that other managers own: (manager, path) pairs."""

    def __init__(self, conflicts: list[tuple[ManagerKey, Path]]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def _changed(comparison: Comparison) -> FieldSet:
    return comparison.modified.union(comparison.added)


def _record_change(
    old: Any,
    new: Any,
    managers: ManagedFields,
    writer: ManagerKey,
    force: bool,
    field_type: FieldType,
    excluded: FieldSet,
) -> tuple[ManagedFields, Comparison]:
    """Take the changed fields away from every manager but `writer`; without force, a changed field
    that another manager owns is a conflict instead."""
    comparison = compare(old, new, field_type).excluding(excluded)
    changed = _changed(comparison)
    conflicts: dict[ManagerKey, FieldSet] = {}
    for manager, owned in managers.items():
        if manager == writer:
            continue
        clash = owned.fields.intersection(changed)
        if not clash.empty():
            conflicts[manager] = clash
    if conflicts and not force:
        raise Conflicts([(manager, path) for manager, clash in conflicts.items() for path in clash.paths()])
    result: ManagedFields = {}
    for manager, owned in managers.items():
        fields = owned.fields
        if manager != writer:
            if manager in conflicts:
                fields = fields.difference(conflicts[manager])
            if not comparison.removed.empty():
                fields = fields.difference(comparison.removed)
        if not fields.empty():
            result[manager] = VersionedSet(fields, owned.api_version, owned.applied)
    return result, comparison


def update(
    old: Any,
    new: Any,
    api_version: str,
    managers: ManagedFields,
    writer: ManagerKey,
    field_type: FieldType,
    excluded: FieldSet,
) -> ManagedFields:
    """Managed fields after a non-apply write of `new` over `old` by `writer`."""
    result, comparison = _record_change(old, new, managers, writer, True, field_type, excluded)
    previous = result.get(writer, VersionedSet(FieldSet(), api_version, False)).fields
    owned = previous.difference(comparison.removed).union(_changed(comparison)).recursive_difference(excluded)
    result.pop(writer, None)
    if not owned.empty():
        result[writer] = VersionedSet(owned, api_version, False)
    return result


def apply(
    live: Any,
    config: Any,
    api_version: str,
    managers: ManagedFields,
    applier: ManagerKey,
    force: bool,
    field_type: FieldType,
    excluded: FieldSet,
) -> tuple[Any, ManagedFields]:
    """The merged object (None when nothing changed) and the managed fields after the apply."""
    merged = merge(live, config, field_type)
    last = managers.get(applier)
    applied = to_field_set(config, field_type).recursive_difference(excluded)
    managers = {**managers, applier: VersionedSet(applied, api_version, True)}
    merged = _prune(merged, managers, last, field_type)
    managers, _ = _record_change(live, merged, managers, applier, force, field_type, excluded)
    if json_equal(live, merged):
        return None, managers
    return merged, managers


def _prune(merged: Any, managers: ManagedFields, last: VersionedSet | None, field_type: FieldType) -> Any:
    """Remove what the applier applied last time but not this time, unless another manager (or
    the new configuration) owns it."""
    if last is None or last.fields.empty():
        return merged
    last_fields = last.fields.ensure_named_fields_are_members(field_type)
    pruned = _removed(merged, last_fields, field_type)
    owned = FieldSet()
    for versioned in managers.values():
        owned = owned.union(versioned.fields)
    merged_fields = to_field_set(merged, field_type).ensure_named_fields_are_members(field_type)
    pruned_fields = to_field_set(pruned, field_type).ensure_named_fields_are_members(field_type)
    keep = pruned_fields.union(owned.ensure_named_fields_are_members(field_type))
    pruned = _removed(merged, merged_fields.difference(keep), field_type)
    pruned_fields = to_field_set(pruned, field_type).ensure_named_fields_are_members(field_type)
    return _removed(merged, merged_fields.difference(pruned_fields).intersection(last_fields), field_type)


def _removed(value: Any, paths: FieldSet, field_type: FieldType) -> Any:
    result = remove_items(value, paths, field_type)
    return {} if result is None or result is MISSING else result
