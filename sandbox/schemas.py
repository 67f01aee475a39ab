"""The schema of each kind the sandbox serves, as one typed model (core.schema): built-in kinds
from the official definitions of the release the sandbox reports at /version, custom resources
from their CRD's structural schema.

The same model drives server-side apply (list types and keys, atomic structs and maps), strategic
merge patch (merge keys and strategies), the dropping of unknown fields, type checks on decoding,
and quantity canonicalisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from core.schema import ANY, FieldType, OfficialSchemas, Shape, custom_resource_schema
from sandbox.discovery import KUBERNETES_VERSION
from sandbox.kinds import ResourceType

_CUSTOM_CACHE_SIZE = 256
# Compiled CRD schemas by the identity of the schema dict a ResourceType holds (the dict is kept
# alongside, so an id is never mistaken for a later object's).
_custom: dict[int, tuple[Mapping[str, Any] | None, FieldType]] = {}


@cache
def official() -> OfficialSchemas:
    """The official definitions of the sandbox's Kubernetes release."""
    return OfficialSchemas.for_version(KUBERNETES_VERSION["minor"])


def _open_kind() -> FieldType:
    """An object with standard metadata and anything else: a kind the definitions lack."""
    return FieldType(Shape.STRUCT, fields={"metadata": official().object_meta()}, element=ANY)


def built_in_schema(group: str, version: str, kind: str) -> FieldType:
    """The official type of a built-in kind (an open object if the release does not define it)."""
    return official().kind(group, version, kind) or _open_kind()


def custom_schema(schema: Mapping[str, Any] | None) -> FieldType:
    """The type of a custom resource from its version's openAPIV3Schema."""
    key = id(schema)
    cached = _custom.get(key)
    if cached is not None and cached[0] is schema:
        return cached[1]
    compiled = custom_resource_schema(schema, object_meta=official().object_meta())
    if len(_custom) >= _CUSTOM_CACHE_SIZE:
        _custom.clear()
    _custom[key] = (schema, compiled)
    return compiled


def schema_of(resource_type: ResourceType, api_version: str | None = None) -> FieldType:
    """The type of objects of a resource; `api_version` picks another served version of a built-in
    kind (a body may be written in a version other than the URL's)."""
    if resource_type.custom:
        return custom_schema(resource_type.schema)
    version = resource_type.version
    if api_version:
        group, _, named = api_version.rpartition("/")
        if group == resource_type.group and named:
            version = named
    return built_in_schema(resource_type.group, version, resource_type.kind)


def schema_of_object(obj: Mapping[str, Any]) -> FieldType:
    """The type of a built-in object, by its own apiVersion and kind."""
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return built_in_schema(group, version, str(obj.get("kind") or ""))
