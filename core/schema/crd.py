"""The schema of a custom resource, from its CRD's structural schema (`openAPIV3Schema`).

Structural schemas are inline and carry their own markers: `x-kubernetes-list-type` and
`x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `x-kubernetes-int-or-string`,
`x-kubernetes-embedded-resource` and `x-kubernetes-preserve-unknown-fields`. As the apiextensions
server does before typing a custom resource, the root gains `apiVersion`, `kind` and the standard
`metadata`, and each embedded resource its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.schema.convert import SchemaConverter
from core.schema.model import FieldType

GroupVersionKind = tuple[str, str, str]


def custom_resource_schema(
    open_api_v3_schema: Mapping[str, Any] | None, *, object_meta: FieldType
) -> FieldType:
    """The type of a custom resource. No schema (or an empty one) keeps every field: an untyped
    object with the standard metadata."""
    converter = SchemaConverter({}, object_meta=object_meta)
    schema: Mapping[str, Any] = open_api_v3_schema or {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    return converter.kind(schema, custom=True)


def crd_schemas(crd: Mapping[str, Any], *, object_meta: FieldType) -> dict[GroupVersionKind, FieldType]:
    """The type of each version a CustomResourceDefinition defines, by group, version and kind."""
    spec = crd.get("spec") or {}
    group = str(spec.get("group") or "")
    kind = str((spec.get("names") or {}).get("kind") or "")
    found: dict[GroupVersionKind, FieldType] = {}
    for version in spec.get("versions") or []:
        schema = (
            ((version.get("schema") or {}).get("openAPIV3Schema")) if isinstance(version, Mapping) else None
        )
        found[(group, str(version.get("name") or ""), kind)] = custom_resource_schema(
            schema, object_meta=object_meta
        )
    return found
