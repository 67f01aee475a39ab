"""Status changes: what `watch -o jsonl` prints and what the TUI is told, with the previous state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.model import AppSync, Attribution, Health, ResourceKey, SyncStatus


def rfc3339_now() -> str:
    """The current UTC time in RFC 3339 with milliseconds, as alert pipelines expect."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AppStatusChange:
    """An app's sync or health changed."""

    ts: str
    app: str
    sync: AppSync
    health: Health
    previous_sync: AppSync | None
    previous_health: Health | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "app": self.app,
            "sync": str(self.sync),
            "health": str(self.health),
            "previous": {
                "sync": None if self.previous_sync is None else str(self.previous_sync),
                "health": None if self.previous_health is None else str(self.previous_health),
            },
        }


@dataclass(frozen=True, slots=True)
class ResourceStatusChange:
    """One resource's verdict changed; None means the resource is no longer judged.

    The engine also reports verdicts whose status and health stayed the same but whose changes
    moved (a second field drifted), so a screen showing that resource can refresh.
    """

    ts: str
    app: str
    key: ResourceKey
    status: SyncStatus | None
    health: Health | None
    previous_status: SyncStatus | None
    previous_health: Health | None
    by: Attribution | None = None
    """Who changed an OutOfSync resource: the newest owner among its drifted fields' owners, by
    managedFields (core.drift.attribution.newest_attribution); None when nobody can be named."""

    @property
    def status_changed(self) -> bool:
        """False when only the details (the changes list) moved: `watch` prints only real transitions."""
        return (self.status, self.health) != (self.previous_status, self.previous_health)

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "ts": self.ts,
            "app": self.app,
            "group": self.key.group,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "status": None if self.status is None else str(self.status),
            "health": None if self.health is None else str(self.health),
            "previous": {
                "status": None if self.previous_status is None else str(self.previous_status),
                "health": None if self.previous_health is None else str(self.previous_health),
            },
        }
        if self.by is not None:  # only when known: DESIGN's line shape otherwise stays exact
            line["by"] = self.by.to_json()
        return line


@dataclass(frozen=True, slots=True)
class RevisionChange:
    """An app's Git revision moved (a new commit, a branch switch), whatever it did to statuses.

    Screens show the revision, so they need this even when no status changed; `watch` prints only
    status transitions (DESIGN's two JSON line shapes) and skips it.
    """

    ts: str
    app: str
    revision: str | None
    previous_revision: str | None


@dataclass(frozen=True, slots=True)
class RollbackEvent:
    """A step of automated rollback (core.rollback): a window opened, a measurement failed, a rollback
    decided or done, a pin released. `watch -o jsonl` prints each as one line, beside the status
    transitions: `{"ts": ..., "app": ..., "rollback": {"step": ..., "revision": ..., "message": ...}}`,
    with `from` and `to` on the steps of a rollback, and `readOnly: true` when it only says what would
    have happened."""

    ts: str
    app: str
    step: str
    revision: str
    """The revision the step is about: the one watched, measured, or rolled back from."""
    message: str
    to: str | None = None
    """The revision rolled back to, on the steps of a rollback."""
    read_only: bool = False

    def to_json(self) -> dict[str, Any]:
        rollback: dict[str, Any] = {"step": self.step, "revision": self.revision}
        if self.to is not None:
            rollback.update({"from": self.revision, "to": self.to})
        rollback["message"] = self.message
        if self.read_only:
            rollback["readOnly"] = True
        return {"ts": self.ts, "app": self.app, "rollback": rollback}


@dataclass(frozen=True, slots=True)
class SharedResourceChange:
    """An object of `app` became declared by other apps too, or stopped being so (`shared_with` empty)
    (core.shared_resources). `watch -o jsonl` prints each as one line, beside the status transitions:
    `{"ts": ..., "app": ..., "sharedResource": {"group": ..., "kind": ..., "namespace": ..., "name": ...,
    "sharedWith": [...], "previous": [...], "message": ...}}`."""

    ts: str
    app: str
    key: ResourceKey
    shared_with: tuple[str, ...]
    """The other apps that declare it now; empty when none does any more."""
    previous: tuple[str, ...]
    message: str
    """The warning a person reads (or, when no longer shared, that sync and self-heal act on it again)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "app": self.app,
            "sharedResource": {
                "group": self.key.group,
                "kind": self.key.kind,
                "namespace": self.key.namespace,
                "name": self.key.name,
                "sharedWith": list(self.shared_with),
                "previous": list(self.previous),
                "message": self.message,
            },
        }


@dataclass(frozen=True, slots=True)
class ChildAppChange:
    """A child app (core.app_of_apps) was added to the engine, replaced because its spec changed, or
    removed because its parent no longer renders it (nothing is pruned then: its resources are just no
    longer monitored). `watch -o jsonl` prints each as one line, beside the status transitions:
    `{"ts": ..., "app": <child>, "childApp": {"parent": ..., "change": "added|changed|removed",
    "message": ...}}`."""

    ts: str
    app: str
    parent: str
    change: str
    """`added`, `changed` or `removed`."""
    message: str

    def to_json(self) -> dict[str, Any]:
        child = {"parent": self.parent, "change": self.change, "message": self.message}
        return {"ts": self.ts, "app": self.app, "childApp": child}


StatusChange = (
    AppStatusChange
    | ResourceStatusChange
    | RevisionChange
    | RollbackEvent
    | SharedResourceChange
    | ChildAppChange
)
