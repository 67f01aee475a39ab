"""The verdict right after a sync, and the `sync changes nothing` marking (DESIGN drift rule 7).

Drift is exactly what a sync would change. When a resource is still OutOfSync right after its
apply, with the same changes as before, a sync changes nothing for it: a mutating webhook reverts
the fields, another manager forces them back, or the server drops them. Such a resource keeps its
status `OutOfSync` (the JSON other tools read is unchanged) and gets the marking in its reason;
self-heal leaves it alone until Git or the live object changes differently.

"Right after" is the object the server answered the apply with: what it stored, after admission
webhooks and defaulting, read by the same engine that judges every event. A controller that reverts
the object later is seen by the live engine through its watch, as any other drift.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.drift.managedfields import other_owners, owns
from core.model import SYNC_CHANGES_NOTHING, Change, ResourceKey

PATHS_SHOWN: Final = 3
FIGHT_WINDOW: Final = 330.0
"""How long after a sync the very drift it removed coming back means a sync changes nothing (another
manager forces the fields back): self-heal's cool-down (core.self_heal.COOLDOWN)."""


@dataclass(frozen=True, slots=True)
class Leftover:
    """A resource a sync applied that is still OutOfSync right after, and why."""

    key: ResourceKey
    changes: tuple[Change, ...]
    unchanged_by_sync: bool
    """True when the changes are the very ones before the sync: a sync changes nothing."""
    reason: str


@dataclass(frozen=True, slots=True)
class SyncMark:
    """What one sync leaves for the reconciler to remember of a resource it applied (UnchangeableMarks)."""

    key: ResourceKey
    changes: tuple[Change, ...]
    """The resource's changes before the sync."""
    reason: str
    waiting: bool
    """True when the resource was Synced right after: the mark waits for the same drift to come back."""


def change_signature(changes: Iterable[Change]) -> frozenset[tuple[str, str, str]]:
    """What makes two sets of changes the same drift: paths and both values (not who or when)."""
    return frozenset((c.path, _dump(c.desired), _dump(c.live)) for c in changes)


def same_changes(before: Iterable[Change], after: Iterable[Change]) -> bool:
    return change_signature(before) == change_signature(after)


def changes_digest(changes: Iterable[Change]) -> str:
    """The signature of `changes` as a digest: what is kept on disk, where no value may be written."""
    return _digest(sorted(change_signature(changes)))


def object_digest(obj: Mapping[str, Any]) -> str:
    return _digest(obj)


def unchanged_reason(changes: Sequence[Change], answer: Mapping[str, Any]) -> str:
    """`sync changes nothing: /data/a is kept by manager x; ...`, from the object the server stored."""
    owners = other_owners(answer)
    kept_by: dict[str, list[str]] = {}
    dropped: list[str] = []
    for path in sorted({change.path for change in changes}):
        steps = _trie_steps(path)
        owner = next((name for name, trie in owners if steps and owns(trie, steps)), None)
        if owner:
            kept_by.setdefault(owner, []).append(path)
        else:
            dropped.append(path)
    parts = [
        f"{_shown(paths)} kept by {manager} (another manager forces it, or a webhook sets it)"
        for manager, paths in sorted(kept_by.items())
    ]
    if dropped:
        parts.append(
            f"{_shown(dropped)} not kept by the server after the apply "
            "(a mutating webhook reverts it, or the server drops or defaults it)"
        )
    return f"{SYNC_CHANGES_NOTHING}: " + "; ".join(parts)


def still_drifted_reason(changes: Sequence[Change]) -> str:
    paths = sorted({change.path for change in changes})
    return f"still OutOfSync right after the sync: {_shown(paths)}"


def _trie_steps(path: str) -> list[str]:
    """managedFields trie steps for a pointer through maps only; [] when it crosses a list."""
    steps: list[str] = []
    for raw in path.split("/")[1:]:
        segment = raw.replace("~1", "/").replace("~0", "~")
        if segment.isdigit():
            return []
        steps.append(f"f:{segment}")
    return steps


def _shown(paths: Sequence[str]) -> str:
    text = ", ".join(paths[:PATHS_SHOWN])
    return text + (f" and {len(paths) - PATHS_SHOWN} more" if len(paths) > PATHS_SHOWN else "")


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(slots=True)
class _Mark:
    digest: str
    """changes_digest of the changes the sync left or removed."""
    reason: str
    """Empty: said when the drift comes back, from who owns the fields then."""
    until: float | None
    """Monotonic time after which a comeback of the drift is a new drift; None while it holds."""
    armed: bool = True
    """False until the sync's own result (Synced) is seen: before that, the drift is the old one."""


class UnchangeableMarks:
    """The reconciler's memory of what syncs changed nothing for, per key (drift rule 7).

    A sync leaves a mark on each resource it applied that was OutOfSync: with the same changes
    right after, the resource is marked at once; Synced right after, the mark waits, and the same
    changes coming back within FIGHT_WINDOW (another manager forcing the fields back, a controller
    reverting them) mark it then. Different changes, or a new desired object, lift the mark.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._marks: dict[ResourceKey, _Mark] = {}

    def __len__(self) -> int:
        return len(self._marks)

    def __contains__(self, key: object) -> bool:
        return key in self._marks

    def mark(
        self, key: ResourceKey, changes: tuple[Change, ...], reason: str, *, waiting: bool = False
    ) -> None:
        """Remember `changes` for `key`: marked now with `reason`, or `waiting` for them to come back."""
        until = self.clock() + FIGHT_WINDOW if waiting else None
        self._marks[key] = _Mark(changes_digest(changes), reason, until, armed=not waiting)

    def marked(self, key: ResourceKey, digest: str, reason: str) -> None:
        """Marked now, from a mark kept on disk by an earlier sync (see saved_marks)."""
        self._marks[key] = _Mark(digest, reason, None)

    def forget(self, key: ResourceKey) -> None:
        self._marks.pop(key, None)

    def reason(self, key: ResourceKey, changes: tuple[Change, ...], live: Mapping[str, Any]) -> str:
        """The marking's reason when `key`'s drift `changes` is one a sync changes nothing for, else ""."""
        mark = self._marks.get(key)
        if mark is None:
            return ""
        expired = mark.until is not None and self.clock() > mark.until
        if not changes:  # Synced: the mark waits for the same drift to come back, for a while
            if expired:
                del self._marks[key]
            elif mark.until is None:
                mark.until = self.clock() + FIGHT_WINDOW
            mark.armed = True
            return ""
        same = mark.digest == changes_digest(changes)
        if not mark.armed and not expired and same:
            return ""  # the live object from before the sync: its own event has not come yet
        if expired or not same:
            del self._marks[key]  # a new drift: a sync may change it
            return ""
        if not mark.reason:
            mark.reason = unchanged_reason(changes, live)
        mark.until = None  # it came back: it holds until the drift or Git changes
        return mark.reason


# Marks kept on disk, so that a later `kubedrift check` shows what a `kubedrift sync` found.

MARKS_FILE: Final = "sync-changes-nothing.json"


def marks_path(audit_file: Path) -> Path:
    """Beside the audit file, in kubedrift's XDG state folder."""
    return audit_file.with_name(MARKS_FILE)


def save_marks(
    path: Path, app: str, leftovers: Iterable[Leftover], desired: Mapping[ResourceKey, Any]
) -> None:
    """Keep `app`'s resources a sync changed nothing for (replacing what an earlier sync kept):
    digests of their changes and desired objects, and the reason; never a value. Best effort: a
    file that cannot be written only loses the marking in later runs."""
    entries = [
        {
            "key": [leftover.key.group, leftover.key.kind, leftover.key.namespace, leftover.key.name],
            "changes": changes_digest(leftover.changes),
            "desired": object_digest(desired[leftover.key]),
            "reason": leftover.reason,
        }
        for leftover in leftovers
        if leftover.unchanged_by_sync and leftover.key in desired
    ]
    try:
        kept = _read(path)
        if entries:
            kept[app] = entries
        else:
            kept.pop(app, None)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(kept, sort_keys=True))
        os.replace(partial, path)
    except OSError:
        return


def saved_marks(path: Path, app: str) -> list[tuple[ResourceKey, str, str, str]]:
    """(key, changes digest, desired digest, reason) that an earlier sync kept for `app`."""
    marks: list[tuple[ResourceKey, str, str, str]] = []
    for entry in _read(path).get(app) or ():
        try:
            group, kind, namespace, name = (str(part) for part in entry["key"])
            marks.append(
                (
                    ResourceKey(group, kind, namespace, name),
                    str(entry["changes"]),
                    str(entry["desired"]),
                    str(entry["reason"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return marks


def _read(path: Path) -> dict[str, Any]:
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]
