"""OpenAPI as a real API server serves it: /openapi/v3 (an index and one document per group-version)
and /openapi/v2 (one swagger document, as JSON or as gnostic protobuf).

kubectl reads v3 for apply, edit, diff and explain; kubectl 1.27 and 1.28 also read v2, which they ask
for as protobuf only, and fail every apply and diff without it. The documents are assembled by
sandbox/openapi_documents.py.

Nothing is built at start-up. A document is built on first request and kept until the resources it
describes change: each cache entry remembers the ResourceType objects it was built from, and a CRD
change replaces those objects in the registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from aiohttp import web

from sandbox.kinds import KindRegistry, ResourceType

PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_PROTOBUF_V2_ACCEPTED = (PROTOBUF_V2, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")


def _builder() -> ModuleType:
    # Imported on the first OpenAPI request rather than at start-up: most sandboxes (the engine's
    # tests, the demo) are never asked for OpenAPI, and the builders are five modules.
    from sandbox import openapi_documents

    return openapi_documents


@dataclass(frozen=True)
class Served:
    """One encoded document and its hash, and the resource types it was built from."""

    built_from: tuple[ResourceType, ...]
    body: bytes
    etag: str

    def describes(self, resource_types: Sequence[ResourceType]) -> bool:
        # Identity, not equality: ResourceType equality ignores the CRD schema.
        return len(self.built_from) == len(resource_types) and all(
            a is b for a, b in zip(self.built_from, resource_types, strict=True)
        )


class OpenAPIDocuments:
    """The registry's OpenAPI documents, built on request and rebuilt when CRDs change them."""

    def __init__(self, registry: KindRegistry) -> None:
        self._registry = registry
        self._v3: dict[str, Served] = {}
        self._index_for = -1
        self._index = b""
        self._v2_json: Served | None = None
        self._v2_protobuf: Served | None = None

    # ---- v3 ----

    def _group_versions(self) -> dict[str, list[ResourceType]]:
        found: dict[str, list[ResourceType]] = {}
        for group in self._registry.groups():
            for version in self._registry.versions(group):
                path = f"apis/{group}/{version}" if group else f"api/{version}"
                found[path] = self._registry.resources(group, version)
        return found

    def _served_v3(self, path: str, resource_types: list[ResourceType]) -> Served:
        cached = self._v3.get(path)
        if cached is not None and cached.describes(resource_types):
            return cached
        body = _builder().v3_document(resource_types)
        served = Served(tuple(resource_types), body, _builder().etag(body))
        self._v3[path] = served
        return served

    def index(self) -> bytes:
        """`{"paths": {"apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=..."}}}`"""
        if self._index_for != self._registry.generation:
            group_versions = self._group_versions()
            for stale in set(self._v3) - set(group_versions):
                del self._v3[stale]
            listed = {
                path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={self._served_v3(path, types).etag}"}
                for path, types in group_versions.items()
            }
            self._index = json.dumps({"paths": listed}, separators=(",", ":")).encode()
            self._index_for = self._registry.generation
        return self._index

    def document(self, path: str) -> Served | None:
        """The v3 document of one group-version (`apis/apps/v1`, `api/v1`), or None if not served."""
        parts = path.split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        if not self._registry.has_group_version(group, version):
            return None
        return self._served_v3(path, self._registry.resources(group, version))

    # ---- v2 ----

    def _all_types(self) -> list[ResourceType]:
        return [rt for types in self._group_versions().values() for rt in types]

    def v2(self, protobuf: bool) -> Served:
        """The v2 document of every served type, as gnostic protobuf or as JSON."""
        resource_types = self._all_types()
        cached = self._v2_protobuf if protobuf else self._v2_json
        if cached is None or not cached.describes(resource_types):
            builder = _builder()
            body = builder.v2_protobuf(resource_types) if protobuf else builder.v2_json(resource_types)
            cached = Served(tuple(resource_types), body, builder.etag(body))
            if protobuf:
                self._v2_protobuf = cached
            else:
                self._v2_json = cached
        return cached

    # ---- HTTP ----

    def respond(self, request: web.Request, path: str) -> web.StreamResponse | None:
        """The response for an /openapi path, or None when `path` is not one."""
        if path == "/openapi/v3":
            return web.Response(body=self.index(), content_type="application/json")
        if path.startswith("/openapi/v3/"):
            served = self.document(path[len("/openapi/v3/") :])
            if served is None:
                return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
            return self._v3_response(request, path, served)
        if path == "/openapi/v2":
            return self._v2_response(request)
        return None

    def _v3_response(self, request: web.Request, path: str, served: Served) -> web.StreamResponse:
        headers = {"ETag": f'"{served.etag}"', "Vary": "Accept"}
        wanted = request.query.get("hash")
        if wanted and wanted != served.etag:
            # A client holding an old index asks for an old hash: send it to the current document.
            raise web.HTTPMovedPermanently(f"{path}?hash={served.etag}")
        if wanted:
            # The hash pins the content, so the client may keep it (kubectl's HTTP cache does).
            expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 365 * 86400))
            headers.update({"Cache-Control": "public, immutable", "Expires": expires})
        if request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers=headers)
        return web.Response(body=served.body, content_type="application/json", headers=headers)

    def _v2_response(self, request: web.Request) -> web.StreamResponse:
        wants = _v2_media_type(request.headers.get("Accept", ""))
        if wants is None:
            return web.Response(status=406, text="406 Not Acceptable\n", content_type="text/plain")
        served = self.v2(protobuf=wants == PROTOBUF_V2)
        etag = f'"{served.etag}"'
        headers = {"ETag": etag, "Vary": "Accept"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        response = web.Response(body=served.body, headers=headers)
        response.content_type = wants
        return response


def _v2_media_type(accept: str) -> str | None:
    """JSON or protobuf, whichever the Accept header prefers (by q, then order); None if neither."""
    clauses: list[tuple[float, int, str]] = []
    for position, clause in enumerate((accept or "*/*").split(",")):
        media, *parameters = (part.strip() for part in clause.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            clauses.append((-quality, position, media.lower()))
    for _quality, _position, media in sorted(clauses):
        if media in ("application/json", "application/*", "*/*"):
            return "application/json"
        if media in _PROTOBUF_V2_ACCEPTED:
            return PROTOBUF_V2
    return None
