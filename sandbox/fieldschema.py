"""How the fields of the served kinds behave when objects are patched, applied and tracked.

A real API server reads this from its Go types: the `patchStrategy`/`patchMergeKey` tags drive
strategic merge patch, and the `+listType`/`+listMapKey`/`+structType`/`+mapType` markers drive
server-side apply. Both appear here side by side, because they differ (container ports merge by
`containerPort` in a strategic merge patch but are keyed by `containerPort` and `protocol` in
managedFields).

Only what differs from the defaults is spelled out. A field nobody described behaves as a field of a
granular struct when its value is an object, an atomic list when it is a list, and a scalar otherwise,
which is what the real schema says for the great majority of fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Shape(StrEnum):
    SCALAR = "scalar"
    STRUCT = "struct"  # named fields
    MAP = "map"  # map[string]X: the keys are data, not field names
    LIST = "list"
    ANY = "any"  # undescribed: decided by the value


class ListType(StrEnum):
    ATOMIC = "atomic"
    SET = "set"
    MAP = "map"


@dataclass(frozen=True, eq=False)
class FieldType:
    """One node of a kind's schema."""

    shape: Shape
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    element: FieldType | None = None
    atomic: bool = False
    list_type: ListType = ListType.ATOMIC
    list_keys: tuple[str, ...] = ()
    key_defaults: Mapping[str, Any] = field(default_factory=dict)
    patch_strategy: str = ""
    patch_merge_key: str = ""

    def child(self, name: str) -> FieldType:
        """The type of a field of this struct or an entry of this map."""
        if self.shape is Shape.STRUCT:
            return self.fields.get(name, ANY)
        if self.shape is Shape.MAP:
            return self.element or ANY
        return ANY

    def item(self) -> FieldType:
        """The type of an element of this list."""
        return self.element or ANY

    def is_named_field(self, name: str) -> bool:
        """Whether `name` is a field name (a struct's field) rather than a map key; server-side
        apply records map entries as owned items but struct fields only through their leaves."""
        return self.shape is not Shape.MAP

    def resolved(self, value: Any) -> FieldType:
        """This type, or the type the value implies when this one is undescribed or does not fit."""
        if isinstance(value, dict):
            if self.shape in (Shape.STRUCT, Shape.MAP):
                return self
            return OPEN_STRUCT
        if isinstance(value, list):
            return self if self.shape is Shape.LIST else ATOMIC_LIST
        if self.shape is Shape.ANY:
            return SCALAR
        return self


SCALAR = FieldType(Shape.SCALAR)
ANY = FieldType(Shape.ANY)
OPEN_STRUCT = FieldType(Shape.STRUCT)
ATOMIC_LIST = FieldType(Shape.LIST, element=ANY)


def struct(
    fields: Mapping[str, FieldType] | None = None, *, atomic: bool = False, patch_strategy: str = ""
) -> FieldType:
    return FieldType(Shape.STRUCT, fields=dict(fields or {}), atomic=atomic, patch_strategy=patch_strategy)


def map_of(element: FieldType = SCALAR, *, atomic: bool = False) -> FieldType:
    return FieldType(Shape.MAP, element=element, atomic=atomic)


def list_map(
    keys: tuple[str, ...],
    element: FieldType = OPEN_STRUCT,
    *,
    merge_key: str = "",
    key_defaults: Mapping[str, Any] | None = None,
) -> FieldType:
    """A list keyed by `keys` for apply; with merge_key, also merged by that key in a strategic merge."""
    return FieldType(
        Shape.LIST,
        element=element,
        list_type=ListType.MAP,
        list_keys=keys,
        key_defaults=dict(key_defaults or {}),
        patch_strategy="merge" if merge_key else "",
        patch_merge_key=merge_key,
    )


def list_set(*, merge: bool = True) -> FieldType:
    """A list of scalars that is a set for apply (and a merged list of primitives in a strategic merge)."""
    return FieldType(
        Shape.LIST, element=SCALAR, list_type=ListType.SET, patch_strategy="merge" if merge else ""
    )


def atomic_list(element: FieldType = ANY, *, merge_key: str = "") -> FieldType:
    """Replaced whole by apply; with merge_key, still merged by that key in a strategic merge."""
    return FieldType(
        Shape.LIST,
        element=element,
        patch_strategy="merge" if merge_key else "",
        patch_merge_key=merge_key,
    )
