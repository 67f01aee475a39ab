"""JSON patch (`application/json-patch+json`, RFC 6902), with the server's edge cases.

The API server applies JSON patches with evanphx/json-patch (v4), whose behaviour differs from the
RFC in places a client can notice, and this keeps them: `replace` of a missing object member adds
it, negative array indices count from the end, and a `test` of a missing member passes when the
expected value is null. Any failing operation is answered 422 with the generic message
NewGenericServerResponse gives it; a body that is not a list of operations is a 400.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.errors import StatusError, bad_request, unprocessable, unreasoned_server_error

MAX_OPERATIONS = 10000

_MISSING: Any = object()


class _OperationFailed(Exception):
    """One operation cannot be applied; the message is what evanphx/json-patch reports."""


class _Panic(Exception):
    """An input that makes the Go library crash."""


PANIC_MESSAGE = "This request caused apiserver to panic. Look in the logs for details."


def apply_json_patch(original: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """The object after applying the operations in order; neither argument is changed."""
    if not isinstance(operations, list):
        raise bad_request(
            f"json: cannot unmarshal {_json_type(operations)} into Go value of type jsonpatch.Patch"
        )
    for operation in operations:
        if not isinstance(operation, dict):
            raise bad_request(
                f"json: cannot unmarshal {_json_type(operation)} into Go value of type jsonpatch.Operation"
            )
    if len(operations) > MAX_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            f"Request entity too large: The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
            f"got {len(operations)}",
        )
    document: Any = copy.deepcopy(original)
    try:
        for operation in operations:
            document = _apply(document, operation)
    except _OperationFailed as failure:
        error = unprocessable()
        error.add_note(str(failure))
        raise error from None
    except _Panic:
        raise unreasoned_server_error(PANIC_MESSAGE) from None
    if not isinstance(document, dict):
        raise unprocessable()
    return document


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "null" if value is None else "number"


def _string_member(operation: dict[str, Any], name: str, verb: str) -> str:
    value = operation.get(name)
    if not isinstance(value, str):
        label = "path" if name == "path" else "from"
        raise _OperationFailed(f"{verb} operation failed to decode {label}: missing value")
    return value


def _decode_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parse_index(token: str) -> int:
    try:
        return int(token, 10)
    except ValueError as error:
        raise _OperationFailed(f'strconv.Atoi: parsing "{token}": invalid syntax') from error


def _list_index(items: list[Any], token: str, *, inserting: bool = False) -> int:
    index = _parse_index(token)
    size = len(items) + (1 if inserting else 0)
    if index >= size or index < -size:
        raise _OperationFailed(f"Unable to access invalid index: {index}: invalid index referenced")
    return index + size if index < 0 else index


def _find_container(document: Any, path: str) -> tuple[Any, str]:
    """The object or list that holds the path's last token, and that token; (None, "") when the
    path does not lead anywhere."""
    tokens = path.split("/")
    if len(tokens) < 2:
        return None, ""
    container = document
    for token in tokens[1:-1]:
        step = _decode_token(token)
        if isinstance(container, dict):
            child = container.get(step)
        else:
            try:
                child = container[_list_index(container, step)]
            except _OperationFailed:
                return None, ""
        if not isinstance(child, dict | list):
            return None, ""
        container = child
    return container, _decode_token(tokens[-1])


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key, _MISSING)
    return container[_list_index(container, key)]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        try:
            index = _parse_index(key)
        except _OperationFailed as error:
            raise _OperationFailed(f"value was not a proper array index: '{key}': {error}") from error
        container.insert(_list_index(container, str(index), inserting=True), value)


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OperationFailed(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
    else:
        del container[_list_index(container, key)]


def _json_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right


def _apply(document: Any, operation: dict[str, Any]) -> Any:
    verb = operation.get("op")
    if verb not in ("add", "remove", "replace", "move", "copy", "test"):
        raise _OperationFailed(f"Unexpected kind: {verb if isinstance(verb, str) else 'unknown'}")
    path = _string_member(operation, "path", verb)
    value = copy.deepcopy(operation.get("value"))
    if verb == "replace" and path == "":
        if not isinstance(value, dict | list):
            raise _OperationFailed("replace operation value must be object or array")
        return value
    if verb == "test" and path == "":
        if not _json_equal(document, value):
            raise _OperationFailed("testing value  failed: test failed")
        return document
    if verb in ("move", "copy"):
        source = _string_member(operation, "from", verb)
        container, key = _find_container(document, source)
        if container is None:
            raise _OperationFailed(
                f"{verb} operation does not apply: doc is missing from path: {source}: missing value"
            )
        try:
            moved = _get(container, key)
            if verb == "move":
                _remove(container, key)
        except _OperationFailed as error:
            raise _OperationFailed(f"error in {verb} for path: '{key}': {error}") from error
        value = None if moved is _MISSING else copy.deepcopy(moved)
        verb_into = "add"
    else:
        verb_into = verb
    container, key = _find_container(document, path)
    if container is None:
        raise _OperationFailed(
            f'{verb} operation does not apply: doc is missing path: "{path}": missing value'
        )
    try:
        if verb_into == "add":
            _add(container, key, value)
        elif verb_into == "remove":
            _remove(container, key)
        elif verb_into == "replace":
            if isinstance(container, list):
                container[_list_index(container, key)] = value
            else:
                container[key] = value
        else:
            current = _get(container, key)
            if current is _MISSING or current is None:
                if "value" not in operation:
                    # json-patch v4.12 dereferences the absent value here and the server's panic
                    # recovery answers a bare 500.
                    raise _Panic()
                if value is not None:
                    raise _OperationFailed(f"testing value {path} failed: test failed")
            elif not _json_equal(current, value):
                raise _OperationFailed(f"testing value {path} failed: test failed")
    except _OperationFailed as error:
        raise _OperationFailed(f"error in {verb} for path: '{path}': {error}") from error
    return document
