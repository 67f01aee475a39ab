"""The order of a merged list, as the strategic merge patch decides it.

Elements named in the patch keep the patch's order (or `$setElementOrder`'s); elements only the live
object has keep the live order; the two are interleaved by the live order where both are known, and
a patch element the live list lacks goes before the live elements it cannot be placed against
(normalizeElementOrder, mergeSortedSlice). `check_element_order` enforces that `$setElementOrder`
agrees with the patch list.
"""

from __future__ import annotations

from typing import Any

from sandbox.patching.failures import PatchFailure, bad_arg_type, go_format, no_merge_key
from sandbox.patching.gosort import stable_sort

DIRECTIVE = "$patch"
SET_ELEMENT_ORDER = "$setElementOrder"


def find_by_key(items: list[Any], merge_key: str, value: Any) -> int:
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchFailure(f"value for key {position} is not a map")
        if merge_key in item and item[merge_key] == value:
            return position
    return -1


def partition_scalars(items: list[Any], present: list[Any]) -> tuple[list[Any], list[Any]]:
    in_patch = [item for item in items if item in present]
    server_only = [item for item in items if item not in present]
    return in_patch, server_only


def partition_maps(items: list[Any], present: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    in_patch: list[Any] = []
    server_only: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        (in_patch if find_by_key(present, merge_key, item[merge_key]) >= 0 else server_only).append(item)
    return in_patch, server_only


def _order_value(item: Any, merge_key: str, kind: str) -> Any:
    if kind == "map":
        return item.get(merge_key) if isinstance(item, dict) else None
    return item


def _index(items: list[Any], wanted: Any, merge_key: str, kind: str) -> int:
    target = _order_value(wanted, merge_key, kind)
    for position, item in enumerate(items):
        if _order_value(item, merge_key, kind) == target:
            return position
    return -1


def normalize_element_order(
    patch: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """Patch items in the patch's order, server-only items in the live order, interleaved by the
    live order where both are known (normalizeElementOrder)."""
    patch = _sort_by_order(patch, patch_order, merge_key, kind)
    server_only = _sort_by_order(server_only, server_order, merge_key, kind)
    return _merge_sorted(server_only, patch, server_order, merge_key, kind)


def _sort_by_order(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    to_delete: list[Any] = []
    if kind == "map":
        for checked in (items, order):
            for item in checked:
                if not isinstance(item, dict):
                    raise bad_arg_type("map[string]interface {}", item)
                if merge_key not in item:
                    raise no_merge_key(item, merge_key)
        kept = [item for item in items if item.get(DIRECTIVE) != "delete"]
        to_delete = [item for item in items if item.get(DIRECTIVE) == "delete"]
        items = kept
    items = list(items)

    def less(i: int, j: int) -> bool:
        left = _index(order, items[i], merge_key, kind)
        if left >= 0:
            right = _index(order, items[j], merge_key, kind)
            if right >= 0:
                return left < right
        return True

    stable_sort(items, less)
    return items + to_delete


def _merge_sorted(
    left: list[Any], right: list[Any], server_order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    merged: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            merged.append(right[j])
            j += 1
        elif j >= len(right):
            merged.append(left[i])
            i += 1
        else:
            left_index = _index(server_order, left[i], merge_key, kind)
            right_index = _index(server_order, right[j], merge_key, kind)
            if left_index >= 0 and right_index >= 0 and left_index < right_index:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                j += 1
    return merged


def check_element_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch's elements must appear in $setElementOrder, in the same relative order."""
    if not order or not patch_list:
        return
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise bad_arg_type("map[string]interface {}", item)
        candidates = [item for item in patch_list if item.get(DIRECTIVE) != "delete"]
    else:
        candidates = patch_list
    patch_index = order_index = 0
    while patch_index < len(candidates) and order_index < len(order):
        item = candidates[patch_index]
        if isinstance(item, dict) and DIRECTIVE in item:
            patch_index += 1
            continue
        if merge_key:
            for checked in (item, order[order_index]):
                if not isinstance(checked, dict):
                    raise bad_arg_type("map[string]interface {}", checked)
                if merge_key not in checked:
                    raise no_merge_key(checked, merge_key)
            equal = item[merge_key] == order[order_index][merge_key]
        else:
            equal = item == order[order_index]
        if equal:
            patch_index += 1
        order_index += 1
    if patch_index < len(candidates):
        raise PatchFailure(
            f"The order in patch list:\n{go_format(patch_list)}\n doesn't match {SET_ELEMENT_ORDER} list:\n"
            f"{go_format(order)}\n"
        )
