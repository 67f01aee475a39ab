"""Assembling the OpenAPI documents: paths and schemas for a list of served resource types, encoded
as v3 JSON, v2 JSON or v2 protobuf.

Built-in types are described by the official definitions (sandbox/openapi_definitions.py), custom
resources by their CRD's schema (sandbox/openapi_crd.py). What depends only on built-in types is
cached for the process: every sandbox serves the same built-in documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from sandbox import openapi_crd, openapi_paths, openapi_proto
from sandbox.discovery import KUBERNETES_VERSION
from sandbox.kinds import ResourceType
from sandbox.openapi_definitions import (
    DELETE_OPTIONS,
    LIST_META,
    OBJECT_META,
    PATCH,
    STATUS,
    definition,
    reachable,
)

_INFO = {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"].split("+")[0]}
# Every document answers DELETE with a Status, takes PATCH and DeleteOptions bodies, and describes
# object and list metadata (which custom resources reference from outside the official definitions).
_ALWAYS = (STATUS, PATCH, DELETE_OPTIONS, OBJECT_META, LIST_META)


def etag(body: bytes) -> str:
    """The hash the index and ETag carry: SHA-512 of the body, in upper-case hex, as kube-openapi."""
    return hashlib.sha512(body).hexdigest().upper()


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _schemas(resource_types: Sequence[ResourceType], v3: bool) -> tuple[dict[str, Any], set[str]]:
    """Every schema the types' operations reference, by name, and which of them are official (the
    rest are the CRDs' own and stand-ins, which are built here rather than shared)."""
    wanted = set(_ALWAYS)
    for resource_type in resource_types:
        wanted |= openapi_paths.referenced(resource_type)
    custom: dict[str, Any] = {}
    for resource_type in resource_types:
        if resource_type.custom:
            custom[openapi_crd.schema_name(resource_type)] = openapi_crd.kind_schema(resource_type, v3)
            list_name = openapi_crd.schema_name(resource_type, resource_type.list_kind)
            custom[list_name] = openapi_crd.list_schema(resource_type, v3)
    official = reachable(wanted - set(custom))
    schemas = {name: definition(name, v3) for name in official}
    for name in sorted(wanted - set(custom) - set(official)):
        # A served kind this release's definitions lack: a reference left dangling would make
        # kubectl's v2 parser reject the whole document.
        custom[name] = {"description": f"{name.rpartition('.')[2]}, served by the sandbox.", "type": "object"}
    schemas.update(custom)
    return dict(sorted(schemas.items())), set(official)


def _v3_document(resource_types: Sequence[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource_type in resource_types:
        paths.update(openapi_paths.v3_paths(resource_type))
    schemas, _official = _schemas(resource_types, v3=True)
    return {"openapi": "3.0.0", "info": _INFO, "paths": paths, "components": {"schemas": schemas}}


@cache
def _builtin_v3(resource_types: tuple[ResourceType, ...]) -> bytes:
    return _encode(_v3_document(resource_types))


@cache
def _builtin_v2_paths(resource_type: ResourceType) -> tuple[dict[str, Any], bytes]:
    paths = openapi_paths.v2_paths(resource_type)
    return paths, b"".join(openapi_proto.named_path_item(path, item) for path, item in paths.items())


@cache
def _builtin_v2_definition(name: str) -> bytes:
    return openapi_proto.named_schema(name, definition(name, False))


def v3_document(resource_types: Sequence[ResourceType]) -> bytes:
    """The v3 document of one group-version's resource types."""
    if any(rt.custom for rt in resource_types):
        return _encode(_v3_document(resource_types))
    return _builtin_v3(tuple(resource_types))


def v2_json(resource_types: Sequence[ResourceType]) -> bytes:
    """The swagger 2.0 document of every served resource type, as JSON."""
    paths: dict[str, Any] = {}
    for resource_type in resource_types:
        if resource_type.custom:
            paths.update(openapi_paths.v2_paths(resource_type))
        else:
            paths.update(_builtin_v2_paths(resource_type)[0])
    definitions, _official = _schemas(resource_types, v3=False)
    return _encode({"swagger": "2.0", "info": _INFO, "paths": paths, "definitions": definitions})


def v2_protobuf(resource_types: Sequence[ResourceType]) -> bytes:
    """The same document as gnostic's protobuf, assembled from pieces encoded once per process."""
    paths = bytearray()
    for resource_type in resource_types:
        if resource_type.custom:
            for path, item in openapi_paths.v2_paths(resource_type).items():
                paths += openapi_proto.named_path_item(path, item)
        else:
            paths += _builtin_v2_paths(resource_type)[1]
    schemas, official = _schemas(resource_types, v3=False)
    definitions = bytearray()
    for name, schema in schemas.items():
        if name in official:
            definitions += _builtin_v2_definition(name)
        else:
            definitions += openapi_proto.named_schema(name, schema)
    return openapi_proto.document({"swagger": "2.0", "info": _INFO}, bytes(paths), bytes(definitions))
