"""Flux's Kustomizations and HelmReleases, read from manifest files or from a cluster, as Apps.

Read leniently, as Argo CD Applications are: only the fields kubedrift uses are read and type-checked.
A Kustomization or HelmRelease kubedrift cannot render (a source it cannot read, a ConfigMap or Secret
that is not there) is still an app, whose one error says why; the rest are evaluated as usual.

How each maps (Flux's kustomize-controller and helm-controller, API v1 and v2):
- the app's name is `<namespace>-<name>` of the Flux object: unique across namespaces, free of ':' and
  spaces (tracking ids), and readable beside `flux get -A`; `flux_owner` keeps the name and
  namespace, which `tracking: flux` matches against the labels Flux sets on what it applies;
- a Kustomization's `sourceRef` is a GitRepository (`core.flux_sources`), and `spec.path` is from the
  repository root; or it is an ExternalArtifact that an ArtifactGenerator builds from a GitRepository
  (`core.flux_generators`), or an OCIRepository's artifact pulled from a registry
  (`core.oci_artifact`), and `spec.path` is inside the artifact. Flux builds the path with
  kustomize, generating a kustomization over every YAML manifest below it when it has none, and so
  does kubedrift when the options below need a build;
- `targetNamespace`, `namePrefix`, `nameSuffix`, `images`, `patches` and `components` become the
  kustomize options, which Flux writes into the folder's kustomization; `targetNamespace` is also the
  destination namespace. `commonMetadata` labels and annotates every object's own metadata, after
  `postBuild` substitution (`core.flux_values`). `prune` is the sync policy's prune; a Flux app is
  never auto-synced by kubedrift: Flux does that;
- a HelmRelease's chart comes from a GitRepository (a chart folder in the repository), a
  HelmRepository (a chart by name and version) or, through `chartRef`, an OCIRepository (a chart in a
  registry); its values are `valuesFrom` with `values` over them; its release name is `releaseName`,
  else `[targetNamespace-]name` shortened as helm-controller shortens it, in `targetNamespace` or the
  HelmRelease's namespace.
Apps read from a cluster deploy to that cluster (`context`); those read from files, to the current
context. An app whose source is the local repository standing in for bootstrap's GitRepository
(`core.flux_sources`) says so in its origin.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.config_yaml import YamlField
from core.flux_generators import ARTIFACT_GROUP, EXTERNAL_ARTIFACT, GENERATOR_KIND, ArtifactIndex
from core.flux_sources import (
    NOT_YET,
    SOURCE_GROUP,
    GitSource,
    LocalRepository,
    SourceIndex,
    SourceKey,
    helm_repository_url,
    local_repository,
    oci_artifact,
    oci_chart,
    repository_path,
)
from core.flux_values import (
    REFERENCE_KINDS,
    ReferencedData,
    ReferenceLookup,
    Unresolved,
    data_of,
    post_build_variables,
    release_values,
    unresolved,
)
from core.model import (
    FLUX_HELM_GROUP,
    FLUX_KUSTOMIZE_GROUP,
    App,
    Destination,
    FluxOwner,
    Source,
    SyncPolicy,
    TrackingMethod,
)
from core.source_options import DirectoryOptions, HelmOptions, KustomizeOptions, SourceOptions

IN_FILES = "is not in the included files; include the file that declares it"
_RELEASE_NAME_LIMIT = 53
_SHORT_HASH = 12
_KUSTOMIZATION_UNSUPPORTED = ("decryption", "kubeConfig")
_RELEASE_UNSUPPORTED = ("postRenderers", "kubeConfig")


@dataclass(slots=True)
class FluxDocuments:
    """The Flux objects of an include, gathered one by one, then paired with their sources and with
    the ConfigMaps and Secrets their values come from."""

    base: Path = field(default_factory=Path.cwd)
    """Objects read from a cluster: the folder that stands in as the source of an app that cannot be
    rendered (from files, the file's own folder does)."""
    context: str | None = None
    """The kubeconfig context the objects were read from; None: files, deployed to the current one."""
    missing: str = IN_FILES
    """What follows the name of a source, ConfigMap or Secret that is not there."""
    find_data: ReferenceLookup | None = None
    """Where ConfigMaps and Secrets are read from; None: those of the included files."""
    sources: dict[SourceKey, YamlField] = field(default_factory=dict)
    """(kind, namespace, name) of each source object."""
    consumers: list[YamlField] = field(default_factory=list)
    """Kustomizations and HelmReleases, in the order read."""
    data_objects: dict[SourceKey, YamlField] = field(default_factory=dict)
    """The ConfigMaps and Secrets of the included files, which substituteFrom and valuesFrom may name."""
    generators: list[YamlField] = field(default_factory=list)
    """ArtifactGenerators, whose ExternalArtifacts a Kustomization may read."""
    _local_repositories: dict[str, LocalRepository | None] = field(
        default_factory=dict, init=False, repr=False
    )

    def add(self, document: Any, display: str) -> bool:
        """Keep `document` when it is an object this module reads; True when it was kept."""
        if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
            return False
        api_version = str(document.get("apiVersion") or "")
        group = api_version.partition("/")[0] if "/" in api_version else ""
        kind = document.get("kind")
        root = YamlField(document, display, getattr(document, "line", None), "")
        if (group, kind) in ((FLUX_KUSTOMIZE_GROUP, "Kustomization"), (FLUX_HELM_GROUP, "HelmRelease")):
            self.consumers.append(root)
            return True
        if (group, kind) == (ARTIFACT_GROUP, GENERATOR_KIND):
            self.generators.append(root)
            return True
        if group == SOURCE_GROUP and isinstance(kind, str):
            kept = self.sources
        elif group == "" and kind in REFERENCE_KINDS:
            kept = self.data_objects
        else:
            return False
        metadata = document["metadata"]
        key = (str(kind), str(metadata.get("namespace") or "default"), str(metadata.get("name") or ""))
        kept.setdefault(key, root)
        return True

    def apps(self, tracking: TrackingMethod) -> list[tuple[App, YamlField]]:
        # In a cluster, bootstrap's GitRepository is there like any other: no stand-in for it.
        stand_in = self._local_repository if self.context is None else None
        found = _Found(
            SourceIndex(self.sources, self.missing, local_repository=stand_in),
            ArtifactIndex(self.generators, self.missing),
            self.find_data or ReferenceLookup(self._data_in_files, self.missing),
        )
        return [self._read_consumer(document, found, tracking) for document in self.consumers]

    def _local_repository(self, file: str) -> LocalRepository | None:
        """The Git repository holding an included file, looked up once per folder."""
        folder = os.path.dirname(os.path.abspath(file))
        if folder not in self._local_repositories:
            self._local_repositories[folder] = local_repository(file)
        return self._local_repositories[folder]

    def _data_in_files(self, kind: str, namespace: str, name: str) -> ReferencedData | None:
        found = self.data_objects.get((kind, namespace, name))
        return data_of(found.value) if found is not None else None

    def _read_consumer(
        self, document: YamlField, found: _Found, tracking: TrackingMethod
    ) -> tuple[App, YamlField]:
        metadata = document.required("metadata").mapping()
        name_field = metadata.required("name")
        name = name_field.string()
        namespace = metadata.optional_string("namespace") or "default"
        spec = document.required("spec").mapping()
        is_release = document.value.get("kind") == "HelmRelease"
        owner = FluxOwner(FLUX_HELM_GROUP if is_release else FLUX_KUSTOMIZE_GROUP, name, namespace)
        read = _release if is_release else _kustomization
        target_namespace = spec.optional_string("targetNamespace") or ""
        destination = Destination(
            name=self.context,
            namespace=target_namespace or (namespace if is_release else "default"),
        )
        policy = (
            SyncPolicy(prune=spec.optional_boolean("prune", default=False))
            if not is_release
            else SyncPolicy()
        )
        origin = document.origin
        try:
            (source, repository), problem = read(spec, namespace, name, found), ""
            if repository is not None and repository.note:
                origin = f"{origin} ({repository.note})"
        except Unresolved as unreadable:
            # Never loaded (an unrenderable app is its error alone), but every app has a source.
            base = self.base if self.context is not None else Path(os.path.abspath(document.file)).parent
            source, problem = Source(repo_url=str(base), path="."), str(unreadable)
        app = App(
            name=f"{namespace}-{name}",
            source=source,
            destination=destination,
            sync_policy=policy,
            tracking=tracking,
            origin=origin,
            unrenderable=problem,
            flux_owner=owner,
        )
        return app, name_field


@dataclass(frozen=True, slots=True)
class _Found:
    """Where a Flux object's references are looked up."""

    sources: SourceIndex
    artifacts: ArtifactIndex
    data: ReferenceLookup


def _kustomization(
    spec: YamlField, namespace: str, name: str, found: _Found
) -> tuple[Source, GitSource | None]:
    _refuse(spec, _KUSTOMIZATION_UNSUPPORTED)
    reference = spec.required("sourceRef").mapping()
    kind = reference.optional_string("kind")
    path = repository_path(spec.optional_string("path", allow_empty=True) or "")
    artifact = None
    oci = None
    repository: GitSource | None = None
    if kind == "OCIRepository":
        # The artifact is pulled from its registry (`core.oci_artifact`); the path is inside it.
        oci = oci_artifact(found.sources.find(reference, namespace, ("OCIRepository",)), found.data)
    elif kind == EXTERNAL_ARTIFACT:
        # The repository's whole tree is read, and the artifact built from it; the path is inside that.
        generated = found.artifacts.resolve(reference, namespace, found.sources)
        repository, artifact = generated.repository, replace(generated.artifact, path=path)
        path = "."
    else:
        repository = found.sources.git(reference, namespace)
    labels, annotations = _common_metadata(spec)
    kustomize = KustomizeOptions(
        name_prefix=spec.optional_string("namePrefix") or "",
        name_suffix=spec.optional_string("nameSuffix") or "",
        images=tuple(_image(entry) for entry in _items(spec.optional("images"))),
        namespace=spec.optional_string("targetNamespace") or "",
        patches=_canonical_json(spec.value["patches"]) if spec.optional("patches") else "",
        components=tuple(entry.string() for entry in _items(spec.optional("components"))),
        generate_kustomization=True,
        metadata_labels=labels,
        metadata_annotations=annotations,
    )
    options = SourceOptions(
        directory=DirectoryOptions(recurse=True),
        kustomize=kustomize,
        substitute=post_build_variables(spec.optional("postBuild"), namespace, found.data),
        artifact=artifact,
        oci_artifact=oci.options if oci is not None else None,
    )
    if oci is not None:
        return Source(repo_url=oci.url, target_revision=oci.revision, path=path, options=options), None
    assert repository is not None
    source = Source(repo_url=repository.url, target_revision=repository.revision, path=path, options=options)
    return source, repository


def _release(spec: YamlField, namespace: str, name: str, found: _Found) -> tuple[Source, GitSource | None]:
    _refuse(spec, _RELEASE_UNSUPPORTED)
    target_namespace = spec.optional_string("targetNamespace") or ""
    release_namespace = target_namespace or namespace
    release_name = spec.optional_string("releaseName") or _shortened(
        f"{target_namespace}-{name}" if target_namespace else name
    )
    labels, annotations = _common_metadata(spec)
    helm = HelmOptions(
        release_name=release_name,
        values_object=release_values(spec, namespace, found.data),
        namespace=release_namespace,
    )
    # The chart's objects get commonMetadata as a Kustomization's do (helm-controller's post-renderer).
    kustomize = KustomizeOptions(metadata_labels=labels, metadata_annotations=annotations)
    chart_ref = spec.optional("chartRef")
    if chart_ref is not None:
        kind = chart_ref.mapping().optional_string("kind")
        if kind == "HelmChart":
            message = f"a HelmChart as spec.chartRef {NOT_YET}; use spec.chart, or an OCIRepository"
            raise unresolved(chart_ref, message)
        chart = oci_chart(found.sources.find(chart_ref, namespace, ("OCIRepository",)))
        options = SourceOptions(chart=chart.chart, helm=helm, kustomize=kustomize)
        return Source(repo_url=chart.registry, target_revision=chart.version, path=".", options=options), None
    template = spec.required("chart").mapping().required("spec").mapping()
    _refuse(template, ("valuesFiles",))
    chart_name = template.required("chart").string()
    reference = template.required("sourceRef").mapping()
    if reference.value.get("kind") != "GitRepository":
        repository = found.sources.find(reference, namespace, ("HelmRepository", "GitRepository"))
        options = SourceOptions(chart=chart_name, helm=helm, kustomize=kustomize)
        version = template.optional_string("version") or "*"
        url = helm_repository_url(repository)
        return Source(repo_url=url, target_revision=version, options=options), None
    git = found.sources.git(reference, namespace)
    options = SourceOptions(helm=helm, kustomize=kustomize)
    path = repository_path(chart_name)
    return Source(repo_url=git.url, target_revision=git.revision, path=path, options=options), git


def _common_metadata(spec: YamlField) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """`commonMetadata`'s labels and annotations."""
    common = spec.optional("commonMetadata")
    if common is None:
        return (), ()
    common.mapping()
    pairs = []
    for key in ("labels", "annotations"):
        table = common.optional(key)
        pairs.append(
            tuple((name, value.string(allow_empty=True)) for name, value in table.entries()) if table else ()
        )
    return pairs[0], pairs[1]


def _refuse(spec: YamlField, keys: Iterable[str]) -> None:
    for key in keys:
        if spec.optional(key) is not None:
            raise unresolved(spec.required(key), f"{key} {NOT_YET}")


def _image(entry: YamlField) -> str:
    """A Flux `images` entry as a `kustomize edit set image` argument (`name=newName:tag@digest`)."""
    entry.mapping()
    name = entry.required("name").string()
    text = f"{name}={entry.optional_string('newName') or name}"
    tag, digest = entry.optional_string("newTag"), entry.optional_string("digest")
    return text + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _shortened(name: str) -> str:
    """helm-controller's release name: past 53 characters, 40 of them, '-', and 12 of its SHA-256."""
    if len(name) <= _RELEASE_NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_SHORT_HASH]
    return f"{name[: _RELEASE_NAME_LIMIT - _SHORT_HASH - 1]}-{digest}"


def _items(entries: YamlField | None) -> list[YamlField]:
    return entries.items() if entries is not None else []


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
