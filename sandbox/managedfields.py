"""Server-side apply and `metadata.managedFields`, as the API server's field manager does them.

- `server_side_apply` handles a PATCH with `application/apply-patch+yaml`: it merges the applied
  configuration into the live object, records the applier as owner of exactly what it applied,
  removes what it stopped applying unless another manager owns it, and answers a 409 naming the
  fields and their managers when it would change fields others own (unless forced).
- `track_update` gives the managedFields after any other write (POST, PUT, non-apply PATCH): the
  writer gains what it changed and the other managers lose it.

Call `track_update` after defaulting, as the real server tracks the decoded (defaulted) object;
`server_side_apply` defaults its result itself, after tracking, as the real field manager does.
"""

from __future__ import annotations

import json
from typing import Any

from core.schema.go_types import zero_object
from core.schema.model import FieldType
from sandbox.defaults import apply_defaults, drop_nulls
from sandbox.errors import StatusError, bad_request, unreasoned_server_error
from sandbox.json_tree import copy_tree
from sandbox.schemas import built_in_schema, schema_of_object
from sandbox.ssa import updater
from sandbox.ssa.fieldset import FieldSet, path_string
from sandbox.ssa.managers import (
    APPLY,
    LAST_APPLIED,
    UPDATE,
    ManagedFieldsError,
    ManagerKey,
    cap_update_managers,
    conflict_message,
    decode,
    encode,
    excluded_fields,
    last_applied_text,
    strip_server_fields,
    without_server_fields,
)
from sandbox.ssa.typed import TypedError, compare, to_field_set
from sandbox.ssa.updater import Conflicts, ManagedFields
from sandbox.ssa.values import MISSING

__all__ = ["ApplyConflict", "fields_of", "server_side_apply", "track_update"]

_CURRENT_OPERATION = ManagerKey("current-operation", UPDATE)
_BEFORE_FIRST_APPLY = "before-first-apply"
_KUBECTL = "kubectl"


class ApplyConflict(StatusError):
    """A 409 from server-side apply; `conflicts` lists (field path as kubectl prints it, manager)."""

    def __init__(self, conflicts: list[tuple[str, str]], message: str, causes: list[dict[str, str]]) -> None:
        super().__init__(409, "Conflict", message, details={"causes": causes})
        self.conflicts = conflicts


def _group_kind(obj: dict[str, Any]) -> tuple[str, str, str]:
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    return group, str(obj.get("kind") or ""), api_version


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy without metadata.managedFields (which is never copied, only dropped)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return copy_tree(obj)
    trimmed = {key: value for key, value in metadata.items() if key != "managedFields"}
    return copy_tree({**obj, "metadata": trimmed})


def _object_label(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    group, kind, api_version = _group_kind(obj)
    version = api_version.rpartition("/")[2]
    return f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}; {group}/{version}, Kind={kind}"


def fields_of(obj: dict[str, Any], *, group: str, kind: str) -> dict[str, Any]:
    """The FieldsV1 trie of the fields an object sets, without the server-owned metadata: what an
    Apply entry records when this object is the applied configuration."""
    version = str(obj.get("apiVersion") or "").rpartition("/")[2]
    owned = to_field_set(_without_managed_fields(obj), built_in_schema(group, version, kind))
    return without_server_fields(owned).to_fields_v1()


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    now: str,
    subresource: str | None = None,
    status_subresource: bool | None = None,
    field_type: FieldType | None = None,
) -> dict[str, Any]:
    """The object after applying `applied` as `manager` (live None creates it), with managedFields
    updated and server defaults filled in. Raises ApplyConflict (409) on conflicts unless forced,
    and 400/500 Status errors as the real server does for a bad configuration. `field_type` is the
    kind's schema; a built-in kind's is found from the object's apiVersion and kind."""
    metadata = applied.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    group, kind, api_version = _group_kind(applied)
    if field_type is None:
        field_type = schema_of_object(applied)
    excluded = excluded_fields(group, kind, subresource, status_subresource=status_subresource)
    config = copy_tree(applied)
    creating = live is None
    live_obj = _zero_of(applied) if live is None else _without_managed_fields(live)
    try:
        managers, times = decode(None if live is None else (live.get("metadata") or {}).get("managedFields"))
    except ManagedFieldsError as error:
        raise unreasoned_server_error(f"failed to decode managed fields: {error}") from None
    key = ManagerKey.for_write(manager, APPLY, api_version, subresource)

    def attempt(forced: bool) -> tuple[Any, ManagedFields, dict[ManagerKey, str | None]]:
        attempt_times = dict(times)
        attempt_managers = managers
        if not attempt_managers and not creating:
            attempt_managers = _track(
                _zero_of(applied),
                live_obj,
                {},
                attempt_times,
                ManagerKey.for_write(_BEFORE_FIRST_APPLY, UPDATE, api_version, None),
                api_version,
                field_type,
                excluded,
                now,
            )
        merged, result = updater.apply(
            live_obj, config, api_version, attempt_managers, key, forced, field_type, excluded
        )
        if merged is not None:
            attempt_times[key] = now
        return merged, strip_server_fields(result, key), attempt_times

    try:
        try:
            merged, result, result_times = attempt(force)
        except Conflicts as conflicts:
            allowed = (
                _allowed_by_last_applied(live_obj, api_version, field_type) if manager == _KUBECTL else None
            )
            if allowed is None:
                raise
            remaining = [(owner, path) for owner, path in conflicts.conflicts if not allowed.has(path)]
            if remaining:
                raise Conflicts(remaining) from None
            merged, result, result_times = attempt(True)
    except Conflicts as conflicts:
        raise _apply_conflict(conflicts) from None
    except TypedError as error:
        raise unreasoned_server_error(
            f"failed to create typed patch object ({_object_label(applied)}): {error}"
        ) from None
    obj = copy_tree(live_obj) if merged is None else merged
    if manager == _KUBECTL and ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED):
        obj["metadata"]["annotations"][LAST_APPLIED] = last_applied_text(applied)
    entries = encode(result, result_times)
    obj.setdefault("metadata", {})
    if entries:
        obj["metadata"]["managedFields"] = entries
    else:
        obj["metadata"].pop("managedFields", None)
    if merged is not None:
        drop_nulls(obj)
        apply_defaults(obj, group=group, kind=kind)
    return obj


def _zero_of(obj: dict[str, Any]) -> dict[str, Any]:
    group, kind, _ = _group_kind(obj)
    zero = zero_object(group, kind)
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), **zero}


def _apply_conflict(conflicts: Conflicts) -> ApplyConflict:
    pairs = [(owner, path) for owner, path in conflicts.conflicts if isinstance(owner, ManagerKey)]
    message, causes = conflict_message(pairs)
    return ApplyConflict([(path_string(path), owner.manager) for owner, path in pairs], message, causes)


def _allowed_by_last_applied(
    live: dict[str, Any], api_version: str, field_type: FieldType
) -> FieldSet | None:
    """The fields kubectl may take over from its own client-side apply: those of the last-applied
    annotation that still hold their last-applied value (lastAppliedManager)."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        last_fields = to_field_set(last, field_type)
        comparison = compare(last, live, field_type)
    except TypedError:
        return None
    return (
        last_fields.difference(comparison.modified)
        .difference(comparison.added)
        .difference(comparison.removed)
    )


def _track(
    old: Any,
    new: Any,
    managers: ManagedFields,
    times: dict[ManagerKey, str | None],
    key: ManagerKey,
    api_version: str,
    field_type: FieldType,
    excluded: FieldSet,
    now: str,
) -> ManagedFields:
    """An Update through the field manager's layers: record the change as the current operation,
    strip server metadata, fold it into the writer's entry, cap the update managers."""
    result = updater.update(old, new, api_version, managers, _CURRENT_OPERATION, field_type, excluded)
    result = strip_server_fields(result, _CURRENT_OPERATION)
    current = result.pop(_CURRENT_OPERATION, None)
    if current is not None:
        previous = result.get(key)
        fields = current.fields.union(previous.fields) if previous is not None else current.fields
        result[key] = updater.VersionedSet(fields, current.api_version, False)
        times[key] = now
    return cap_update_managers(result, times)


def _is_reset(entries: Any) -> bool:
    if entries is MISSING or entries is None:
        return False
    return bool(entries == [] or entries == [{}])


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    now: str,
    subresource: str | None = None,
    status_subresource: bool | None = None,
    field_type: FieldType | None = None,
) -> list[dict[str, Any]]:
    """managedFields after a non-apply write of `new` over `old` (None for a create) by `manager`.
    The entries come from `new` when it carries a readable non-empty list (a client may set them;
    `[]` clears them), else from `old`. An update of an object that has no managedFields is not
    tracked, as on a real server."""
    group, kind, api_version = _group_kind(new)
    old_entries = None if old is None else (old.get("metadata") or {}).get("managedFields")
    new_entries = (new.get("metadata") or {}).get("managedFields", MISSING)
    managers: ManagedFields = {}
    times: dict[ManagerKey, str | None] = {}
    source = old_entries
    if not subresource and _is_reset(new_entries):
        source = None
    elif not subresource and isinstance(new_entries, list) and new_entries:
        try:
            managers, times = decode(new_entries)
        except ManagedFieldsError:
            managers = {}
        source = None if managers else old_entries
    if source is not None:
        try:
            managers, times = decode(source)
        except ManagedFieldsError:
            managers, times = {}, {}
    if not managers and old is not None:
        return []
    if field_type is None:
        field_type = schema_of_object(new)
    excluded = excluded_fields(group, kind, subresource, status_subresource=status_subresource)
    key = ManagerKey.for_write(manager, UPDATE, api_version, subresource)
    before = _zero_of(new) if old is None else _without_managed_fields(old)
    try:
        result = _track(
            before, _without_managed_fields(new), managers, times, key, api_version, field_type, excluded, now
        )
    except TypedError:
        return list(old_entries) if isinstance(old_entries, list) else []
    return encode(result, times)
