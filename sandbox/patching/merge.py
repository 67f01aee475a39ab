"""JSON merge patch (`application/merge-patch+json`, RFC 7386), with the server's edge cases.

Maps merge recursively, `null` deletes a key, and anything else (lists included) replaces the old
value. This follows the evanphx/json-patch MergePatch that the API server uses: nulls inside a
newly added value are dropped, including inside objects that sit in lists.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.errors import bad_request, invalid

INVALID_PATCH = "Invalid JSON Patch"


def json_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The object after applying a JSON merge patch; neither argument is changed."""
    if isinstance(patch, list):
        # The merged document is the list itself, which cannot be decoded into an object.
        text = json.dumps(_without_nulls(copy.deepcopy(patch)), separators=(",", ":"))
        raise invalid(
            "",
            "",
            [
                (
                    "patch",
                    f'Invalid value: "{text}": json: cannot unmarshal array into Go value of type '
                    "map[string]interface {}",
                )
            ],
        )
    if not isinstance(patch, dict):
        raise bad_request(INVALID_PATCH)
    document = copy.deepcopy(original)
    _merge_into(document, copy.deepcopy(patch))
    return document


def _merge_into(document: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            document.pop(key, None)
            continue
        current = document.get(key)
        if current is None:
            document[key] = _without_nulls(value)
        else:
            document[key] = _merge_value(current, value)


def _merge_value(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _without_nulls(patch)
    if not isinstance(patch, dict):
        return patch
    _merge_into(current, patch)
    return current


def _without_nulls(value: Any) -> Any:
    """Drop null members of objects, at any depth (null list elements stay)."""
    if isinstance(value, dict):
        for key in list(value):
            if value[key] is None:
                del value[key]
            else:
                _without_nulls(value[key])
    elif isinstance(value, list):
        for item in value:
            if item is not None:
                _without_nulls(item)
    return value
