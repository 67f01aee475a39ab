"""OpenAPI v3: the index at /openapi/v3 and one document per group-version.

kubectl 1.29+ reads these to learn that PATCH accepts `fieldValidation` (then it validates on the
server with `fieldValidation=Strict`) and which patch types a kind accepts (custom resources take no
strategic merge). The component schemas carry no `x-kubernetes-group-version-kind`, so kubectl builds
its strategic merge patches from its compiled-in types, exactly as it computes them for these kinds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.discovery import KUBERNETES_VERSION
from sandbox.kinds import KindRegistry, ResourceType

_PATCH_SCHEMA = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}
_STATUS_SCHEMA = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


_DRY_RUN = _query(
    "dryRun",
    "When present, indicates that modifications should not be persisted. Valid values "
    "are: - All: all dry run stages will be processed",
)
_FIELD_MANAGER = _query(
    "fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."
)
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in "
    "the request containing unknown or duplicate fields. Valid values are: Ignore, Warn, "
    "Strict.",
)
_FORCE = _query("force", 'Force is going to "force" Apply requests.', "boolean")
_PRETTY = _query("pretty", "If 'true', then the output is pretty printed.")


def _path_parameter(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": f"{name} of the resource",
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _operation_id(verb: str, resource_type: ResourceType, namespaced: bool, suffix: str = "") -> str:
    group = (
        "".join(part.capitalize() for part in resource_type.group.replace("-", ".").split(".")[:1])
        if resource_type.group
        else "Core"
    )
    scope = "Namespaced" if namespaced else ""
    return f"{verb}{group}{resource_type.version.capitalize()}{scope}{resource_type.kind}{suffix}"


def _json_response(ref: str) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}


def _schema_name(resource_type: ResourceType) -> str:
    if resource_type.custom:
        reversed_group = ".".join(reversed(resource_type.group.split(".")))
        return f"{reversed_group}.{resource_type.version}.{resource_type.kind}"
    group = resource_type.group.split(".")[0] if resource_type.group else "core"
    return f"io.k8s.api.{group}.{resource_type.version}.{resource_type.kind}"


def _object_paths(resource_type: ResourceType) -> dict[str, Any]:
    namespaced = resource_type.namespaced
    base = resource_type.collection_path("{namespace}" if namespaced else None)
    gvk = {"group": resource_type.group, "version": resource_type.version, "kind": resource_type.kind}
    ref = f"#/components/schemas/{_schema_name(resource_type)}"
    body = {"content": {"application/json": {"schema": {"$ref": ref}}}, "required": True}
    patch_types = [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    if not resource_type.custom:
        patch_types.append("application/strategic-merge-patch+json")
    scope_parameters = [_path_parameter("namespace")] if namespaced else []

    def operation(verb: str, action: str, description: str, **extra: Any) -> dict[str, Any]:
        return {
            "description": description,
            "operationId": _operation_id(verb, resource_type, namespaced),
            "responses": {"200": _json_response(ref)},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            **extra,
        }

    def patch_operation(description: str) -> dict[str, Any]:
        return operation(
            "patch",
            "patch",
            description,
            parameters=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE],
            requestBody={"content": {t: {"schema": _PATCH_SCHEMA} for t in patch_types}, "required": True},
        )

    paths: dict[str, Any] = {
        base: {
            "get": operation("list", "list", f"list or watch objects of kind {resource_type.kind}"),
            "post": operation(
                "create",
                "post",
                f"create a {resource_type.kind}",
                requestBody=body,
                parameters=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            ),
            "parameters": [*scope_parameters, _PRETTY],
        },
        f"{base}/{{name}}": {
            "get": operation("read", "get", f"read the specified {resource_type.kind}"),
            "put": operation(
                "replace",
                "put",
                f"replace the specified {resource_type.kind}",
                requestBody=body,
                parameters=[_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            ),
            "patch": patch_operation(f"partially update the specified {resource_type.kind}"),
            "delete": {
                **operation("delete", "delete", f"delete a {resource_type.kind}"),
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": _STATUS_SCHEMA}}}
                },
            },
            "parameters": [_path_parameter("name"), *scope_parameters, _PRETTY],
        },
    }
    if "status" in resource_type.subresources:
        paths[f"{base}/{{name}}/status"] = {
            "get": operation("read", "get", f"read status of the specified {resource_type.kind}"),
            "put": operation(
                "replace", "put", f"replace status of the specified {resource_type.kind}", requestBody=body
            ),
            "patch": patch_operation(f"partially update status of the specified {resource_type.kind}"),
            "parameters": [_path_parameter("name"), *scope_parameters, _PRETTY],
        }
    return paths


def _components(resource_types: list[ResourceType]) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": {
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH "
            "request body.",
            "type": "object",
        },
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status": {
            "description": "Status is a return value for calls that don't return other objects.",
            "type": "object",
        },
    }
    for resource_type in resource_types:
        described: dict[str, Any] = {
            "description": f"{resource_type.kind} ({resource_type.api_version})",
            "type": "object",
        }
        if resource_type.schema:
            described = {**resource_type.schema, **described}
        schemas[_schema_name(resource_type)] = described
    return {"schemas": schemas}


class OpenAPIDocuments:
    """The v3 documents of the registry, rebuilt when CRDs change what is served."""

    def __init__(self, registry: KindRegistry) -> None:
        self._registry = registry
        self._built_for = -1
        self._documents: dict[str, bytes] = {}
        self._index: bytes = b""

    def _rebuild(self) -> None:
        if self._built_for == self._registry.generation:
            return
        documents: dict[str, bytes] = {}
        for group in self._registry.groups():
            for version in self._registry.versions(group):
                path = f"apis/{group}/{version}" if group else f"api/{version}"
                documents[path] = json.dumps(self._document(group, version), separators=(",", ":")).encode()
        index = {
            "paths": {
                path: {
                    "serverRelativeURL": f"/openapi/v3/{path}?hash="
                    f"{hashlib.sha512(body).hexdigest()[:128].upper()}"
                }
                for path, body in documents.items()
            }
        }
        self._documents = documents
        self._index = json.dumps(index, separators=(",", ":")).encode()
        self._built_for = self._registry.generation

    def _document(self, group: str, version: str) -> dict[str, Any]:
        resource_types = self._registry.resources(group, version)
        paths: dict[str, Any] = {}
        for resource_type in resource_types:
            paths.update(_object_paths(resource_type))
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"].split("+")[0]},
            "paths": paths,
            "components": _components(resource_types),
        }

    def index(self) -> bytes:
        self._rebuild()
        return self._index

    def document(self, path: str) -> bytes | None:
        self._rebuild()
        return self._documents.get(path)
