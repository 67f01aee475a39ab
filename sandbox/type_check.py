"""JSON types checked against a built-in kind's schema, as decoding a body into the Go types checks
them, with the decoder's own words.

A real server unmarshals a body with (a case-sensitive fork of) encoding/json. A value of the wrong
JSON type stops it with `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
of type int32`: the innermost Go struct, the JSON path of struct fields from the root (list indexes
and map keys are not part of it), and the Go type. Types with their own UnmarshalJSON answer
differently: a Quantity takes a string or a number and reports its parser's error as it is, and an
IntOrString takes a string or an int32. The first error in the body's order wins.

How the server words it depends on the request: a create or update answers 400 "cannot be handled",
a JSON or merge patch 422 on the field `patch`, and server-side apply 500 with structured-merge-diff's
wording, since the typed patch object is built before anything is decoded.
"""

from __future__ import annotations

import json
from typing import Any

from core.schema.model import FieldType, ScalarKind, Shape
from core.schema.quantity import Quantity
from sandbox.errors import StatusError, bad_request, invalid, unreasoned_server_error
from sandbox.kinds import ResourceType
from sandbox.schemas import schema_of

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _json_kind(value: Any) -> str:
    """How encoding/json names a value it cannot store."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _go_package_name(definition: str) -> str:
    """`v1.DeploymentSpec` from `io.k8s.api.apps.v1.DeploymentSpec`."""
    parts = definition.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else definition


def _struct_name(definition: str) -> str:
    return definition.rpartition(".")[2]


def go_type(field_type: FieldType) -> str:
    """The Go type a schema node stands for, as encoding/json prints it."""
    shape = field_type.shape
    if shape is Shape.STRUCT:
        return _go_package_name(field_type.definition) if field_type.definition else "struct {}"
    if shape is Shape.MAP:
        element = go_type(field_type.element) if field_type.element else "interface {}"
        return f"map[string]{element}"
    if shape is Shape.LIST:
        return "[]" + go_type(field_type.item())
    if shape is Shape.ANY:
        return "interface {}"
    if field_type.scalar is ScalarKind.STRING:
        return "[]uint8" if field_type.format == "byte" else "string"
    if field_type.scalar is ScalarKind.INTEGER:
        return field_type.format if field_type.format in _INT_RANGES else "int64"
    if field_type.scalar is ScalarKind.NUMBER:
        return "float64"
    if field_type.scalar is ScalarKind.BOOLEAN:
        return "bool"
    return "interface {}"


class _DecodeError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Walk:
    """One decoding walk: the innermost struct and the field path, as encoding/json tracks them."""

    def type_error(self, value: str, target: str, struct: str, fields: tuple[str, ...]) -> _DecodeError:
        where = f"Go struct field {struct}.{'.'.join(fields)}" if struct or fields else "Go value"
        return _DecodeError(f"json: cannot unmarshal {value} into {where} of type {target}")

    def check(self, value: Any, field_type: FieldType, struct: str, fields: tuple[str, ...]) -> None:
        if value is None:
            return
        shape = field_type.shape
        if shape is Shape.ANY:
            return
        if shape is Shape.SCALAR:
            self.scalar(value, field_type, struct, fields)
        elif shape is Shape.STRUCT:
            if not isinstance(value, dict):
                raise self.type_error(_json_kind(value), go_type(field_type), struct, fields)
            inner = _struct_name(field_type.definition) if field_type.definition else struct
            declared = field_type.fields
            for key, item in value.items():
                if key in declared:
                    self.check(item, declared[key], inner, (*fields, key))
                elif field_type.element is not None:
                    self.check(item, field_type.element, inner, (*fields, key))
        elif shape is Shape.MAP:
            if not isinstance(value, dict):
                raise self.type_error(_json_kind(value), go_type(field_type), struct, fields)
            if field_type.element is not None:
                for item in value.values():
                    self.check(item, field_type.element, struct, fields)
        elif shape is Shape.LIST:
            if not isinstance(value, list):
                raise self.type_error(_json_kind(value), go_type(field_type), struct, fields)
            for item in value:
                self.check(item, field_type.item(), struct, fields)

    def scalar(self, value: Any, field_type: FieldType, struct: str, fields: tuple[str, ...]) -> None:
        if field_type.quantity:
            # Quantity.UnmarshalJSON parses whatever it is given (quotes stripped) and returns its
            # parser's error unchanged.
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            if isinstance(value, bool):
                text = "true" if value else "false"
            try:
                Quantity.parse(text)
            except ValueError as error:
                raise _DecodeError(str(error)) from None
            return
        if field_type.int_or_string:
            # IntOrString.UnmarshalJSON: a string, else an int32.
            if isinstance(value, str):
                return
            self.integer(value, "int32", struct, fields)
            return
        kind = field_type.scalar
        if kind is ScalarKind.STRING:
            if not isinstance(value, str):
                raise self.type_error(_json_kind(value), go_type(field_type), struct, fields)
        elif kind is ScalarKind.INTEGER:
            self.integer(value, go_type(field_type), struct, fields)
        elif kind is ScalarKind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.type_error(_json_kind(value), "float64", struct, fields)
        elif kind is ScalarKind.BOOLEAN and not isinstance(value, bool):
            raise self.type_error(_json_kind(value), "bool", struct, fields)

    def integer(self, value: Any, target: str, struct: str, fields: tuple[str, ...]) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.type_error(_json_kind(value), target, struct, fields)
        low, high = _INT_RANGES.get(target, _INT_RANGES["int64"])
        if isinstance(value, float) or not low <= value <= high:
            raise self.type_error(f"number {_number_text(value)}", target, struct, fields)


def decode_error(obj: dict[str, Any], field_type: FieldType) -> str | None:
    """The decoder's message for the first value of the wrong type in `obj`, or None."""
    try:
        _Walk().check(obj, field_type, "", ())
    except _DecodeError as error:
        return error.message
    return None


def _body_version(resource_type: ResourceType, obj: dict[str, Any]) -> str:
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return version if group == resource_type.group and version else resource_type.version


def check_body_types(resource_type: ResourceType, obj: dict[str, Any]) -> None:
    """400 when a create or update body of a built-in kind has a value of the wrong type."""
    if resource_type.custom:
        return
    message = decode_error(obj, schema_of(resource_type, str(obj.get("apiVersion") or "")))
    if message is not None:
        kind = resource_type.kind
        raise bad_request(
            f'{kind} in version "{_body_version(resource_type, obj)}" cannot be handled as a {kind}: '
            + message
        )


def check_patched_types(resource_type: ResourceType, patched: dict[str, Any]) -> None:
    """422 when a patch leaves a value of the wrong type: the patcher decodes the patched JSON into
    the Go types and reports the failure on the field `patch`, with the patched object as its value."""
    if resource_type.custom:
        return
    message = decode_error(patched, schema_of(resource_type, str(patched.get("apiVersion") or "")))
    if message is not None:
        shown = json.dumps(json.dumps(patched, separators=(",", ":")))
        raise invalid("", "", [("patch", f"Invalid value: {shown}: {message}")])


# ---- server-side apply ----


def _smd_value(value: Any) -> str:
    """A value as structured-merge-diff's errors print it (Go's %v of the decoded JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_smd_value(item)}" for key, item in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_smd_value(item) for item in value) + "]"
    return _number_text(value)


def _smd_go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "int64" if isinstance(value, int) else "float64"


def _apply_error(value: Any, field_type: FieldType, path: str) -> str | None:
    """structured-merge-diff's validation of an applied configuration (typed.AsTyped)."""
    if value is None:
        return None
    shape = field_type.shape
    if shape is Shape.ANY:
        return None
    if shape is Shape.SCALAR:
        if isinstance(value, dict | list):
            return f"{path}: expected scalar, got {_smd_value(value)}"
        if field_type.quantity or field_type.int_or_string or field_type.scalar is ScalarKind.UNTYPED:
            return None
        if field_type.scalar in (ScalarKind.INTEGER, ScalarKind.NUMBER):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{path}: expected numeric (int or float), got {_smd_go_type(value)}"
        elif field_type.scalar is ScalarKind.STRING and not isinstance(value, str):
            return f"{path}: expected string, got {_smd_value(value)}"
        elif field_type.scalar is ScalarKind.BOOLEAN and not isinstance(value, bool):
            return f"{path}: expected boolean, got {_smd_value(value)}"
        return None
    if shape in (Shape.STRUCT, Shape.MAP):
        if not isinstance(value, dict):
            return f"{path}: expected map, got {_smd_value(value)}"
        for key, item in value.items():
            found = _apply_error(item, field_type.child(key), f"{path}.{key}")
            if found:
                return found
        return None
    if not isinstance(value, list):
        return f"{path}: expected list, got {_smd_value(value)}"
    for index, item in enumerate(value):
        found = _apply_error(item, field_type.item(), f"{path}[{index}]")
        if found:
            return found
    return None


def check_applied_types(
    resource_type: ResourceType, applied: dict[str, Any], label: str
) -> StatusError | None:
    """The 500 a real server answers when an applied configuration of a built-in kind has a value
    of the wrong type, or None. `label` names the object (`ns/name; apps/v1, Kind=Deployment`)."""
    if resource_type.custom:
        return None
    message = _apply_error(applied, schema_of(resource_type, str(applied.get("apiVersion") or "")), "")
    if message is None:
        return None
    return unreasoned_server_error(f"failed to create typed patch object ({label}): {message}")
