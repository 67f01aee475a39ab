"""Strategic merge patch (`application/strategic-merge-patch+json`), applied as a real server does.

This follows apimachinery's `strategicpatch` in server mode (parallel lists merged, unmatched nulls
ignored): maps merge and `null` deletes; lists of the built-in types that carry a patch merge key merge
element by element; other lists are replaced. The directives are `$patch` (replace, delete, merge),
`$setElementOrder/<list>`, `$retainKeys` and `$deleteFromPrimitiveList/<list>`. Errors are answered
with the codes the server gives them: 400 for the malformed-directive errors, 422 for lists of lists,
and a reasonless 500 for the rest, as ErrorToAPIStatus does with a plain error.
"""

from __future__ import annotations

import copy
from typing import Any

from core.schema.go_types import is_built_in
from core.schema.model import FieldType
from sandbox.errors import bad_request, unprocessable, unsupported_media_type
from sandbox.patching.element_order import (
    DIRECTIVE,
    SET_ELEMENT_ORDER,
    check_element_order,
    find_by_key,
    normalize_element_order,
    partition_maps,
    partition_scalars,
)
from sandbox.patching.failures import (
    PatchFailure,
    bad_arg_type,
    bad_patch,
    go_format,
    json_type,
    no_merge_key,
)
from sandbox.patching.goslice import SharedSlice
from sandbox.schemas import built_in_schema

RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

# What a custom resource accepts instead (its handler offers no strategic merge).
CUSTOM_RESOURCE_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)

_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"


def strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], *, group: str, kind: str
) -> dict[str, Any]:
    """The object after applying a strategic merge patch; neither argument is changed."""
    if not is_built_in(group):
        raise unsupported_media_type(CUSTOM_RESOURCE_PATCH_TYPES)
    if not isinstance(patch, dict):
        raise bad_request(
            f"json: cannot unmarshal {json_type(patch)} into Go value of type map[string]interface {{}}"
        )
    # The merge keys and strategies of the version the object is written in (the official schema).
    schema = built_in_schema(group, str(original.get("apiVersion") or "").rpartition("/")[2], kind)
    try:
        return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)
    except PatchFailure as failure:
        raise failure.status(failure.message) from None


def _same_type(left: Any, right: Any) -> bool:
    """Whether two decoded JSON values have the same Go type (all numbers count as one)."""

    def category(value: Any) -> str:
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int | float):
            return "number"
        return type(value).__name__

    return category(left) == category(right)


def _extract_key(key: str, prefix: str) -> str:
    head, separator, tail = key.partition("/")
    if not separator or head != prefix:
        raise bad_patch(
            _BAD_PRIMITIVE_LIST if prefix == DELETE_FROM_PRIMITIVE_LIST else _BAD_SET_ELEMENT_ORDER
        )
    return tail


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """The value without directive-carrying maps, and whether the value itself survives."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        for key in list(value):
            child, keep = _remove_directives(value[key])
            if keep:
                value[key] = child
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        kept = []
        for item in value:
            child, keep = _remove_directives(item)
            if keep:
                kept.append(child)
        return kept, True
    return value, True


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for key in list(value):
            if value[key] is None:
                del value[key]
            else:
                _discard_nulls(value[key])
    elif isinstance(value, list):
        for item in value:
            _discard_nulls(item)


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: FieldType) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _map_directive(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    schema = schema.resolved(original)
    _apply_retain_keys(original, patch)
    _merge_element_orders(original, patch, schema)
    for key in list(patch):
        patch_value = patch[key]
        is_delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if is_delete_list:
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original or not _same_type(original[key], patch_value):
            if not is_delete_list:
                _discard_nulls(patch_value)
                value, keep = _remove_directives(patch_value)
                if keep:
                    original[key] = value
                else:
                    original.pop(key, None)
            continue
        field_type = schema.child(key)
        current = original[key]
        if isinstance(current, dict):
            if field_type.has_patch_strategy("replace"):
                original[key] = patch_value
            else:
                original[key] = _merge_map(current, patch_value, field_type)
        elif isinstance(current, list):
            original[key] = _merge_list_field(current, patch_value, field_type, is_delete_list)
        else:
            value, keep = _remove_directives(patch_value)
            if keep:
                original[key] = value
            else:
                del original[key]
    return original


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace":
        del patch[DIRECTIVE]
        return patch
    if directive == "delete":
        return {}
    raise PatchFailure(f"unknown patch type: {directive} in map: {go_format(patch)}")


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list):
        raise bad_patch(_BAD_RETAIN_KEYS)
    keep = {key for key in retained if isinstance(key, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise bad_patch(_BAD_RETAIN_KEYS)
    for key in list(original):
        if key not in keep:
            del original[key]


def _merge_list_field(
    current: list[Any], patch_value: list[Any], field_type: FieldType, is_delete_list: bool
) -> list[Any]:
    if field_type.has_patch_strategy("merge") or is_delete_list:
        return _merge_list(
            current, patch_value, field_type.item(), field_type.patch_merge_key, is_delete_list
        )
    return patch_value


def _element_kind(*lists: list[Any] | None) -> str:
    """'map' or 'scalar' for the elements of the lists, whose Go types must agree (sliceElementType)."""
    found: str | None = None
    for items in lists:
        for item in items or []:
            kind = json_type(item)
            if found is None:
                if kind == "array":
                    raise PatchFailure("lists of lists are not supported", lambda _message: unprocessable())
                found = kind
            elif kind != found:
                raise PatchFailure(f"list element types are not identical: {go_format(list(lists))}")
    if found is None:
        raise PatchFailure("no elements in any of the given slices")
    return "map" if found == "object" else "scalar"


def _merge_list(
    original: list[Any], patch: list[Any], schema: FieldType, merge_key: str, is_delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            return [item for item in original if item not in patch]
        merged = _deduplicate_scalars(original + patch)
        patch_items, server_only = partition_scalars(merged, patch)
        return normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)
    if not merge_key:
        raise PatchFailure("cannot merge lists without merge key for struct")
    server_order, patch, merged = _merge_maps(original, patch, merge_key, schema)
    patch_items, server_only = partition_maps(merged, patch, merge_key)
    return normalize_element_order(patch_items, server_only, patch, server_order, merge_key, kind)


def _merge_maps(
    original: list[Any], patch: list[Any], merge_key: str, schema: FieldType
) -> tuple[list[Any], list[Any], list[Any]]:
    """Apply the element directives, then merge or append each patch element by its key. Returns
    the live order after the deletions, the patch without directives, and the merged list. The
    caller's `original` list is written through as Go's shared array is."""
    shared = SharedSlice(original)
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise no_merge_key(item, merge_key)
            while (position := find_by_key(shared.items(), merge_key, item[merge_key])) >= 0:
                shared.delete(position)
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchFailure("merging lists cannot yet be specified in the patch")
        else:
            raise PatchFailure(f"unknown patch type: {directive} in map: {go_format(item)}")
    if replace:
        # The patch's own elements become the list; nothing is merged into it.
        shared = SharedSlice(list(plain))
        plain = []
    server_order = shared.items()
    for item in plain:
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        position = find_by_key(shared.items(), merge_key, item[merge_key])
        if position >= 0:
            shared.replace(position, _merge_map(shared.items()[position], item, schema))
        else:
            shared.append(item)
    return server_order, plain, shared.items()


def _deduplicate_scalars(items: list[Any]) -> list[Any]:
    """Go's in-place deduplication: a duplicate is overwritten by the last element."""
    items = list(items)
    length = len(items) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if items[i] == items[j] and type(items[i]) is type(items[j]):
                items[j] = items[length]
                items = items[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return items


def _merge_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: FieldType) -> None:
    """Process `$setElementOrder/<list>` with its list: merge, then order the result
    ($setElementOrder first, then the patch's order, then the live order)."""
    for key in list(patch):
        if not key.startswith(SET_ELEMENT_ORDER):
            continue
        order = patch.pop(key)
        if not isinstance(order, list):
            raise bad_arg_type("[]interface {}", order)
        list_key = _extract_key(key, SET_ELEMENT_ORDER)
        found_original = list_key in original
        found_patch = list_key in patch
        original_list: list[Any] | None = None
        patch_list: list[Any] | None = None
        if found_original:
            if not isinstance(original[list_key], list):
                raise bad_arg_type("[]interface {}", original[list_key])
            original_list = original[list_key]
        if found_patch:
            if not isinstance(patch[list_key], list):
                raise bad_arg_type("[]interface {}", patch[list_key])
            patch_list = patch[list_key]
        field_type = schema.child(list_key)
        merge_key = field_type.patch_merge_key
        check_element_order(patch_list or [], order, merge_key)
        if original_list is not None and patch_list is None:
            merged = original_list
        elif original_list is None and patch_list is not None:
            merged, _ = _remove_directives(patch_list)
        elif original_list is not None and patch_list is not None:
            merged = _merge_list_field(original_list, patch_list, field_type, False)
        else:
            continue
        if merge_key:
            patch_items, server_only = partition_maps(merged, order, merge_key)
        else:
            patch_items, server_only = partition_scalars(merged, order)
        kind = _element_kind(original_list, patch_list)
        original[list_key] = normalize_element_order(
            patch_items, server_only, order, original_list or [], merge_key, kind
        )
        patch.pop(list_key, None)
