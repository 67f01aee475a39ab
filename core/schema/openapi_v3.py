"""The schema of a server's OpenAPI v3 document for one group-version (`/openapi/v3/apis/apps/v1`).

Its component schemas are the same definitions as the official ones, with references written
`#/components/schemas/...`, usually wrapped as `allOf: [{$ref}]` beside a default or description,
and with the `default` values the Go types declare. Kinds are found by the
`x-kubernetes-group-version-kind` of their component schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.schema.convert import SchemaConverter
from core.schema.model import FieldType

GroupVersionKind = tuple[str, str, str]


class OpenAPIV3Schemas:
    """The typed kinds of one OpenAPI v3 document."""

    def __init__(self, document: Mapping[str, Any], *, object_meta: FieldType | None = None) -> None:
        """`object_meta` stands in for ObjectMeta when the document lacks it (a custom resource's
        group-version document refers to the core definitions it does not carry)."""
        components = document.get("components") or {}
        schemas = components.get("schemas") if isinstance(components, Mapping) else None
        definitions: Mapping[str, Any] = schemas if isinstance(schemas, Mapping) else {}
        self._converter = SchemaConverter(definitions, object_meta=object_meta)
        self._by_gvk: dict[GroupVersionKind, str] = {}
        for name, schema in definitions.items():
            gvks = schema.get("x-kubernetes-group-version-kind") if isinstance(schema, Mapping) else None
            for gvk in gvks if isinstance(gvks, list) else []:
                key = (str(gvk.get("group") or ""), str(gvk.get("version") or ""), str(gvk.get("kind") or ""))
                self._by_gvk.setdefault(key, name)
        self._kinds: dict[GroupVersionKind, FieldType | None] = {}

    def kinds(self) -> frozenset[GroupVersionKind]:
        return frozenset(self._by_gvk)

    def kind(self, group: str, version: str, kind: str) -> FieldType | None:
        """The type of a kind the document describes, or None."""
        key = (group, version, kind)
        if key not in self._kinds:
            name = self._by_gvk.get(key)
            self._kinds[key] = self._converter.definition(name) if name else None
        return self._kinds[key]

    def definition(self, name: str) -> FieldType:
        return self._converter.definition(name)
