"""A built-in object as a real API server stores and returns it: what Go's JSON encoding of its types
drops and adds.

- `omitempty` on a map or slice field drops it when empty (`nodeSelector: {}`, `tolerations: []`,
  `annotations: {}`, `resources.requests: {}`). A struct is never dropped, empty or not
  (`securityContext: {}`, `emptyDir: {}`, `podSelector: {}`), and neither is a field without
  `omitempty` (`containers`, a Role's `rules`).
- A `[]byte` (a Secret's `data`) is written as base64 on one line, whatever line breaks the client's
  base64 had: decoding skipped them (sandbox.byte_fields). This also covers server-side apply, whose
  configuration is never decoded on its own.
- An ObjectMeta embedded in another object (a pod template, a StatefulSet's claim templates, a
  CronJob's job template) is a struct value, so it is always written, with its zero
  `creationTimestamp` as `null` (Kubernetes 1.33 stopped writing that null; the sandbox is 1.31).

The types come from the kind's schema (`sandbox.schemas`). Which fields lack `omitempty` the schema
says only in part: the OpenAPI generator marks a field required exactly when it has neither
`omitempty` nor `+optional`, so required fields keep their empty value, and `_KEEPS_EMPTY` adds the
few optional slices whose Go field has no `omitempty` either (from the struct tags of k8s.io/api,
apiextensions-apiserver and apimachinery).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from core.schema import FieldType, Shape
from sandbox.byte_fields import Base64Error, canonical_base64, is_bytes
from sandbox.openapi_definitions import OBJECT_META, source_definitions
from sandbox.schemas import official

__all__ = ["encode_as_go"]

_CRD_STATUS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus"
_KEEPS_EMPTY = frozenset(
    {
        ("io.k8s.api.rbac.v1.Role", "rules"),
        ("io.k8s.api.rbac.v1.ClusterRole", "rules"),
        ("io.k8s.api.core.v1.ProjectedVolumeSource", "sources"),
        ("io.k8s.api.core.v1.ContainerImage", "names"),
        ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentMetrics"),
        ("io.k8s.api.discovery.v1.EndpointSlice", "ports"),
        ("io.k8s.api.storage.v1.CSINodeDriver", "topologyKeys"),
        (_CRD_STATUS, "conditions"),
        (_CRD_STATUS, "storedVersions"),
    }
)
_CREATION_TIMESTAMP = "creationTimestamp"
# `[]` there asks the field manager to reset managedFields; the write pipeline drops it afterwards.
_MANAGED_FIELDS = "managedFields"
_EMPTYABLE = (Shape.MAP, Shape.LIST)


def encode_as_go(obj: dict[str, Any], *, group: str, version: str, kind: str) -> None:
    """Rewrite a built-in object in place as encoding its Go struct writes it; a kind the official
    definitions lack is left alone."""
    root = official().kind(group, version, kind)
    if root is not None:
        _struct(obj, root, embedded=False)


@cache
def _kept_empty(definition: str) -> frozenset[str]:
    """The fields of a struct that are written even when empty."""
    required = (source_definitions().get(definition) or {}).get("required") or ()
    return frozenset(required) | {field for owner, field in _KEEPS_EMPTY if owner == definition}


_META_FIELDS: dict[str, tuple[str, ...]] = {}


def _object_meta_fields(struct: FieldType) -> tuple[str, ...]:
    """The fields of a struct that hold an ObjectMeta (a template's `metadata`), by definition."""
    found = _META_FIELDS.get(struct.definition)
    if found is None:
        found = tuple(name for name, field in struct.fields.items() if field.definition == OBJECT_META)
        if struct.definition:
            _META_FIELDS[struct.definition] = found
    return found


def _is_map_or_slice(field: FieldType) -> bool:
    """A Go map or slice. A named definition is a struct even when the schema gives it no
    properties (a CRD's `subresources.status: {}`, FieldsV1, RawExtension)."""
    return field.shape in _EMPTYABLE and not field.definition


def _struct(value: dict[str, Any], struct: FieldType, *, embedded: bool) -> None:
    fields = struct.fields
    for name in list(value):
        field = fields.get(name)
        if field is None or name == _MANAGED_FIELDS:
            continue
        child = value[name]
        if isinstance(child, dict | list):
            if not child and _is_map_or_slice(field) and name not in _kept_empty(struct.definition):
                del value[name]
            else:
                _value(child, field)
        elif isinstance(child, str) and is_bytes(field):
            value[name] = _base64(child)
    if embedded:
        for name in _object_meta_fields(struct):
            metadata = value.setdefault(name, {})
            if isinstance(metadata, dict):
                metadata.setdefault(_CREATION_TIMESTAMP, None)


def _value(value: dict[str, Any] | list[Any], field: FieldType) -> None:
    if field.shape is Shape.STRUCT:
        if isinstance(value, dict):
            _struct(value, field, embedded=True)
        return
    element = field.element
    if element is None:
        return
    if field.shape is Shape.MAP and isinstance(value, dict):
        keys: Iterable[Any] = list(value)
    elif field.shape is Shape.LIST and isinstance(value, list):
        keys = range(len(value))
    else:
        return
    if is_bytes(element):
        for key in keys:
            if isinstance(value[key], str):
                value[key] = _base64(value[key])
    elif element.shape in (Shape.STRUCT, Shape.MAP, Shape.LIST):
        for key in keys:
            if isinstance(value[key], dict | list):
                _value(value[key], element)


def _base64(text: str) -> str:
    try:
        return canonical_base64(text)
    except Base64Error:
        return text  # refused when decoded; nothing to rewrite here
