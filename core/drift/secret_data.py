"""Secrets as the server keeps them (DESIGN rule 4): `stringData` folded into base64 `data`.

The server folds `stringData` into `data` (stringData wins), and base64 written across lines in Git
is stored on one line; what a sync leaves in `data` is what the comparator and the compiled fast
path compare. Values are never shown (rule 6): drifted objects carry `***` in their place.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from core.drift.managedfields import FieldsTrie
from core.drift.rules import IGNORE_ALL, IgnoreTrie, escape_segment
from core.model import SECRET_MASK

_NO_IGNORE: Final[IgnoreTrie] = {}


def wanted_secret_data(desired: Mapping[str, Any], ignore: IgnoreTrie) -> dict[str, tuple[str, str]]:
    """What a sync of Secret `desired` leaves in `data`, by key: (pointer in desired, base64 value).

    The server folds `stringData` into `data` (stringData wins), and base64 may be wrapped.
    """
    wanted: dict[str, tuple[str, str]] = {}
    for section in ("data", "stringData"):
        values = desired.get(section) or {}
        section_ignore = ignore.get(section, _NO_IGNORE) if ignore else _NO_IGNORE
        if section_ignore is IGNORE_ALL or not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            if section_ignore.get(name) is IGNORE_ALL:
                continue
            encoded = _b64(value) if section == "stringData" else "".join(str(value).split())
            wanted[name] = (f"/{section}/{escape_segment(name)}", encoded)
    return wanted


def _b64(value: Any) -> str:
    return base64.b64encode(str(value).encode()).decode()


def without_data(owned: FieldsTrie) -> FieldsTrie:
    return {k: v for k, v in owned.items() if k not in ("f:data", "f:stringData")}


def masked_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    masked = dict(obj)
    for section in ("data", "stringData"):
        values = masked.get(section)
        if isinstance(values, Mapping):
            masked[section] = {k: SECRET_MASK for k in values}
    return masked
