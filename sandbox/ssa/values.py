"""JSON values as server-side apply handles them: hashable keys, Go's JSON text, Go's equality."""

from __future__ import annotations

import json
from typing import Any


class _Missing:
    """An absent field, as opposed to a field whose value is null."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_BOOL = "__bool__"
_LIST = "__list__"
_MAP = "__map__"


def freeze(value: Any) -> Any:
    """A hashable stand-in for a JSON value, used inside path elements (bools kept apart from ints)."""
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, list):
        return (_LIST, tuple(freeze(item) for item in value))
    if isinstance(value, dict):
        return (_MAP, tuple(sorted((key, freeze(item)) for key, item in value.items())))
    return value


def thaw(value: Any) -> Any:
    """The JSON value behind `freeze(value)`."""
    if isinstance(value, tuple):
        tag, payload = value
        if tag == _BOOL:
            return payload
        if tag == _LIST:
            return [thaw(item) for item in payload]
        return {key: thaw(item) for key, item in payload}
    return value


def sort_key(value: Any) -> tuple[Any, ...]:
    """The total order of structured-merge-diff's value.Compare, for a frozen value: numbers, then
    strings, booleans, lists, maps, and null."""
    if isinstance(value, tuple):
        tag, payload = value
        if tag == _BOOL:
            return (2, payload)
        if tag == _LIST:
            return (3, tuple(sort_key(item) for item in payload))
        return (4, tuple((key, sort_key(item)) for key, item in payload))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (5,)


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoder writes it (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_quote(text: str) -> str:
    """A string as Go's %q prints it."""
    return json.dumps(text, ensure_ascii=False)


def json_equal(left: Any, right: Any) -> bool:
    """Equality of decoded JSON values: numbers by value, booleans never equal to numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(json_equal(left[key], right[key]) for key in left)
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right
