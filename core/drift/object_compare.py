"""Whole-object comparisons with DeepDiff, for the few places that want every difference.

Drift itself uses the hand-written comparator in `core.drift.comparator` (desired-subset semantics, on the hot
path). Here both sides are complete objects of the same kind of thing: one Git revision against
another (the history screen), and a live object against the server's dry-run of a sync. These run
for one app or one object at a time, on request, so DeepDiff's thoroughness is worth its cost.
DeepDiff is imported on the first comparison: it takes about 0.2 s, and the TUI and the engine
import this module (through the sync path) long before anyone asks for a comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from core.drift.last_applied import LAST_APPLIED
from core.drift.rules import escape_segment
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    FLUX_TRACKING_LABELS,
    SECRET_MASK,
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    Change,
    ResourceKey,
)

# Fields the server rewrites on every write; a dry run changes them without changing anything real.
_SERVER_WRITTEN = (
    "root['metadata']['managedFields']",
    "root['metadata']['resourceVersion']",
    "root['metadata']['generation']",
    "root['metadata']['uid']",
    "root['metadata']['creationTimestamp']",
    "root['status']",
)
# Metadata drift never compares (core.drift.rules), which a sync writes or drops on the side.
_NEVER_COMPARED_METADATA: Final = {
    "labels": frozenset({TRACKING_LABEL, *FLUX_TRACKING_LABELS}),
    "annotations": frozenset({TRACKING_ANNOTATION, ARGOCD_TRACKING_ANNOTATION, LAST_APPLIED}),
}
_REPORTS = (
    "values_changed",
    "type_changes",
    "dictionary_item_added",
    "dictionary_item_removed",
    "iterable_item_added",
    "iterable_item_removed",
)


class DeltaKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class ObjectDelta:
    """How one object differs between two revisions."""

    key: ResourceKey
    kind: DeltaKind
    changes: tuple[Change, ...] = ()


def compare_revisions(
    old: Mapping[ResourceKey, Mapping[str, Any]], new: Mapping[ResourceKey, Mapping[str, Any]]
) -> list[ObjectDelta]:
    """The objects added, removed and changed from `old` to `new` (desired = new, live = old), by key."""
    deltas: list[ObjectDelta] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before is None:
            deltas.append(ObjectDelta(key, DeltaKind.ADDED))
        elif after is None:
            deltas.append(ObjectDelta(key, DeltaKind.REMOVED))
        else:
            changes = object_changes(after, before, secret=_is_secret(key))
            if changes:
                deltas.append(ObjectDelta(key, DeltaKind.CHANGED, changes))
    return deltas


def dry_run_changes(
    live: Mapping[str, Any], dry_run: Mapping[str, Any], *, secret: bool = False
) -> tuple[Change, ...]:
    """What a sync would really change, from the server's `dryRun=All` answer (desired = dry run).

    Only what drift compares counts (DESIGN drift rule 7): the tracking label and annotations a sync
    adds and the last-applied annotation it may drop are never compared, so writing them alone is no
    change (an object made by `kubectl apply` is Synced and its dry run changes nothing)."""
    return object_changes(
        _without_never_compared(dry_run),
        _without_never_compared(live),
        secret=secret,
        exclude=_SERVER_WRITTEN,
    )


def _without_never_compared(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return obj
    trimmed = dict(metadata)
    for section, names in _NEVER_COMPARED_METADATA.items():
        values = trimmed.get(section)
        if isinstance(values, Mapping) and any(name in values for name in names):
            kept = {k: v for k, v in values.items() if k not in names}
            if kept:
                trimmed[section] = kept
            else:
                del trimmed[section]
    return {**obj, "metadata": trimmed}


def object_changes(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    *,
    secret: bool = False,
    exclude: tuple[str, ...] = (),
) -> tuple[Change, ...]:
    """Every difference between two whole objects, as Changes with RFC 6901 paths (live is t1)."""
    from deepdiff import DeepDiff

    found = DeepDiff(dict(live), dict(desired), view="tree", exclude_paths=list(exclude), verbose_level=2)
    changes: list[Change] = []
    for report in _REPORTS:
        for level in found.get(report, ()):
            steps = level.path(output_format="list")
            path = "".join("/" + escape_segment(str(step)) for step in steps)
            was = None if report.endswith("_added") else level.t1
            now = None if report.endswith("_removed") else level.t2
            if secret and steps and steps[0] in ("data", "stringData"):
                changes.append(Change(path, _mask(now), _mask(was), True))
            else:
                changes.append(Change(path, now, was))
    return tuple(sorted(changes, key=lambda change: change.path))


def _mask(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: SECRET_MASK for k in value}
    return SECRET_MASK


def _is_secret(key: ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"
