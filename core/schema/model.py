"""The typed schema of a kind: how each field behaves when objects are merged, applied, compared
and decoded.

One `FieldType` per node of the schema. The vocabulary is structured-merge-diff's (the engine behind
server-side apply) plus what strategic merge patch and decoding need:

- shape: a scalar, a struct (named fields), a map (`map[string]X`: keys are data), a list, or
  `ANY` (untyped: decided by the value, as structured-merge-diff's "deduced" type);
- structs and maps are granular or atomic (`x-kubernetes-map-type`);
- lists are atomic, sets, or maps keyed by `list_keys` (`x-kubernetes-list-type`), with the
  defaults of key fields that server-side apply fills in when an element omits them;
- `patch_strategy` and `patch_merge_key` drive strategic merge patch, which differs from apply
  (container ports merge by `containerPort` alone, but are keyed by `containerPort` and `protocol`);
- flags for values with their own rules: Quantity, int-or-string, embedded resources, and
  preserved unknown fields.
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
    ANY = "any"  # untyped: decided by the value


class ListType(StrEnum):
    ATOMIC = "atomic"
    SET = "set"
    MAP = "map"


class MapType(StrEnum):
    GRANULAR = "granular"
    ATOMIC = "atomic"


class ScalarKind(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    UNTYPED = "untyped"  # int-or-string, Quantity, or a scalar the schema does not type


_NO_FIELDS: Mapping[str, FieldType] = {}
_NO_DEFAULTS: Mapping[str, Any] = {}


@dataclass(frozen=True, eq=False)
class FieldType:
    """One node of a kind's schema. Nodes are shared: every use of a definition (each
    Container, wherever it appears) is the same node, and recursive definitions refer to themselves.
    """

    shape: Shape
    fields: Mapping[str, FieldType] = field(default_factory=lambda: _NO_FIELDS)
    element: FieldType | None = None  # a map's values, a list's items, a struct's unknown fields
    map_type: MapType = MapType.GRANULAR
    list_type: ListType = ListType.ATOMIC
    list_keys: tuple[str, ...] = ()
    key_defaults: Mapping[str, Any] = field(default_factory=lambda: _NO_DEFAULTS)
    patch_strategy: str = ""  # "merge", "retainKeys", "merge,retainKeys", "replace"
    patch_merge_key: str = ""
    scalar: ScalarKind | None = None
    format: str = ""  # int32, int64, double, byte, date-time, ...
    enum: tuple[Any, ...] = ()
    default: Any = None
    quantity: bool = False
    int_or_string: bool = False
    embedded_resource: bool = False
    preserve_unknown_fields: bool = False
    definition: str = ""  # the name of the schema definition this node comes from, when it has one

    # Whether a struct or map is replaced and owned whole rather than field by field (a plain
    # attribute rather than a property: the apply walks read it at every node).
    atomic: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "atomic", self.map_type is MapType.ATOMIC)

    def has_patch_strategy(self, strategy: str) -> bool:
        """Whether strategic merge patch applies `strategy` here (`merge,retainKeys` has both)."""
        return strategy in self.patch_strategy.split(",")

    def child(self, name: str) -> FieldType:
        """The type of a field of this struct or an entry of this map."""
        if self.shape is Shape.STRUCT:
            found = self.fields.get(name)
            if found is not None:
                return found
            return self.element or ANY
        if self.shape is Shape.MAP:
            return self.element or ANY
        return ANY

    def item(self) -> FieldType:
        """The type of an element of this list."""
        return self.element or ANY

    def is_named_field(self, name: str) -> bool:
        """Whether `name` is a declared field of this struct rather than a map key or an unknown
        field kept by preserve-unknown-fields; server-side apply owns map entries as items but
        struct fields only through their leaves."""
        return self.shape is Shape.STRUCT and name in self.fields

    def resolved(self, value: Any) -> FieldType:
        """This type, or the type the value implies when this one is untyped or does not fit."""
        if isinstance(value, dict):
            if self.shape in (Shape.STRUCT, Shape.MAP):
                return self
            return DEDUCED_MAP
        if isinstance(value, list):
            return self if self.shape is Shape.LIST else ATOMIC_LIST
        if self.shape is Shape.ANY:
            return SCALAR
        return self


SCALAR = FieldType(Shape.SCALAR, scalar=ScalarKind.UNTYPED)
ANY = FieldType(Shape.ANY)
# An untyped object: every key is data (structured-merge-diff's deduced map).
DEDUCED_MAP = FieldType(Shape.MAP, element=ANY)
# Kept under its older name: a struct nobody described behaves as a deduced map.
OPEN_STRUCT = DEDUCED_MAP
ATOMIC_LIST = FieldType(Shape.LIST, element=ANY)
