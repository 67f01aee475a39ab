"""Adopting objects made with `kubectl apply`: move client-side apply's ownership to kubedrift.

An object created or edited with client-side `kubectl apply` has a managedFields entry of manager
`kubectl-client-side-apply`, operation Update, owning every field the manifest set. A server-side
apply as `kubedrift` never removes a field another manager owns, so a field Git dropped would stay
for ever (DESIGN drift rule 4: last-applied fields Git dropped are drift, and a sync must remove
them). Before the apply, the client-side entry's fields are therefore merged into kubedrift's
Apply entry and the client-side entry is dropped, the way kubectl's client-side to server-side
upgrade does (client-go `util/csaupgrade`):

- kubedrift's Apply entry (top-level, no subresource) receives the union; when there is none yet,
  the newest client-side entry becomes it (renamed, operation Apply);
- only the client-side entry of the same apiVersion is merged; every client-side Update entry
  without subresource is dropped;
- the new list is written with a JSON patch on `/metadata/managedFields`, guarded by a `test` of
  the resourceVersion read, so a concurrent writer is never overwritten.

The last-applied annotation is owned by the client-side entry, so it becomes kubedrift's too, and
the apply (which does not carry it) removes it: the object is then plainly kubedrift's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

from core.cluster import ApiError, ClusterAdapter
from core.model import FIELD_MANAGER, ResourceKey

CSA_MANAGER: Final = "kubectl-client-side-apply"
_CONFLICT_CODES: Final = (409, 422)
"""A failed `test` op (the object changed since it was read) answers 422; some servers say 409."""


def _is_entry(entry: Mapping[str, Any], manager: str, operation: str) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and not entry.get("subresource")
    )


def has_client_side_owner(obj: Mapping[str, Any] | None, csa_manager: str = CSA_MANAGER) -> bool:
    """Whether `obj`'s managedFields has a top-level client-side apply (Update) entry to migrate."""
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or ()
    return any(_is_entry(entry, csa_manager, "Update") for entry in entries)


def union_fields(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """The union of two FieldsV1 tries (`{"f:data": {"f:a": {}}, ".": {}}`): a recursive merge."""
    merged: dict[str, Any] = {key: copy.deepcopy(value) for key, value in left.items()}
    for key, value in right.items():
        if key in merged and isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = union_fields(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def upgraded_managed_fields(
    entries: Sequence[Mapping[str, Any]],
    *,
    csa_manager: str = CSA_MANAGER,
    ssa_manager: str = FIELD_MANAGER,
) -> list[dict[str, Any]] | None:
    """managedFields with `csa_manager`'s Update ownership moved to `ssa_manager`'s Apply entry;
    None when there is no client-side entry to move."""
    fields = [dict(entry) for entry in entries]
    if not any(_is_entry(entry, csa_manager, "Update") for entry in fields):
        return None
    target = next((i for i, e in enumerate(fields) if _is_entry(e, ssa_manager, "Apply")), None)
    if target is None:
        # managedFields are newest first: the first client-side entry is the one to convert.
        target = next(i for i, e in enumerate(fields) if _is_entry(e, csa_manager, "Update"))
        fields[target] = {**fields[target], "manager": ssa_manager, "operation": "Apply"}
    merged = dict(fields[target].get("fieldsV1") or {})
    version = fields[target].get("apiVersion")
    same_version = next(
        (e for e in fields if _is_entry(e, csa_manager, "Update") and e.get("apiVersion") == version),
        None,
    )
    if same_version is not None:
        merged = union_fields(merged, same_version.get("fieldsV1") or {})
    fields[target] = {**fields[target], "fieldsType": "FieldsV1", "fieldsV1": merged}
    return [entry for entry in fields if not _is_entry(entry, csa_manager, "Update")]


def migrate_client_side_ownership(adapter: ClusterAdapter, key: ResourceKey, *, attempts: int = 2) -> bool:
    """Move `key`'s client-side apply ownership to kubedrift in the cluster; True when it was moved.

    Reads the object fresh (the cache's resourceVersion may be behind), patches its managedFields
    guarded by that resourceVersion, and reads again when another writer got there first.
    Raises ApiError when the server refuses the patch for another reason.
    """
    resource = adapter.resource_for(key.group, key.kind)
    for attempt in range(attempts):
        live = adapter.get(resource, key.namespace or None, key.name)
        if live is None:
            return False
        metadata = live.get("metadata") or {}
        upgraded = upgraded_managed_fields(metadata.get("managedFields") or ())
        if upgraded is None:
            return False
        patch: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": metadata.get("resourceVersion")},
            {"op": "replace", "path": "/metadata/managedFields", "value": upgraded},
        ]
        try:
            adapter.json_patch(resource, key.namespace or None, key.name, patch)
        except ApiError as error:
            if error.code in _CONFLICT_CODES and attempt + 1 < attempts:
                continue
            raise
        return True
    return False
