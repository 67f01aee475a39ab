"""How the strategic merge patch fails, in the words and with the status codes of the real server.

apimachinery's merge errors are plain Go errors; the API server answers the malformed-directive ones
with 400, lists of lists with 422, and the rest with a reasonless 500 (ErrorToAPIStatus). Messages
quote Go's `%v` rendering of the offending values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.errors import StatusError, bad_request, unreasoned_server_error


class PatchFailure(Exception):
    """A failure inside the merge; `status` builds the Status error the server would answer."""

    def __init__(self, message: str, status: Callable[[str], StatusError] = unreasoned_server_error) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bad_patch(message: str) -> PatchFailure:
    return PatchFailure(message, bad_request)


def json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "object"


def go_format(value: Any) -> str:
    """A value as Go's %v prints a decoded JSON value, for error messages."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{go_format(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "%!s(<nil>)"


def bad_arg_type(expected: str, actual: Any) -> PatchFailure:
    return PatchFailure(f"expected a {expected}, but received a {go_type(actual)}")


def no_merge_key(item: Any, merge_key: str) -> PatchFailure:
    return PatchFailure(f"map: {go_format(item)} does not contain declared merge key: {merge_key}")
