"""A unified YAML diff of one object for people: live (`-`) against desired (`+`).

The live side is projected onto the fields desired sets (plus those kubedrift applied before),
so server defaults and other controllers' fields do not bury the drift; that is the same view the
drift rules judge. This is display code, run for the one object a person selected.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Mapping
from typing import Any

from core.drift.keys import list_identity
from core.drift.managedfields import FieldsTrie, applied_fields, element_key
from core.drift.quantity import same_quantity
from core.drift.rules import IGNORE_ALL, DiffRules, IgnoreTrie, schema_for
from core.drift.yaml_text import split_lines, yaml_text
from core.model import SECRET_MASK, Drift
from core.schema import FieldType, ListType, Shape

_CHANGED_SECRET = SECRET_MASK + " (changed)"

VALUE_CONTEXT = 3
"""Unchanged lines shown around each change in a multi-line value, as `diff -u` shows them."""

_NO_NEWLINE = "\\ No newline at end of file"


def drift_text(
    desired: Mapping[str, Any], live: Mapping[str, Any] | None, rules: DiffRules, drift: Drift
) -> str:
    """The unified diff text; empty when the object is in sync."""
    if not drift:
        return ""
    want = _strip(desired, rules.ignore)
    if rules.secret:
        # The server folds stringData into data, so show both sides as data (and project live's
        # data onto all of it: a Secret written with stringData only still shows its live keys).
        want = {k: v for k, v in want.items() if k != "stringData"} | {
            "data": {**(desired.get("data") or {}), **(desired.get("stringData") or {})}
        }
    schema = schema_for(desired, rules)
    have = {} if live is None else _project(want, live, rules.ignore, applied_fields(live), schema)
    if rules.secret:
        changed = {change.path.rsplit("/", 1)[-1] for change in drift.changes if change.secret}
        want = _mask_secret(want, changed)
        have = _mask_secret(have, set())
    return "".join(
        difflib.unified_diff(
            _dump(have).splitlines(keepends=True) if live is not None else [],
            _dump(want).splitlines(keepends=True),
            fromfile="live",
            tofile="desired",
        )
    )


def removal_text(live: Mapping[str, Any], rules: DiffRules) -> str:
    """The diff of pruning `live`: every compared field removed."""
    have = _strip(live, rules.ignore)
    if rules.secret:
        have = _mask_secret(have, set())
    return "".join(
        difflib.unified_diff(_dump(have).splitlines(keepends=True), [], fromfile="live", tofile="desired")
    )


def _strip(obj: Mapping[str, Any], ignore: IgnoreTrie) -> dict[str, Any]:
    """`obj` without the fields the drift rules never compare (and without what that empties)."""
    out: dict[str, Any] = {}
    for name, value in obj.items():
        sub = ignore.get(name) if ignore else None
        if sub is IGNORE_ALL:
            continue
        if isinstance(value, Mapping) and sub:
            value = _strip(value, sub)
            if not value:
                continue
        out[name] = value
    return out


def _project(
    want: Any, have: Any, ignore: IgnoreTrie | None, owned: FieldsTrie | None, schema: FieldType
) -> Any:
    """Live's value cut to what `want` sets (and kubedrift owns), read with the kind's schema."""
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        out: dict[str, Any] = {}
        for name, value in want.items():
            if name in have:
                sub_ignore = ignore.get(name) if ignore else None
                sub_owned = owned.get("f:" + name) if owned else None
                out[name] = _project(value, have[name], sub_ignore, sub_owned, schema.child(name))
        for trie_key in owned or {}:
            name = trie_key[2:]
            if trie_key.startswith("f:") and name not in want and name in have:
                sub_ignore = ignore.get(name) if ignore else None
                if sub_ignore is IGNORE_ALL:
                    continue
                value = have[name]
                sub_owned = owned[trie_key] if owned else None
                if isinstance(value, Mapping) and isinstance(sub_owned, Mapping) and _names_fields(sub_owned):
                    # kubedrift owns parts of this map: show those parts, not what others wrote beside them.
                    value = _project({}, value, sub_ignore, sub_owned, schema.child(name))
                elif isinstance(value, Mapping) and sub_ignore:
                    value = _strip(value, sub_ignore)
                if value not in ({}, [], None):
                    out[name] = value
        return out
    if (
        isinstance(want, list)
        and isinstance(have, list)
        and schema.shape is Shape.LIST
        and schema.list_type is ListType.MAP
    ):
        return _project_keyed(want, have, owned, schema)
    if schema.quantity and same_quantity(want, have):
        return want  # the same amount: show it spelled as in Git on both sides
    return have


def _names_fields(owned: Mapping[str, Any]) -> bool:
    """True when a managedFields node lists child fields (rather than owning the value whole)."""
    return any(key.startswith(("f:", "k:", "v:")) for key in owned)


def _project_keyed(
    want: list[Any], have: list[Any], owned: FieldsTrie | None, list_type: FieldType
) -> list[Any]:
    """A keyed list: each desired element's live match by key, then live elements kubedrift owns."""
    by_identity = {
        list_identity(element, list_type): element for element in have if isinstance(element, Mapping)
    }
    item = list_type.item()
    out: list[Any] = []
    for element in want:
        match = (
            by_identity.pop(list_identity(element, list_type), None) if isinstance(element, Mapping) else None
        )
        if match is not None:
            out.append(_project(element, match, None, None, item))
    for trie_key in owned or {}:
        key_fields = element_key(trie_key)
        if key_fields is not None:
            leftover = by_identity.get(list_identity(key_fields, list_type))
            if leftover is not None:
                out.append(leftover)
    return out


def _mask_secret(obj: Mapping[str, Any], changed: set[str]) -> dict[str, Any]:
    masked = dict(obj)
    for section in ("data", "stringData"):
        values = masked.get(section)
        if isinstance(values, Mapping):
            masked[section] = {k: _CHANGED_SECRET if k in changed else SECRET_MASK for k in values}
    return masked


def _dump(obj: Any) -> str:
    # Multi-line strings as block scalars, so a one-line change in a file is a one-line hunk.
    return yaml_text(obj)


def is_multiline(value: Any) -> bool:
    """True for a string with a line break: a file, a script, an embedded config."""
    return isinstance(value, str) and "\n" in value


def value_diff(live: str, desired: str, context: int = VALUE_CONTEXT) -> list[str]:
    """The lines of a unified diff of one string value, live (`-`) against desired (`+`).

    Only hunks (`@@` headers, `-`/`+` lines and `context` lines around them), with no file
    headers: the caller names the field. Lines split at `\\n` only; a carriage return or another
    control character shows escaped (`\\r`), so a CRLF change is visible. A difference only in
    the final newline shows as diff shows it, with `\\ No newline at end of file`.
    """
    hunks = difflib.unified_diff(split_lines(live), split_lines(desired), n=context, lineterm="")
    out: list[str] = []
    for line in itertools.islice(hunks, 2, None):  # past the `---`/`+++` header
        if line.startswith("@@"):
            out.append(line)
            continue
        out.append(line[0] + _visible(line[1:].removesuffix("\n")))
        if not line.endswith("\n"):
            out.append(_NO_NEWLINE)
    return out


def _visible(line: str) -> str:
    return "".join(
        ch if ch == "\t" or ch.isprintable() else ch.encode("unicode_escape").decode() for ch in line
    )
