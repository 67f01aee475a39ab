"""OpenAPI v2 as gnostic's `openapi.v2.Document` protobuf, which kubectl 1.27 and 1.28 ask for.

Only the messages a Kubernetes swagger document uses are encoded: Document, Info, Paths, PathItem,
Operation, body/query/path parameters, Responses, Schema and the vendor extensions. Field numbers are
those of gnostic's openapiv2/OpenAPIv2.proto. As gnostic does when it compiles a JSON document, every
free-form value (an `x-` extension, a default, an enum entry, an example) is an `Any` carrying its
YAML text; JSON is valid YAML, so the JSON text is sent. Zero values are left out, as proto3 does.
"""

from __future__ import annotations

import json
import struct
from typing import Any

_VARINT, _FIXED64, _BYTES = 0, 1, 2


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 is sent as its two's complement, ten bytes long
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def message_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (an embedded message, a string or bytes); empty payloads are kept,
    since an empty embedded message is still present."""
    return _key(number, _BYTES) + _varint(len(payload)) + payload


def _string(number: int, value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        return b""
    return message_field(number, value.encode())


def _strings(number: int, values: Any) -> bytes:
    if not isinstance(values, list):
        return b""
    return b"".join(message_field(number, str(v).encode()) for v in values)


def _bool(number: int, value: Any) -> bytes:
    return _key(number, _VARINT) + b"\x01" if value is True else b""


def _double(number: int, value: Any) -> bytes:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value:
        return b""
    return _key(number, _FIXED64) + struct.pack("<d", float(value))


def _int64(number: int, value: Any) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not value:
        return b""
    return _key(number, _VARINT) + _varint(value)


def _any(number: int, value: Any) -> bytes:
    """An `Any` whose `yaml` (field 2) holds the value as JSON text."""
    return message_field(number, _string(2, json.dumps(value, ensure_ascii=False)))


def _extensions(number: int, node: dict[str, Any]) -> bytes:
    """`repeated NamedAny vendor_extension`: every `x-` key of the node, as name and YAML value."""
    return b"".join(
        message_field(number, _string(1, key) + _any(2, value))
        for key, value in node.items()
        if key.startswith("x-")
    )


def _named(number: int, name: str, value: bytes) -> bytes:
    """A `NamedX` entry of gnostic's ordered maps: name (1) and the value message (2)."""
    return message_field(number, _string(1, name) + message_field(2, value))


# Scalar fields of a Schema, by JSON name: (field number, encoder); `default` (5) sits between the two.
_SCHEMA_HEAD: tuple[tuple[str, int, Any], ...] = (
    ("$ref", 1, _string),
    ("format", 2, _string),
    ("title", 3, _string),
    ("description", 4, _string),
)
_SCHEMA_SCALARS: tuple[tuple[str, int, Any], ...] = (
    ("multipleOf", 6, _double),
    ("maximum", 7, _double),
    ("exclusiveMaximum", 8, _bool),
    ("minimum", 9, _double),
    ("exclusiveMinimum", 10, _bool),
    ("maxLength", 11, _int64),
    ("minLength", 12, _int64),
    ("pattern", 13, _string),
    ("maxItems", 14, _int64),
    ("minItems", 15, _int64),
    ("uniqueItems", 16, _bool),
    ("maxProperties", 17, _int64),
    ("minProperties", 18, _int64),
    ("required", 19, _strings),
    ("discriminator", 26, _string),
    ("readOnly", 27, _bool),
)


def schema(node: dict[str, Any]) -> bytes:
    """`openapi.v2.Schema` for one v2 JSON schema."""
    out = bytearray()
    for name, number, encode in _SCHEMA_HEAD:
        out += encode(number, node.get(name))
    if "default" in node:
        out += _any(5, node["default"])
    for name, number, encode in _SCHEMA_SCALARS:
        out += encode(number, node.get(name))
    for value in node.get("enum") or []:
        out += _any(20, value)
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out += message_field(21, message_field(1, schema(additional)))
    elif isinstance(additional, bool):
        # A oneof member is sent even when false: its presence is the information.
        out += message_field(21, _key(2, _VARINT) + (b"\x01" if additional else b"\x00"))
    kind = node.get("type")
    if kind:
        out += message_field(22, _strings(1, kind if isinstance(kind, list) else [kind]))
    items = node.get("items")
    if isinstance(items, dict | list):
        listed = items if isinstance(items, list) else [items]
        out += message_field(23, b"".join(message_field(1, schema(item)) for item in listed))
    for member in node.get("allOf") or []:
        out += message_field(24, schema(member))
    properties = node.get("properties")
    if isinstance(properties, dict):
        out += message_field(25, b"".join(_named(1, name, schema(sub)) for name, sub in properties.items()))
    # discriminator (26) and readOnly (27) went out with the scalars: protobuf readers take fields
    # in any order.
    if "example" in node:
        out += _any(30, node["example"])
    out += _extensions(31, node)
    return bytes(out)


def named_schema(name: str, node: dict[str, Any]) -> bytes:
    """One entry of `Definitions.additional_properties` (field 1 of Definitions)."""
    return _named(1, name, schema(node))


def _parameter(node: dict[str, Any]) -> bytes:
    """`ParametersItem` for one parameter object (body, query, path or header)."""
    location = node.get("in")
    if "$ref" in node:
        return message_field(2, _string(1, node["$ref"]) + _string(2, node.get("description")))
    if location == "body":
        body = (
            _string(1, node.get("description"))
            + _string(2, node.get("name"))
            + _string(3, location)
            + _bool(4, node.get("required"))
            + (message_field(5, schema(node["schema"])) if isinstance(node.get("schema"), dict) else b"")
            + _extensions(6, node)
        )
        return message_field(1, message_field(1, body))
    head = (
        _bool(1, node.get("required"))
        + _string(2, location)
        + _string(3, node.get("description"))
        + _string(4, node.get("name"))
    )
    if location in ("query", "formData"):
        # Query and form parameters carry allowEmptyValue (5), which shifts their later fields by one.
        sub_schema = (
            head
            + _bool(5, node.get("allowEmptyValue"))
            + _string(6, node.get("type"))
            + _string(7, node.get("format"))
            + _bool(20, node.get("uniqueItems"))
            + _extensions(23, node)
        )
        member = 3 if location == "query" else 2
    else:
        sub_schema = (
            head
            + _string(5, node.get("type"))
            + _string(6, node.get("format"))
            + _bool(19, node.get("uniqueItems"))
            + _extensions(22, node)
        )
        member = 4 if location == "path" else 1
    return message_field(1, message_field(2, message_field(member, sub_schema)))


def _parameters(number: int, nodes: Any) -> bytes:
    return b"".join(message_field(number, _parameter(node)) for node in nodes or [])


def _responses(node: dict[str, Any]) -> bytes:
    out = bytearray()
    for code, response in node.items():
        if code.startswith("x-"):
            continue
        body = _string(1, response.get("description"))
        if isinstance(response.get("schema"), dict):
            body += message_field(2, message_field(1, schema(response["schema"])))
        body += _extensions(5, response)
        out += _named(1, code, message_field(1, body))
    return bytes(out + _extensions(2, node))


def _operation(node: dict[str, Any]) -> bytes:
    return (
        _strings(1, node.get("tags"))
        + _string(2, node.get("summary"))
        + _string(3, node.get("description"))
        + _string(5, node.get("operationId"))
        + _strings(6, node.get("produces"))
        + _strings(7, node.get("consumes"))
        + _parameters(8, node.get("parameters"))
        + message_field(9, _responses(node.get("responses") or {}))
        + _strings(10, node.get("schemes"))
        + _bool(11, node.get("deprecated"))
        + _extensions(13, node)
    )


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def path_item(node: dict[str, Any]) -> bytes:
    out = bytearray(_string(1, node.get("$ref")))
    for method, number in _METHODS.items():
        if isinstance(node.get(method), dict):
            out += message_field(number, _operation(node[method]))
    out += _parameters(9, node.get("parameters"))
    out += _extensions(10, node)
    return bytes(out)


def named_path_item(path: str, node: dict[str, Any]) -> bytes:
    """One entry of `Paths.path` (field 2 of Paths)."""
    return _named(2, path, path_item(node))


def document(head: dict[str, Any], paths: bytes, definitions: bytes) -> bytes:
    """`openapi.v2.Document` from its `swagger` and `info`, and the already encoded entries of
    `Paths.path` and `Definitions.additional_properties` (so callers can cache them one by one)."""
    info = head.get("info") or {}
    return (
        _string(1, head.get("swagger"))
        + message_field(2, _string(1, info.get("title")) + _string(2, info.get("version")))
        + message_field(8, paths)
        + message_field(9, definitions)
    )
