"""Kubernetes resource quantities compared by value, so `0.5` equals `500m` and `1Gi` equals `1073741824`.

The API server stores quantities in canonical form, so Git and the cluster often spell the same
amount differently. Only the value matters for drift.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}

# The grammar of resource.Quantity: a signed decimal number, then a binary suffix, a decimal
# suffix or a decimal exponent.
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


@lru_cache(maxsize=4096)
def quantity_value(text: str) -> Fraction | None:
    """The exact value of a quantity string, or None when `text` is not a quantity."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    value = Fraction(number)
    if suffix[:1] in ("e", "E"):
        return value * Fraction(10) ** int(suffix[1:])
    return value * _SUFFIXES[suffix]


def same_quantity(desired: object, live: object) -> bool:
    """True when both sides are quantities (numbers or quantity strings) with the same value."""
    if isinstance(desired, bool) or isinstance(live, bool):
        return False
    if isinstance(desired, str | int | float) and isinstance(live, str | int | float):
        # The same few spellings recur on every event (`0.5` against `500m`): remember the answers.
        return _same_scalar_quantity(desired, live)
    return False


@lru_cache(maxsize=8192)
def _same_scalar_quantity(desired: str | int | float, live: str | int | float) -> bool:
    # 1 and 1.0 share a cache entry, which is right: they are the same amount.
    left = _as_value(desired)
    return left is not None and left == _as_value(live)


def _as_value(value: object) -> Fraction | None:
    if isinstance(value, str):
        return quantity_value(value)
    if isinstance(value, int | float):
        return Fraction(str(value))
    return None
