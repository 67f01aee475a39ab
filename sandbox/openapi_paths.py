"""The `paths` of the OpenAPI documents: each served resource's operations, in v2 or v3 form.

kubectl reads two things here. Every PATCH operation carries `x-kubernetes-group-version-kind` and a
`fieldValidation` query parameter: kubectl then validates on the server (`fieldValidation=Strict`)
instead of on the client. The PATCH request body lists the patch types the kind accepts: custom
resources take no strategic merge. kubectl's v2 reader looks for the parameter inline in the
operation, so parameters are written out in full rather than as `#/parameters/` references.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox import openapi_crd
from sandbox.kinds import ResourceType
from sandbox.openapi_definitions import (
    DELETE_OPTIONS,
    PATCH,
    SCALE,
    STATUS,
    V2_PREFIX,
    V3_PREFIX,
    name_for_kind,
)

_QUERY_PARAMETERS: dict[str, tuple[str, str]] = {
    "dryRun": (
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
        "dryRun directive will result in an error response and no further processing of the request. "
        "Valid values are: - All: all dry run stages will be processed",
    ),
    "fieldManager": (
        "string",
        "fieldManager is a name associated with the actor or entity that is making these changes. The "
        "value must be less than or 128 characters long, and only contain printable characters, as "
        "defined by https://golang.org/pkg/unicode/#IsPrint.",
    ),
    "fieldValidation": (
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
        "containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown "
        "fields that are silently dropped from the object, and will ignore all but the last duplicate "
        "field that the decoder encounters. - Warn: This will send a warning via the standard warning "
        "response header for each unknown field that is dropped from the object, and for each duplicate "
        "field that is encountered. - Strict: This will fail the request with a BadRequest error if any "
        "unknown fields would be dropped from the object, or if any duplicate fields are present.",
    ),
    "force": (
        "boolean",
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields '
        "owned by other people. Force flag must be unset for non-apply patch requests.",
    ),
    "pretty": ("string", "If 'true', then the output is pretty printed."),
    "labelSelector": (
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    "fieldSelector": (
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    "limit": ("integer", "limit is a maximum number of responses to return for a list call."),
    "resourceVersion": (
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    "watch": (
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and "
        "remove notifications. Specify resourceVersion.",
    ),
    "gracePeriodSeconds": (
        "integer",
        "The duration in seconds before the object should be deleted. Value must be non-negative integer.",
    ),
    "propagationPolicy": (
        "string",
        "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', "
        "'Background', 'Foreground'.",
    ),
}
_LIST = ("fieldSelector", "labelSelector", "limit", "resourceVersion", "watch")
_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_PATCH = (*_WRITE, "force")
_DELETE = ("dryRun", "gracePeriodSeconds", "propagationPolicy")
_SCALE_GVK = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


@dataclass(frozen=True)
class Operation:
    """One HTTP method of one path, independent of the OpenAPI version it is written in."""

    method: str
    action: str
    operation_id: str
    description: str
    gvk: dict[str, str]
    response: str
    body: str | None = None
    query: tuple[str, ...] = ()
    consumes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PathEntry:
    path: str
    operations: tuple[Operation, ...]
    path_parameters: tuple[str, ...]


def kind_schema_name(resource_type: ResourceType, kind: str | None = None) -> str:
    """The definition (v2) or component schema (v3) name of a served kind or of its list kind."""
    kind = kind or resource_type.kind
    if resource_type.custom:
        return openapi_crd.schema_name(resource_type, kind)
    official = name_for_kind(resource_type.group, resource_type.version, kind)
    if official is not None:
        return official
    group = resource_type.group.split(".")[0] if resource_type.group else "core"
    return f"io.k8s.api.{group}.{resource_type.version}.{kind}"


def _operation_prefix(resource_type: ResourceType) -> str:
    """`AppsV1`, `CoreV1`, `RbacAuthorizationV1`; custom resources have none (as the server names them)."""
    if resource_type.custom:
        return ""
    if not resource_type.group:
        return f"Core{resource_type.version.capitalize()}"
    parts = resource_type.group.removesuffix(".k8s.io").replace("-", ".").split(".")
    return "".join(part.capitalize() for part in parts) + resource_type.version.capitalize()


# (discovery verb, on the object path, HTTP method, x-kubernetes-action, operationId verb, description)
_OPERATIONS = (
    ("list", False, "get", "list", "list", "list or watch objects of kind {kind}"),
    ("create", False, "post", "post", "create", "create {article} {kind}"),
    (
        "deletecollection",
        False,
        "delete",
        "deletecollection",
        "deletecollection",
        "delete collection of {kind}",
    ),
    ("get", True, "get", "get", "read", "read the specified {kind}"),
    ("update", True, "put", "put", "replace", "replace the specified {kind}"),
    ("delete", True, "delete", "delete", "delete", "delete {article} {kind}"),
    ("patch", True, "patch", "patch", "patch", "partially update the specified {kind}"),
)
_SUBRESOURCE_VERBS = ("get", "update", "patch")


def _operation(
    row: tuple[str, bool, str, str, str, str],
    resource_type: ResourceType,
    target: str,
    gvk: dict[str, str],
    operation_id: str,
    description: str,
) -> Operation:
    method, action = row[2], row[3]
    if action == "list":
        listed = kind_schema_name(resource_type, resource_type.list_kind)
        return Operation(method, action, operation_id, description, gvk, listed, query=_LIST)
    if action in ("post", "put"):
        return Operation(method, action, operation_id, description, gvk, target, body=target, query=_WRITE)
    if action in ("delete", "deletecollection"):
        query = _DELETE if action == "delete" else (*_LIST, *_DELETE)
        return Operation(
            method, action, operation_id, description, gvk, STATUS, body=DELETE_OPTIONS, query=query
        )
    if action == "patch":
        # Custom resources take no strategic merge patch; kubectl falls back to a merge patch.
        consumes = tuple(t for t in _PATCH_TYPES if not resource_type.custom or "strategic" not in t)
        return Operation(
            method,
            action,
            operation_id,
            description,
            gvk,
            target,
            body=PATCH,
            query=_PATCH,
            consumes=consumes,
        )
    return Operation(method, action, operation_id, description, gvk, target)


def entries(resource_type: ResourceType) -> list[PathEntry]:
    """The resource's collection, object and subresource paths, with an operation for each verb it
    serves (the create-only reviews get a POST and nothing else)."""
    namespaced = resource_type.namespaced
    base = resource_type.collection_path("{namespace}" if namespaced else None)
    kind = resource_type.kind
    operation_kind = f"{_operation_prefix(resource_type)}{'Namespaced' if namespaced else ''}{kind}"
    gvk = {"group": resource_type.group, "version": resource_type.version, "kind": kind}
    own = kind_schema_name(resource_type)
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    scope = ("namespace",) if namespaced else ()
    collection: list[Operation] = []
    single: list[Operation] = []
    for row in _OPERATIONS:
        verb, on_object, _method, _action, id_verb, description = row
        if verb in resource_type.verbs:
            text = description.format(kind=kind, article=article)
            operation = _operation(row, resource_type, own, gvk, f"{id_verb}{operation_kind}", text)
            (single if on_object else collection).append(operation)
    found = [
        PathEntry(base, tuple(collection), scope),
        PathEntry(f"{base}/{{name}}", tuple(single), ("name", *scope)),
    ]
    # Only status and scale read and write an object; the other subresources (eviction, token, log,
    # exec...) are procedures kubectl finds through discovery, not through these documents.
    for subresource in (s for s in resource_type.subresources if s in ("status", "scale")):
        target, target_gvk = (SCALE, _SCALE_GVK) if subresource == "scale" else (own, gvk)
        operations = tuple(
            _operation(
                row,
                resource_type,
                target,
                target_gvk,
                f"{row[4]}{operation_kind}{subresource.capitalize()}",
                # "read status of the specified Deployment", as the server words it.
                row[5].format(kind=kind).replace("the specified", f"{subresource} of the specified"),
            )
            for row in _OPERATIONS
            if row[0] in _SUBRESOURCE_VERBS
        )
        found.append(PathEntry(f"{base}/{{name}}/{subresource}", operations, ("name", *scope)))
    return [entry for entry in found if entry.operations]


def referenced(resource_type: ResourceType) -> set[str]:
    """Every schema name the resource's operations point at."""
    names: set[str] = set()
    for entry in entries(resource_type):
        for operation in entry.operations:
            names.add(operation.response)
            if operation.body:
                names.add(operation.body)
    return names


def _path_parameter(name: str, kind: str) -> dict[str, Any]:
    description = (
        f"name of the {kind}"
        if name == "name"
        else "object name and auth scope, such as for teams and projects"
    )
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "type": "string",
        "uniqueItems": True,
    }


def _query(name: str) -> dict[str, Any]:
    kind, description = _QUERY_PARAMETERS[name]
    return {"name": name, "in": "query", "description": description, "uniqueItems": True, "type": kind}


def _v3_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    """A v2 parameter in v3 form: its type moves into a schema."""
    moved = {key: value for key, value in parameter.items() if key not in ("type", "uniqueItems")}
    return {**moved, "schema": {"type": parameter["type"], "uniqueItems": True}}


def v2_paths(resource_type: ResourceType) -> dict[str, Any]:
    """The resource's paths as a swagger 2.0 `paths` fragment."""
    paths: dict[str, Any] = {}
    for entry in entries(resource_type):
        item: dict[str, Any] = {}
        for operation in entry.operations:
            parameters: list[dict[str, Any]] = []
            if operation.body:
                body_ref = {"$ref": V2_PREFIX + operation.body}
                parameters.append(
                    {
                        "name": "body",
                        "in": "body",
                        "required": operation.method != "delete",
                        "schema": body_ref,
                    }
                )
            parameters.extend(_query(name) for name in operation.query)
            item[operation.method] = {
                "description": operation.description,
                "consumes": list(operation.consumes or ("*/*",)),
                "produces": ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
                "schemes": ["https"],
                "operationId": operation.operation_id,
                **({"parameters": parameters} if parameters else {}),
                "responses": {
                    "200": {"description": "OK", "schema": {"$ref": V2_PREFIX + operation.response}},
                    "401": {"description": "Unauthorized"},
                },
                "x-kubernetes-action": operation.action,
                "x-kubernetes-group-version-kind": operation.gvk,
            }
        item["parameters"] = [
            *(_path_parameter(name, resource_type.kind) for name in entry.path_parameters),
            _query("pretty"),
        ]
        paths[entry.path] = item
    return paths


def v3_paths(resource_type: ResourceType) -> dict[str, Any]:
    """The resource's paths as an OpenAPI 3.0 `paths` fragment."""
    paths: dict[str, Any] = {}
    for entry in entries(resource_type):
        item: dict[str, Any] = {}
        for operation in entry.operations:
            schema = {"$ref": V3_PREFIX + operation.response}
            rendered: dict[str, Any] = {
                "description": operation.description,
                "operationId": operation.operation_id,
            }
            if operation.query:
                rendered["parameters"] = [_v3_parameter(_query(name)) for name in operation.query]
            if operation.body:
                body = {"schema": {"$ref": V3_PREFIX + operation.body}}
                types = operation.consumes or ("*/*",)
                rendered["requestBody"] = {
                    "content": {t: body for t in types},
                    "required": operation.method != "delete",
                }
            rendered["responses"] = {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                "401": {"description": "Unauthorized"},
            }
            rendered["x-kubernetes-action"] = operation.action
            rendered["x-kubernetes-group-version-kind"] = operation.gvk
            item[operation.method] = rendered
        item["parameters"] = [
            *(_v3_parameter(_path_parameter(name, resource_type.kind)) for name in entry.path_parameters),
            _v3_parameter(_query("pretty")),
        ]
        paths[entry.path] = item
    return paths
