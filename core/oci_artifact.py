"""A Flux OCIRepository's artifact (what `flux push artifact` pushes) as files on disk: the reference
resolved, the layer chosen and unpacked, as source-controller does it
(`internal/controller/ocirepository_controller.go`).

- `spec.ref`: `digest` wins, then `semver`, then `tag`; none: the tag `latest`. A semver range takes the
  highest tag that parses as a strict semver version (a leading `v` allowed, as fluxcd/pkg's
  `ParseVersion`) and that the Masterminds constraint admits (checked by Helm's own engine,
  `core.chart_versions`); `semverFilter`, a regular expression, keeps only the tags it matches first.
- The revision is Flux's: `<tag>@sha256:<hex>`, the digest of the tag's manifest as a HEAD request gives
  it; `sha256:<hex>` for a digest. A revision handed back (a rollback, a sync to a past revision) pins
  its digest.
- An index (a multi-platform artifact) stands for its linux/amd64 manifest, as go-containerregistry
  picks by default, else its first.
- The layer: the first whose media type is `layerSelector.mediaType`; without one, the first layer. It
  must be a tar+gzip archive. `operation: copy` keeps the archive whole where `extract` unpacks it, and
  kustomize-controller unpacks the copy: both give a Kustomization the same files.
- The layer is unpacked as source-controller unpacks it (`core.oci_layer`).

What kubedrift adds: every manifest and blob is checked against its digest, and a layer is read up to
100 MiB, as downloaded and as unpacked (source-controller reads any size).

Cache: `<cache_dir>/<host>/<repository>/<digest hex>[-<selector>]/` (the digest the tag resolved to, and
a hash of `layerSelector.mediaType` when there is one) holds the unpacked files, written once through a
rename and never changed. A digest already there is never downloaded again; a tag is asked again at
most every `ttl` seconds, or after `refresh()` (each poll).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.chart_archive import Refused
from core.chart_versions import NEWEST_SHOWN, matching, newest_first
from core.errors import GitSourceError
from core.git_remote import default_cache_dir
from core.oci_layer import MAX_LAYER_BYTES, unpack
from core.oci_registry import (
    DIGEST,
    INDEX_TYPES,
    UNREACHABLE,
    RegistryClient,
    RegistryCredentials,
    RegistryError,
    size_text,
)

__all__ = [
    "DEFAULT_TAG",
    "ArtifactRelease",
    "OciArtifactOptions",
    "OciArtifacts",
    "ReferenceKind",
    "RegistryCredentials",
    "default_artifact_cache_dir",
]

DEFAULT_TAG = "latest"
"""source-controller's reference when an OCIRepository gives none."""
TAG_TTL_SECONDS = 60.0
"""How long a resolved tag (or tag list) answers before the registry is asked again."""
# fluxcd/pkg version.ParseVersion: Masterminds' StrictNewVersion, with a leading "v" allowed.
_STRICT_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_PATH_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class ReferenceKind(StrEnum):
    """Which of `spec.ref`'s fields the source's targetRevision holds."""

    TAG = "tag"
    SEMVER = "semver"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class OciArtifactOptions:
    """How an OCIRepository's artifact is chosen and read; the source's repoURL is `spec.url` and its
    targetRevision the tag, semver range or digest of `spec.ref`."""

    reference: ReferenceKind = ReferenceKind.TAG
    semver_filter: str = ""
    """`spec.ref.semverFilter`: a regular expression a tag must match to be considered."""
    layer_media_type: str = ""
    """`spec.layerSelector.mediaType`; empty: the first layer."""
    insecure: bool = False
    """`spec.insecure`: the registry is spoken to over plain HTTP."""
    credentials: RegistryCredentials | None = field(default=None, repr=False)
    """From the docker config of `spec.secretRef`, for the registry's host; None: anonymous."""
    declared: str = ""
    """Where the OCIRepository is declared (`file:line: OCIRepository ns/name`), which errors start with."""


@dataclass(frozen=True, slots=True)
class ArtifactRelease:
    """One artifact, unpacked."""

    folder: Path
    """The unpacked layer's files; never changed once written."""
    revision: str
    """Flux's revision: `<tag>@sha256:<hex>`, or `sha256:<hex>` for a digest."""


def default_artifact_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/kubedrift/oci` (`~/.cache` by default), beside the Git clones and charts."""
    return default_cache_dir().parent / "oci"


class OciArtifacts:
    """One OCIRepository's artifacts (`oci://host/path`), cached on disk by manifest digest."""

    def __init__(
        self,
        url: str,
        options: OciArtifactOptions,
        *,
        cache_dir: Path,
        timeout: float = 20.0,
        ttl: float = TAG_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.options = options
        registry, _, repository = self.url.removeprefix("oci://").partition("/")
        self._malformed = not self.url.startswith("oci://") or not registry or not repository
        """flux_sources reads only URLs of that form; another is refused at the first fetch."""
        self._client = RegistryClient(
            registry,
            repository,
            insecure=options.insecure,
            credentials=options.credentials,
            timeout=timeout,
        )
        selector = hashlib.sha256(options.layer_media_type.encode()).hexdigest()[:8]
        self._suffix = f"-{selector}" if options.layer_media_type else ""
        self._folder = (
            cache_dir / _path_part(registry.lower()) / Path(*map(_path_part, repository.split("/")))
        )
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._resolved: dict[tuple[str, str], tuple[float, str, str]] = {}
        """(kind, reference) -> (when resolved, tag, digest)."""
        self._tags: tuple[float, list[str]] | None = None

    def fetch(self, reference: str, kind: ReferenceKind | None = None) -> ArtifactRelease:
        """The artifact `reference` names (a tag, a semver range or a digest, as `kind` says; a revision
        `<tag>@sha256:<hex>` pins its digest), unpacked. Raises GitSourceError."""
        kind = kind or self.options.reference
        if self._malformed:
            raise GitSourceError(
                self._sentence("spec.url", f"{self.url} is not oci://host/repository", "fix it")
            )
        with self._lock:
            try:
                tag, digest = self._resolve(reference, kind)
                revision = f"{tag}@{digest}" if tag else digest
                return ArtifactRelease(self._unpacked(digest, revision), revision)
            except _Failed as failed:
                raise GitSourceError(self._sentence(failed.field, failed.problem, failed.todo)) from None
            except RegistryError as refused:
                raise GitSourceError(
                    self._sentence(
                        _field_of_refusal(refused, self._field(kind)), refused.problem, refused.todo
                    )
                ) from None
            except Refused as refused:
                raise GitSourceError(
                    self._sentence(self._field(kind), refused.problem, refused.todo)
                ) from None

    def refresh(self) -> None:
        """Forget resolved tags and the tag list, so the next fetch asks the registry (a poll)."""
        with self._lock:
            self._resolved.clear()
            self._tags = None

    # Resolving the reference ------------------------------------------------------------------

    def _resolve(self, reference: str, kind: ReferenceKind) -> tuple[str, str]:
        """(tag, digest) of the reference; the tag is empty for a digest."""
        pinned_tag, at, pinned = reference.rpartition("@")
        if at and DIGEST.fullmatch(pinned):
            return pinned_tag, pinned
        if kind is ReferenceKind.DIGEST or DIGEST.fullmatch(reference):
            if not DIGEST.fullmatch(reference):
                raise _Failed(self._field(kind), f"{reference!r} is not a sha256 digest", "fix it")
            return "", reference
        now = self._clock()
        known = self._resolved.get((kind, reference))
        if known is not None and now - known[0] < self._ttl:
            return known[1], known[2]
        tag = self._newest(reference) if kind is ReferenceKind.SEMVER else reference or DEFAULT_TAG
        digest = self._client.digest_of(tag)
        self._resolved[(kind, reference)] = (now, tag, digest)
        return tag, digest

    def _newest(self, constraint: str) -> str:
        """The highest tag the semver range admits, as source-controller's getTagBySemver picks it."""
        now = self._clock()
        if self._tags is None or now - self._tags[0] >= self._ttl:
            self._tags = (now, self._client.tags())
        tags = self._tags[1]
        if self.options.semver_filter:
            try:
                wanted = re.compile(self.options.semver_filter)
            except re.error as error:
                raise _Failed(
                    "spec.ref.semverFilter",
                    f"{self.options.semver_filter!r} is no regular expression ({error})",
                    "fix it",
                ) from None
            tags = [tag for tag in tags if wanted.search(tag)]
        versions = newest_first(tag for tag in tags if _STRICT_SEMVER.fullmatch(tag))
        field = "spec.ref.semver"
        asked = self.options.declared or self.url
        admitted = matching(constraint, versions, asked, field=field, what="a semver range")
        if admitted:
            return admitted[0]
        newest = ", ".join(versions[:NEWEST_SHOWN]) or "none"
        raise _Failed(
            field,
            f"no tag of {self.url} matches {constraint!r} (newest: {newest})",
            "push a matching tag, or change spec.ref.semver"
            + (" or semverFilter" if self.options.semver_filter else ""),
        )

    # Choosing and unpacking the layer ----------------------------------------------------------

    def _unpacked(self, digest: str, revision: str) -> Path:
        folder = self._folder / f"{digest.removeprefix('sha256:')}{self._suffix}"
        if folder.is_dir():
            return folder
        manifest = self._client.manifest(digest)
        if manifest.media_type in INDEX_TYPES or "manifests" in manifest.document:
            manifest = self._client.manifest(_platform_manifest(manifest.document, revision))
        layer = self._layer(manifest.document, revision)
        size = layer.get("size")
        what = f"the layer of {revision}"
        if isinstance(size, int) and size > MAX_LAYER_BYTES:
            raise _Failed(
                self._field(),
                f"{what} weighs {size_text(size)}, more than the {size_text(MAX_LAYER_BYTES)} kubedrift "
                "reads",
                "make the artifact smaller",
            )
        data = self._client.blob(str(layer.get("digest") or ""), MAX_LAYER_BYTES, what)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder.parent))
        except OSError as exc:
            raise _Failed(
                self._field(), f"the cache {folder.parent} cannot be written ({exc.strerror})", "free it"
            ) from None
        try:
            unpack(data, staging, what)
            try:
                staging.rename(folder)
            except OSError:
                if not folder.is_dir():  # else another reader unpacked the same artifact first
                    raise
        except OSError as exc:
            raise _Failed(
                self._field(), f"the cache {folder} cannot be written ({exc.strerror})", "check its disk"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    def _layer(self, manifest: dict[str, Any], revision: str) -> dict[str, Any]:
        layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
        wanted = self.options.layer_media_type
        if not layers:
            raise _Failed(
                self._field(),
                f"the artifact {revision} has no layers",
                "push it again with flux push artifact",
            )
        if wanted:
            chosen = next((layer for layer in layers if layer.get("mediaType") == wanted), None)
            if chosen is None:
                present = ", ".join(dict.fromkeys(str(layer.get("mediaType")) for layer in layers))
                raise _Failed(
                    "spec.layerSelector.mediaType",
                    f"the artifact {revision} has no layer of media type {wanted} (it has {present})",
                    "fix spec.layerSelector.mediaType",
                )
        else:
            chosen = layers[0]
        media_type = str(chosen.get("mediaType") or "")
        if not media_type.endswith(("+gzip", ".gzip")):
            raise _Failed(
                "spec.layerSelector.mediaType" if wanted else "spec.layerSelector",
                f"the layer of {revision} has media type {media_type or 'none'}, which is not a tar+gzip "
                "archive, the only kind Flux unpacks",
                "select the manifests' layer with spec.layerSelector.mediaType",
            )
        if not DIGEST.fullmatch(str(chosen.get("digest") or "")):
            raise _Failed(self._field(), f"the layer of {revision} has no sha256 digest", "push it again")
        return chosen

    # Messages ----------------------------------------------------------------------------------

    def _field(self, kind: ReferenceKind | None = None) -> str:
        """The `spec.ref` field the reference is written in (`spec.ref.tag` for the default tag too)."""
        return f"spec.ref.{kind or self.options.reference}"

    def _sentence(self, place: str, problem: str, todo: str) -> str:
        """`file:line: OCIRepository ns/name: field: problem; todo`, one sentence."""
        declared = self.options.declared or self.url
        return f"{declared}: {place}: {problem}; {todo}"


class _Failed(Exception):
    """Why an artifact cannot be read, and the OCIRepository field to look at."""

    def __init__(self, field: str, problem: str, todo: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem
        self.todo = todo


def _field_of_refusal(refused: RegistryError, reference_field: str) -> str:
    """The OCIRepository field a registry's refusal is about."""
    if refused.code in (UNREACHABLE, "NAME_UNKNOWN"):
        return "spec.url"  # unreachable, or no such repository
    if refused.status in (401, 403):
        return "spec.secretRef"
    return reference_field


def _platform_manifest(index: dict[str, Any], revision: str) -> str:
    """The manifest of an index that go-containerregistry's remote.Image reads: linux/amd64, else the
    first."""
    entries = [entry for entry in index.get("manifests") or [] if isinstance(entry, dict)]
    chosen = next(
        (entry for entry in entries if _platform(entry) == ("linux", "amd64")), entries[0] if entries else {}
    )
    digest = str(chosen.get("digest") or "")
    if not DIGEST.fullmatch(digest):
        raise Refused(f"the index of {revision} lists no manifest with a sha256 digest", "push it again")
    return digest


def _platform(entry: dict[str, Any]) -> tuple[object, object]:
    platform = entry.get("platform")
    return (platform.get("os"), platform.get("architecture")) if isinstance(platform, dict) else (None, None)


def _path_part(text: str) -> str:
    """`text` as one folder name: no separator, no `..`."""
    safe = _PATH_UNSAFE.sub("_", text)
    return "_" if safe in ("", ".", "..") else safe
