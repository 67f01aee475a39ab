"""What the attached screens show of an agent's app, made from what the agent sends, as plain values.

Attached to `kubedrift agent`s (core.agent_fleet), an app is its `check -o json` entry and the agent
that holds it; a resource's diff is the agent's resource document (`/api/v1/apps/A/resources/...`:
the resource entry, the plain diff text, the live and desired objects, Secret values masked by the
agent). These functions turn them into the values the dashboard, the tree and the diff pane already
show for the in-process engine (`AppRow`, `TreeEntry`, `ResourceDiff`), and stream lines into event
log lines worded as the engine's are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.agent_json import change_from_json
from core.drift.attribution import attribution_text
from core.model import Attribution, ResourceKey, SyncStatus
from core.operations import PlannedChange
from core.redact import redact_text
from core.resource_events import RecentEvent
from core.status_events import AppStatusChange, ResourceStatusChange, RollbackEvent
from tui import resource_diff
from tui.resource_diff import ResourceDiff
from tui.resource_entries import TreeEntry
from tui.status_text import ROLLED_BACK_GLYPH, short_revision
from tui.widgets.app_table import AppRow
from tui.widgets.engine_feed import describe_change
from tui.widgets.status_feed import LogEntry

_STATUSES = {str(status) for status in SyncStatus}


def resource_key(resource: Mapping[str, Any]) -> ResourceKey:
    """The key of a `check -o json` resource entry."""
    return ResourceKey(
        str(resource.get("group") or ""),
        str(resource.get("kind") or ""),
        str(resource.get("namespace") or ""),
        str(resource.get("name") or ""),
    )


def resources_of(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The app entry's resources, leaving out anything that is not an object."""
    resources = status.get("resources")
    return (
        [resource for resource in resources if isinstance(resource, Mapping)]
        if isinstance(resources, list)
        else []
    )


def policy_of(status: Mapping[str, Any]) -> tuple[bool, bool] | None:
    """(auto-sync, self-heal) when the entry says (`policy`), else None: `check -o json` does not."""
    policy = status.get("policy")
    if not isinstance(policy, Mapping):
        return None
    return bool(policy.get("automated")), bool(policy.get("selfHeal"))


def remote_row(
    name: str,
    agent: str,
    status: Mapping[str, Any],
    *,
    read_only: bool,
    policy: tuple[bool, bool] | None = None,
    last_event: float | None = None,
) -> AppRow:
    """The dashboard row of an agent's app; its place (the CONTEXT column when in-process) is the
    agent. `policy` (auto-sync, self-heal) as the agent last answered a toggle of this session, which
    is newer than the entry's (the entry is read again only when the app's state changes)."""
    counts = Counter(str(resource.get("status")) for resource in resources_of(status))
    errors = [error for error in status.get("errors") or () if isinstance(error, str) and error]
    known = policy or policy_of(status)
    revision = status.get("revision")
    return AppRow(
        name,
        agent,
        str(status.get("sync") or "Unknown"),
        str(status.get("health") or "Unknown"),
        revision if isinstance(revision, str) else None,
        out_of_sync=counts[str(SyncStatus.OUT_OF_SYNC)],
        missing=counts[str(SyncStatus.MISSING)],
        extraneous=counts[str(SyncStatus.EXTRANEOUS)],
        auto_sync=bool(known and known[0]),
        self_heal=bool(known and known[1]),
        read_only=read_only,
        error=redact_text(errors[0]) if errors else None,
        last_event=last_event,
        rolled_back=_rolled_back(status.get("rolledBack")),
        shared=sum(1 for resource in resources_of(status) if resource.get("sharedWith")),
        parent=str(status.get("parent") or ""),
        policy_known=known is not None,
    )


def _rolled_back(rolled: object) -> str:
    if not isinstance(rolled, Mapping):
        return ""
    bad, good = rolled.get("from"), rolled.get("to")
    if not isinstance(bad, str) or not isinstance(good, str):
        return ""
    return f"{ROLLED_BACK_GLYPH} RolledBack: {short_revision(bad)} -> {short_revision(good)}"


class RemoteEntries:
    """An agent's app as tree entries, reusing last time's entry where a resource reads the same, so
    the tree relabels only what changed. The agent sends no owned children (ReplicaSets, Pods)."""

    def __init__(self) -> None:
        self._entries: dict[ResourceKey, TreeEntry] = {}
        self._list: list[TreeEntry] = []

    def of(self, status: Mapping[str, Any]) -> list[TreeEntry]:
        """The app's resources in key order; the same list object while nothing changed."""
        fresh: dict[ResourceKey, TreeEntry] = {}
        for resource in resources_of(status):
            key = resource_key(resource)
            word = str(resource.get("status") or "Unknown")
            entry = TreeEntry(
                key,
                word if word in _STATUSES else str(SyncStatus.UNKNOWN),
                str(resource.get("health") or "Unknown"),
            )
            earlier = self._entries.get(key)
            fresh[key] = earlier if earlier == entry and earlier is not None else entry
        if fresh != self._entries or any(fresh[key] is not self._entries[key] for key in fresh):
            self._entries = fresh
            self._list = [fresh[key] for key in sorted(fresh, key=_sort_text)]
        return self._list


def _sort_text(key: ResourceKey) -> str:
    return f"{key.group}\0{key.kind}\0{key.namespace}\0{key.name}"


def remote_diff(
    document: Mapping[str, Any], key: ResourceKey, *, now: datetime | None = None
) -> ResourceDiff:
    """The diff pane of one resource from the agent's resource document (diff text already masked)."""
    resource = document.get("resource")
    if not isinstance(resource, Mapping):
        return ResourceDiff(str(key), notes=("No longer part of this app.",))
    status = str(resource.get("status") or "Unknown")
    changes = [change for change in resource.get("changes") or () if isinstance(change, Mapping)]
    diff = document.get("diff")
    text = diff if isinstance(diff, str) else ""
    notes: list[str] = []
    changed_by: tuple[str, ...] = ()
    if status == SyncStatus.OUT_OF_SYNC:
        paths = ", ".join(str(change.get("path") or "/") for change in changes)
        notes.append(f"Drift at {paths}: - live, + Git; a sync applies the + lines.")
        changed_by = tuple(_changed_by(change, now or resource_diff.wall_clock()) for change in changes)
    elif status == SyncStatus.MISSING:
        notes.append("Missing from the cluster: a sync creates it as the + lines show.")
    elif status == SyncStatus.EXTRANEOUS:
        notes.append("Tracked for this app but not in Git: a prune deletes it (the - lines are live).")
    elif status == SyncStatus.SYNCED:
        notes.append("In sync with Git: a sync would change nothing here.")
    else:
        notes.append("Cannot be judged: its live state is unknown.")
    shared = resource.get("sharedWith")
    if isinstance(shared, list) and shared:
        notes.append(f"Warning: {', '.join(map(str, shared))} declare this object too.")
    return ResourceDiff(
        str(key),
        status,
        str(resource.get("health") or "Unknown"),
        tuple(notes),
        text,
        changed_by=changed_by,
        events=tuple(
            _event_of(event) for event in resource.get("events") or () if isinstance(event, Mapping)
        ),
    )


def _event_of(event: Mapping[str, Any]) -> RecentEvent:
    """One of the resource's recent Events as the agent sends them (`check -o json`'s `events`)."""
    count = event.get("count")
    return RecentEvent(
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        str(event.get("message") or ""),
        str(event.get("time") or ""),
        count if isinstance(count, int) else 1,
    )


def _changed_by(change: Mapping[str, Any], now: datetime) -> str:
    path = str(change.get("path") or "/")
    by = change.get("by")
    if not isinstance(by, Mapping) or not by.get("manager"):
        return f"{path}: who changed it: the agent could not tell from managedFields"
    found = Attribution(str(by["manager"]), str(by.get("operation") or ""), str(by.get("time") or ""))
    return f"{path}: {attribution_text(found, now)}"


def remote_app_summary(
    name: str,
    agent: str,
    status: Mapping[str, Any],
    *,
    connected: bool,
    read_only: bool,
    policy: tuple[bool, bool] | None = None,
) -> ResourceDiff:
    """The app as a whole, as its agent reports it."""
    counts = Counter(str(resource.get("status")) for resource in resources_of(status))
    policy = policy or policy_of(status)
    policy_text = (
        "as the agent's kubedrift.yaml says"
        if policy is None
        else (("auto-sync" if policy[0] else "manual") + (", self-heal" if policy[1] else ""))
    )
    revision = status.get("revision")
    details = [
        f"agent: {agent} ({'connected' if connected else 'disconnected'}"
        f"{', read-only' if read_only else ''})",
        f"revision: {short_revision(revision if isinstance(revision, str) else None)}",
        f"policy: {policy_text}",
        "resources: " + (", ".join(f"{count} {word}" for word, count in sorted(counts.items())) or "none"),
    ]
    if status.get("parent"):
        details.append(f"parent app: {status['parent']}")
    errors = [error for error in status.get("errors") or () if isinstance(error, str) and error]
    notes = [f"Error: {redact_text(error)}" for error in errors]
    notes.append("Owned ReplicaSets and Pods are not listed: the agent reports what Git declares.")
    return ResourceDiff(
        name,
        str(status.get("sync") or "Unknown"),
        str(status.get("health") or "Unknown"),
        tuple(notes),
        details=tuple(details),
    )


def remote_plan(status: Mapping[str, Any], *, prune: bool) -> list[PlannedChange]:
    """What a sync (with prune) of the app will do, from the agent's verdicts: the confirmation's list."""
    verbs = {str(SyncStatus.MISSING): "create", str(SyncStatus.OUT_OF_SYNC): "apply"}
    if prune:
        verbs[str(SyncStatus.EXTRANEOUS)] = "delete"
    return [
        PlannedChange(resource_key(resource), verbs[str(resource.get("status"))])
        for resource in resources_of(status)
        if str(resource.get("status")) in verbs
    ]


def describe_line(line: Mapping[str, Any]) -> LogEntry | None:
    """The event-log line of a `watch -o jsonl` line from an agent, worded as the engine's own."""
    app, ts = line.get("app"), line.get("ts")
    if not isinstance(app, str) or not isinstance(ts, str):
        return None
    try:
        change = change_from_json(line)
    except ValueError:  # a word this version does not know: said as the agent said it
        change = None
    if isinstance(change, RollbackEvent | ResourceStatusChange | AppStatusChange):
        return describe_change(change)
    message = _message_of(line)
    return LogEntry(ts, app, message) if message else None


def _message_of(line: Mapping[str, Any]) -> str:
    """The `message` of a line of another shape (a shared resource, a child app), if it has one."""
    for value in line.values():
        if isinstance(value, Mapping) and isinstance(value.get("message"), str):
            return str(value["message"])
    return ""
