"""A custom resource's published schemas: its CRD's `openAPIV3Schema` as the apiextensions-apiserver
turns it into OpenAPI v2 definitions and v3 component schemas.

Both forms get `metadata` as a reference to ObjectMeta, `apiVersion` and `kind` as every kind has them,
and `x-kubernetes-group-version-kind`, which kubectl looks a kind up by. The v2 form is filtered the
way the server filters it, because kubectl's v2 parser rejects what v2 cannot say (junctors, nullable,
typed objects that keep unknown fields) and would then fail for every kind, not only this one.
"""

from __future__ import annotations

from typing import Any

from sandbox.kinds import ResourceType
from sandbox.openapi_definitions import (
    LIST_META,
    OBJECT_META,
    V2_PREFIX,
    V3_PREFIX,
    type_meta_properties,
)

_METADATA_DESCRIPTION = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_METADATA_DESCRIPTION = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_TYPES = ("object", "array", "string", "integer", "number", "boolean")


def schema_name(resource_type: ResourceType, kind: str | None = None) -> str:
    """`com.example.stable.v1.CronTab` for `stable.example.com/v1` CronTab: the group reversed."""
    reversed_group = ".".join(reversed(resource_type.group.split(".")))
    return f"{reversed_group}.{resource_type.version}.{kind or resource_type.kind}"


def _ref(name: str, description: str, v3: bool) -> dict[str, Any]:
    if v3:
        return {"description": description, "allOf": [{"$ref": V3_PREFIX + name}]}
    return {"$ref": V2_PREFIX + name, "description": description}


def _gvk(resource_type: ResourceType, kind: str) -> list[dict[str, str]]:
    return [{"group": resource_type.group, "version": resource_type.version, "kind": kind}]


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [s for s in (node.get("properties") or {}).values() if isinstance(s, dict)]
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            found.append(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        found.extend(s for s in node.get(key) or [] if isinstance(s, dict))
    return found


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _copy(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copy(value) for value in node]
    return node


def _embed(node: dict[str, Any], v3: bool) -> None:
    """An embedded resource publishes apiVersion, kind and metadata, as a top-level object does."""
    properties = node.setdefault("properties", {})
    properties.update(_copy(type_meta_properties(v3)))
    properties["metadata"] = _ref(OBJECT_META, _METADATA_DESCRIPTION, v3)
    required = node.setdefault("required", [])
    required.extend(field for field in ("kind", "apiVersion") if field not in required)


def _unfold_v3(node: dict[str, Any]) -> None:
    if node.get("x-kubernetes-int-or-string") and not (node.get("anyOf") or node.get("allOf")):
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("x-kubernetes-embedded-resource"):
        _embed(node, True)
    for child in _children(node):
        _unfold_v3(child)


def _filter_v2(node: dict[str, Any]) -> None:
    for key in (*_JUNCTORS, "default"):
        node.pop(key, None)
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if node.pop("nullable", False):
        for key in ("type", "items", "properties"):
            node.pop(key, None)
    if preserve:
        node.pop("items", None)
        node.pop("properties", None)
        if node.get("type") == "object":
            node.pop("type")
    if node.get("type") == "array" and "items" not in node:
        node.pop("type")
    properties = node.get("properties") or {}
    nullable = {name for name, sub in properties.items() if isinstance(sub, dict) and sub.get("nullable")}
    additional = node.get("additionalProperties")
    if isinstance(additional, dict) and additional.get("nullable"):
        node.pop("required", None)
    elif nullable and "required" in node:
        node["required"] = [name for name in node["required"] if name not in nullable]
        if not node["required"]:
            del node["required"]
    if node.get("x-kubernetes-embedded-resource") and not preserve:
        _embed(node, False)
    for child in _children(node):
        _filter_v2(child)


def _publishable(node: Any) -> bool:
    """Whether the schema is shaped as a structural schema must be. The sandbox accepts any CRD, but
    one stray `$ref` or type list would make kubectl's v2 parser reject the whole document; a real
    server publishes a non-structural schema as a bare object, and so does the sandbox."""
    if not isinstance(node, dict) or "$ref" in node:
        return False
    if "type" in node and node["type"] not in _TYPES:
        return False
    properties = node.get("properties", {})
    if not isinstance(properties, dict) or not all(_publishable(sub) for sub in properties.values()):
        return False
    if "items" in node and not _publishable(node["items"]):
        return False
    additional = node.get("additionalProperties", True)
    if not isinstance(additional, bool) and not _publishable(additional):
        return False
    return all(
        isinstance(node.get(key, []), list) and all(_publishable(sub) for sub in node.get(key, []))
        for key in ("allOf", "anyOf", "oneOf")
    )


def kind_schema(resource_type: ResourceType, v3: bool) -> dict[str, Any]:
    """The CRD version's schema as the kind's definition (v2) or component schema (v3)."""
    source = resource_type.schema
    gvk = {"x-kubernetes-group-version-kind": _gvk(resource_type, resource_type.kind)}
    if (
        not isinstance(source, dict)
        or not _publishable(source)
        or (not v3 and source.get("x-kubernetes-preserve-unknown-fields"))
    ):
        # Without a usable schema (or, for v2, with one that keeps unknown fields at the root) the
        # server publishes a bare object: listing apiVersion, kind and metadata would make kubectl
        # reject every other field.
        return {"type": "object", **gvk}
    published: dict[str, Any] = _copy(source)
    if v3:
        _unfold_v3(published)
    else:
        _filter_v2(published)
    properties = published.setdefault("properties", {})
    properties.update(_copy(type_meta_properties(v3)))
    properties["metadata"] = _ref(OBJECT_META, _METADATA_DESCRIPTION, v3)
    published.update(gvk)
    return published


def list_schema(resource_type: ResourceType, v3: bool) -> dict[str, Any]:
    """The list kind's schema (`CronTabList`), which the server writes without a type."""
    item = (V3_PREFIX if v3 else V2_PREFIX) + schema_name(resource_type)
    return {
        "description": f"{resource_type.list_kind} is a list of {resource_type.kind}",
        "required": ["items"],
        "properties": {
            **_copy(type_meta_properties(v3)),
            "items": {
                "description": f"List of {resource_type.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": {"$ref": item},
            },
            "metadata": _ref(LIST_META, _LIST_METADATA_DESCRIPTION, v3),
        },
        "x-kubernetes-group-version-kind": _gvk(resource_type, resource_type.list_kind),
    }
