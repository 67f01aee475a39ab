"""What the diff pane says about the node highlighted in the resource tree, as a plain value.

For a resource Git declares or tracks: its unified YAML diff, live (`-`) against desired (`+`),
made by the same `core.drift.text` as `kubedrift diff` (Secret values masked), the fields its
`ignoreDifferences` rules leave alone, and a sentence on what a sync would do. For an owned child
(ReplicaSet, Pod, Job): its health and a short status summary, since Git says nothing about it.
For the app and the kind levels: a summary of what is below.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from core.drift.attribution import attribution_of, attribution_text, manager_entries, time_ago
from core.drift.rules import pointer_segments, schema_for
from core.drift.text import drift_text, removal_text
from core.health.live_fields import int_at, mapping_at, mappings_at, str_at
from core.model import SECRET_MASK, Change, Drift, Health, ResourceKey, ResourceResult, SyncStatus
from core.redact import redact_text, redact_url
from core.resource_events import RecentEvent
from core.runtime import AppRuntime
from core.schema import FieldType
from tui.resource_entries import TreeEntry
from tui.status_text import describe_sync, short_revision

VALUE_WIDTH = 40
"""Longest rendering of an ignored field's value before it is cut."""
PANE_EVENTS: Final = 3
"""Recent Events the diff pane lists under the diff: a few lines, so the diff keeps the pane at 80x24."""
_EVENTFUL_HEALTH: Final = frozenset({Health.PROGRESSING, Health.DEGRADED})


def _now() -> datetime:
    return datetime.now(UTC)


wall_clock: Callable[[], datetime] = _now
"""What `N min ago` counts from when no `now` is passed; tests pin it."""


@dataclass(frozen=True, slots=True)
class IgnoredField:
    """A field under ignoreDifferences: never compared, never changed by a sync."""

    pointer: str
    live: str
    """The live value as shown (`***` for a Secret, `(absent)` when there is none)."""
    desired: str


@dataclass(frozen=True, slots=True)
class ResourceDiff:
    """Everything the diff pane shows for one node."""

    title: str
    sync: str | None = None
    health: str | None = None
    notes: tuple[str, ...] = ()
    """Sentences above the diff: what the status means and what an action would do."""
    diff: str = ""
    """Unified diff text, live `-` against desired `+`; empty when there is nothing to show."""
    ignored: tuple[IgnoredField, ...] = ()
    details: tuple[str, ...] = ()
    """`name: value` lines summarising a child, a kind or the app."""
    health_message: str = ""
    """Why the health is what it is, when the health rule says."""
    changed_by: tuple[str, ...] = ()
    """Per drifted path, who changed it by managedFields (`/spec/replicas: changed by kubectl ...`)."""
    events: tuple[RecentEvent, ...] = ()
    """The object's recent Events, newest first, at most PANE_EVENTS; fetched off the UI thread by
    the screen (core.resource_events) and added once they come."""


def resource_diff(
    runtime: AppRuntime, key: ResourceKey, live: Mapping[str, Any] | None, *, now: datetime | None = None
) -> ResourceDiff:
    """The diff of one resource the app declares or tracks; `now` dates who changed what (the
    clock by default; tests pass a fixed one)."""
    result = runtime.reconciler.results.get(key)
    desired = runtime.desired.objects.get(key)
    ignored = ignored_fields(runtime.app.ignore_rules_for(key), desired, live, secret=_is_secret(key))
    if result is None:
        return ResourceDiff(str(key), notes=("No longer part of this app.",), ignored=ignored)
    rules = runtime.reconciler.rules_for(key)
    notes: list[str] = []
    text = ""
    changed_by: tuple[str, ...] = ()
    status = result.status
    if status is SyncStatus.OUT_OF_SYNC and desired is not None:
        text = drift_text(desired, live, rules, Drift(result.changes))
        changed_by = changed_by_lines(result.changes, desired, live, schema_for(desired, rules), now)
        paths = ", ".join(change.path for change in result.changes)
        notes.append(f"Drift at {paths}: - live, + Git; a sync applies the + lines.")
        if result.sync_changes_nothing:  # drift rule 7: the marking, with why
            notes.append(f"OutOfSync ({result.reason}); self-heal leaves it alone.")
    elif status is SyncStatus.MISSING and desired is not None:
        text = drift_text(desired, None, rules, Drift(result.changes or (Change("", None, None),)))
        notes.append("Missing from the cluster: a sync creates it as the + lines show.")
    elif status is SyncStatus.EXTRANEOUS and live is not None:
        text = removal_text(live, rules)
        reason = result.reason or "tracked for this app but not in Git"
        notes.append(f"{reason[:1].upper()}{reason[1:]}: a prune deletes it (the - lines are live).")
    elif status is SyncStatus.SYNCED:
        notes.append("In sync with Git: a sync would change nothing here.")
    elif status is SyncStatus.UNKNOWN:
        notes.append(f"Cannot be judged: {result.reason or 'its live state is unknown'}.")
    health = result.health
    return ResourceDiff(
        str(key),
        str(status),
        str(health.status),
        tuple(notes),
        text,
        ignored,
        health_message=health.message,
        changed_by=changed_by,
    )


def changed_by_lines(
    changes: Sequence[Change],
    desired: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    schema: FieldType,
    now: datetime | None,
) -> tuple[str, ...]:
    """One line per drifted path: who owns it now by managedFields, or why nobody can be named."""
    moment = now or wall_clock()
    entries = manager_entries(live)
    return tuple(
        f"{change.path or '/'}: "
        + attribution_text(change.by or attribution_of(change, desired, live, schema, entries), moment)
        for change in changes
    )


def wants_events(result: ResourceResult | None, live: Mapping[str, Any] | None) -> bool:
    """Whether the pane lists a resource's recent Events: it is live and drifted, or its health says
    something is under way or wrong, where Events tell why. A Synced, Healthy object asks for nothing."""
    if result is None or live is None:
        return False
    return result.status is SyncStatus.OUT_OF_SYNC or result.health.status in _EVENTFUL_HEALTH


def event_line(event: RecentEvent, now: datetime) -> str:
    """`Warning BackOff (5 times), 4 min ago: Back-off restarting failed container`."""
    repeats = f" ({event.count} times)" if event.count > 1 else ""
    when = time_ago(event.time, now)
    head = " ".join(part for part in (event.type, event.reason) if part) or "Event"
    message = " ".join(event.message.split())  # one line in the pane, whatever the message holds
    return f"{head}{repeats}, {when}: {redact_text(message)}" if message else f"{head}{repeats}, {when}"


def owned_summary(entry: TreeEntry, obj: Mapping[str, Any] | None) -> ResourceDiff:
    """What an owned child is doing; kubedrift never changes it, so there is no diff."""
    owner = entry.parent
    by = f"{owner.kind}/{owner.name}" if owner is not None else "another object"
    notes = [f"Owned by {by}; not in Git, so sync and prune leave it to its owner."]
    details = _child_details(entry.key, obj) if obj is not None else ("gone from the cluster",)
    return ResourceDiff(
        str(entry.key), None, entry.health, tuple(notes), details=details, health_message=entry.health_message
    )


def kind_summary(group: str, kind: str, entries: Sequence[TreeEntry]) -> ResourceDiff:
    """How the app's resources of one kind stand."""
    counts = Counter(entry.sync for entry in entries if entry.sync is not None)
    noun = "resource" if len(entries) == 1 else "resources"
    details = (f"{len(entries)} {noun}", *(f"{word}: {count}" for word, count in sorted(counts.items())))
    title = f"{kind}.{group}" if group else kind
    return ResourceDiff(title, notes=("Highlight a resource to see its diff.",), details=details)


def app_summary(runtime: AppRuntime, *, read_only: bool) -> ResourceDiff:
    """The app as a whole: revision, policy, drift counts, errors and the last sync."""
    app = runtime.app
    counts = Counter(str(result.status) for result in runtime.reconciler.results.values())
    policy = "auto-sync" if app.sync_policy.automated else "manual"
    if app.sync_policy.self_heal:
        policy += ", self-heal"
    if read_only:
        policy += " (read-only)"
    details = [
        f"source: {redact_url(app.source.repo_url)} {app.source.target_revision} {app.source.path}",
        f"revision: {short_revision(runtime.desired.revision)}",
        f"destination: {runtime.context or '-'} / {app.destination.namespace}",
        f"policy: {policy}",
        "resources: " + (", ".join(f"{count} {word}" for word, count in sorted(counts.items())) or "none"),
    ]
    if runtime.last_sync is not None:
        details.append(f"last sync: {describe_sync(runtime.last_sync)}")
    if runtime.rollback is not None:
        details.append(f"rollback: {runtime.rollback.note}")
    errors = [*runtime.desired.errors, runtime.cluster_error, runtime.automation_error]
    notes = tuple(f"Error: {redact_text(error)}" for error in errors if error)
    if runtime.desired.revision is None and not notes:
        notes = ("Loading the app from Git and the cluster…",)
    return ResourceDiff(
        app.name, str(runtime.reconciler.sync), str(runtime.reconciler.health), notes, details=tuple(details)
    )


def ignored_fields(
    pointers: Sequence[str],
    desired: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    *,
    secret: bool,
) -> tuple[IgnoredField, ...]:
    """Each ignored pointer with its live and desired values (masked for a Secret)."""
    return tuple(
        IgnoredField(pointer, _shown(live, pointer, secret), _shown(desired, pointer, secret))
        for pointer in pointers
    )


def _shown(obj: Mapping[str, Any] | None, pointer: str, secret: bool) -> str:
    found, value = _at(obj, pointer)
    if not found:
        return "(absent)"
    if secret:
        return SECRET_MASK
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _at(obj: Any, pointer: str) -> tuple[bool, Any]:
    if obj is None:
        return False, None
    try:
        segments = pointer_segments(pointer)
    except ValueError:
        return False, None
    value = obj
    for segment in segments:
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return False, None
    return True, value


def _child_details(key: ResourceKey, obj: Mapping[str, Any]) -> tuple[str, ...]:
    status = mapping_at(obj, "status")
    if key.kind == "Pod":
        containers = mappings_at(status, "containerStatuses")
        ready = sum(1 for container in containers if container.get("ready") is True)
        restarts = sum(int_at(container, "restartCount") for container in containers)
        lines = [
            f"phase: {str_at(status, 'phase') or 'Pending'}",
            f"ready: {ready}/{len(mappings_at(obj, 'spec', 'containers'))} containers",
            f"restarts: {restarts}",
        ]
        node = str_at(obj, "spec", "nodeName")
        if node:
            lines.append(f"node: {node}")
        return (*lines, *_images(mappings_at(obj, "spec", "containers")))
    if key.kind == "ReplicaSet":
        revision = str_at(obj, "metadata", "annotations", "deployment.kubernetes.io/revision")
        lines = [
            f"replicas: {int_at(obj, 'spec', 'replicas')} wanted, {int_at(status, 'readyReplicas')} ready, "
            f"{int_at(status, 'availableReplicas')} available"
        ]
        if revision:
            lines.append(f"rollout revision: {revision}")
        return (*lines, *_images(mappings_at(obj, "spec", "template", "spec", "containers")))
    if key.kind == "Job":
        return (
            f"active: {int_at(status, 'active')}",
            f"succeeded: {int_at(status, 'succeeded')}",
            f"failed: {int_at(status, 'failed')}",
        )
    return ()


def _images(containers: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"image: {str_at(container, 'image')}" for container in containers if str_at(container, "image")]


def _is_secret(key: ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"
