"""Conversion of OpenAPI and JSON schemas, in the dialects Kubernetes writes them, into FieldTypes.

One converter serves the three sources: the official definitions (JSON schema, refs
`#/$defs/...`, types written `["string", "null"]`), a server's OpenAPI v3 documents (refs
`#/components/schemas/...`, often wrapped as `allOf: [{$ref}]` beside a default or description) and
a CRD's structural schema (inline, with `x-kubernetes-*` markers). The rules follow how
kube-openapi's schemaconv gives structured-merge-diff its types:

- a list without `x-kubernetes-list-type` is atomic, unless its patch strategy is `merge` (the
  older markers): then it is a map keyed by the merge key, or a set when there is none;
- an object with properties is a struct; one without is a map of its additionalProperties, or of
  untyped values when it names none;
- IntOrString and Quantity are untyped scalars, flagged; RawExtension and FieldsV1 hold any JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from core.schema.model import ANY, FieldType, ListType, MapType, ScalarKind, Shape

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Definitions whose Go types take any JSON as it is (their UnmarshalJSON keeps the raw bytes).
_RAW_JSON = frozenset(
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    }
)
_REF_PREFIXES = ("#/$defs/", "#/components/schemas/", "#/definitions/")
_SCALAR_KINDS = {
    "string": ScalarKind.STRING,
    "integer": ScalarKind.INTEGER,
    "number": ScalarKind.NUMBER,
    "boolean": ScalarKind.BOOLEAN,
}
# The property-level markers that refine a referenced definition where it is used (a Deployment's
# `strategy` is a DeploymentStrategy merged with retainKeys; a PDB's `selector` is replaced whole).
_OVERRIDES = (
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-map-type",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-preserve-unknown-fields",
    "default",
)


class SchemaError(ValueError):
    """A schema the converter cannot read (a reference to a missing definition)."""


def definition_name(ref: str) -> str:
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    raise SchemaError(f"unsupported schema reference {ref!r}")


def _type_of(schema: Mapping[str, Any]) -> str:
    """The schema's JSON type without "null" ("" when it names none)."""
    declared = schema.get("type")
    if isinstance(declared, list):
        named = [t for t in declared if t != "null"]
        return str(named[0]) if len(named) == 1 else ""
    return str(declared) if isinstance(declared, str) else ""


def _referenced(schema: Mapping[str, Any]) -> str:
    """The definition a schema refers to, directly or as the single member of an allOf."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return definition_name(ref)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
        inner = all_of[0].get("$ref")
        if isinstance(inner, str):
            return definition_name(inner)
    return ""


class SchemaConverter:
    """Converts schemas that refer to one set of named definitions. Each definition is converted
    once, when a kind that uses it is first asked for; a struct is registered before its fields are
    filled in, so recursive definitions (a CRD's JSONSchemaProps) refer to themselves."""

    def __init__(
        self,
        definitions: Mapping[str, Any],
        *,
        key_defaults: Mapping[str, Mapping[str, Any]] | None = None,
        object_meta: FieldType | None = None,
    ) -> None:
        """`key_defaults` adds defaults a source lacks, by definition and field; `object_meta` is
        the ObjectMeta type for embedded resources and CRD roots when the definitions lack it."""
        self._definitions = definitions
        self._key_defaults = key_defaults or {}
        self._object_meta = object_meta
        self._done: dict[str, FieldType] = {}

    def definition(self, name: str) -> FieldType:
        """The type of a named definition."""
        found = self._done.get(name)
        if found is not None:
            return found
        raw = self._definitions.get(name)
        if not isinstance(raw, Mapping):
            raise SchemaError(f"the schema refers to {name!r}, which it does not define")
        found = self._convert_inline(raw, name)
        self._done.setdefault(name, found)
        return self._done[name]

    def has_definition(self, name: str) -> bool:
        return isinstance(self._definitions.get(name), Mapping)

    def object_meta(self) -> FieldType:
        if self._object_meta is None:
            self._object_meta = self.definition(OBJECT_META)
        return self._object_meta

    def convert(self, schema: Mapping[str, Any]) -> FieldType:
        """The type of a schema: a reference (possibly allOf-wrapped) refined by the markers
        beside it, or an inline schema."""
        name = _referenced(schema)
        if not name:
            return self._convert_inline(schema, "")
        base = self.definition(name)
        overrides = _overrides(schema, base)
        return dataclasses.replace(base, **overrides) if overrides else base

    def kind(self, schema: Mapping[str, Any], *, custom: bool = False) -> FieldType:
        """The type of a whole object. A custom resource's root gains apiVersion, kind and the
        standard metadata, as the apiextensions server adds them before typing it."""
        root = self.convert(schema)
        if not custom:
            return root
        return _with_type_meta(root, self.object_meta(), replace_metadata=True)

    # ---- inline schemas ----

    def _convert_inline(self, schema: Mapping[str, Any], name: str) -> FieldType:
        if name in (QUANTITY, INT_OR_STRING):
            return FieldType(
                Shape.SCALAR,
                scalar=ScalarKind.UNTYPED,
                quantity=name == QUANTITY,
                int_or_string=name == INT_OR_STRING,
                definition=name,
            )
        if name in _RAW_JSON:
            return FieldType(Shape.ANY, preserve_unknown_fields=True, definition=name)
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        default = schema.get("default")
        if schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string":
            return FieldType(Shape.SCALAR, scalar=ScalarKind.UNTYPED, int_or_string=True, default=default)
        json_type = _type_of(schema)
        properties = schema.get("properties")
        if json_type == "array":
            return dataclasses.replace(self._list(schema, default), definition=name)
        if json_type == "object" or isinstance(properties, Mapping) or embedded:
            return self._object(schema, name, preserve=preserve, embedded=embedded, default=default)
        if json_type in _SCALAR_KINDS:
            enum = schema.get("enum")
            return FieldType(
                Shape.SCALAR,
                scalar=_SCALAR_KINDS[json_type],
                format=str(schema.get("format") or ""),
                enum=tuple(enum) if isinstance(enum, list) else (),
                default=default,
                definition=name,
            )
        return FieldType(Shape.ANY, preserve_unknown_fields=preserve, default=default, definition=name)

    def _object(
        self, schema: Mapping[str, Any], name: str, *, preserve: bool, embedded: bool, default: Any
    ) -> FieldType:
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        element: FieldType | None = None
        if isinstance(additional, Mapping):
            element = self.convert(additional)
        elif preserve or additional is True:
            element = ANY
        map_type = MapType.ATOMIC if schema.get("x-kubernetes-map-type") == "atomic" else MapType.GRANULAR
        common: dict[str, Any] = {
            "map_type": map_type,
            "patch_strategy": str(schema.get("x-kubernetes-patch-strategy") or ""),
            "embedded_resource": embedded,
            "preserve_unknown_fields": preserve,
            "default": default,
            "definition": name,
        }
        if not (isinstance(properties, Mapping) and properties) and not embedded:
            return FieldType(Shape.MAP, element=element or ANY, **common)
        # Registered before its fields are converted, which may refer back to it; the dict is
        # filled in place, so the node is complete once the conversion returns.
        fields: dict[str, FieldType] = {}
        struct = FieldType(Shape.STRUCT, fields=fields, element=element, **common)
        if name:
            self._done[name] = struct
        for key, sub in properties.items() if isinstance(properties, Mapping) else ():
            fields[str(key)] = self.convert(sub if isinstance(sub, Mapping) else {})
        return _with_type_meta(struct, self.object_meta()) if embedded else struct

    def _list(self, schema: Mapping[str, Any], default: Any) -> FieldType:
        items = schema.get("items")
        element = self.convert(items) if isinstance(items, Mapping) else ANY
        strategy = str(schema.get("x-kubernetes-patch-strategy") or "")
        merge_key = str(schema.get("x-kubernetes-patch-merge-key") or "")
        declared = schema.get("x-kubernetes-list-type")
        keys: tuple[str, ...] = ()
        if declared == "map":
            list_type = ListType.MAP
            keys = tuple(str(key) for key in schema.get("x-kubernetes-list-map-keys") or ())
        elif declared == "set":
            list_type = ListType.SET
        elif declared == "atomic":
            list_type = ListType.ATOMIC
        elif "merge" in strategy.split(","):
            list_type = ListType.MAP if merge_key else ListType.SET
            keys = (merge_key,) if merge_key else ()
        else:
            list_type = ListType.ATOMIC
        return FieldType(
            Shape.LIST,
            element=element,
            list_type=list_type,
            list_keys=keys,
            key_defaults=self._defaults_of_keys(items, keys) if keys else {},
            patch_strategy=strategy,
            patch_merge_key=merge_key,
            default=default,
        )

    def _defaults_of_keys(self, items: Any, keys: tuple[str, ...]) -> dict[str, Any]:
        """The defaults of a list-map's key fields, which apply fills in when an element omits them."""
        if not isinstance(items, Mapping):
            return {}
        name = _referenced(items)
        raw = self._definitions.get(name) if name else items
        found: dict[str, Any] = dict(self._key_defaults.get(name, {})) if name else {}
        properties = raw.get("properties") if isinstance(raw, Mapping) else None
        if isinstance(properties, Mapping):
            for key in keys:
                sub = properties.get(key)
                if isinstance(sub, Mapping) and sub.get("default") is not None:
                    found[key] = sub["default"]
        return {key: value for key, value in found.items() if key in keys}


def _overrides(schema: Mapping[str, Any], base: FieldType) -> dict[str, Any]:
    """The refinements a property's own markers make to the definition it refers to."""
    if not any(key in schema for key in _OVERRIDES):
        return {}
    changes: dict[str, Any] = {}
    if "x-kubernetes-patch-strategy" in schema:
        changes["patch_strategy"] = str(schema["x-kubernetes-patch-strategy"] or "")
    if "x-kubernetes-patch-merge-key" in schema:
        changes["patch_merge_key"] = str(schema["x-kubernetes-patch-merge-key"] or "")
    if "x-kubernetes-map-type" in schema:
        atomic = schema["x-kubernetes-map-type"] == "atomic"
        changes["map_type"] = MapType.ATOMIC if atomic else MapType.GRANULAR
    if schema.get("x-kubernetes-embedded-resource"):
        changes["embedded_resource"] = True
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        changes["preserve_unknown_fields"] = True
        if base.element is None and base.shape is Shape.STRUCT:
            changes["element"] = ANY
    if schema.get("default") is not None:
        changes["default"] = schema["default"]
    return changes


def _with_type_meta(
    struct: FieldType, object_meta: FieldType, *, replace_metadata: bool = False
) -> FieldType:
    """A struct that also declares apiVersion, kind and metadata (an embedded or custom resource)."""
    fields = dict(struct.fields) if struct.shape is Shape.STRUCT else {}
    for name in ("apiVersion", "kind"):
        fields.setdefault(name, FieldType(Shape.SCALAR, scalar=ScalarKind.STRING))
    if replace_metadata or "metadata" not in fields:
        fields["metadata"] = object_meta
    element = struct.element if struct.shape is Shape.STRUCT else (struct.element or ANY)
    return dataclasses.replace(struct, shape=Shape.STRUCT, fields=fields, element=element)
