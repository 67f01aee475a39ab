"""Fields the schema of a built-in kind does not declare: what a real server drops when it decodes
a body into its Go types, warns about (`fieldValidation=Warn`, the default) or refuses (`Strict`).

The schema is the official one of the sandbox's release (sandbox.schemas); values it leaves untyped
(RawExtension, FieldsV1) keep whatever they hold.
"""

from __future__ import annotations

from typing import Any

from core.schema.model import FieldType, Shape
from sandbox.schemas import built_in_schema


def _walk(value: Any, field_type: FieldType, path: str, found: list[str], prune: bool) -> None:
    if value is None:
        return
    shape = field_type.shape
    if shape is Shape.STRUCT and isinstance(value, dict):
        fields = field_type.fields
        for key in list(value):
            child_path = f"{path}.{key}" if path else key
            if key in fields:
                _walk(value[key], fields[key], child_path, found, prune)
            elif field_type.element is not None:
                _walk(value[key], field_type.element, child_path, found, prune)
            else:
                found.append(child_path)
                if prune:
                    del value[key]
    elif shape is Shape.MAP and isinstance(value, dict) and field_type.element is not None:
        for key, item in value.items():
            _walk(item, field_type.element, f"{path}[{key}]", found, prune)
    elif shape is Shape.LIST and isinstance(value, list) and field_type.element is not None:
        for index, item in enumerate(value):
            _walk(item, field_type.element, f"{path}[{index}]", found, prune)


def unknown_fields(obj: dict[str, Any], *, group: str, version: str, kind: str, prune: bool) -> list[str]:
    """Paths of undeclared fields (`spec.template.spec.containers[0].imagePullPolicyy`), removed from
    `obj` when `prune`."""
    found: list[str] = []
    _walk(obj, built_in_schema(group, version, kind), "", found, prune)
    return found
