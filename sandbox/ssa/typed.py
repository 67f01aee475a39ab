"""Walks over an object guided by its schema, as structured-merge-diff's `typed` package does them:
the set of fields an object sets, the comparison of two objects, the apply merge, and removal.

Values are decoded JSON. An absent field is MISSING; a field set to null is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.schema.model import ATOMIC_LIST, DEDUCED_MAP, FieldType, ListType, Shape
from sandbox.ssa.fieldset import FieldSet, Path, PathElement, element_string, path_string
from sandbox.ssa.values import MISSING, freeze, go_quote, json_equal

_Key = TypeVar("_Key")


class TypedError(ValueError):
    """An object that does not fit its schema (a list-map element without its keys, a duplicate)."""


def _as_map_type(field_type: FieldType) -> FieldType:
    return field_type if field_type.shape in (Shape.STRUCT, Shape.MAP) else DEDUCED_MAP


def _as_list_type(field_type: FieldType) -> FieldType:
    return field_type if field_type.shape is Shape.LIST else ATOMIC_LIST


def list_element(list_type: FieldType, item: Any, path: Path, position: int) -> PathElement:
    """The path element of a list item: its key fields for a list-map, its value for a set."""
    where = f"{path_string(path)}: element {position}: "
    if list_type.list_type is ListType.MAP:
        if item is None:
            raise TypedError(where + "associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise TypedError(where + "associative list with keys may not have non-map elements")
        keys: list[tuple[str, Any]] = []
        for name in list_type.list_keys:
            if name in item:
                keys.append((name, freeze(item[name])))
            elif name in list_type.key_defaults:
                keys.append((name, freeze(list_type.key_defaults[name])))
        if not keys:
            wanted = "[" + " ".join(go_quote(name) for name in list_type.list_keys) + "]"
            raise TypedError(
                where + f"associative list with keys has an element that omits all key fields {wanted} "
                "(and doesn't have default values for any key fields)"
            )
        return ("k", tuple(sorted(keys)))
    if isinstance(item, dict):
        raise TypedError(where + "associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise TypedError(where + "not supported: associative list with lists as elements")
    if item is None:
        raise TypedError(where + "associative list without keys has an element that's an explicit null")
    return ("v", freeze(item))


# ---- the fields an object sets ----


def to_field_set(value: Any, field_type: FieldType) -> FieldSet:
    """Every field the object sets: leaves, list elements, empty or null values, map entries and
    atomic values (TypedValue.ToFieldSet)."""
    result = FieldSet()
    _collect(value, field_type, (), result)
    return result


def _collect(value: Any, field_type: FieldType, path: Path, result: FieldSet) -> None:
    if isinstance(value, dict):
        map_type = _as_map_type(field_type)
        if map_type.atomic:
            result.insert(path)
            return
        for key, child in value.items():
            child_path = (*path, ("f", key))
            _collect(child, map_type.child(key), child_path, result)
            if child is None or child == {} or not map_type.is_named_field(key):
                result.insert(child_path)
    elif isinstance(value, list):
        list_type = _as_list_type(field_type)
        if list_type.list_type is ListType.ATOMIC:
            result.insert(path)
            return
        elements = [list_element(list_type, item, path, i) for i, item in enumerate(value)]
        seen: set[PathElement] = set()
        duplicates: set[PathElement] = set()
        for element in elements:
            if element in seen:
                duplicates.add(element)
            seen.add(element)
        for element in duplicates:
            result.insert((*path, element))
        for item, element in zip(value, elements, strict=True):
            if element in duplicates:
                continue
            _collect(item, list_type.item(), (*path, element), result)
            result.insert((*path, element))
    elif value is not None:
        result.insert(path)


# ---- comparison ----


@dataclass
class Comparison:
    """What changed from one object to another; a path is in at most one of the three sets."""

    removed: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    added: FieldSet = field(default_factory=FieldSet)

    def is_same(self) -> bool:
        return self.removed.empty() and self.modified.empty() and self.added.empty()

    def excluding(self, excluded: FieldSet) -> Comparison:
        """Without the excluded paths and everything below them (the reset fields of a strategy)."""
        if excluded.empty():
            return self
        return Comparison(
            self.removed.recursive_difference(excluded),
            self.modified.recursive_difference(excluded),
            self.added.recursive_difference(excluded),
        )


def compare(old: Any, new: Any, field_type: FieldType) -> Comparison:
    comparison = Comparison()
    _compare(old, new, field_type, (), comparison)
    return comparison


def _container(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _leaf(old: Any, new: Any, path: Path, comparison: Comparison) -> None:
    if old is MISSING:
        comparison.added.insert(path)
    elif new is MISSING:
        comparison.removed.insert(path)
    elif not json_equal(old, new):
        comparison.modified.insert(path)


def _compare(old: Any, new: Any, field_type: FieldType, path: Path, comparison: Comparison) -> None:
    kinds = {_container(v) for v in (old, new) if v is not MISSING and v is not None}
    if len(kinds) > 1:
        comparison.modified.insert(path)
        return
    kind = kinds.pop() if kinds else "scalar"
    if kind == "scalar":
        _leaf(old, new, path, comparison)
        return
    if kind == "map":
        map_type = _as_map_type(field_type)
        old_map = old if isinstance(old, dict) else {}
        new_map = new if isinstance(new, dict) else {}
        if map_type.atomic or (not old_map and not new_map):
            _leaf(old, new, path, comparison)
            return
        for key in _union_keys(old_map, new_map):
            _compare(
                old_map.get(key, MISSING),
                new_map.get(key, MISSING),
                map_type.child(key),
                (*path, ("f", key)),
                comparison,
            )
    else:
        list_type = _as_list_type(field_type)
        old_list = old if isinstance(old, list) else []
        new_list = new if isinstance(new, list) else []
        if list_type.list_type is ListType.ATOMIC or (not old_list and not new_list):
            _leaf(old, new, path, comparison)
            return
        _compare_items(old_list, new_list, list_type, path, comparison)
    if old is MISSING:
        comparison.added.insert(path)
    elif new is MISSING:
        comparison.removed.insert(path)


def _union_keys(first: dict[_Key, Any], second: dict[_Key, Any]) -> list[_Key]:
    return list(first) + [key for key in second if key not in first]


def _group_by_element(items: list[Any], list_type: FieldType, path: Path) -> dict[PathElement, list[Any]]:
    groups: dict[PathElement, list[Any]] = {}
    for position, item in enumerate(items):
        groups.setdefault(list_element(list_type, item, path, position), []).append(item)
    return groups


def _compare_items(
    old: list[Any], new: list[Any], list_type: FieldType, path: Path, comparison: Comparison
) -> None:
    old_groups = _group_by_element(old, list_type, path)
    new_groups = _group_by_element(new, list_type, path)
    item_type = list_type.item()
    for element in _union_keys(old_groups, new_groups):
        before = old_groups.get(element, [])
        after = new_groups.get(element, [])
        item_path = (*path, element)
        if len(before) <= 1 and len(after) <= 1:
            _compare(
                before[0] if before else MISSING,
                after[0] if after else MISSING,
                item_type,
                item_path,
                comparison,
            )
        elif len(before) >= 2 and len(after) >= 2:
            if not json_equal(before, after):
                comparison.modified.insert(item_path)
        elif len(before) >= 2:
            if after:
                _compare(MISSING, after[0], item_type, item_path, comparison)
            comparison.removed.insert(item_path)
        else:
            if before:
                _compare(before[0], MISSING, item_type, item_path, comparison)
            comparison.added.insert(item_path)


# ---- the apply merge ----


def merge(live: Any, config: Any, field_type: FieldType) -> Any:
    """The live object with the applied configuration merged in: maps and list-maps merge, sets
    join, and everything else takes the configuration's value (TypedValue.Merge)."""
    return _merge(live, config, field_type, ())


def _merge(live: Any, config: Any, field_type: FieldType, path: Path) -> Any:
    if config is MISSING:
        return live
    if live is MISSING:
        return config
    kinds = {_container(v) for v in (live, config) if v is not None}
    if len(kinds) > 1 or not kinds or kinds == {"scalar"}:
        return config
    if isinstance(config, dict) or isinstance(live, dict):
        map_type = _as_map_type(field_type)
        live_map = live if isinstance(live, dict) else {}
        config_map = config if isinstance(config, dict) else {}
        if map_type.atomic or (not live_map and not config_map):
            return config
        merged: dict[str, Any] = {}
        for key in _union_keys(live_map, config_map):
            value = _merge(
                live_map.get(key, MISSING),
                config_map.get(key, MISSING),
                map_type.child(key),
                (*path, ("f", key)),
            )
            if value is not MISSING:
                merged[key] = value
        return merged if merged else MISSING
    list_type = _as_list_type(field_type)
    live_list = live if isinstance(live, list) else []
    config_list = config if isinstance(config, list) else []
    if list_type.list_type is ListType.ATOMIC or (not live_list and not config_list):
        return config
    return _merge_items(live_list, config_list, list_type, path)


def _index_elements(
    items: list[Any], list_type: FieldType, path: Path, *, allow_duplicates: bool
) -> tuple[list[PathElement], dict[PathElement, Any]]:
    elements: list[PathElement] = []
    observed: dict[PathElement, Any] = {}
    for position, item in enumerate(items):
        element = list_element(list_type, item, path, position)
        if element in observed:
            if not allow_duplicates:
                raise TypedError(f"{path_string(path)}: duplicate entries for key {element_string(element)}")
            observed[element] = None
        else:
            observed[element] = item
        elements.append(element)
    return elements, observed


def _merge_items(live: list[Any], config: list[Any], list_type: FieldType, path: Path) -> Any:
    """Merge a list-map or set, keeping the live order and placing new elements where the
    configuration puts them relative to the elements both have (mergingWalker.visitListItems)."""
    config_elements, observed_config = _index_elements(config, list_type, path, allow_duplicates=False)
    live_elements, observed_live = _index_elements(live, list_type, path, allow_duplicates=True)
    item_type = list_type.item()
    shared = [element for element in config_elements if element in observed_live]
    next_shared = shared.pop(0) if shared else None
    done: set[PathElement] = set()
    result: list[Any] = []

    def add(before: Any, after: Any, element: PathElement) -> None:
        value = _merge(before, after, item_type, (*path, element))
        if value is not MISSING:
            result.append(value)

    live_index = config_index = 0
    while live_index < len(live_elements) or config_index < len(config_elements):
        if live_index < len(live_elements) and config_index < len(config_elements):
            element = live_elements[live_index]
            if element == config_elements[config_index]:
                done.add(element)
                add(observed_live[element], observed_config[element], element)
                live_index += 1
                config_index += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in observed_config and next_shared is not None and next_shared != element:
                live_index += 1
                continue
        if live_index < len(live_elements):
            element = live_elements[live_index]
            if element not in observed_config:
                add(live[live_index], MISSING, element)
                live_index += 1
                continue
            if element in done:
                live_index += 1
        if config_index < len(config_elements):
            element = config_elements[config_index]
            done.add(element)
            add(observed_live.get(element, MISSING), observed_config[element], element)
            config_index += 1
            if next_shared is not None and next_shared == element:
                next_shared = shared.pop(0) if shared else None
    return result if result else MISSING


# ---- removal ----


def remove_items(value: Any, removed: FieldSet, field_type: FieldType) -> Any:
    """The value without the paths in `removed`: a member path goes whole, a path with children
    loses only those (TypedValue.RemoveItems). Containers left empty become null."""
    if isinstance(value, dict):
        map_type = _as_map_type(field_type)
        if not value or map_type.atomic:
            return None
        kept: dict[str, Any] = {}
        for key, child in value.items():
            element = ("f", key)
            if element in removed.members:
                continue
            below = removed.children.get(element)
            kept[key] = remove_items(child, below, map_type.child(key)) if below is not None else child
        return kept or None
    if isinstance(value, list):
        list_type = _as_list_type(field_type)
        if not value or list_type.list_type is ListType.ATOMIC:
            return None
        kept_items: list[Any] = []
        for position, item in enumerate(value):
            try:
                element = list_element(list_type, item, (), position)
            except TypedError:
                kept_items.append(item)
                continue
            if element in removed.members:
                continue
            below = removed.children.get(element)
            kept_items.append(remove_items(item, below, list_type.item()) if below is not None else item)
        return kept_items or None
    return value
