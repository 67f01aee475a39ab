"""A small OCI registry the tests serve themselves: the distribution endpoints Helm's registry client and
kubedrift's own OCI client read (tags with `Link` pages, manifests and indexes by tag or digest, HEAD,
blobs), with basic auth or Docker's bearer-token flow, and Flux-style artifacts to push into it."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
"""What `flux push artifact` writes as the artifact's config media type."""
FLUX_LAYER = "application/vnd.cncf.flux.content.v1.tar+gzip"
"""What `flux push artifact` writes as the media type of its one layer."""
TOKEN_SERVICE = "test-registry"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_of(data: bytes) -> str:
    return f"sha256:{sha256(data)}"


def tar_member(name: str, data: bytes = b"", **changes: Any) -> tuple[tarfile.TarInfo, bytes]:
    """One tar entry; `changes` set TarInfo fields (`type=tarfile.SYMTYPE`, `linkname=...`)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    for key, value in changes.items():
        setattr(info, key, value)
    return info, data


def tar_gz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A .tar.gz with fixed times, so the same content always has the same digest."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as writer:
        for info, data in members:
            writer.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return gzip.compress(tar.getvalue(), mtime=0)


def flux_layer(files: Mapping[str, bytes | str]) -> bytes:
    """What `flux push artifact --path=DIR` packs: DIR's files relative to it, folders as entries."""
    members = []
    folders = sorted({"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)})
    for folder in folders:
        members.append(tar_member(folder, type=tarfile.DIRTYPE, mode=0o755))
    for path in sorted(files):
        content = files[path]
        members.append(tar_member(path, content.encode() if isinstance(content, str) else content))
    return tar_gz(*members)


class Registry:
    """OCI distribution endpoints over a dict of manifests and blobs, logging every request.

    `password` asks for basic auth `user:<password>`; with `token`, the registry answers Docker's bearer
    challenge instead, and its token service (`/token`, on the same server) asks for that basic auth
    when a password is set. `page_size` cuts tag lists into pages linked by `Link` headers."""

    def __init__(self, password: str | None = None, *, token: bool = False, page_size: int = 0) -> None:
        self.manifests: dict[str, bytes] = {}
        """`repository:tag` and `repository@digest` -> the manifest's bytes."""
        self.media_types: dict[str, str] = {}
        """A manifest's digest -> its media type."""
        self.blobs: dict[str, bytes] = {}
        self.served: dict[str, bytes] = {}
        """Bytes served for a blob digest instead of the blob's own (a registry gone wrong)."""
        self.mirror: Registry | None = None
        """Where blobs are redirected to (a storage bucket, say), which holds copies of them."""
        self.password = password
        self.token = token
        self.page_size = page_size
        self.issued: list[str] = []
        """Bearer tokens handed out, in order."""
        self.log: list[tuple[str, str, str | None]] = []
        """(Method, path with its query, Authorization header) of every request."""
        self.lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.host = f"127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # Pushing -------------------------------------------------------------------------------------

    def put_blob(self, data: bytes) -> dict[str, Any]:
        """The blob stored; its descriptor (without a media type)."""
        self.blobs[digest_of(data)] = data
        return {"digest": digest_of(data), "size": len(data)}

    def put_manifest(self, repository: str, tag: str | None, document: Mapping[str, Any]) -> str:
        """The manifest (or index) stored under its digest, and under `tag` when given; its digest."""
        data = json.dumps(document).encode()
        digest = digest_of(data)
        self.manifests[f"{repository}@{digest}"] = data
        self.media_types[digest] = str(document.get("mediaType") or OCI_MANIFEST)
        if tag is not None:
            self.manifests[f"{repository}:{tag}"] = data
        return digest

    def push_image(
        self,
        repository: str,
        tag: str | None,
        *,
        config: tuple[str, bytes],
        layers: Sequence[tuple[str, bytes]],
        annotations: Mapping[str, str] | None = None,
    ) -> str:
        """A manifest of a config and layers, each (media type, bytes); its digest."""
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config[0], **self.put_blob(config[1])},
            "layers": [{"mediaType": media_type, **self.put_blob(data)} for media_type, data in layers],
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        return self.put_manifest(repository, tag, manifest)

    def push_artifact(
        self,
        repository: str,
        tag: str | None,
        files: Mapping[str, bytes | str],
        *,
        revision: str = "main@sha1:0123456789abcdef0123456789abcdef01234567",
    ) -> str:
        """A Flux artifact as `flux push artifact` writes it: an empty config of Flux's media type, one
        tar+gzip layer of the files, and the source annotations; its manifest digest."""
        annotations = {
            "org.opencontainers.image.created": "2025-01-01T00:00:00Z",
            "org.opencontainers.image.source": "https://github.com/example/fleet",
            "org.opencontainers.image.revision": revision,
        }
        layers = [(FLUX_LAYER, flux_layer(files))]
        return self.push_image(
            repository, tag, config=(FLUX_CONFIG, b"{}"), layers=layers, annotations=annotations
        )

    def push(self, name: str, version: str, layer: bytes) -> bytes:
        """A Helm chart as `helm push` writes it (under `charts/`), tagged by its version."""
        config = json.dumps({"apiVersion": "v2", "name": name, "version": version}).encode()
        self.push_image(
            f"charts/{name}",
            version.replace("+", "_"),
            config=("application/vnd.cncf.helm.config.v1+json", config),
            layers=[("application/vnd.cncf.helm.chart.content.v1.tar+gzip", layer)],
        )
        return layer

    # Reading the log ---------------------------------------------------------------------------

    def requests(self, kind: str, method: str | None = None) -> int:
        """How many requests went to an endpoint kind (`blobs`, `manifests`, `tags`)."""
        with self.lock:
            return sum(1 for m, path, _ in self.log if f"/{kind}/" in path and method in (None, m))

    # Serving ---------------------------------------------------------------------------------------

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_GET(self) -> None:
                self._answer(head=False)

            def _answer(self, *, head: bool) -> None:
                with registry.lock:
                    registry.log.append((self.command, self.path, self.headers.get("Authorization")))
                status, headers, body = registry._route(self.path, self.headers)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        return Handler

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"user:{self.password}".encode()).decode()

    def _route(self, target: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/token":
            return self._issue_token(query, headers)
        refused = self._refusal(path, headers)
        if refused is not None:
            return refused
        if path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        rest = path.removeprefix("/v2/")
        if rest.endswith("/tags/list"):
            return self._tags(rest.removesuffix("/tags/list"), query)
        repository, kind, reference = rest.rsplit("/", 2) if rest.count("/") >= 2 else ("", "", "")
        if kind == "manifests":
            separator = "@" if reference.startswith("sha256:") else ":"
            found = self.manifests.get(f"{repository}{separator}{reference}")
            if found is not None:
                digest = digest_of(found)
                media = {"Content-Type": self.media_types.get(digest, OCI_MANIFEST)}
                return 200, {**media, "Docker-Content-Digest": digest}, found
            return _error(404, "MANIFEST_UNKNOWN" if self._known(repository) else "NAME_UNKNOWN")
        if kind == "blobs" and reference in self.blobs and self.mirror is not None:
            self.mirror.blobs[reference] = self.blobs[reference]
            return 307, {"Location": f"http://{self.mirror.host}/v2/{repository}/blobs/{reference}"}, b""
        if kind == "blobs" and reference in self.blobs:
            body = self.served.get(reference, self.blobs[reference])
            return 200, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": reference}, body
        return _error(404, "BLOB_UNKNOWN" if kind == "blobs" else "NOT_FOUND")

    def _known(self, repository: str) -> bool:
        return any(key.startswith((f"{repository}:", f"{repository}@")) for key in self.manifests)

    def _refusal(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes] | None:
        given = headers.get("Authorization")
        if self.token:
            with self.lock:
                if given is not None and given.removeprefix("Bearer ") in self.issued:
                    return None
            name = _repository_of(path)
            scope = f',scope="repository:{name}:pull"' if name else ""
            challenge = f'Bearer realm="http://{self.host}/token",service="{TOKEN_SERVICE}"{scope}'
            return _error(401, "UNAUTHORIZED", {"WWW-Authenticate": challenge})
        if self.password is not None and given != self._basic():
            return _error(401, "UNAUTHORIZED", {"WWW-Authenticate": 'Basic realm="registry"'})
        return None

    def _issue_token(self, query: dict[str, list[str]], headers: Any) -> tuple[int, dict[str, str], bytes]:
        if self.password is not None and headers.get("Authorization") != self._basic():
            return _error(401, "UNAUTHORIZED", {"WWW-Authenticate": 'Basic realm="token"'})
        if query.get("service") != [TOKEN_SERVICE]:
            return _error(400, "UNSUPPORTED")
        with self.lock:
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
        return 200, {"Content-Type": "application/json"}, json.dumps({"token": token}).encode()

    def _tags(self, repository: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        tags = sorted(key.partition(":")[2] for key in self.manifests if key.partition(":")[0] == repository)
        if not tags and not self._known(repository):
            return _error(404, "NAME_UNKNOWN")
        size = int(query["n"][0]) if "n" in query else self.page_size
        last = query.get("last", [""])[0]
        after = [tag for tag in tags if tag > last] if last else tags
        page = after[:size] if size else after
        headers = {"Content-Type": "application/json"}
        if size and len(after) > size:
            headers["Link"] = f'</v2/{repository}/tags/list?last={page[-1]}&n={size}>; rel="next"'
        return 200, headers, json.dumps({"name": repository, "tags": page}).encode()


def _repository_of(path: str) -> str:
    """The repository a `/v2/...` path is about; empty for `/v2/` itself."""
    rest = path.removeprefix("/v2/")
    if rest.endswith("/tags/list"):
        return rest.removesuffix("/tags/list")
    return rest.rsplit("/", 2)[0] if rest.count("/") >= 2 else ""


def _error(
    status: int, code: str, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def serving(registry: Registry) -> Iterator[Registry]:
    """A fixture body: the registry, closed after the test."""
    yield registry
    registry.close()
