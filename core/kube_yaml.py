"""YAML read as Kubernetes reads it: the values kubectl would send to the API server as JSON.

kubectl reads manifests with sigs.k8s.io/yaml, which decodes YAML with go-yaml v2 (go.yaml.in/yaml/v2
v2.4.x, earlier its fork sigs.k8s.io/yaml/goyaml.v2; the rules below are the same in both) into
Go values, turns them into JSON (`YAMLToJSON`), and then decodes that JSON into an Unstructured
object, which keeps a number as int64 when it fits and as float64 otherwise. PyYAML follows YAML
1.1 more fully, so its SafeLoader reads some manifests differently, and cannot read some at all.

Here libyaml (through PyYAML) still parses; this module decides what each scalar means. The loader
tags an untagged plain scalar that might not be a string as `PLAIN`, and `scalar_value` and
`key_text` resolve it as go-yaml v2 does. Each row was checked against `kubectl create
--dry-run=client -o json` (kubectl v1.32). Sources: R and D are go-yaml v2's resolve.go and decode.go,
S is sigs.k8s.io/yaml's yaml.go (`convertToJSONableObject`, then `json.Marshal`), J is Go's
encoding/json, U is apimachinery's Unstructured reading of that JSON (int64 when it fits, else float64).

| YAML written                                 | JSON kubectl sends                             | Source |
|----------------------------------------------|------------------------------------------------|--------|
| `12:30`, `1:20:30`                           | `"12:30"`, `"1:20:30"` (no base 60)            | R      |
| `=`                                          | `"="` (PyYAML: a `!!value` it cannot build)    | R      |
| `y Y yes Yes YES on On ON true True TRUE`    | `true`                                         | R      |
| `n N no No NO off Off OFF false False FALSE` | `false`; any other spelling (`yEs`) is a string| R      |
| `~ null Null NULL`, nothing                  | `null`                                         | R      |
| `0777`, `0o777`, `0x1F`, `0b101`, `-0x1F`    | `511`, `511`, `31`, `5`, `-31`                 | R      |
| `08`, `09.5`                                 | `8`, `9.5` (not octal, so read as floats)      | R      |
| `1_000`, `1__0`, `1000_`; `_1000`            | `1000`, `10`, `1000`; `"_1000"`                | R      |
| `1e3`, `1.0`, `1.`, `-0.0`, `.5`, `1.5e-3`   | `1000`, `1`, `1`, `0`, `0.5`, `0.0015`         | R, J   |
| `1e20`; `1e21`                               | `100000000000000000000`; `1e+21`               | J      |
| `1e400`; `0x10000000000000000`               | `"1e400"`; `"0x10000000000000000"` (too large) | R      |
| `9223372036854775807`; `18446744073709551615`| exact; `18446744073709552000` (a float64)      | R, U   |
| `.inf`, `-.inf`, `.nan` (and `.Inf`, `.NAN`…)| refused: "json: unsupported value"             | S      |
| `2001-12-14`, `2001-12-14t21:59:43.10-05:00` | the text, unchanged                            | D      |
| `'12'`, `"yes"`, `'null'`                    | `"12"`, `"yes"`, `"null"`                      | D      |
| `!!str 12`, `!!int '12'`, `!!float 1`        | `"12"`, `12`, `1`                              | R      |
| `!!binary aGk=`, `!foo bar`                  | `"hi"`, `"bar"` (unknown tags are dropped)     | D      |
| `!!set {a}`, `!!omap [a: 1]`                 | `{"a": null}`, `[{"a": 1}]`                    | D      |
| `!!int abc`, `!!bool 1`                      | refused: "cannot decode"                       | R      |
| `<<: *base` then `a: 1`, or the other way    | the later one wins, in written order           | D      |
| `<<: [*a, *b]`; `<<: 1`                      | `*a` wins over `*b`; refused                   | D      |
| keys `1`, `true` `yes` `on` `y`, `2001-12-14`| `"1"`, `"true"`, `"2001-12-14"`                | S      |
| keys `1.5`, `1e10`, `.inf`                   | `"1.5"`, `"1e+10"`, `".inf"` (as float32)      | S      |
| keys `~`, `9223372036854775808`, `[a]`       | refused: "unsupported map key", "invalid key"  | S, D   |
| a key twice: `a`, `a`; `1`, `'1'`; `y`, `on` | kubectl keeps the last; kubedrift refuses      | D      |

One difference remains: a plain scalar with the non-specific tag `!` (`! 12`) is a string to
go-yaml but is resolved here as if untagged (`12`), since libyaml reports both alike.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import codecs
import math
import re
import struct
from decimal import Decimal
from typing import Any, Final

import yaml

from core.yaml_limits import RefusedDocument

try:
    from yaml import CBaseLoader as _ParserLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import BaseLoader as _ParserLoader  # type: ignore[assignment]

_YAML = "tag:yaml.org,2002:"
STR: Final = _YAML + "str"
MAP: Final = _YAML + "map"
SEQ: Final = _YAML + "seq"
MERGE: Final = _YAML + "merge"
BINARY: Final = _YAML + "binary"
PLAIN: Final = "kubedrift: an untagged plain scalar"
"""The tag of a plain scalar to resolve here; it holds a space, which no tag written in YAML can."""

_TYPED_STARTS = frozenset("+-0123456789.yYnNtTfFoO~<") | {""}
"""First characters of the plain scalars go-yaml v2 may read as something other than a string."""

_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), ("bool", True)),
    **dict.fromkeys(("true", "True", "TRUE"), ("bool", True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), ("bool", False)),
    **dict.fromkeys(("false", "False", "FALSE"), ("bool", False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), ("null", None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), ("float", math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), ("float", math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), ("float", -math.inf)),
}
_INTEGER = re.compile(r"([-+]?)(?:0([bB][01]+|[oO][0-7]+|[xX][0-9a-fA-F]+|[0-7]*)|([1-9][0-9]*))")
"""What Go's strconv.ParseInt(s, 0, 64) reads, underscores aside (they are removed first)."""
_BASES = {"b": 2, "o": 8, "x": 16}
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
"""go-yaml v2's yamlStyleFloat."""
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")
"""What strconv.ParseFloat reads of a scalar that starts with a dot (underscores kept)."""
_SIGNED_BITS = re.compile(r"0b[-+][01]+")
"""go-yaml v2 parses the digits after a `0b` prefix with a sign of their own: `0b-101` is -5."""
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_EXACT_FLOAT_INTEGERS = 2.0**53
_TIMESTAMP = re.compile(
    r"[0-9]{4}-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?(?:Z|[-+]([0-9]{2}):([0-9]{2}))"
    r"| +([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?)?"
)
"""go-yaml v2's allowedTimestampFormats, as Go's time.Parse reads them; consulted only for `!!timestamp`."""
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_TAGS = {_YAML + name: name for name in ("int", "float", "bool", "null", "timestamp")}
"""The tags go-yaml v2 resolves; any other (`!!str`, `!foo`, `!!map` on a scalar) keeps the text."""


def _replace_each_byte(error: UnicodeError) -> tuple[str, int]:
    """Go's encoding/json writes U+FFFD for each byte that is not UTF-8, not for each broken sequence."""
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd", error.start + 1


codecs.register_error("kubedrift-go-json", _replace_each_byte)


class KubeLoader(_ParserLoader):
    """libyaml's parser, with no PyYAML resolution: a quoted or `!!str` scalar is a string, and a
    plain one that could be anything else is tagged `PLAIN`, for `scalar_value` to resolve."""

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return PLAIN if implicit[0] and value is not None and value[:1] in _TYPED_STARTS else STR
        return SEQ if kind is yaml.SequenceNode else MAP


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The scalar as kubectl sends it in JSON: a str, bool, None, int or finite float.

    Raises RefusedDocument for what kubectl refuses: `.inf` and `.nan`, and a value its tag does not fit.
    """
    kind, value = _go_value(node)
    if kind not in ("int", "float"):
        return value
    try:
        return json_number(value)
    except ValueError:
        raise RefusedDocument(
            f"has the value {node.value!r}, a number JSON cannot hold, so kubectl refuses it "
            "(json: unsupported value); quote it if it is text",
            node.start_mark,
        ) from None


def json_number(value: float) -> int | float:
    """A number as kubectl sends it once the API machinery has read it: an int64, or else a float64,
    written by encoding/json (an integral float64 without a fraction, below 1e21).

    Raises ValueError for an infinity or NaN, which JSON cannot hold.
    """
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        value = float(value)  # Unstructured keeps a number past int64 as a float64
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value.is_integer() and abs(value) < 1e21:
        return int(value) if abs(value) < _EXACT_FLOAT_INTEGERS else int(Decimal(repr(value)))
    return value


def key_text(node: yaml.Node) -> str:
    """The mapping key as kubectl sends it in JSON, where every key is a string."""
    if not isinstance(node, yaml.ScalarNode):
        raise RefusedDocument(
            "uses a list or mapping as a mapping key, which kubectl refuses; use a plain key", node.start_mark
        )
    text: str = node.value
    if node.tag == STR:
        return text
    kind, value = _go_value(node)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return _float32_text(value)
    if kind == "int" and _INT64_MIN <= value <= _INT64_MAX:
        return str(value)
    if kind in ("int", "null"):
        what = "an empty (null)" if kind == "null" else f"the number {node.value!r} as a"
        raise RefusedDocument(
            f"uses {what} mapping key, which kubectl refuses (unsupported map key); quote the key",
            node.start_mark,
        )
    return str(value)


def is_merge(node: yaml.Node) -> bool:
    """Whether a mapping key is go-yaml's merge key: a plain or `!!merge` `<<`."""
    return isinstance(node, yaml.ScalarNode) and node.value == "<<" and node.tag in (PLAIN, MERGE)


def merge_sources(node: yaml.Node) -> list[yaml.MappingNode]:
    """The mappings a `<<` brings, in the order go-yaml applies them (each may override the last).

    In a list, the earlier mappings win, so they come last.
    """
    if isinstance(node, yaml.MappingNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        sources = [item for item in reversed(node.value) if isinstance(item, yaml.MappingNode)]
        if len(sources) == len(node.value):
            return sources
    raise RefusedDocument(
        "merges ('<<') a value that is not a mapping or a list of mappings, which kubectl refuses; "
        "merge mappings only",
        node.start_mark,
    )


def _go_value(node: yaml.ScalarNode) -> tuple[str, Any]:
    """go-yaml v2's (tag, value) for the scalar: a timestamp is its text, an int is within uint64."""
    tag, text = node.tag, node.value
    if tag == PLAIN:
        return _resolved(text, timestamps=False)
    wanted = _TAGS.get(tag)
    if wanted is None:
        return ("str", _binary_text(node)) if tag == BINARY else ("str", text)
    kind, value = _resolved(text, timestamps=wanted == "timestamp")
    if kind == wanted:
        return kind, value
    if wanted == "float" and kind == "int" and _INT64_MIN <= value <= _INT64_MAX:
        return "float", float(value)
    raise RefusedDocument(
        f"has {text!r} tagged !!{wanted}, which kubectl refuses: it reads as !!{kind} (cannot decode); "
        "fix the value or remove the tag",
        node.start_mark,
    )


def _resolved(text: str, *, timestamps: bool) -> tuple[str, Any]:
    """go-yaml v2's resolve() of an untagged (or int, float, bool, null, timestamp tagged) scalar.

    Untagged, a timestamp stays its text and so does anything that fails to parse as one, so the
    timestamp check is made only for an explicit `!!timestamp`.
    """
    word = _WORDS.get(text)
    if word is not None:
        return word
    first = text[:1]
    if first == ".":
        if _DOT_FLOAT.fullmatch(text) and math.isfinite(number := float(text)):
            return "float", number
    elif first and first in "+-0123456789":
        if timestamps and _is_timestamp(text):
            return "timestamp", text
        plain = text.replace("_", "")
        integer = _go_integer(plain)
        if integer is not None:
            return "int", integer
        if _FLOAT.fullmatch(plain) and math.isfinite(number := float(plain)):
            return "float", number
        if _SIGNED_BITS.fullmatch(plain) and _INT64_MIN <= (integer := int(plain[2:], 2)) <= _INT64_MAX:
            return "int", integer
    return "str", text


def _go_integer(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), else ParseUint (which takes no sign); None when neither reads it."""
    match = _INTEGER.fullmatch(plain)
    if match is None:
        return None
    sign, prefixed, decimal = match.groups()
    if decimal is not None:
        magnitude = int(decimal)
    elif prefixed[:1].lower() in _BASES:
        magnitude = int(prefixed[1:], _BASES[prefixed[0].lower()])
    else:
        magnitude = int(prefixed, 8) if prefixed else 0
    value = -magnitude if sign == "-" else magnitude
    if _INT64_MIN <= value <= _INT64_MAX or (not sign and value <= _UINT64_MAX):
        return value
    return None


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    year, month, day = int(text[:4]), int(match[1]), int(match[2])
    clock = match.groups()[7:] if match[8] else match.groups()[2:5]
    hour, minute, second = (int(part) for part in clock) if clock[0] else (0, 0, 0)
    zone_hours, zone_minutes = int(match[6] or 0), int(match[7] or 0)
    return (
        1 <= month <= 12
        and 1 <= day <= (29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month - 1])
        and hour < 24
        and minute < 60
        and second < 60
        and zone_hours <= 24
        and zone_minutes <= 60
    )


def _binary_text(node: yaml.ScalarNode) -> str:
    """A `!!binary` scalar as go-yaml keeps it: the decoded bytes as a Go string, as JSON writes it."""
    try:
        data = base64.b64decode(node.value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        raise RefusedDocument(
            "has a !!binary value that is not base64, which kubectl refuses; fix the value", node.start_mark
        ) from None
    return data.decode("utf-8", "kubedrift-go-json")


def _float32_text(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), as sigs.k8s.io/yaml writes a float key."""
    if math.isnan(value):
        return ".nan"
    try:
        single: float = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # past float32: Go's conversion gives an infinity
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, single) < 0 else ""
    if single == 0:
        return sign + "0"
    magnitude, text = abs(single), ""
    for precision in range(1, 10):  # the fewest digits that read back as the same float32
        text = f"{magnitude:.{precision - 1}e}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == magnitude:
            break
    mantissa, _, exponent_text = text.partition("e")
    digits, exponent = mantissa.replace(".", ""), int(exponent_text)
    if exponent < -4 or exponent >= 6:  # %e past these, as Go's 'g' decides for the shortest digits
        fraction = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"
