"""Discovery documents: /version, /api, /apis, per-group and per-group-version lists, and aggregated
discovery (apidiscovery.k8s.io v2 and v2beta1), which kubectl 1.29+ asks for first."""

from __future__ import annotations

from typing import Any

from sandbox.kinds import KindRegistry, ResourceType, subresource_kind

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4+sandbox",
    "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
    "gitTreeState": "clean",
    "buildDate": "2024-12-10T18:44:16Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED_V2 = "v2"
AGGREGATED_V2BETA1 = "v2beta1"


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def negotiate_aggregated(accept: str) -> str | None:
    """Which aggregated discovery version the Accept header asks for first, or None for the legacy form."""
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        if parts[0] not in ("application/json", "*/*", "application/*"):
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in (AGGREGATED_V2, AGGREGATED_V2BETA1):
                return params["v"]
            continue
        if "as" not in params:
            return None
    return None


def version_document() -> dict[str, Any]:
    return dict(KUBERNETES_VERSION)


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(registry: KindRegistry, group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": dict(versions[0])}


def group_list(registry: KindRegistry) -> dict[str, Any]:
    groups = [_group_entry(registry, g) for g in registry.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group_document(registry: KindRegistry, group: str) -> dict[str, Any] | None:
    if not group or group not in registry.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(registry, group)}


def resource_list(registry: KindRegistry, group: str, version: str) -> dict[str, Any] | None:
    if not registry.has_group_version(group, version):
        return None
    resources: list[dict[str, Any]] = []
    for resource_type in registry.resources(group, version):
        resources.append(_resource_entry(resource_type))
        for subresource in resource_type.subresources:
            resources.append(_subresource_entry(resource_type, subresource))
    document: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        document["apiVersion"] = "v1"
    document["groupVersion"] = f"{group}/{version}" if group else version
    document["resources"] = resources
    return document


def _resource_entry(resource_type: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": resource_type.plural,
        "singularName": resource_type.singular,
        "namespaced": resource_type.namespaced,
        "kind": resource_type.kind,
        "verbs": list(resource_type.verbs),
    }
    if resource_type.short_names:
        entry["shortNames"] = list(resource_type.short_names)
    if resource_type.categories:
        entry["categories"] = list(resource_type.categories)
    entry["storageVersionHash"] = resource_type.storage_version_hash
    return entry


def _subresource_kind(resource_type: ResourceType, subresource: str) -> tuple[str, str, str]:
    found = subresource_kind(resource_type, subresource)
    return (found.group, found.version, found.kind)


def _subresource_entry(resource_type: ResourceType, subresource: str) -> dict[str, Any]:
    found = subresource_kind(resource_type, subresource)
    entry: dict[str, Any] = {
        "name": f"{resource_type.plural}/{subresource}",
        "singularName": "",
        "namespaced": resource_type.namespaced,
    }
    # Only a subresource of another group-version (scale, eviction, token) names it.
    if (found.group, found.version) != (resource_type.group, resource_type.version):
        entry.update(group=found.group, version=found.version)
    entry["kind"] = found.kind
    entry["verbs"] = list(found.verbs)
    return entry


def aggregated_list(registry: KindRegistry, *, core: bool, version: str) -> dict[str, Any]:
    """The APIGroupDiscoveryList for `/api` (core) or `/apis` (every named group)."""
    groups = [""] if core else [g for g in registry.groups() if g]
    items = []
    for group in groups:
        versions = []
        for group_version in registry.versions(group):
            resources = [_aggregated_resource(rt) for rt in registry.resources(group, group_version)]
            versions.append({"version": group_version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def _aggregated_resource(resource_type: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource_type.plural,
        "responseKind": {
            "group": resource_type.group,
            "version": resource_type.version,
            "kind": resource_type.kind,
        },
        "scope": "Namespaced" if resource_type.namespaced else "Cluster",
        "singularResource": resource_type.singular,
        "verbs": list(resource_type.verbs),
    }
    if resource_type.short_names:
        entry["shortNames"] = list(resource_type.short_names)
    if resource_type.categories:
        entry["categories"] = list(resource_type.categories)
    subresources = []
    for subresource in resource_type.subresources:
        group, version, kind = _subresource_kind(resource_type, subresource)
        subresources.append(
            {
                "subresource": subresource,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": list(subresource_kind(resource_type, subresource).verbs),
            }
        )
    if subresources:
        entry["subresources"] = subresources
    return entry
