"""The `metadata.managedFields` entries around the updater, as the API server's field manager keeps
them (k8s.io/apimachinery/pkg/util/managedfields/internal): who a manager is, how entries are read
and written, which fields nobody may own, the cap on update managers, and the conflict message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.schema.go_types import has_status_subresource
from sandbox.ssa.fieldset import FieldSet, FieldsV1Error, Path, field, path_string
from sandbox.ssa.updater import ManagedFields, VersionedSet
from sandbox.ssa.values import go_json, go_quote

APPLY = "Apply"
UPDATE = "Update"
MAX_UPDATE_MANAGERS = 10
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Server-owned metadata that no manager ever owns (stripMetaManager).
_STRIPPED = FieldSet.of(
    (field("apiVersion"),),
    (field("kind"),),
    (field("metadata"),),
    *(
        (field("metadata"), field(name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ),
)


# Metadata a kind's status strategy resets besides spec (each GetResetFields for "status"): the
# Deployment's labels, a Pod's ownerReferences, and all of a CustomResourceDefinition's metadata.
_STATUS_RESET_METADATA: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("apps", "Deployment"): (("labels",),),
    ("", "Pod"): (("deletionTimestamp",), ("ownerReferences",)),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ((),),
}


class ManagedFieldsError(ValueError):
    """A managedFields list that cannot be read."""


@dataclass(frozen=True)
class ManagerKey:
    """A manager's identity: an Apply entry is one per manager and subresource, an Update entry one
    per manager, API version and subresource (BuildManagerIdentifier)."""

    manager: str
    operation: str
    api_version: str = ""
    subresource: str = ""

    @classmethod
    def for_write(cls, manager: str, operation: str, api_version: str, subresource: str | None) -> ManagerKey:
        return cls(
            manager or "unknown", operation, "" if operation == APPLY else api_version, subresource or ""
        )

    def identifier(self) -> str:
        entry: dict[str, str] = {"manager": self.manager, "operation": self.operation}
        if self.api_version:
            entry["apiVersion"] = self.api_version
        if self.subresource:
            entry["subresource"] = self.subresource
        return go_json(entry)

    def printed(self) -> str:
        """As a conflict message names the manager: `"kubectl" with subresource "status" using apps/v1`."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def decode(entries: Any) -> tuple[ManagedFields, dict[ManagerKey, str | None]]:
    """The managers and their times from a managedFields list (DecodeManagedFields)."""
    managers: ManagedFields = {}
    times: dict[ManagerKey, str | None] = {}
    if entries is None:
        return managers, times
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ManagedFieldsError(f"managed fields entry {position} must be an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion")
        if not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType")
        if not fields_type:
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {position}")
        if fields_type != "FieldsV1":
            raise ManagedFieldsError(f'invalid fieldsType "{fields_type}" in managed fields entry {position}')
        key = ManagerKey(
            str(entry.get("manager") or ""),
            operation,
            "" if operation == APPLY else str(api_version),
            str(entry.get("subresource") or ""),
        )
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        except FieldsV1Error as error:
            raise ManagedFieldsError(f"error decoding set: {error}") from error
        managers[key] = VersionedSet(fields, str(api_version), operation == APPLY)
        times[key] = entry.get("time")
    return managers, times


def encode(managers: ManagedFields, times: dict[ManagerKey, str | None]) -> list[dict[str, Any]]:
    """The managedFields list, sorted as the server sorts it (operation, time, manager, ...)."""
    entries: list[dict[str, Any]] = []
    for key, versioned in managers.items():
        assert isinstance(key, ManagerKey)
        entry: dict[str, Any] = {
            "manager": key.manager,
            "operation": APPLY if versioned.applied else key.operation,
            "apiVersion": versioned.api_version,
        }
        if times.get(key):
            entry["time"] = times[key]
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = versioned.fields.to_fields_v1()
        if key.subresource:
            entry["subresource"] = key.subresource
        entries.append(entry)
    entries.sort(
        key=lambda entry: (
            entry["operation"],
            _seconds(entry.get("time")),
            entry["manager"],
            entry["apiVersion"],
            entry.get("subresource", ""),
        )
    )
    return entries


def without_server_fields(fields: FieldSet) -> FieldSet:
    return fields.difference(_STRIPPED)


def strip_server_fields(managers: ManagedFields, key: ManagerKey | object) -> ManagedFields:
    """Drop server-owned metadata from one manager's set, and the manager if nothing is left."""
    versioned = managers.get(key)
    if versioned is None:
        return managers
    result = dict(managers)
    remaining = without_server_fields(versioned.fields)
    if remaining.empty():
        del result[key]
    else:
        result[key] = VersionedSet(remaining, versioned.api_version, versioned.applied)
    return result


def excluded_fields(
    group: str, kind: str, subresource: str | None, *, status_subresource: bool | None
) -> FieldSet:
    """The fields a write cannot own because the strategy resets them (GetResetFields): status on
    the main resource of a kind with a status subresource, spec through the status subresource."""
    has_status = has_status_subresource(group, kind) if status_subresource is None else status_subresource
    if subresource == "status":
        excluded = FieldSet.of((field("spec"),))
        for path in _STATUS_RESET_METADATA.get((group, kind), ()):
            excluded.insert((field("metadata"), *(field(name) for name in path)))
        return excluded
    return FieldSet.of((field("status"),)) if has_status else FieldSet()


def cap_update_managers(managers: ManagedFields, times: dict[ManagerKey, str | None]) -> ManagedFields:
    """Fold the oldest update managers into "ancient-changes" once there are more than ten."""
    updaters = [key for key, versioned in managers.items() if not versioned.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managers
    result = dict(managers)
    ordered = sorted(
        (key for key in updaters if isinstance(key, ManagerKey)),
        key=lambda key: (_seconds(times.get(key)), key.identifier()),
    )
    first_by_version: dict[str, ManagerKey] = {}
    length = len(ordered)
    for key in ordered:
        if length <= MAX_UPDATE_MANAGERS:
            break
        versioned = result[key]
        bucket = ManagerKey("ancient-changes", UPDATE, versioned.api_version)
        first = first_by_version.get(versioned.api_version)
        if first is None:
            first_by_version[versioned.api_version] = key
            continue
        if bucket not in result:
            result[bucket] = result.pop(first)
        result[bucket] = VersionedSet(
            versioned.fields.union(result[bucket].fields), versioned.api_version, versioned.applied
        )
        del result[key]
        times[bucket] = times.get(key)
        length -= 1
    return result


def conflict_message(conflicts: list[tuple[ManagerKey, Path]]) -> tuple[str, list[dict[str, str]]]:
    """The 409 message and causes for apply conflicts, worded as the API server words them."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {key.printed()}",
            "field": path_string(path),
        }
        for key, path in conflicts
    ]
    if len(conflicts) == 1:
        key, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {key.printed()}: {path_string(path)}", causes
    by_manager: dict[ManagerKey, list[Path]] = {}
    for key, path in conflicts:
        by_manager.setdefault(key, []).append(path)
    lines: list[str] = []
    for key in sorted(by_manager, key=lambda key: key.identifier()):
        lines.append(f"conflicts with {key.printed()}:")
        lines.extend(f"- {path_string(path)}" for path in by_manager[key])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines), causes


def last_applied_text(applied: dict[str, Any]) -> str:
    """The last-applied annotation kubectl keeps, rebuilt from an applied configuration."""
    config = json.loads(json.dumps(applied))
    annotations = (config.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    return go_json(_sorted(config)) + "\n"


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
