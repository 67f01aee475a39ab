"""Turning an API path into what it addresses: resource type, namespace, name, subresource and verb."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.kinds import KindRegistry, ResourceType


@dataclass(frozen=True)
class ResourcePath:
    """A path under `/api/v1` or `/apis/{group}/{version}` that names a resource or one object."""

    resource_type: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    legacy_watch: bool = False

    def verb(self, method: str, watch: bool) -> str:
        if method == "GET":
            if self.name:
                return "watch" if watch or self.legacy_watch else "get"
            return "watch" if watch or self.legacy_watch else "list"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if self.name else "deletecollection"
        return method.lower()


@dataclass(frozen=True)
class GroupVersionPath:
    """`/api/v1` or `/apis/{group}/{version}` with the segments after it."""

    group: str
    version: str
    rest: tuple[str, ...]


def split_group_version(path: str) -> GroupVersionPath | None:
    segments = tuple(s for s in path.split("/") if s)
    if len(segments) >= 2 and segments[0] == "api":
        return GroupVersionPath("", segments[1], segments[2:])
    if len(segments) >= 3 and segments[0] == "apis":
        return GroupVersionPath(segments[1], segments[2], segments[3:])
    return None


def resolve(registry: KindRegistry, group_version: GroupVersionPath) -> ResourcePath | None:
    """The resource a path addresses, or None when nothing is served there (a 404)."""
    group, version = group_version.group, group_version.version
    rest = group_version.rest
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = registry.lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    resource_type = registry.lookup(group, version, rest[0])
    if resource_type is None:
        return None
    if namespace is None and resource_type.namespaced and len(rest) > 1:
        return None  # a namespaced object must be addressed through its namespace
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        return None
    if subresource is not None and subresource not in resource_type.subresources:
        return None
    return ResourcePath(resource_type, namespace, name, subresource, legacy_watch)
