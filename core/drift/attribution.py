"""Who changed a drifted field: its owner now, by the live object's `metadata.managedFields`.

Each managedFields entry names a manager, an operation (`Apply` or `Update`), a time and the fields
it owns (a fieldsV1 trie; see core.drift.managedfields). A change's pointer is walked into that trie
the way the comparator walked the objects: struct and map fields as `f:<name>`, keyed list elements
as `k:{...}` by their schema keys, set elements as `v:<json>`, and an atomic value as the node that
owns it whole.

What the answer means:
- The non-kubedrift managers owning the field: the one to name, an Update before an Apply (an
  Update is someone changing the object by hand or by a controller; an Apply shares a value), the
  newest first.
- Only kubedrift owns it: nobody else changed the live value; Git moved since the last sync, or Git
  no longer has a field kubedrift applied. No attribution.
- The field is gone from live: nobody owns what is not there. The non-kubedrift Update manager that
  last wrote under the field's parent is named, marked `parent`, when one is recorded.
- No managedFields, or nobody owns the field (the entries were cleared or never kept): unknown. It
  is never guessed from anything else.

This runs for the changes of OutOfSync resources only, never for a Synced object's event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from core.drift.keys import identity_trie_key, list_identity
from core.drift.managedfields import FieldsTrie
from core.drift.rules import pointer_segments
from core.model import FIELD_MANAGER, Attribution, Change
from core.schema import FieldType, ListType, Shape

_UPDATE: Final = "Update"
_SECRET_SECTIONS: Final = frozenset({"data", "stringData"})


class Unattributed(StrEnum):
    """Why a change names nobody."""

    NO_MANAGED_FIELDS = "unknown (the live object has no managedFields)"
    NOT_OWNED = "unknown (not in managedFields)"
    KUBEDRIFT = "nobody else (kubedrift's last sync set the live value)"


@dataclass(frozen=True, slots=True)
class ManagerEntry:
    """One managedFields entry, as attribution reads it."""

    manager: str
    operation: str
    time: str
    fields: FieldsTrie

    def owns(self, steps: Sequence[str]) -> bool:
        """Whether this entry's trie holds the node reached through `steps`."""
        node: Any = self.fields
        for step in steps:
            if not isinstance(node, Mapping):
                return False
            node = node.get(step)
            if node is None:
                return False
        return True

    @property
    def attribution(self) -> Attribution:
        return Attribution(self.manager, self.operation, self.time)


def manager_entries(live: Mapping[str, Any] | None) -> tuple[ManagerEntry, ...]:
    """Every well-formed managedFields entry of `live`, subresources included: `kubectl scale` owns
    `spec.replicas` through an entry of the `scale` subresource, in the main resource's terms."""
    metadata = live.get("metadata") if live is not None else None
    entries = metadata.get("managedFields") if isinstance(metadata, Mapping) else None
    if not isinstance(entries, list):
        return ()
    found: list[ManagerEntry] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        fields = entry.get("fieldsV1")
        manager = entry.get("manager")
        if isinstance(fields, Mapping) and isinstance(manager, str) and manager:
            found.append(
                ManagerEntry(manager, str(entry.get("operation") or ""), str(entry.get("time") or ""), fields)
            )
    return tuple(found)


def attributed(
    changes: tuple[Change, ...],
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    schema: FieldType,
) -> tuple[Change, ...]:
    """`changes` with `by` set wherever managedFields names who owns the drifted field now."""
    entries = manager_entries(live)
    if not entries:
        return changes
    result = list(changes)
    for index, change in enumerate(changes):
        found = attribution_of(change, desired, live, schema, entries)
        if isinstance(found, Attribution):
            result[index] = replace(change, by=found)
    return tuple(result)


def newest_attribution(changes: Iterable[Change]) -> Attribution | None:
    """The newest of the owners `attributed` named for `changes`: who changed the object last, for a
    line about the whole resource (`watch`); None when no change names anybody."""
    named = [change.by for change in changes if change.by is not None]
    # RFC 3339 times in UTC sort as text; the first named wins a tie, as the changes are in path order.
    return max(named, key=lambda by: by.time) if named else None


def attribution_of(
    change: Change,
    desired: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    schema: FieldType,
    entries: tuple[ManagerEntry, ...] | None = None,
) -> Attribution | Unattributed:
    """Who owns `change`'s field now, or why nobody can be named."""
    if entries is None:
        entries = manager_entries(live)
    if not entries:
        return Unattributed.NO_MANAGED_FIELDS
    steps = field_steps(change, desired, live, schema)
    if steps is None or not steps:
        return Unattributed.NOT_OWNED
    if change.live is None and change.desired is not None:
        # Nothing owns an absent field: name whoever last updated its parent, if anyone did. The
        # object itself is no parent to name: every entry writes under it (a status update too).
        if len(steps) < 2:
            return Unattributed.NOT_OWNED
        writers = [e for e in entries if e.operation == _UPDATE and e.manager != FIELD_MANAGER]
        parent = [e for e in writers if e.owns(steps[:-1])]
        if not parent:
            return Unattributed.NOT_OWNED
        return replace(_newest(parent).attribution, parent=True)
    owners = [e for e in entries if e.owns(steps)]
    others = [e for e in owners if e.manager != FIELD_MANAGER]
    if others:
        updates = [e for e in others if e.operation == _UPDATE]
        return _newest(updates or others).attribution
    return Unattributed.KUBEDRIFT if owners else Unattributed.NOT_OWNED


def field_steps(
    change: Change, desired: Mapping[str, Any], live: Mapping[str, Any] | None, schema: FieldType
) -> tuple[str, ...] | None:
    """The fieldsV1 trie steps of `change.path`: as deep as the trie can name it (an atomic value
    stops the walk, since it is owned whole); None when the pointer does not lead anywhere."""
    try:
        segments = pointer_segments(change.path)
    except ValueError:
        return None
    if desired.get("kind") == "Secret" and segments[:1] and segments[0] in _SECRET_SECTIONS:
        # The server folds stringData into data, and owns it there.
        segments = ("data", *segments[1:])
    want: Any = desired
    have: Any = live
    ftype = schema
    steps: list[str] = []
    last = len(segments) - 1
    for position, segment in enumerate(segments):
        value = want if want is not None else have
        if isinstance(value, list) or ftype.shape is Shape.LIST:
            if not segment.isdigit():
                return None
            if ftype.shape is not Shape.LIST or ftype.list_type is ListType.ATOMIC:
                return tuple(steps)  # an atomic list is owned whole, at its own node
            # A live-only element is pointed at by its position in the live list (DESIGN, CLI).
            live_only = position == last and change.desired is None
            element = _element(have if live_only else want, int(segment))
            if element is None:
                element = _element(have, int(segment))
            if element is None:
                return None
            step = _element_step(element, ftype)
            if step is None:
                return tuple(steps)
            steps.append(step)
            item = ftype.item()
            want = _matching(want, step, ftype) if not live_only else None
            have = _matching(have, step, ftype)
            ftype = item
            if ftype.shape is Shape.MAP and ftype.atomic:
                return tuple(steps)
            continue
        steps.append("f:" + segment)
        want = want.get(segment) if isinstance(want, Mapping) else None
        have = have.get(segment) if isinstance(have, Mapping) else None
        ftype = ftype.child(segment)
        if ftype.atomic and position < last:
            return tuple(steps)  # an atomic map is owned whole
    return tuple(steps)


def _element(values: Any, index: int) -> Any:
    if isinstance(values, list) and index < len(values):
        return values[index]
    return None


def _element_step(element: Any, ftype: FieldType) -> str | None:
    """The trie key of a list element: `k:` by its keys in a keyed list, `v:` in a set."""
    if ftype.list_type is ListType.SET:
        if isinstance(element, str | int | float | bool):
            return "v:" + json.dumps(element, separators=(",", ":"))
        return None
    if ftype.list_type is ListType.MAP and ftype.list_keys and isinstance(element, Mapping):
        identity = list_identity(element, ftype)
        return None if identity is None else identity_trie_key(ftype, identity)
    return None


def _matching(values: Any, step: str, ftype: FieldType) -> Any:
    """The element of list `values` that trie key `step` names, or None."""
    if not isinstance(values, list):
        return None
    for element in values:
        if _element_step(element, ftype) == step:
            return element
    return None


def _newest(entries: Sequence[ManagerEntry]) -> ManagerEntry:
    # RFC 3339 times in UTC, as the server writes them, sort as text.
    return max(entries, key=lambda entry: entry.time)


def attribution_text(found: Attribution | Unattributed, now: datetime) -> str:
    """What a person reads: `changed by kubectl-edit (Update) 4 min ago`, or why nobody is named."""
    if isinstance(found, Unattributed):
        return f"who changed it: {found}"
    when = time_ago(found.time, now)
    if found.parent:
        return f"removed; {found.manager} ({found.operation}) last wrote beside it {when}"
    return f"changed by {found.manager} ({found.operation}) {when}"


def time_ago(time: str, now: datetime) -> str:
    """`4 min ago` from an RFC 3339 time; `at an unrecorded time` when it cannot be read."""
    try:
        then = datetime.fromisoformat(time)
    except ValueError:
        return "at an unrecorded time"
    if then.tzinfo is None or now.tzinfo is None:
        return "at an unrecorded time"
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return "just now"  # a clock a little behind the server's too
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"
