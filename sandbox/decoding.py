"""Checks on a request's object before it is written: its kind and apiVersion against the URL, its
name, its resourceVersion precondition, and the fields its schema does not declare."""

from __future__ import annotations

import copy
from typing import Any

from sandbox import crds
from sandbox.byte_fields import Base64Error, normalise_byte_fields
from sandbox.errors import bad_request, conflict
from sandbox.kinds import KindRegistry, ResourceType
from sandbox.schemas import schema_of
from sandbox.store import StoredObject
from sandbox.type_check import check_body_types
from sandbox.unknown_fields import unknown_fields
from sandbox.validation import FieldError, invalid_error


def decode_object(registry: KindRegistry, resource_type: ResourceType, body: Any) -> dict[str, Any]:
    """A private copy of a POST or PUT body, with apiVersion and kind filled from the URL when absent."""
    if not isinstance(body, dict):
        raise bad_request(
            f"the object provided is unrecognized (must be of type {resource_type.kind}): "
            "couldn't get version/kind; json parse error: expected an object"
        )
    obj: dict[str, Any] = dict(body)
    obj.setdefault("apiVersion", resource_type.api_version)
    obj.setdefault("kind", resource_type.kind)
    check_type_meta(registry, resource_type, obj)
    check_body_types(resource_type, obj)
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise bad_request(
            f'{resource_type.kind} in version "{resource_type.version}" cannot be handled '
            f"as a {resource_type.kind}: metadata must be an object"
        )
    obj["metadata"] = dict(metadata)
    check_secret_data(resource_type, obj)
    # Key order as a real server writes it: kind and apiVersion, then metadata.
    return {
        "kind": obj.pop("kind"),
        "apiVersion": obj.pop("apiVersion"),
        "metadata": obj.pop("metadata"),
        **obj,
    }


def check_type_meta(registry: KindRegistry, resource_type: ResourceType, obj: dict[str, Any]) -> None:
    """400 when apiVersion or kind do not match the URL (422 for a custom resource's kind)."""
    api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
    group, _, version = api_version.rpartition("/")
    if group != resource_type.group or not registry.has_group_version(group, version):
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({resource_type.api_version})"
        )
    if kind == resource_type.kind:
        return
    if resource_type.custom:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise invalid_error(
            resource_type, name, [FieldError.invalid("kind", kind, f"must be {resource_type.kind}")]
        )
    raise bad_request(
        f'{kind} in version "{version}" cannot be handled as a {resource_type.kind}: '
        f"converting ({version}.{kind}) to ({resource_type.group or 'core'}.{resource_type.kind}): "
        "unknown conversion"
    )


def check_secret_data(resource_type: ResourceType, obj: dict[str, Any]) -> None:
    """The `[]byte` fields of a built-in kind (a Secret's `data`, a ConfigMap's `binaryData`) decode
    as Go's base64 does, line breaks and all, and are written back on one line; anything else Go
    cannot decode fails with 400."""
    if resource_type.custom:
        return
    try:
        normalise_byte_fields(obj, schema_of(resource_type, str(obj.get("apiVersion") or "")))
    except Base64Error as error:
        kind = resource_type.kind
        raise bad_request(
            f'{kind} in version "{resource_type.version}" cannot be handled as a {kind}: {error}'
        ) from None


def check_name(obj: dict[str, Any], name: str, namespace: str | None) -> None:
    """400 when the object's name or namespace differs from the URL's."""
    metadata = obj.get("metadata") or {}
    if str(metadata.get("name") or "") != name:
        raise bad_request(
            f"the name of the object ({metadata.get('name') or ''}) does not match the name "
            f"on the URL ({name})"
        )
    object_namespace = metadata.get("namespace")
    if namespace and object_namespace and object_namespace != namespace:
        raise bad_request(
            f"the namespace of the object ({object_namespace}) does not match the namespace "
            f"on the URL ({namespace})"
        )


def check_resource_version(resource_type: ResourceType, current: StoredObject, requested: str) -> None:
    """A resourceVersion in the request is a precondition: it must be the stored one."""
    if not requested:
        return
    if not requested.isdigit():
        raise bad_request(f"invalid resource version: {requested}")
    if int(requested) != current.rv:
        raise conflict(group_resource=resource_type.group_resource, name=current.name)


def undeclared_fields(resource_type: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Paths of fields the kind's schema does not declare, removed from `obj` (a custom resource
    is pruned to its structural schema, which also fills in the schema's defaults)."""
    if resource_type.custom:
        return crds.prune_and_default(obj, resource_type.schema)
    # A body may be in another served version of the kind than the URL's; it decodes as its own.
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    if group != resource_type.group or not version:
        version = resource_type.version
    return unknown_fields(
        obj, group=resource_type.group, version=version, kind=resource_type.kind, prune=True
    )


def check_fields(
    resource_type: ResourceType, obj: dict[str, Any], field_validation: str, warnings: list[str] | None
) -> None:
    """Drop undeclared fields as decoding into the kind's types does; `Strict` refuses them with
    400, `Warn` reports each in `warnings`, `Ignore` drops them silently."""
    if field_validation == "Strict":
        undeclared = undeclared_fields(resource_type, copy.deepcopy(obj))
        if undeclared:
            raise bad_request(
                "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in undeclared)
            )
    undeclared = undeclared_fields(resource_type, obj)
    if field_validation == "Warn" and warnings is not None:
        warnings.extend(f'unknown field "{path}"' for path in undeclared)
