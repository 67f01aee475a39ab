"""field.Error as k8s.io/apimachinery builds it, for custom resource validation: a path, a cause type
and the body after the path.

The bodies follow `field.Error.ErrorBody` of Kubernetes 1.31 (the version the sandbox reports), with Go's
formatting of the bad value: `%q` for strings, `%v` for numbers and booleans, `%#v` for anything else,
and "null" for nil.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One cause of a 422: the field path, its reason (`FieldValueInvalid`, ...) and the body."""

    field: str
    reason: str
    body: str


def go_quote(text: str) -> str:
    """Go's `%q` (strconv.Quote) for the strings validation reports: JSON escaping, unicode kept."""
    return json.dumps(text, ensure_ascii=False)


def go_float(number: float) -> str:
    """Go's `%v` of a float64: the shortest digits, in exponent form below 1e-4 or from 1e6 on
    (fmt's %g with the shortest precision decides with precision 6: 1e6 prints as 1e+06)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "-0" if str(number).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # where the decimal point falls among the digits
    decimal_exponent = point - 1
    prefix = "-" if sign else ""
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if decimal_exponent < 0 else '+'}{abs(decimal_exponent):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{prefix}{text}{'0' * (point - len(text))}"
    return f"{prefix}{text[:point]}.{text[point:]}"


def _go_sharp(value: Any) -> str:
    """Go's `%#v` of a value decoded from JSON (an interface{} holding it)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        entries = ", ".join(f"{go_quote(str(k))}:{_go_sharp(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + entries + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_sharp(v) for v in value) + "}"
    return go_quote(str(value))


def bad_value(value: Any) -> str:
    """The bad value as ErrorBody prints it."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return _go_sharp(value)


_PREFIXES = (
    ("Required value", "FieldValueRequired"),
    ("Invalid value", "FieldValueInvalid"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Not found", "FieldValueNotFound"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Internal error", "InternalError"),
)


def reason_of(body: str) -> str:
    """The cause type a body written by another validator stands for, from its prefix."""
    return next((reason for prefix, reason in _PREFIXES if body.startswith(prefix)), "FieldValueInvalid")


def _with_detail(body: str, detail: str) -> str:
    return f"{body}: {detail}" if detail else body


def required(field: str, detail: str = "") -> Cause:
    return Cause(field, "FieldValueRequired", _with_detail("Required value", detail))


def forbidden(field: str, detail: str) -> Cause:
    return Cause(field, "FieldValueForbidden", _with_detail("Forbidden", detail))


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, "FieldValueInvalid", _with_detail(f"Invalid value: {bad_value(value)}", detail))


def type_invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, "FieldValueTypeInvalid", _with_detail(f"Invalid value: {bad_value(value)}", detail))


def duplicate(field: str, value: Any) -> Cause:
    return Cause(field, "FieldValueDuplicate", f"Duplicate value: {bad_value(value)}")


def not_supported(field: str, value: Any, allowed: list[str]) -> Cause:
    detail = "supported values: " + ", ".join(go_quote(v) for v in allowed) if allowed else ""
    body = _with_detail(f"Unsupported value: {bad_value(value)}", detail)
    return Cause(field, "FieldValueNotSupported", body)


def too_long(field: str, max_length: int) -> Cause:
    """field.TooLongMaxLength of 1.31: the value itself is not printed."""
    detail = f"may not be longer than {max_length}" if max_length >= 0 else "value is too long"
    return Cause(field, "FieldValueTooLong", f"Too long: {detail}")


def too_many(field: str, actual: int, maximum: int) -> Cause:
    detail = f"must have at most {maximum} items" if maximum >= 0 else "has too many items"
    value = f"{actual}: " if actual >= 0 else ""
    return Cause(field, "FieldValueTooMany", f"Too many: {value}{detail}")


# The causes that stop x-kubernetes-validations rules from running (hasBlockingErr).
BLOCKING = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
