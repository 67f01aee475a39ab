"""The schema model: how every field of a kind behaves, from the official definitions.

- `model`: `FieldType`, one node of a kind's schema (shape, struct fields, map and list types,
  list keys and their defaults, patch strategy and merge key, scalar kind, and the Quantity,
  int-or-string, embedded-resource and preserve-unknown-fields flags).
- `convert`: OpenAPI and JSON schema to `FieldType`, in the dialects Kubernetes writes.
- `official`: the definitions kubernetes-validate ships for each release, by group-version-kind.
- `openapi_v3`: a server's `/openapi/v3` document for one group-version.
- `crd`: a custom resource's type from its CRD's `openAPIV3Schema`.
- `server_defaults` (with `pod_defaults`, `quantity` and `go_types`): the defaulting functions of the
  built-in kinds, which no OpenAPI document carries; the sandbox stores objects with them and the drift
  engine predicts with them what a sync's removal leaves.
"""

from __future__ import annotations

from core.schema.convert import SchemaError
from core.schema.crd import crd_schemas, custom_resource_schema
from core.schema.model import (
    ANY,
    ATOMIC_LIST,
    DEDUCED_MAP,
    SCALAR,
    FieldType,
    ListType,
    MapType,
    ScalarKind,
    Shape,
)
from core.schema.official import OfficialSchemas
from core.schema.openapi_v3 import OpenAPIV3Schemas

__all__ = [
    "ANY",
    "ATOMIC_LIST",
    "DEDUCED_MAP",
    "SCALAR",
    "FieldType",
    "ListType",
    "MapType",
    "OfficialSchemas",
    "OpenAPIV3Schemas",
    "ScalarKind",
    "SchemaError",
    "Shape",
    "crd_schemas",
    "custom_resource_schema",
]
