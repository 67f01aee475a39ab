"""App snapshots as text for people: a summary table, then each drifted resource with its changes."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from core.model import AppStatus, AppSync, ResourceResult, SyncStatus
from core.redact import redact_text
from tui.commands.terminal import Style, table

EXIT_IN_SYNC = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2


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
    for status in statuses:
        revision = (status.revision or "-").removeprefix("folder:")[:8]
        rows.append([status.name, str(status.sync), str(status.health), revision, counts(status)])
    return table(rows, style, coloured_columns=(1, 2))


def details_text(statuses: list[AppStatus], style: Style) -> str:
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
                lines.append(
                    f"    {change.path}: {_show(change.desired)} {style('->', 'dim')} {_show(change.live)}"
                )
    return "\n".join(lines)


def resource_line(app: str, resource: ResourceResult, style: Style) -> str:
    """One resource's status, with why when there is a reason (`shop: ConfigMap/shop/x  Unknown  (...)`)."""
    head = f"{app}: {resource.key}  {style.status(str(resource.status))}"
    return head + (f"  ({redact_text(resource.reason)})" if resource.reason else "")


def unknown_lines(status: AppStatus, style: Style) -> list[str]:
    """The app's Unknown resources, each with why it cannot be judged: a diff has nothing to show of them."""
    return [
        resource_line(status.name, resource, style)
        for resource in status.resources
        if resource.status is SyncStatus.UNKNOWN
    ]


def check_text(statuses: list[AppStatus], style: Style) -> str:
    details = details_text(statuses, style)
    legend = style("(changes read desired -> live)", "dim") if details else ""
    return "\n".join(part for part in (summary_text(statuses, style), details, legend) if part)


def check_json(statuses: list[AppStatus]) -> str:
    return json.dumps({"apps": [status.to_json() for status in statuses]}, indent=2)


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = json.dumps(value, separators=(", ", ": ")) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
