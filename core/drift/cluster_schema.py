"""Kinds' schemas from the cluster itself: its `/openapi/v3`, one group-version document on first use.

The first of the sources DESIGN's drift rules name. A real API server publishes, per group-version,
the definitions it merges with: built-in kinds at its own version (with the Go defaults of list-map
keys that the shipped definitions lack) and every served CRD's structural schema. Each kind is
looked up there first; the official definitions of the cluster's minor version answer when the
cluster cannot (discovery of OpenAPI forbidden by a read-only role, an aggregated API down, a kind
the document does not describe, or no cluster at all).

Documents are fetched through a callable, so this module makes no request itself: the engine hands
it `ClusterAdapter.openapi_v3`. The index's `serverRelativeURL`s carry a content hash
(`?hash=...`), as kubectl's OpenAPI client uses them: a document is kept, process-wide, under that
URL and the server's address, so apps and clusters of one server version share each conversion and
a CRD change (a new hash) is fetched afresh on the next index read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Protocol

from core.drift.schema_source import DEFAULT_MINOR, OfficialSchemaSource, split_api_version
from core.errors import KubedriftError
from core.schema import FieldType, OpenAPIV3Schemas, SchemaError

if TYPE_CHECKING:
    from core.cluster import ServerVersion

FetchDocument = Callable[[str], Mapping[str, Any]]
"""GET an /openapi/v3 path (the index, or a document's serverRelativeURL) as parsed JSON; raises
KubedriftError when the cluster does not answer it."""

INDEX_PATH: Final = "/openapi/v3"


class SchemaServer(Protocol):
    """What the source needs of a cluster (core.cluster.ClusterAdapter)."""

    server: str

    def server_version(self) -> ServerVersion: ...

    def openapi_v3(self, relative_url: str) -> dict[str, Any]: ...


_documents: dict[tuple[str, str], OpenAPIV3Schemas] = {}
_documents_lock = threading.Lock()


def group_version_path(group: str, version: str) -> str:
    """The index's name for a group-version: `api/v1`, `apis/apps/v1`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


@dataclass
class SchemaFetchStats:
    """What the source cost: documents fetched and converted, and the time it took (benchmarks)."""

    documents: int = 0
    seconds: float = 0.0
    fallbacks: dict[str, str] = field(default_factory=dict)
    """Group-version path (or the index) -> why the official definitions answer for it."""


class ClusterSchemaSource:
    """The cluster's own schemas, with the official definitions of its minor version behind them."""

    def __init__(self, fetch: FetchDocument, *, server: str, official: OfficialSchemaSource) -> None:
        self._fetch = fetch
        self._server = server
        self.official = official
        self._index: Mapping[str, str] | None = None
        self._loaded: dict[str, OpenAPIV3Schemas | None] = {}
        self._lock = threading.Lock()
        self.stats = SchemaFetchStats()

    def kind_type(self, group: str, version: str, kind: str) -> FieldType | None:
        if version:
            document = self._document(group_version_path(group, version))
            if document is not None:
                found = document.kind(group, version, kind)
                if found is not None:
                    return found
        return self.official.kind_type(group, version, kind)

    def prefetch(self, group_versions: Iterable[tuple[str, str]]) -> None:
        """Load the documents of these group-versions now (the engine does it at connect, where a
        request may wait, rather than on the first comparison)."""
        for group, version in group_versions:
            if version:
                self._document(group_version_path(group, version))

    def _document(self, path: str) -> OpenAPIV3Schemas | None:
        if path in self._loaded:
            return self._loaded[path]
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = self._load(path)
            return self._loaded[path]

    def _load(self, path: str) -> OpenAPIV3Schemas | None:
        index = self._read_index()
        url = index.get(path)
        if url is None:
            if INDEX_PATH not in self.stats.fallbacks:
                self.stats.fallbacks[path] = "the cluster's /openapi/v3 does not list it"
            return None
        cache_key = (self._server, url)
        with _documents_lock:
            cached = _documents.get(cache_key)
        if cached is not None:
            return cached
        started = time.perf_counter()
        try:
            document = self._fetch(url)
            schemas = OpenAPIV3Schemas(document, object_meta=self.official.object_meta())
        except (KubedriftError, SchemaError) as error:
            self.stats.fallbacks[path] = str(error)
            return None
        finally:
            self.stats.seconds += time.perf_counter() - started
        self.stats.documents += 1
        with _documents_lock:
            _documents[cache_key] = schemas
        return schemas

    def _read_index(self) -> Mapping[str, str]:
        if self._index is None:
            started = time.perf_counter()
            try:
                paths = self._fetch(INDEX_PATH).get("paths") or {}
                self._index = {
                    name: str(entry.get("serverRelativeURL") or f"{INDEX_PATH}/{name}")
                    for name, entry in paths.items()
                    if isinstance(entry, Mapping)
                }
            except KubedriftError as error:
                # Forbidden (a role without the nonResourceURL), or an older server without v3.
                self.stats.fallbacks[INDEX_PATH] = str(error)
                self._index = {}
            finally:
                self.stats.seconds += time.perf_counter() - started
        return self._index


def read_server_version(adapter: SchemaServer) -> ServerVersion | None:
    """The server's `/version`, or None when it cannot be read (forbidden, an old proxy)."""
    try:
        return adapter.server_version()
    except KubedriftError:
        return None


def cluster_schema_source(adapter: SchemaServer, version: ServerVersion | None) -> ClusterSchemaSource:
    """The schema source of one cluster: its /openapi/v3, and the official definitions of its minor
    version behind it (of DEFAULT_MINOR when `version`, read once by the caller, is unknown)."""
    minor = (version.minor if version is not None else 0) or DEFAULT_MINOR
    return ClusterSchemaSource(adapter.openapi_v3, server=adapter.server, official=official_source(minor))


@cache
def official_source(minor: int) -> OfficialSchemaSource:
    """One official source per minor version, shared by every cluster of that version."""
    return OfficialSchemaSource(minor)


def group_versions(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """The (group, version) of each object's apiVersion."""
    return {split_api_version(str(obj.get("apiVersion") or "")) for obj in objects}


def forget_documents() -> None:
    """Drop the process-wide documents (tests)."""
    with _documents_lock:
        _documents.clear()
