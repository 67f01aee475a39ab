"""What a field Git dropped becomes after a sync: removed by the apply, then defaulted by the server.

Server-side apply removes a field kubedrift applied and Git no longer has, and the server's
defaulting runs on the result, so a field with a default comes back at once: a Deployment's
`strategy` as RollingUpdate with 25 % / 25 %, `revisionHistoryLimit` as 10, a container's
`imagePullPolicy` from its image tag. A sync changes only what differs from the live value
(drift rule 7): dropping `revisionHistoryLimit: 10` from Git changes nothing, and dropping a custom
strategy changes two leaves, not the whole struct (corpus case 053, kubernetes#118350).

The defaults are Go functions that no OpenAPI document carries; they are the ones the sandbox
stores objects with (`core.schema.server_defaults`). Custom resources have none here (a CRD's
structural defaults are not applied): their removals stay as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

from core.drift.rules import escape_segment, pointer_segments
from core.model import Change
from core.schema.server_defaults import QuantityError, default_object

_ABSENT: Final = object()


def redefaulted(live: Mapping[str, Any], changes: list[Change]) -> list[Change]:
    """`changes` with each removal (a change whose desired side is absent) replaced by what the
    server's defaulting makes of it: nothing when the default equals the live value, the differing
    leaves when it differs in part, the removal itself when nothing comes back."""
    removals = [change for change in changes if change.desired is None and change.path and not change.secret]
    if not removals:
        return changes
    group, _, _ = str(live.get("apiVersion") or "").rpartition("/")
    after = copy.deepcopy(dict(live))
    after.pop("status", None)
    for change in sorted(removals, key=_removal_order):
        _delete(after, pointer_segments(change.path))
    try:
        default_object(after, group=group, kind=str(live.get("kind") or ""))
    except QuantityError:
        return changes  # the server would refuse the object anyway; keep the plain removals
    # A removed list element is gone for good (defaulting adds no elements), and the indices after
    # it in `after` no longer match live's: removals in such a list stay as they are.
    shifted = {head for head, last in (c.path.rpartition("/")[::2] for c in removals) if last.isdigit()}
    result: list[Change] = []
    for change in changes:
        if change not in removals or any(change.path.startswith(head + "/") for head in shifted):
            result.append(change)
        else:
            result.extend(_after_defaulting(change, _value_at(after, pointer_segments(change.path))))
    return result


def _after_defaulting(removal: Change, defaulted: Any) -> Iterator[Change]:
    if defaulted is _ABSENT:
        yield removal
        return
    yield from _leaf_changes(removal.path, defaulted, removal.live)


def _leaf_changes(path: str, new: Any, old: Any) -> Iterator[Change]:
    """The leaves where `new` (after the sync) differs from `old` (live now)."""
    if isinstance(new, dict) and isinstance(old, dict):
        for name in sorted(new.keys() | old.keys()):
            sub = f"{path}/{escape_segment(name)}"
            if name not in new:
                yield Change(sub, None, old[name])
            elif name not in old:
                yield Change(sub, new[name], None)
            else:
                yield from _leaf_changes(sub, new[name], old[name])
    elif new != old or new.__class__ is not old.__class__:
        yield Change(path, new, old)


def _removal_order(change: Change) -> tuple[str, int]:
    """Later list elements first, so deleting one does not shift the index of another."""
    head, _, last = change.path.rpartition("/")
    return head, -int(last) if last.isdigit() else 0


def _delete(obj: Any, segments: tuple[str, ...]) -> None:
    node = obj
    for segment in segments[:-1]:
        node = _child(node, segment)
        if node is _ABSENT:
            return
    last = segments[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]


def _value_at(obj: Any, segments: tuple[str, ...]) -> Any:
    node = obj
    for segment in segments:
        node = _child(node, segment)
        if node is _ABSENT:
            return _ABSENT
    return node


def _child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        return node.get(segment, _ABSENT)
    if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
        return node[int(segment)]
    return _ABSENT
