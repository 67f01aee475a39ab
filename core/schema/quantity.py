"""Resource quantities in the canonical form a real API server stores (apimachinery resource.Quantity).

A quantity keeps the suffix family it was written in (binary `Ki..Ei`, decimal `n..E`, or an `e`
exponent) and is written back with no fractional digits and the largest suffix that loses nothing:
`0.5` -> `500m`, `1.5Gi` -> `1536Mi`, `2048Ki` -> `2Mi`, `1e3` -> `1e3`.
"""

from __future__ import annotations

import math
from enum import StrEnum
from fractions import Fraction

QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_WRONG = f"quantities must match the regular expression '{QUANTITY_PATTERN}'"
NUMERIC_WRONG = "unable to parse numeric part of quantity"
SUFFIX_WRONG = "unable to parse quantity's suffix"

_DIGITS = "0123456789"
_SUFFIX_CHARS = "eEinumkKMGTP"
_MAX_INT64_FACTORS = 18
_NANO = -9
_MAX_INT64 = 2**63 - 1


class QuantityFormat(StrEnum):
    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}


def _scan(text: str) -> tuple[bool, str, str, str, str]:
    """Split a quantity into (positive, number text, numerator, denominator, suffix), as
    parseQuantityString scans it."""
    positive = True
    pos = 0
    end = len(text)
    if text[:1] == "-":
        positive = False
        pos = 1
    elif text[:1] == "+":
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    numerator = text[start:pos] or "0"
    if pos >= end:
        return positive, text, numerator, "", ""
    denominator = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denominator = text[start:pos]
        if pos >= end:
            return positive, text, numerator, denominator, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise ValueError(FORMAT_WRONG)
    return positive, value, numerator, denominator, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, QuantityFormat]:
    """(base, exponent, format) of a suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], QuantityFormat.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], QuantityFormat.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:]), QuantityFormat.DECIMAL_EXPONENT
        except ValueError:
            pass
    raise ValueError(SUFFIX_WRONG)


def _round_up(value: Fraction, exponent: int) -> Fraction:
    """Round away from zero to a multiple of 10**exponent (inf.RoundUp)."""
    step = Fraction(10) ** exponent
    units = value / step
    whole = math.ceil(units) if value > 0 else math.floor(units)
    return whole * step


class Quantity:
    """A parsed quantity: an exact value, the format it is written back in, and the text a real
    server would keep verbatim because it is already canonical."""

    def __init__(self, value: Fraction, quantity_format: QuantityFormat, verbatim: str = "") -> None:
        self.value = value
        self.format = quantity_format
        self.verbatim = verbatim

    @classmethod
    def parse(cls, text: str) -> Quantity:
        text = text.strip()
        if not text:
            raise ValueError(FORMAT_WRONG)
        if text == "0":
            return cls(Fraction(0), QuantityFormat.DECIMAL_SI, "0")
        positive, value_text, numerator, denominator, suffix = _scan(text)
        base, exponent, quantity_format = _interpret(suffix)
        sign = 1 if positive else -1
        if quantity_format is QuantityFormat.BINARY_SI:
            precision = -1
            if exponent >= 0 and not denominator:
                precision = 15 - len(numerator) - int(exponent * 3 / 10) - 1
            scale = 0
        else:
            precision = _MAX_INT64_FACTORS - len(numerator) - len(denominator)
            scale = exponent
        if precision >= 0:
            scale -= len(denominator)
            if scale >= _NANO:
                shifted = numerator + denominator
                mantissa = int(shifted)
                multiplier = 1 << exponent if quantity_format is QuantityFormat.BINARY_SI else 1
                if abs(mantissa * multiplier) <= _MAX_INT64:
                    amount = sign * Fraction(mantissa * multiplier) * Fraction(10) ** scale
                    # A value already written canonically keeps its exact text, as the Go parser does.
                    if quantity_format is QuantityFormat.BINARY_SI:
                        keep = exponent % 10 == 0 and mantissa & 0x07 != 0
                    else:
                        keep = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
                    return cls(amount, quantity_format, text if keep else "")
        try:
            magnitude = Fraction(value_text.lstrip("+-") or "0")
        except ValueError as error:
            raise ValueError(NUMERIC_WRONG) from error
        magnitude *= Fraction(10) ** exponent if base == 10 else Fraction(2) ** exponent
        if magnitude != 0:
            magnitude = _round_up(magnitude, _NANO)
        if quantity_format is QuantityFormat.BINARY_SI and magnitude > _MAX_INT64:
            magnitude = Fraction(_MAX_INT64)
        if quantity_format is QuantityFormat.BINARY_SI and 0 < magnitude < 1:
            quantity_format = QuantityFormat.DECIMAL_SI
        return cls(sign * magnitude, quantity_format)

    def round_up(self, exponent: int) -> None:
        """RoundUp(scale): what defaulting does to resource lists (milli scale, so 0.1m -> 1m)."""
        rounded = _round_up(self.value, exponent)
        if rounded != self.value:
            self.value = rounded
            self.verbatim = ""

    def __str__(self) -> str:
        if self.verbatim:
            return self.verbatim
        if self.value == 0:
            return "0"
        quantity_format = self.format
        if quantity_format is QuantityFormat.BINARY_SI and (
            -1024 < self.value < 1024 or self.value.denominator != 1
        ):
            quantity_format = QuantityFormat.DECIMAL_SI
        if quantity_format is QuantityFormat.BINARY_SI:
            amount = int(self.value)
            power = 0
            while amount % 1024 == 0 and power < 6:
                amount //= 1024
                power += 1
            return f"{amount}{_BINARY_BY_EXPONENT.get(power * 10, '')}"
        mantissa, exponent = _decimal_mantissa(self.value)
        while exponent % 3 != 0:
            mantissa *= 10
            exponent -= 1
        if quantity_format is QuantityFormat.DECIMAL_EXPONENT:
            return f"{mantissa}e{exponent}" if exponent else str(mantissa)
        return f"{mantissa}{_DECIMAL_BY_EXPONENT.get(exponent, '')}"


def _decimal_mantissa(value: Fraction) -> tuple[int, int]:
    """value = mantissa * 10**exponent with no factor of 10 left in the mantissa."""
    exponent = 0
    while value.denominator != 1:
        value *= 10
        exponent -= 1
    mantissa = value.numerator
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    return mantissa, exponent


def _as_text(value: str | int | float) -> str:
    if isinstance(value, bool):
        raise ValueError(FORMAT_WRONG)
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e16 else str(int(value))
    return str(value)


def canonical_quantity(value: str | int | float, *, round_to_milli: bool = True) -> str:
    """The canonical text of a quantity. Resource lists (requests, limits, PVC storage) are rounded
    up to milli units first, as SetDefaults_ResourceList does; pass round_to_milli=False for other
    quantities (an emptyDir sizeLimit). Raises ValueError with the real parser's message."""
    quantity = Quantity.parse(_as_text(value))
    if round_to_milli:
        quantity.round_up(-3)
    return str(quantity)
