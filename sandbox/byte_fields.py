"""The `[]byte` fields of built-in kinds (a Secret's `data`, a ConfigMap's `binaryData`, a webhook's
`caBundle`), which JSON carries as base64, decoded and written back as Go does.

Decoding uses `base64.StdEncoding`: `\\n` and `\\r` are skipped wherever they are, so line-wrapped base64
(`base64` without `-w0`, or a YAML folded block) is accepted; anything else outside the alphabet, or
bad padding, is `illegal base64 data at input byte N`, N counting bytes of the input as written.
Encoding writes the bytes back unwrapped, so the stored value is on one line.

A value that is not a string at all is the type check's business (`sandbox.type_check`).
"""

from __future__ import annotations

import base64
from typing import Any

from core.schema import FieldType, ScalarKind, Shape

__all__ = ["Base64Error", "canonical_base64", "go_base64_decode", "is_bytes", "normalise_byte_fields"]

_ALPHABET = {
    char: index
    for index, char in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_PAD = ord("=")
_LINE_BREAKS = (ord("\n"), ord("\r"))


class Base64Error(ValueError):
    """Go's CorruptInputError: the offset of the first byte the decoder could not take."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def normalise_byte_fields(obj: dict[str, Any], schema: FieldType) -> None:
    """Rewrite every base64 string of a `[]byte` field on one line, as Go writes it back. Raises
    Base64Error for the first value (in document order) Go could not decode."""
    _walk(obj, schema)


def is_bytes(field: FieldType) -> bool:
    """Whether a schema node is a Go `[]byte`: a string of format `byte`."""
    return field.shape is Shape.SCALAR and field.scalar is ScalarKind.STRING and field.format == "byte"


def canonical_base64(text: str) -> str:
    """The base64 Go writes for what it decodes from `text` (Base64Error if it cannot)."""
    return base64.b64encode(go_base64_decode(text)).decode()


def _walk(value: Any, field: FieldType) -> Any:
    if isinstance(value, str):
        return canonical_base64(value) if is_bytes(field) else value
    if isinstance(value, dict) and field.shape is Shape.STRUCT:
        for name, item in value.items():
            child = field.fields.get(name)
            if child is not None:
                value[name] = _walk(item, child)
    elif isinstance(value, dict) and field.shape is Shape.MAP and field.element is not None:
        for key, item in value.items():
            value[key] = _walk(item, field.element)
    elif isinstance(value, list) and field.shape is Shape.LIST and field.element is not None:
        for index, item in enumerate(value):
            value[index] = _walk(item, field.element)
    return value


def go_base64_decode(text: str) -> bytes:
    """Decode padded standard base64 as `base64.StdEncoding.Decode` does (see the module doc);
    trailing bits need not be zero."""
    source = text.encode()
    decoded = bytearray()
    position = 0
    while True:
        quantum: list[int] = []
        while len(quantum) < 4:
            if position == len(source):
                if not quantum:
                    return bytes(decoded)
                raise Base64Error(position - len(quantum))
            byte = source[position]
            position += 1
            if byte in _ALPHABET:
                quantum.append(_ALPHABET[byte])
            elif byte in _LINE_BREAKS:
                continue
            elif byte != _PAD or len(quantum) < 2:
                raise Base64Error(position - 1)
            else:
                _check_padding_end(source, position, len(quantum))
                decoded.extend(_bytes_of(quantum)[: len(quantum) - 1])
                return bytes(decoded)
        decoded.extend(_bytes_of(quantum))


def _check_padding_end(source: bytes, position: int, filled: int) -> None:
    """After the first `=` of a quantum of `filled` characters: a second `=` when two came, then
    nothing but line breaks."""
    if filled == 2:
        position = _skip_line_breaks(source, position)
        if position == len(source):
            raise Base64Error(len(source))
        if source[position] != _PAD:
            raise Base64Error(position - 1)
        position += 1
    position = _skip_line_breaks(source, position)
    if position < len(source):
        raise Base64Error(position)


def _skip_line_breaks(source: bytes, position: int) -> int:
    while position < len(source) and source[position] in _LINE_BREAKS:
        position += 1
    return position


def _bytes_of(quantum: list[int]) -> bytes:
    padded = quantum + [0] * (4 - len(quantum))
    bits = (padded[0] << 18) | (padded[1] << 12) | (padded[2] << 6) | padded[3]
    return bits.to_bytes(3, "big")
