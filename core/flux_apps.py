"""Flux's Kustomizations and HelmReleases, read from manifest files, as Apps (`include:`).

Read leniently, as Argo CD Applications are: only the fields kubedrift uses are read and type-checked.
A Kustomization or HelmRelease kubedrift cannot render (a source it cannot read, values or variables
that live in the cluster) is still an app, whose one error says why; the rest are evaluated as usual.

How each maps (Flux's kustomize-controller and helm-controller, API v1 and v2):
- the app's name is `<namespace>-<name>` of the Flux object: unique across namespaces, free of ':' and
  spaces (tracking ids), and readable beside `flux get -A`; `flux_owner` keeps the name and
  namespace, which `tracking: flux` matches against the labels Flux sets on what it applies;
- a Kustomization's `sourceRef` is a GitRepository (kind, name, namespace defaulting to the
  Kustomization's), whose `spec.url` and `spec.ref` (commit, then name, then tag, then branch; none:
  `master`, as source-controller defaults) become the source; `spec.path` is from the repository
  root. A folder without a kustomization.yaml is read with its subfolders, since Flux generates a
  kustomization over every manifest below the path;
- `targetNamespace`, `namePrefix`, `nameSuffix`, `images`, `patches` and `components` become the
  kustomize options, which Flux writes into the folder's kustomization as Argo CD's edits do;
  `targetNamespace` is also the destination namespace. `prune` is the sync policy's prune; a Flux app
  is never auto-synced by kubedrift: Flux does that;
- a HelmRelease's chart comes from a GitRepository (a chart folder in the repository) or a
  HelmRepository (a chart by name and version); its release name is `releaseName`, else
  `[targetNamespace-]name` shortened as helm-controller shortens it, in `targetNamespace` or the
  HelmRelease's namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config_yaml import YamlField
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

SOURCE_GROUP = "source.toolkit.fluxcd.io"
DEFAULT_BRANCH = "master"
"""source-controller's reference when a GitRepository gives none."""
_RELEASE_NAME_LIMIT = 53
_SHORT_HASH = 12
_NOT_YET = "is not supported yet"


@dataclass(slots=True)
class FluxDocuments:
    """The Flux objects of an include, gathered file by file, then paired with their sources."""

    sources: dict[tuple[str, str, str], YamlField] = field(default_factory=dict)
    """(kind, namespace, name) of each source object."""
    consumers: list[YamlField] = field(default_factory=list)
    """Kustomizations and HelmReleases, in the order read."""

    def add(self, document: Any, display: str) -> bool:
        """Keep `document` when it is a Flux object this module reads; True when it was kept."""
        if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
            return False
        group = str(document.get("apiVersion") or "").partition("/")[0]
        kind = document.get("kind")
        root = YamlField(document, display, getattr(document, "line", None), "")
        if (group, kind) in ((FLUX_KUSTOMIZE_GROUP, "Kustomization"), (FLUX_HELM_GROUP, "HelmRelease")):
            self.consumers.append(root)
            return True
        if group == SOURCE_GROUP and isinstance(kind, str):
            metadata = document["metadata"]
            key = (kind, str(metadata.get("namespace") or "default"), str(metadata.get("name") or ""))
            self.sources.setdefault(key, root)
            return True
        return False

    def apps(self, tracking: TrackingMethod) -> list[tuple[App, YamlField]]:
        return [_read_consumer(document, self.sources, tracking) for document in self.consumers]


def _read_consumer(
    document: YamlField, sources: dict[tuple[str, str, str], YamlField], tracking: TrackingMethod
) -> tuple[App, YamlField]:
    metadata = document.required("metadata").mapping()
    name_field = metadata.required("name")
    name = name_field.string()
    namespace = metadata.optional_string("namespace") or "default"
    spec = document.required("spec").mapping()
    is_release = document.value.get("kind") == "HelmRelease"
    owner = FluxOwner(FLUX_HELM_GROUP if is_release else FLUX_KUSTOMIZE_GROUP, name, namespace)
    base = Path(os.path.abspath(document.file)).parent
    read = _release if is_release else _kustomization
    source, destination, policy, problem = read(spec, namespace, name, sources, base)
    app = App(
        name=f"{namespace}-{name}",
        source=source,
        destination=destination,
        sync_policy=policy,
        tracking=tracking,
        origin=document.origin,
        unrenderable=problem,
        flux_owner=owner,
    )
    return app, name_field


_Read = tuple[Source, Destination, SyncPolicy, str]


def _kustomization(
    spec: YamlField, namespace: str, name: str, sources: dict[tuple[str, str, str], YamlField], base: Path
) -> _Read:
    target_namespace = spec.optional_string("targetNamespace") or ""
    destination = Destination(namespace=target_namespace or "default")
    policy = SyncPolicy(prune=spec.optional_boolean("prune", default=False))
    repository, problem = _git_source(spec.required("sourceRef").mapping(), namespace, sources, base)
    path = _repository_path(spec.optional_string("path", allow_empty=True) or "")
    problem = problem or _cluster_refs(spec.optional("postBuild"), "substituteFrom", "postBuild")
    problem = problem or _unsupported(spec, ("commonMetadata", "decryption", "kubeConfig"))
    substitute: tuple[tuple[str, str], ...] = ()
    post_build = spec.optional("postBuild")
    variables = post_build.mapping().optional("substitute") if post_build else None
    if variables is not None:
        substitute = tuple((key, str(value.value)) for key, value in variables.entries())
    kustomize = KustomizeOptions(
        name_prefix=spec.optional_string("namePrefix") or "",
        name_suffix=spec.optional_string("nameSuffix") or "",
        images=tuple(_image(entry) for entry in _items(spec.optional("images"))),
        namespace=target_namespace,
        patches=_canonical_json(spec.value["patches"]) if spec.optional("patches") else "",
        components=tuple(entry.string() for entry in _items(spec.optional("components"))),
    )
    options = SourceOptions(
        directory=DirectoryOptions(recurse=True), kustomize=kustomize, substitute=substitute
    )
    url, revision = repository
    source = Source(repo_url=url, target_revision=revision, path=path, options=options)
    return source, destination, policy, problem


def _release(
    spec: YamlField, namespace: str, name: str, sources: dict[tuple[str, str, str], YamlField], base: Path
) -> _Read:
    target_namespace = spec.optional_string("targetNamespace") or ""
    release_namespace = target_namespace or namespace
    destination = Destination(namespace=release_namespace)
    release_name = spec.optional_string("releaseName") or _shortened(
        f"{target_namespace}-{name}" if target_namespace else name
    )
    values = spec.optional("values")
    helm = HelmOptions(
        release_name=release_name,
        values_object=_canonical_json(values.mapping().value) if values else "",
        namespace=release_namespace,
    )
    problem = _cluster_refs(spec, "valuesFrom", "spec")
    stand_in = Source(repo_url=str(base), path=".", options=SourceOptions(helm=helm))
    if spec.optional("chartRef") is not None:
        message = "spec.chartRef (a chart from an OCIRepository or HelmChart) " + _NOT_YET
        return stand_in, destination, SyncPolicy(), _why(spec.required("chartRef"), message)
    chart = spec.required("chart").mapping().required("spec").mapping()
    problem = problem or _unsupported(chart, ("valuesFiles",))
    chart_name = chart.required("chart").string()
    reference = chart.required("sourceRef").mapping()
    if reference.optional_string("kind") == "HelmRepository":
        repository = _source(reference, namespace, sources)
        if isinstance(repository, str):
            return stand_in, destination, SyncPolicy(), repository
        url = repository.required("spec").mapping().required("url").string()
        options = SourceOptions(chart=chart_name, helm=helm)
        version = chart.optional_string("version") or "*"
        source = Source(repo_url=url, target_revision=version, path=".", options=options)
        return source, destination, SyncPolicy(), problem
    (url, revision), git_problem = _git_source(reference, namespace, sources, base)
    source = Source(
        repo_url=url,
        target_revision=revision,
        path=_repository_path(chart_name),
        options=SourceOptions(helm=helm),
    )
    return source, destination, SyncPolicy(), git_problem or problem


def _git_source(
    reference: YamlField, namespace: str, sources: dict[tuple[str, str, str], YamlField], base: Path
) -> tuple[tuple[str, str], str]:
    """The repository URL and revision of a GitRepository `sourceRef`, and why it cannot be read."""
    stand_in = (str(base), "")
    kind = reference.optional_string("kind") or ""
    if kind != "GitRepository":
        why = f"a {kind or 'source'} source {_NOT_YET}; kubedrift reads Flux apps from a GitRepository"
        return stand_in, _why(reference, why)
    repository = _source(reference, namespace, sources)
    if isinstance(repository, str):
        return stand_in, repository
    spec = repository.required("spec").mapping()
    url = spec.required("url").string()
    ref = spec.optional("ref")
    ref = ref.mapping() if ref is not None else None
    if (
        ref is not None
        and ref.optional("semver") is not None
        and not (ref.optional("commit") or ref.optional("name"))
    ):
        return stand_in, _why(ref.required("semver"), f"a semver range as the reference {_NOT_YET}")
    revision = DEFAULT_BRANCH
    if ref is not None:
        for key in ("branch", "tag", "name", "commit"):  # later ones win, as in source-controller
            revision = ref.optional_string(key) or revision
    return (url, revision), ""


def _source(
    reference: YamlField, namespace: str, sources: dict[tuple[str, str, str], YamlField]
) -> YamlField | str:
    """The source object `reference` names, or why it is not there."""
    kind = reference.required("kind").string()
    name = reference.required("name").string()
    where = reference.optional_string("namespace") or namespace
    found = sources.get((kind, where, name))
    if found is None:
        return _why(
            reference,
            f"the {kind} {where}/{name} is not in the included files; include the file that declares it",
        )
    return found


def _cluster_refs(parent: YamlField | None, key: str, owner: str) -> str:
    """Why `key` (substituteFrom, valuesFrom) cannot be read from files: it names ConfigMaps or Secrets
    in the cluster. Entries that are all `optional` are left out, as Flux does when they are absent."""
    refs = parent.mapping().optional(key) if parent is not None else None
    if refs is None:
        return ""
    required = [
        entry for entry in refs.items() if not entry.mapping().optional_boolean("optional", default=False)
    ]
    if not required:
        return ""
    return _why(
        required[0],
        f"{owner}.{key} (values kept in the cluster's ConfigMaps and Secrets) {_NOT_YET}; "
        "kubedrift reads Flux apps from files only",
    )


def _unsupported(spec: YamlField, keys: Iterable[str]) -> str:
    for key in keys:
        if spec.optional(key) is not None:
            return _why(spec.required(key), f"{key} {_NOT_YET}")
    return ""


def _why(place: YamlField, message: str) -> str:
    """An app's error sentence, naming the file, line and field like a config error."""
    return str(place.fail(message))


def _image(entry: YamlField) -> str:
    """A Flux `images` entry as a `kustomize edit set image` argument (`name=newName:tag@digest`)."""
    entry.mapping()
    name = entry.required("name").string()
    text = f"{name}={entry.optional_string('newName') or name}"
    tag, digest = entry.optional_string("newTag"), entry.optional_string("digest")
    return text + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _repository_path(path: str) -> str:
    """A Flux path (from the repository root, `./` allowed) as a source path."""
    normal = posixpath.normpath(path.strip().lstrip("/")) if path.strip() else "."
    return normal


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
