"""App snapshots as text for people: a summary table, then each drifted resource with its changes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.app_of_apps import depth_of
from core.drift.attribution import time_ago
from core.drift.text import is_multiline, value_diff
from core.model import AppStatus, AppSync, Change, ResourceKey, ResourceResult, SyncStatus
from core.redact import redact_text
from core.resource_events import RecentEvent, fetch_recent_events
from tui.commands.terminal import Style, table

if TYPE_CHECKING:
    from core.engine import Engine

EXIT_IN_SYNC = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2

_LINE_COLOURS = {"+": "green", "-": "red", "@": "cyan"}

VALUE_DIFF_LINES = 40
"""Longest line diff of one multi-line value in `check` text; `kubedrift diff` shows the rest."""


def exit_code(statuses: list[AppStatus]) -> int:
    """0 in sync, 1 drift, 2 error; an error wins over drift (it means the verdict is incomplete)."""
    if any(status.errors or status.sync is AppSync.UNKNOWN for status in statuses):
        return EXIT_ERROR
    if any(status.sync is AppSync.OUT_OF_SYNC for status in statuses):
        return EXIT_DRIFT
    return EXIT_IN_SYNC


def counts(status: AppStatus) -> str:
    tally = Counter(str(resource.status) for resource in status.resources)
    order = [s.value for s in SyncStatus]
    return ", ".join(f"{tally[name]} {name}" for name in order if tally[name]) or "no resources"


def summary_text(statuses: list[AppStatus], style: Style) -> str:
    rows = [["APP", "SYNC", "HEALTH", "REVISION", "RESOURCES"]]
    parents = {status.name: status.parent for status in statuses}
    for status in statuses:
        revision = (status.revision or "-").removeprefix("folder:")[:8]
        name = family_name(status.name, parents)
        rows.append([name, str(status.sync), str(status.health), revision, counts(status)])
    return table(rows, style, coloured_columns=(1, 2))


def family_name(name: str, parents: dict[str, str]) -> str:
    """An app's name as the summary lists it: a child app (app of apps) indented under its parent,
    which the statuses list just before it (`  └ guestbook`)."""
    depth = depth_of(name, parents)
    return f"{'  ' * depth}└ {name}" if depth else name


def details_text(statuses: list[AppStatus], style: Style, now: datetime | None = None) -> str:
    """Each app's errors and each resource not Synced, with its changes; `now` dates who changed a
    field (the clock by default)."""
    moment = now or datetime.now(UTC)
    lines: list[str] = []
    for status in statuses:
        for error in status.errors:
            lines.append(f"{status.name}: {style('error', 'red')}: {redact_text(error)}")
        for resource in status.resources:
            if resource.status is SyncStatus.SYNCED:
                continue
            lines.append(resource_line(status.name, resource, style))
            for change in resource.changes:
                if change.path == "":
                    continue  # a missing object: the status line says it all
                if _line_diffable(change):
                    lines.extend(value_diff_lines(change, style, moment))
                    continue
                lines.append(
                    f"    {change.path}: {_show(change.desired)} {style('->', 'dim')} {_show(change.live)}"
                    + changed_by(change, style, moment)
                )
    return "\n".join(lines)


def changed_by(change: Change, style: Style, now: datetime) -> str:
    """` (changed by kubectl-edit, Update, 4 min ago)` when managedFields names who changed the field
    (`change.by`, as `check -o json` shows it); nothing when nobody can be named."""
    by = change.by
    if by is None:
        return ""
    when = time_ago(by.time, now)
    if by.parent:  # the field is gone: nobody owns it, so who last wrote beside it is named
        return " " + style(f"(removed; {by.manager}, {by.operation}, last wrote beside it {when})", "dim")
    return " " + style(f"(changed by {by.manager}, {by.operation}, {when})", "dim")


def value_diff_lines(change: Change, style: Style, now: datetime | None = None) -> list[str]:
    """A multi-line value's change as `diff -u` hunks under its path: `-` live, `+` desired."""
    head = f"    {change.path}: {style('(- live, + desired)', 'dim')}"
    head += changed_by(change, style, now or datetime.now(UTC))
    hunk = value_diff(str(change.live), str(change.desired))
    shown = [
        head,
        *(f"      {style(line, _LINE_COLOURS.get(line[:1], ''))}" for line in hunk[:VALUE_DIFF_LINES]),
    ]
    if len(hunk) > VALUE_DIFF_LINES:
        more = len(hunk) - VALUE_DIFF_LINES
        shown.append(f"      {style(f'… {more} more lines; kubedrift diff shows them all', 'dim')}")
    return shown


def _line_diffable(change: Change) -> bool:
    # Secret values are masked (`***`) and never diffed line by line, whatever they hold.
    return (
        not change.secret
        and isinstance(change.desired, str)
        and isinstance(change.live, str)
        and (is_multiline(change.desired) or is_multiline(change.live))
    )


def resource_line(app: str, resource: ResourceResult, style: Style) -> str:
    """One resource's status, with why when there is a reason (`shop: ConfigMap/shop/x  Unknown  (...)`)."""
    head = f"{app}: {resource.key}  {style.status(str(resource.status))}"
    if resource.sync_changes_nothing:
        head += " (sync changes nothing)"  # the marking; `status` stays OutOfSync in JSON (drift rule 7)
    return head + (f"  ({redact_text(resource.reason)})" if resource.reason else "")


def unknown_lines(status: AppStatus, style: Style) -> list[str]:
    """The app's Unknown resources, each with why it cannot be judged: a diff has nothing to show of them."""
    return [
        resource_line(status.name, resource, style)
        for resource in status.resources
        if resource.status is SyncStatus.UNKNOWN
    ]


def warnings_text(statuses: list[AppStatus], style: Style) -> str:
    """Each app's warnings (an object another app declares too): not errors, so not in the exit code."""
    return "\n".join(
        f"{status.name}: {style('warning', 'yellow')}: {redact_text(warning)}"
        for status in statuses
        for warning in status.warnings
    )


def check_text(statuses: list[AppStatus], style: Style, now: datetime | None = None) -> str:
    """`check`'s text report; `now` dates who changed what (the clock by default; tests pin it)."""
    details = details_text(statuses, style, now)
    legend = style("(changes read desired -> live)", "dim") if details else ""
    parts = (summary_text(statuses, style), warnings_text(statuses, style), details, legend)
    return "\n".join(part for part in parts if part)


def check_json(
    statuses: list[AppStatus],
    events: Mapping[str, Mapping[ResourceKey, tuple[RecentEvent, ...]]] | None = None,
) -> str:
    """The `check -o json` document; `events` (app -> key -> recent Events, see drifted_events) adds
    an `events` list to those OutOfSync resources that have any, and nothing else changes shape."""
    return json.dumps(check_document(statuses, events), indent=2)


def check_document(
    statuses: list[AppStatus],
    events: Mapping[str, Mapping[ResourceKey, tuple[RecentEvent, ...]]] | None = None,
) -> dict[str, Any]:
    """`check -o json` before it is text: `{"apps": [...]}`; the agent's /api/v1/status is built by it."""
    apps = []
    for status in statuses:
        document = status.to_json()
        found = (events or {}).get(status.name)
        if found:
            for resource, shown in zip(status.resources, document["resources"], strict=True):
                recent = found.get(resource.key) if resource.status is SyncStatus.OUT_OF_SYNC else None
                if recent:
                    shown["events"] = [event.to_json() for event in recent]
        apps.append(document)
    return {"apps": apps}


def drifted_events(
    engine: Engine, statuses: list[AppStatus]
) -> dict[str, dict[ResourceKey, tuple[RecentEvent, ...]]]:
    """The recent Events of every OutOfSync resource, fetched once per namespace; apps whose cluster
    cannot be reached, or that have no drift, ask for nothing."""
    result: dict[str, dict[ResourceKey, tuple[RecentEvent, ...]]] = {}
    for status in statuses:
        drifted = [r.key for r in status.resources if r.status is SyncStatus.OUT_OF_SYNC]
        runtime = engine.apps.get(status.name)
        if not drifted or runtime is None:
            continue
        cluster = engine.clusters.get(runtime.context or "")
        if cluster is None or cluster.adapter is None:
            continue
        objects = [(key, engine.live_object(status.name, key)) for key in drifted]
        found = fetch_recent_events(cluster.adapter, objects)
        if found:
            result[status.name] = found
    return result


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    # A string with a line break is quoted, so that it stays on its one line of the report.
    plain = isinstance(value, str) and not is_multiline(value)
    text = value if plain else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 80 else text[:77] + "..."
