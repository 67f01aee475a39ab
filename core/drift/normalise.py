"""DESIGN rule 4, normalisation: what a desired value reads back as once the server stored it.

Decided by the schema: a struct's scalar field holding its zero value (`""`, `false`, `0`) is
dropped by Go's `omitempty` (and a desired `""` there is the server's to default or allocate, as
`clusterIP: ""`), whereas in a map (labels, annotations, ConfigMap data) every value is kept, `""`
included. Empty maps and lists read back absent. The schema cannot tell a Go pointer field (which
keeps an explicit `false`) from a plain one, so every struct field follows the zero-value rule; CRD
`preserveUnknownFields: false` is one of them.
"""

from __future__ import annotations

from typing import Any

from core.schema import FieldType, Shape


def reads_back_absent(value: Any, ftype: FieldType, struct_field: bool) -> bool:
    """True when a desired value would be absent from the live object after a sync.

    Empty maps and lists, and maps holding only such values, are omitted by the server. A struct's
    scalar field holding its zero value (`""`, `false`, `0`) is dropped by Go's `omitempty`; in a
    map (labels, annotations, ConfigMap data) a value is kept whatever it is.
    """
    if value is None:
        return True
    if isinstance(value, dict):
        if not value:
            return True
        struct = ftype.shape is Shape.STRUCT
        return all(
            reads_back_absent(v, ftype.child(k).resolved(v), struct and k in ftype.fields)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return not value
    zero = value == "" or value is False or (value.__class__ in (int, float) and value == 0)
    return struct_field and zero


def removal_changes(have: Any, parent: FieldType, name: str) -> bool:
    """Whether removing live value `have` (a field kubedrift applied and Git dropped) changes the
    object: not for empties the server keeps or puts back (`{}`, `[]`, a struct's `""`)."""
    if have is None or have == [] or have == {}:
        return False
    if isinstance(have, dict):
        return not is_empty(have)
    if have == "" and have.__class__ is str:
        return not parent.is_named_field(name)
    return True


def is_empty(value: Any) -> bool:
    """Empty maps, lists and strings, and maps of empties: nothing a sync would keep or remove."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    return isinstance(value, dict) and all(is_empty(v) for v in value.values())
