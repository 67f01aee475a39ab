"""The cluster's own /openapi/v3 as the first schema source: one document per group-version on first
use, shared by content hash, and the official definitions of the cluster's version when it cannot
answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from core.cluster import ApiError, ServerVersion
from core.drift.cluster_schema import (
    ClusterSchemaSource,
    cluster_schema_source,
    forget_documents,
    group_versions,
    read_server_version,
)
from core.drift.schema_source import OfficialSchemaSource
from core.schema import ListType, Shape

# A custom resource whose `rules` list is keyed by name: only the cluster knows that.
ROUTE_SCHEMA = {
    "type": "object",
    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Route"}],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "rules": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                }
            },
        },
    },
}


class FakeServer:
    """Answers the index and documents it is given; counts what was asked."""

    server = "https://fake.example"

    def __init__(self, documents: Mapping[str, Mapping[str, Any]], *, index_error: ApiError | None = None):
        self.documents = dict(documents)
        self.index_error = index_error
        self.asked: list[str] = []

    def index(self) -> dict[str, Any]:
        listed = {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash=H{path}"} for path in self.documents}
        return {"paths": listed}

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        self.asked.append(relative_url)
        if relative_url == "/openapi/v3":
            if self.index_error is not None:
                raise self.index_error
            return self.index()
        path = relative_url.removeprefix("/openapi/v3/").partition("?")[0]
        document = self.documents[path]
        if isinstance(document, ApiError):
            raise document
        return dict(document)

    def server_version(self) -> ServerVersion:
        return ServerVersion("v1.30.2", 30)


@pytest.fixture(autouse=True)
def fresh_documents() -> Iterator[None]:
    forget_documents()
    yield
    forget_documents()


def routes_document() -> dict[str, Any]:
    return {"components": {"schemas": {"com.example.v1.Route": ROUTE_SCHEMA}}}


def source_for(server: FakeServer) -> ClusterSchemaSource:
    return ClusterSchemaSource(server.openapi_v3, server=server.server, official=OfficialSchemaSource(31))


def test_a_kind_is_typed_by_the_clusters_document() -> None:
    server = FakeServer({"apis/example.com/v1": routes_document()})
    rules = source_for(server).kind_type("example.com", "v1", "Route")
    assert rules is not None
    listed = rules.child("spec").child("rules")
    assert (listed.shape, listed.list_type, listed.list_keys) == (Shape.LIST, ListType.MAP, ("name",))


def test_each_document_is_fetched_once_and_only_when_a_kind_of_it_is_needed() -> None:
    server = FakeServer({"apis/example.com/v1": routes_document(), "apis/other.example.com/v1": {}})
    source = source_for(server)
    for _ in range(3):
        source.kind_type("example.com", "v1", "Route")
    assert server.asked == ["/openapi/v3", "/openapi/v3/apis/example.com/v1?hash=Hapis/example.com/v1"]
    assert source.stats.documents == 1 and source.stats.seconds > 0


def test_sources_of_one_server_share_a_document_by_its_hash() -> None:
    server = FakeServer({"apis/example.com/v1": routes_document()})
    first, second = source_for(server), source_for(server)
    first.kind_type("example.com", "v1", "Route")
    second.kind_type("example.com", "v1", "Route")
    documents = [url for url in server.asked if "hash" in url]
    assert len(documents) == 1, "the second source reuses the converted document"


def test_a_forbidden_index_falls_back_to_the_official_definitions_and_says_why() -> None:
    forbidden = ApiError(403, "Forbidden", 'forbidden: User "viewer" cannot get path "/openapi/v3"')
    server = FakeServer({}, index_error=forbidden)
    source = source_for(server)
    deployment = source.kind_type("apps", "v1", "Deployment")
    assert deployment is not None
    containers = deployment.child("spec").child("template").child("spec").child("containers")
    assert containers.list_keys == ("name",)  # the official definition answered
    assert "cannot get path" in source.stats.fallbacks["/openapi/v3"]
    assert source.kind_type("example.com", "v1", "Route") is None  # neither source knows it


def test_a_document_that_fails_falls_back_for_that_group_version_only() -> None:
    down = ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    server = FakeServer({"apis/example.com/v1": routes_document(), "apis/apps/v1": down})  # type: ignore[dict-item]
    source = source_for(server)
    assert source.kind_type("apps", "v1", "Deployment") is not None  # official
    assert "unable to handle" in source.stats.fallbacks["apis/apps/v1"]
    assert source.kind_type("example.com", "v1", "Route") is not None  # the cluster's


def test_the_official_fallback_is_the_clusters_minor_version() -> None:
    server = FakeServer({})
    source = cluster_schema_source(server, read_server_version(server))
    assert source.official.minor == 30


def test_group_versions_of_objects() -> None:
    objects = [{"apiVersion": "apps/v1"}, {"apiVersion": "v1"}, {"apiVersion": "apps/v1"}]
    assert group_versions(objects) == {("apps", "v1"), ("", "v1")}
