"""Every Quantity of a built-in object written in canonical form, wherever its schema has one.

A real server parses each `resource.Quantity` when it decodes a body and writes it back canonical
when it encodes the object, so `0.5` is stored as `500m` in any Quantity field: resource lists, an
HPA's metric targets, a LimitRange, a ResourceQuota, a PVC, an emptyDir's sizeLimit. The fields come
from the kind's schema rather than a list of places. (Resource lists are also rounded up to milli
units by defaulting, which `sandbox.defaults` does.)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from core.schema.model import FieldType, Shape
from core.schema.quantity import canonical_quantity
from sandbox.errors import bad_request
from sandbox.kinds import ResourceType
from sandbox.schemas import schema_of

# Whether a schema node has a Quantity anywhere below it, by node identity (the node is kept so a
# reused id is never mistaken for it). Most of an object (metadata, most of a pod spec) has none,
# and the walk skips it.
_has_quantity: dict[int, tuple[FieldType, bool]] = {}


def _contains_quantity(field_type: FieldType, visiting: set[int] | None = None) -> bool:
    key = id(field_type)
    cached = _has_quantity.get(key)
    if cached is not None and cached[0] is field_type:
        return cached[1]
    if field_type.quantity:
        found = True
    elif field_type.shape is Shape.ANY or field_type.shape is Shape.SCALAR:
        found = False
    else:
        visiting = visiting if visiting is not None else set()
        if key in visiting:
            # A recursive schema (a CRD's JSONSchemaProps) has no Quantity on its cycle.
            return False
        visiting.add(key)
        children = list(field_type.fields.values()) if field_type.shape is Shape.STRUCT else []
        if field_type.element is not None:
            children.append(field_type.element)
        found = any(_contains_quantity(child, visiting) for child in children)
        visiting.discard(key)
    _has_quantity[key] = (field_type, found)
    return found


@lru_cache(maxsize=4096)
def _canonical_text(value: str | int | float) -> str:
    # The same few amounts ("100m", "128Mi") recur across objects; parsing each costs tens of µs.
    return canonical_quantity(value, round_to_milli=False)


def _canonical(value: Any, field_type: FieldType) -> Any:
    if value is None or not _contains_quantity(field_type):
        return value
    if field_type.quantity:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return _canonical_text(value)
        return value
    if field_type.shape is Shape.STRUCT and isinstance(value, dict):
        for key, item in value.items():
            child = field_type.fields.get(key) or field_type.element
            if child is not None and item is not None:
                value[key] = _canonical(item, child)
    elif field_type.shape is Shape.MAP and isinstance(value, dict) and field_type.element is not None:
        for key, item in value.items():
            value[key] = _canonical(item, field_type.element)
    elif field_type.shape is Shape.LIST and isinstance(value, list):
        item_type = field_type.item()
        for index, item in enumerate(value):
            value[index] = _canonical(item, item_type)
    return value


def canonicalize_quantities(resource_type: ResourceType, obj: dict[str, Any]) -> None:
    """Rewrite every Quantity of a built-in object in canonical form, in place. A malformed one is
    a 400, as decoding it would be. Custom resources keep what they were given."""
    if resource_type.custom:
        return
    try:
        _canonical(obj, schema_of(resource_type, str(obj.get("apiVersion") or "")))
    except ValueError as error:
        kind = resource_type.kind
        version = str(obj.get("apiVersion") or "").rpartition("/")[2] or resource_type.version
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {error}') from None
