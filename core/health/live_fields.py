"""Never-raising reads of a live object's fields, for the health rules.

A live object is a plain dict as the API server returned it, so any field may be absent, and a
hand-made or half-written object may carry the wrong type. Argo CD reads the same fields through
Go's typed structs, where an absent field is its zero value; these readers give the same zero
values (0, "", empty) for absent and for wrongly typed fields alike, so a rule never raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_NO_FIELDS: Mapping[str, Any] = {}


def value_at(obj: Mapping[str, Any], *path: str) -> Any:
    """The value at `path`, or None when a step is absent or is not a map."""
    value: Any = obj
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def mapping_at(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The map at `path`; empty when absent or not a map."""
    value = value_at(obj, *path)
    return value if isinstance(value, Mapping) else _NO_FIELDS


def optional_int_at(obj: Mapping[str, Any], *path: str) -> int | None:
    """The integer at `path`, or None; a bool is not an integer here, though Python says it is."""
    value = value_at(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def int_at(obj: Mapping[str, Any], *path: str) -> int:
    """The integer at `path`; 0 when absent, as Go's zero value."""
    value = optional_int_at(obj, *path)
    return 0 if value is None else value


def str_at(obj: Mapping[str, Any], *path: str) -> str:
    """The string at `path`; "" when absent or not a string."""
    value = value_at(obj, *path)
    return value if isinstance(value, str) else ""


def mappings_at(obj: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    """The maps in the list at `path`; entries that are not maps are skipped."""
    value = value_at(obj, *path)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def condition_of(obj: Mapping[str, Any], condition_type: str) -> Mapping[str, Any] | None:
    """The first entry of `status.conditions` with this `type`, or None."""
    for condition in mappings_at(obj, "status", "conditions"):
        if condition.get("type") == condition_type:
            return condition
    return None


def observed_generation_behind(obj: Mapping[str, Any]) -> bool:
    """Whether the controller has not yet seen the latest spec (`metadata.generation`)."""
    return int_at(obj, "metadata", "generation") > int_at(obj, "status", "observedGeneration")


def lua_number(value: Any) -> float | None:
    """`value` as Lua's `tonumber` reads it: a number, or a string that spells one; else None.

    Argo CD's health scripts compare fields through `tonumber`, which accepts "5" and " 0x1A " but
    not a hash such as "6df79499bc"; the rules written after those scripts read fields the same way.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    unsigned = text.lstrip("+-")
    try:
        if unsigned[:2].lower() == "0x":
            magnitude = float(int(unsigned[2:], 16))
            return -magnitude if text.startswith("-") else magnitude
        if unsigned.lower() in ("inf", "infinity", "nan") or "_" in text:
            return None  # Python spells these; Lua's tonumber does not.
        return float(text)
    except ValueError:
        return None


def lua_number_text(number: float) -> str:
    """A number as Lua's `..` and `tostring` write it in Argo CD (gopher-lua): 10, not 10.0; 12.5."""
    return str(int(number)) if number.is_integer() else repr(number)
