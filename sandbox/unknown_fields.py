"""Fields the schema of a built-in kind does not declare: what a real server drops when it decodes
a body into its Go types, warns about (`fieldValidation=Warn`, the default) or refuses (`Strict`).

The schema comes from the official client's models (`kubernetes.client.models`), which are generated
from the same OpenAPI as the server's types: each model lists its JSON field names and their types.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")
_OPEN = ("object", "str", "int", "bool", "float", "bytes", "datetime", "date", "bytearray")


@cache
def _models() -> Any:
    # Imported on first use: the models take about half a second to load.
    return importlib.import_module("kubernetes.client.models")


@cache
def _fields_of(model: str) -> dict[str, str] | None:
    """JSON field name -> type string of one model, or None when the model is unknown."""
    cls = getattr(_models(), model, None)
    if cls is None or not hasattr(cls, "attribute_map"):
        return None
    return {json_name: cls.openapi_types[attribute] for attribute, json_name in cls.attribute_map.items()}


def model_for(group: str, version: str, kind: str) -> str | None:
    """The client model of a built-in kind (`V1Deployment`, `V2HorizontalPodAutoscaler`, `CoreV1Event`)."""
    prefix = version.capitalize()
    group_prefix = "".join(
        part.capitalize() for part in (group.split(".")[0] if group else "core").split("-")
    )
    for candidate in (f"{group_prefix}{prefix}{kind}", f"{prefix}{kind}"):
        if _fields_of(candidate) is not None:
            return candidate
    return None


def _walk(value: Any, type_name: str, path: str, found: list[str], prune: bool) -> None:
    if type_name in _OPEN or value is None:
        return
    listed = _LIST.match(type_name)
    if listed:
        if isinstance(value, list):
            for index, item in enumerate(value):
                _walk(item, listed.group(1), f"{path}[{index}]", found, prune)
        return
    mapped = _DICT.match(type_name)
    if mapped:
        if isinstance(value, dict):
            for key, item in value.items():
                _walk(item, mapped.group(1), f"{path}[{key}]", found, prune)
        return
    fields = _fields_of(type_name)
    if fields is None or not isinstance(value, dict):
        return
    for key in list(value):
        if key not in fields:
            found.append(f"{path}.{key}" if path else key)
            if prune:
                del value[key]
            continue
        _walk(value[key], fields[key], f"{path}.{key}" if path else key, found, prune)


def unknown_fields(obj: dict[str, Any], *, group: str, version: str, kind: str, prune: bool) -> list[str]:
    """Paths of undeclared fields (`spec.template.spec.containers[0].imagePullPolicyy`), removed from
    `obj` when `prune`. A kind without a client model is left alone."""
    model = model_for(group, version, kind)
    if model is None:
        return []
    found: list[str] = []
    _walk(obj, model, "", found, prune)
    return found
