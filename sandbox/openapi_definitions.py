"""The official Kubernetes schema definitions, as OpenAPI v2 `definitions` and v3 `components.schemas`.

They come from the `kubernetes-validate` package, which ships the definitions of each Kubernetes
release converted to JSON schema. That conversion is undone here, so the served documents read as a
real API server's: `["string", "null"]` becomes `"string"`, `#/$defs/` references point into the
document, the `enum` it adds to every `apiVersion` and `kind` is dropped, and Quantity and IntOrString
take the form the server publishes. Everything is loaded on first use and converted once per process,
since every sandbox of one release serves the same built-in definitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from core.schema.official import KEY_DEFAULTS, raw_definitions
from sandbox.discovery import KUBERNETES_VERSION

V2_PREFIX = "#/definitions/"
V3_PREFIX = "#/components/schemas/"
_SOURCE_PREFIX = "#/$defs/"
_GVK = "x-kubernetes-group-version-kind"

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
SCALE = "io.k8s.api.autoscaling.v1.Scale"

# The JSON-schema conversion writes these two as a oneOf of JSON types, which neither kubectl's v2
# parser nor its explain can read; these are the forms kube-openapi publishes for them.
_QUANTITY_DESCRIPTION = (
    "Quantity is a fixed-point representation of a number. It provides convenient "
    "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.\n\n"
    "The serialization format is <signedNumber><suffix>, where the suffix is a binary SI suffix "
    '(Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI suffix (n, u, m, "", k, M, G, T, P, E) or a decimal '
    "exponent (e or E followed by a signed number). Values are stored and written back in canonical form."
)
_INT_OR_STRING_DESCRIPTION = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling "
    "and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, "
    "a JSON field that can accept a name or number."
)
_REPLACED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    QUANTITY: (
        {"description": _QUANTITY_DESCRIPTION, "type": "string"},
        {"description": _QUANTITY_DESCRIPTION, "type": "string"},
    ),
    INT_OR_STRING: (
        {"description": _INT_OR_STRING_DESCRIPTION, "type": "string", "format": "int-or-string"},
        {"description": _INT_OR_STRING_DESCRIPTION, "x-kubernetes-int-or-string": True},
    ),
}


def release() -> str:
    """The `kubernetes-validate` directory of the release the sandbox reports at /version."""
    return f"v{KUBERNETES_VERSION['major']}.{KUBERNETES_VERSION['minor']}.0-local"


@cache
def source_definitions() -> dict[str, Any]:
    """`$defs` of the release's `_definitions.json`, exactly as the package ships them (read once,
    through the same loader the schema model uses)."""
    return dict(raw_definitions(release()))


def _single_type(value: Any) -> Any:
    if isinstance(value, list):
        kinds = [kind for kind in value if kind != "null"]
        return kinds[0] if len(kinds) == 1 else value
    return value


def _convert(node: Any, prefix: str, v3: bool) -> Any:
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type":
            converted[key] = _single_type(value)
        elif key == "properties":
            converted[key] = {name: _convert(sub, prefix, v3) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            converted[key] = _convert(value, prefix, v3)
        elif key in ("oneOf", "anyOf", "allOf"):
            converted[key] = [_convert(sub, prefix, v3) for sub in value]
        else:
            converted[key] = value
    if "$ref" in node:
        ref = prefix + str(node["$ref"]).removeprefix(_SOURCE_PREFIX)
        if v3 and converted:
            # OpenAPI v3 ignores siblings of $ref; kube-openapi wraps such refs in allOf.
            return {**converted, "allOf": [{"$ref": ref}]}
        return {"$ref": ref, **converted}
    return converted


@cache
def definition(name: str, v3: bool) -> dict[str, Any]:
    """One definition as the server publishes it in v2 (`v3=False`) or v3. Shared: never mutate it."""
    if name in _REPLACED:
        return _REPLACED[name][1 if v3 else 0]
    source = source_definitions()[name]
    converted: dict[str, Any] = _convert(source, V3_PREFIX if v3 else V2_PREFIX, v3)
    if _GVK in source:
        # The JSON-schema conversion pins apiVersion and kind with an enum the server never publishes.
        properties = converted.get("properties", {})
        for field in ("apiVersion", "kind"):
            if field in properties:
                properties[field] = {k: v for k, v in properties[field].items() if k != "enum"}
    for field, default in KEY_DEFAULTS.get(name, {}).items():
        # The Go types' `+default` markers, which kube-openapi publishes and the JSON-schema conversion
        # dropped: a client keying a port without a protocol (kubectl, server-side apply) needs them.
        properties = converted.get("properties", {})
        if field in properties:
            properties[field] = {**properties[field], "default": default}
    return converted


def _collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SOURCE_PREFIX):
            found.add(ref[len(_SOURCE_PREFIX) :])
        for value in node.values():
            _collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, found)


@cache
def _references(name: str) -> frozenset[str]:
    if name in _REPLACED:
        return frozenset()
    found: set[str] = set()
    _collect_refs(source_definitions().get(name, {}), found)
    return frozenset(found)


def reachable(roots: Iterable[str]) -> list[str]:
    """The named definitions and every definition they reference, transitively, sorted by name."""
    known = source_definitions()
    seen: set[str] = set()
    pending = [name for name in roots if name in known]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(ref for ref in _references(name) if ref not in seen and ref in known)
    return sorted(seen)


@cache
def _by_kind() -> dict[tuple[str, str, str], str]:
    found: dict[tuple[str, str, str], str] = {}
    for name, schema in source_definitions().items():
        for gvk in schema.get(_GVK) or []:
            key = (str(gvk.get("group", "")), str(gvk.get("version", "")), str(gvk.get("kind", "")))
            # Option types (DeleteOptions, WatchEvent) carry many GVKs; the first definition wins.
            found.setdefault(key, name)
    return found


def name_for_kind(group: str, version: str, kind: str) -> str | None:
    """The definition name of a built-in kind (`io.k8s.api.apps.v1.Deployment`), or None if unknown."""
    return _by_kind().get((group, version, kind))


@cache
def type_meta_properties(v3: bool) -> dict[str, dict[str, Any]]:
    """`apiVersion` and `kind` as every kind's schema publishes them (taken from Status)."""
    properties = definition(STATUS, v3)["properties"]
    return {field: dict(properties[field]) for field in ("apiVersion", "kind")}
