"""Decoding `application/vnd.kubernetes.protobuf` request bodies into the JSON form of the object.

A body is the magic `k8s\\0` and a runtime.Unknown envelope (typeMeta, raw) whose `raw` is the
object's message. Unknown field numbers are skipped, as a protobuf decoder does; zero values are
dropped where Go's JSON encoding would omit them, so the result equals what the JSON body would be.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sandbox.errors import bad_request, unsupported_media_type
from sandbox.kinds import ResourceType
from sandbox.protobuf_schema import MESSAGES

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class _Malformed(Exception):
    pass


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str
    repeated: bool
    inline: bool
    keep_zero: bool


@cache
def _fields(message: str) -> dict[int, _Field]:
    spec = MESSAGES[message]
    text = spec if isinstance(spec, str) else "".join(spec)
    fields: dict[int, _Field] = {}
    for entry in text.split(", "):
        number, name, kind, *flags = entry.split(" ")
        marks = flags[0] if flags else ""
        fields[int(number)] = _Field(name, kind, "*" in marks, "^" in marks, "!" in marks)
    return fields


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise _Malformed("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise _Malformed("varint too long")


def _entries(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) for every field of one message."""
    found: list[tuple[int, int, Any]] = []
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == _VARINT:
            value, position = _read_varint(data, position)
        elif wire == _FIXED64:
            value, position = data[position : position + 8], position + 8
        elif wire == _FIXED32:
            value, position = data[position : position + 4], position + 4
        elif wire == _BYTES:
            length, position = _read_varint(data, position)
            value, position = data[position : position + length], position + length
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        if position > len(data):
            raise _Malformed("truncated field")
        found.append((number, wire, value))
    return found


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "s":
        return bytes(value).decode("utf-8")
    if kind == "i":
        return _signed(value)
    if kind == "b":
        return bool(value)
    if kind == "y":
        return base64.b64encode(bytes(value)).decode()
    if kind == "d":
        return struct.unpack("<d", value)[0]
    if kind == "f":
        return struct.unpack("<f", value)[0]
    if kind == "time":
        return _time(value)
    if kind == "duration":
        return _duration(value)
    if kind == "intorstring":
        parts = {n: v for n, _w, v in _entries(value)}
        return bytes(parts.get(3, b"")).decode() if parts.get(1) == 1 else _signed(parts.get(2, 0))
    if kind == "quantity":
        return bytes({n: v for n, _w, v in _entries(value)}.get(1, b"")).decode()
    if kind == "raw":
        raw = bytes({n: v for n, _w, v in _entries(value)}.get(1, b""))
        return json.loads(raw) if raw else None
    return _message(kind, value)


def _time(value: bytes) -> str | None:
    parts = {n: v for n, _w, v in _entries(value)}
    seconds, nanos = _signed(parts.get(1, 0)), parts.get(2, 0)
    if not seconds and not nanos:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    if nanos:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(value: bytes) -> str:
    """Go's time.Duration.String() for whole-second-or-coarser durations, as metav1.Duration prints."""
    nanoseconds = _signed({n: v for n, _w, v in _entries(value)}.get(1, 0))
    seconds, remainder = divmod(nanoseconds, 1_000_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    fraction = f".{remainder:09d}".rstrip("0").rstrip(".") if remainder else ""
    if hours:
        return f"{hours}h{minutes}m{seconds}{fraction}s"
    if minutes:
        return f"{minutes}m{seconds}{fraction}s"
    return f"{seconds}{fraction}s"


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False


def _map_entry(kind: str, value: bytes) -> tuple[str, Any]:
    _map, key_kind, value_kind = kind.split(":", 2)
    parts = {n: (w, v) for n, w, v in _entries(value)}
    key_wire, key_raw = parts.get(1, (_BYTES, b""))
    decoded_key = _scalar(key_kind, key_wire, key_raw)
    if 2 not in parts:
        return str(decoded_key), "" if value_kind == "s" else None
    value_wire, value_raw = parts[2]
    return str(decoded_key), _scalar(value_kind, value_wire, value_raw)


def _message(message: str, data: bytes) -> dict[str, Any]:
    if message not in MESSAGES:
        return {}
    schema = _fields(message)
    result: dict[str, Any] = {}
    for number, wire, raw in _entries(data):
        field = schema.get(number)
        if field is None:
            continue
        if field.kind.startswith("map:"):
            key, value = _map_entry(field.kind, raw)
            result.setdefault(field.name, {})[key] = value
            continue
        if field.repeated and wire == _BYTES and field.kind in ("i", "b"):
            position, packed = 0, []
            while position < len(raw):
                item, position = _read_varint(raw, position)
                packed.append(_scalar(field.kind, _VARINT, item))
            result.setdefault(field.name, []).extend(packed)
            continue
        value = _scalar(field.kind, wire, raw)
        if field.inline and isinstance(value, dict):
            result.update(value)
        elif field.repeated:
            result.setdefault(field.name, []).append(value)
        elif field.kind == "time" and value is None:
            continue
        elif field.keep_zero or not _is_zero(value):
            result[field.name] = value
    return result


def _message_name(group: str, version: str, kind: str) -> str:
    package = group.split(".")[0] if group else "core"
    return f"{package}.{version}.{kind}"


def decode(body: bytes, resource_type: ResourceType) -> dict[str, Any]:
    """The object a protobuf request body carries, in its JSON form; 415 for kinds without protobuf."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body does not start with the Kubernetes magic prefix")
    try:
        envelope = {n: v for n, _w, v in _entries(body[len(MAGIC) :])}
        type_meta = {n: bytes(v).decode() for n, _w, v in _entries(envelope.get(1, b""))}
        api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
        group, _, version = api_version.rpartition("/")
        message = _message_name(group, version, kind)
        if resource_type.custom or message not in MESSAGES:
            raise unsupported_media_type(["application/json", "application/yaml"])
        obj = _message(message, bytes(envelope.get(2, b"")))
    except (_Malformed, UnicodeDecodeError, ValueError, struct.error) as error:
        raise bad_request(
            f"the object provided is unrecognized (must be of type {resource_type.kind}): "
            f"unable to decode protobuf body: {error}"
        ) from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def decode_delete_options(body: bytes) -> dict[str, Any]:
    """The DeleteOptions of a typed client's protobuf DELETE body."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body does not start with the Kubernetes magic prefix")
    try:
        envelope = {n: v for n, _w, v in _entries(body[len(MAGIC) :])}
        return _message("meta.v1.DeleteOptions", bytes(envelope.get(2, b"")))
    except (_Malformed, UnicodeDecodeError, ValueError) as error:
        raise bad_request(f"unable to decode DeleteOptions: {error}") from None
