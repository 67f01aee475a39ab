"""An agent's JSON read back into kubedrift's own values, so `check` and `watch` over agents print
exactly what they print in-process: a `check -o json` app entry -> AppStatus, a `watch -o jsonl`
line -> its StatusChange.

What the JSON does not carry stays at its default: a resource's `reason`, a change's `secret` mark (a
Secret's values arrive masked already). A value kubedrift does not know (a newer agent's status)
reads as Unknown rather than failing the whole report.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from core.model import (
    AppStatus,
    AppSync,
    Attribution,
    Change,
    Health,
    HealthStatus,
    ResourceKey,
    ResourceResult,
    SyncStatus,
)
from core.status_events import (
    AppStatusChange,
    ChildAppChange,
    ResourceStatusChange,
    RollbackEvent,
    SharedResourceChange,
    StatusChange,
)

_Enum = TypeVar("_Enum", bound=StrEnum)


def app_status_from_json(entry: Mapping[str, Any]) -> AppStatus:
    """An app entry of the status document (`check -o json`) as the AppStatus that prints it."""
    rolled_back = entry.get("rolledBack")
    return AppStatus(
        name=str(entry.get("name", "")),
        sync=_member(AppSync, entry.get("sync"), AppSync.UNKNOWN),
        health=_member(Health, entry.get("health"), Health.UNKNOWN),
        revision=entry.get("revision") if isinstance(entry.get("revision"), str) else None,
        resources=tuple(_resource(resource) for resource in _objects(entry.get("resources"))),
        errors=tuple(str(error) for error in entry.get("errors") or ()),
        warnings=tuple(str(warning) for warning in entry.get("warnings") or ()),
        rolled_back=(
            (str(rolled_back.get("from")), str(rolled_back.get("to")))
            if isinstance(rolled_back, dict)
            else None
        ),
        parent=str(entry.get("parent") or ""),
    )


def change_from_json(line: Mapping[str, Any]) -> StatusChange | None:
    """A `watch -o jsonl` line as its StatusChange; None for a line of no shape kubedrift knows."""
    app, ts = line.get("app"), line.get("ts")
    if not isinstance(app, str) or not isinstance(ts, str):
        return None
    said = line.get("previous")
    previous: Mapping[str, Any] = said if isinstance(said, Mapping) else {}
    if isinstance(rollback := line.get("rollback"), Mapping):
        to = rollback.get("to")
        return RollbackEvent(
            ts,
            app,
            str(rollback.get("step", "")),
            str(rollback.get("revision", "")),
            str(rollback.get("message", "")),
            to=str(to) if to is not None else None,
            read_only=bool(rollback.get("readOnly")),
        )
    if isinstance(child := line.get("childApp"), Mapping):
        return ChildAppChange(
            ts, app, str(child.get("parent", "")), str(child.get("change", "")), str(child.get("message", ""))
        )
    if isinstance(shared := line.get("sharedResource"), Mapping):
        return SharedResourceChange(
            ts,
            app,
            _key(shared),
            tuple(str(other) for other in shared.get("sharedWith") or ()),
            tuple(str(other) for other in shared.get("previous") or ()),
            str(shared.get("message", "")),
        )
    if "group" in line and "kind" in line:
        return ResourceStatusChange(
            ts,
            app,
            _key(line),
            _optional(SyncStatus, line.get("status"), SyncStatus.UNKNOWN),
            _optional(Health, line.get("health"), Health.UNKNOWN),
            _optional(SyncStatus, previous.get("status"), SyncStatus.UNKNOWN),
            _optional(Health, previous.get("health"), Health.UNKNOWN),
            by=_attribution(line.get("by")),
        )
    if "sync" in line and "health" in line:
        return AppStatusChange(
            ts,
            app,
            _member(AppSync, line.get("sync"), AppSync.UNKNOWN),
            _member(Health, line.get("health"), Health.UNKNOWN),
            _optional(AppSync, previous.get("sync"), AppSync.UNKNOWN),
            _optional(Health, previous.get("health"), Health.UNKNOWN),
        )
    return None


def _resource(resource: Mapping[str, Any]) -> ResourceResult:
    return ResourceResult(
        key=_key(resource),
        version=str(resource.get("version", "")),
        status=_member(SyncStatus, resource.get("status"), SyncStatus.UNKNOWN),
        health=HealthStatus(_member(Health, resource.get("health"), Health.UNKNOWN)),
        changes=tuple(_change(change) for change in _objects(resource.get("changes"))),
        shared_with=tuple(str(other) for other in resource.get("sharedWith") or ()),
    )


def _change(change: Mapping[str, Any]) -> Change:
    return Change(
        path=str(change.get("path", "")),
        desired=change.get("desired"),
        live=change.get("live"),
        by=_attribution(change.get("by")),
    )


def _attribution(by: Any) -> Attribution | None:
    if not isinstance(by, Mapping) or not isinstance(by.get("manager"), str):
        return None
    return Attribution(str(by["manager"]), str(by.get("operation") or ""), str(by.get("time") or ""))


def _key(document: Mapping[str, Any]) -> ResourceKey:
    return ResourceKey(
        str(document.get("group") or ""),
        str(document.get("kind") or ""),
        str(document.get("namespace") or ""),
        str(document.get("name") or ""),
    )


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _member(kind: type[_Enum], value: Any, unknown: _Enum) -> _Enum:
    try:
        return kind(value)
    except ValueError:
        return unknown


def _optional(kind: type[_Enum], value: Any, unknown: _Enum) -> _Enum | None:
    return None if value is None else _member(kind, value, unknown)
