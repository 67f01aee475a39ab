"""Sets of field paths, and their `FieldsV1` form (structured-merge-diff's fieldpath.Set).

A path is a tuple of path elements:
- `("f", name)`: a field of a struct or an entry of a map;
- `("k", ((key, value), ...))`: a list-map element by its key fields, sorted by name;
- `("v", value)`: an element of a set of scalars;
- `("i", index)`: a list element by position.
Values inside path elements are frozen (sandbox.ssa.values.freeze) so that paths are hashable.

A set is a trie. `members` are the paths that end at this node; `children` hold the longer paths.
A node that is both is written `".": {}` in FieldsV1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from core.schema.model import FieldType, Shape
from sandbox.ssa.values import freeze, go_json, go_quote, sort_key, thaw

PathElement = tuple[str, Any]
Path = tuple[PathElement, ...]


class FieldsV1Error(ValueError):
    """A FieldsV1 document that cannot be read."""


def field(name: str) -> PathElement:
    return ("f", name)


def element_sort_key(element: PathElement) -> tuple[Any, ...]:
    """Fields first (by name), then keys, values and indexes: fieldpath.PathElement.Compare."""
    tag, payload = element
    if tag == "f":
        return (0, payload)
    if tag == "k":
        return (1, tuple((name, sort_key(value)) for name, value in payload))
    if tag == "v":
        return (2, sort_key(payload))
    return (3, payload)


def serialize_element(element: PathElement) -> str:
    tag, payload = element
    if tag == "f":
        return f"f:{payload}"
    if tag == "k":
        return "k:" + go_json({name: thaw(value) for name, value in payload})
    if tag == "v":
        return "v:" + go_json(thaw(payload))
    return f"i:{payload}"


def deserialize_element(text: str) -> PathElement | None:
    """The element a FieldsV1 key names; None for an element type this version does not know."""
    if len(text) < 2:
        raise FieldsV1Error("key must be 2 characters long:")
    if text[1] != ":":
        raise FieldsV1Error(f"missing colon: {text}")
    tag, rest = text[0], text[2:]
    try:
        if tag == "f":
            return ("f", rest)
        if tag == "v":
            return ("v", freeze(json.loads(rest)))
        if tag == "k":
            fields = json.loads(rest)
            if not isinstance(fields, dict):
                raise FieldsV1Error(f"expected an object in {text}")
            return ("k", tuple(sorted((name, freeze(value)) for name, value in fields.items())))
        if tag == "i":
            return ("i", int(rest))
    except json.JSONDecodeError as error:
        raise FieldsV1Error(str(error)) from error
    return None


def element_string(element: PathElement) -> str:
    """An element as fieldpath prints it: `.name`, `[name="web"]`, `[=value]`, `[0]`."""
    tag, payload = element
    if tag == "f":
        return f".{payload}"
    if tag == "k":
        return "[" + ",".join(f"{name}={_value_string(thaw(value))}" for name, value in payload) + "]"
    if tag == "v":
        return f"[={_value_string(thaw(payload))}]"
    return f"[{payload}]"


def _value_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(_value_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{key}={_value_string(item)}" for key, item in value.items())
    return str(value)


def path_string(path: Path) -> str:
    """A path as kubectl shows it in a conflict: `.spec.template.spec.containers[name="web"].image`."""
    return "".join(element_string(element) for element in path)


class FieldSet:
    """A set of field paths."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, *paths: Sequence[PathElement]) -> FieldSet:
        result = cls()
        for path in paths:
            result.insert(path)
        return result

    def insert(self, path: Sequence[PathElement]) -> None:
        if not path:
            return
        node = self
        for element in path[:-1]:
            child = node.children.get(element)
            if child is None:
                child = node.children[element] = FieldSet()
            node = child
        node.members.add(path[-1])

    def has(self, path: Sequence[PathElement]) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for element in path[:-1]:
            node = node.children.get(element) if node is not None else None
            if node is None:
                return False
        return node is not None and path[-1] in node.members

    def empty(self) -> bool:
        return not self.members and all(child.empty() for child in self.children.values())

    def with_prefix(self, element: PathElement) -> FieldSet:
        return self.children.get(element) or FieldSet()

    def copy(self) -> FieldSet:
        result = FieldSet()
        result.members = set(self.members)
        result.children = {element: child.copy() for element, child in self.children.items()}
        return result

    def union(self, other: FieldSet) -> FieldSet:
        result = FieldSet()
        result.members = self.members | other.members
        for element in self.children.keys() | other.children.keys():
            mine, theirs = self.children.get(element), other.children.get(element)
            if mine is not None and theirs is not None:
                result.children[element] = mine.union(theirs)
            else:
                result.children[element] = (mine or theirs or FieldSet()).copy()
        return result

    def difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other; a member of other does not remove the paths below it."""
        result = FieldSet()
        result.members = self.members - other.members
        for element, child in self.children.items():
            theirs = other.children.get(element)
            remaining = child.difference(theirs) if theirs is not None else child.copy()
            if not remaining.empty():
                result.children[element] = remaining
        return result

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other and not below a member of other."""
        result = FieldSet()
        result.members = self.members - other.members
        for element, child in self.children.items():
            if element in other.members:
                continue
            theirs = other.children.get(element)
            remaining = child.recursive_difference(theirs) if theirs is not None else child.copy()
            if not remaining.empty():
                result.children[element] = remaining
        return result

    def intersection(self, other: FieldSet) -> FieldSet:
        result = FieldSet()
        result.members = self.members & other.members
        for element, child in self.children.items():
            theirs = other.children.get(element)
            if theirs is not None:
                common = child.intersection(theirs)
                if not common.empty():
                    result.children[element] = common
        return result

    def ensure_named_fields_are_members(self, field_type: FieldType) -> FieldSet:
        """Make every struct field that has paths below it a member too, so removing the set
        removes the field whole (fieldpath.Set.EnsureNamedFieldsAreMembers)."""
        result = FieldSet()
        result.members = set(self.members)
        untyped = field_type.shape is Shape.ANY
        for element, child in self.children.items():
            tag, payload = element
            if tag == "f":
                child_type = field_type.child(payload)
                # Only a struct's declared fields: a key kept by preserve-unknown-fields is data.
                if untyped or field_type.is_named_field(payload):
                    result.members.add(element)
            else:
                child_type = field_type.item()
            result.children[element] = child.ensure_named_fields_are_members(child_type)
        return result

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every path, members before children, each level in FieldsV1 order (fieldpath.Set.Iterate)."""
        for element in sorted(self.members, key=element_sort_key):
            yield (*prefix, element)
        for element in sorted(self.children, key=element_sort_key):
            yield from self.children[element].paths((*prefix, element))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.to_fields_v1() == other.to_fields_v1()

    def __repr__(self) -> str:
        return f"FieldSet({json.dumps(self.to_fields_v1())})"

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 document, keys in the order the API server writes them."""
        document: dict[str, Any] = {}
        for element in sorted(self.members | self.children.keys(), key=element_sort_key):
            child = self.children.get(element)
            if child is None or child.empty():
                if element in self.members:
                    document[serialize_element(element)] = {}
                continue
            inner = child.to_fields_v1()
            if element in self.members:
                inner = {".": {}, **inner}
            document[serialize_element(element)] = inner
        return document

    @classmethod
    def from_fields_v1(cls, document: Mapping[str, Any]) -> FieldSet:
        if not isinstance(document, Mapping):
            raise FieldsV1Error("fieldsV1 must be an object")
        children, _ = _read(document)
        return children or cls()


def _read(document: Mapping[str, Any]) -> tuple[FieldSet | None, bool]:
    """(the set below this node, whether this node is itself a member), as readIterV1 decides."""
    children: FieldSet | None = None
    is_member = False
    for key, value in document.items():
        if key == ".":
            is_member = True
            continue
        element = deserialize_element(key)
        if element is None:
            continue
        if not isinstance(value, Mapping):
            raise FieldsV1Error(f"expected an object under {key}")
        grandchildren, child_is_member = _read(value)
        if children is None and (child_is_member or grandchildren is not None):
            children = FieldSet()
        if child_is_member and children is not None:
            children.members.add(element)
        if grandchildren is not None and children is not None:
            children.children[element] = grandchildren
    if children is None:
        is_member = True
    return children, is_member
