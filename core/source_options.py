"""How an app's source is rendered, in Argo CD's `spec.source` terms: `directory`, `helm`, `kustomize`.

These are the options only; `core.source_options_yaml` reads them from kubedrift.yaml and Argo CD
Applications, and the renderers (`core.render`, `core.helm_chart`, `core.jsonnet_render`,
`core.kustomize`) apply them. Every value is immutable and hashable, since an App is (JSON-like
values such as `valuesObject` are kept as canonical JSON text).

Argo CD's defaults hold: a directory is read without its subfolders (`recurse: false`), a chart's
release name is the app's name, and values files come before `values` and `valuesObject`, which come
before `parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.flux_artifact import FluxArtifact
    from core.oci_artifact import OciArtifactOptions


@dataclass(frozen=True, slots=True)
class JsonnetVariable:
    """An `extVars` or `tlas` entry: a string, or Jsonnet code when `code` is true."""

    name: str
    value: str
    code: bool = False


@dataclass(frozen=True, slots=True)
class JsonnetOptions:
    """Argo CD's `directory.jsonnet`."""

    ext_vars: tuple[JsonnetVariable, ...] = ()
    tlas: tuple[JsonnetVariable, ...] = ()
    libs: tuple[str, ...] = ()
    """Library folders, relative to the repository root, searched by `import`."""


@dataclass(frozen=True, slots=True)
class DirectoryOptions:
    """Argo CD's `directory`: which files of a plain folder are manifests."""

    recurse: bool = False
    include: str = ""
    """A glob (Argo CD's: `*.yaml`, or `{a.yaml,b/*}`) a file's path in the folder must match."""
    exclude: str = ""
    jsonnet: JsonnetOptions = JsonnetOptions()


@dataclass(frozen=True, slots=True)
class HelmParameter:
    """A `parameters` entry, as `helm --set` (or `--set-string` when `force_string`)."""

    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True, slots=True)
class HelmFileParameter:
    """A `fileParameters` entry, as `helm --set-file`: the value is the file's content."""

    name: str
    path: str


@dataclass(frozen=True, slots=True)
class HelmOptions:
    """Argo CD's `helm`: how a chart is rendered."""

    release_name: str = ""
    """Empty: the app's name, as Argo CD does."""
    value_files: tuple[str, ...] = ()
    ignore_missing_value_files: bool = False
    values: str = ""
    """A YAML document of values (Argo CD's `values` string)."""
    values_object: str = field(default="", repr=False)
    """Argo CD's `valuesObject`, as canonical JSON text; it wins over `values` where both set a key.
    A Flux HelmRelease's values land here with its `valuesFrom` merged in, Secrets' included: so it is
    left out of the repr, which a log or an error could otherwise print."""
    parameters: tuple[HelmParameter, ...] = ()
    file_parameters: tuple[HelmFileParameter, ...] = ()
    skip_crds: bool = False
    namespace: str = ""
    """Empty: the app's destination namespace."""
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KustomizeReplica:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class KustomizeOptions:
    """Argo CD's `kustomize`, applied through a generated overlay around the app's kustomization."""

    name_prefix: str = ""
    name_suffix: str = ""
    images: tuple[str, ...] = ()
    """`name=newName:tag`, `name:tag` or `name@digest`, as `kustomize edit set image` takes them."""
    common_labels: tuple[tuple[str, str], ...] = ()
    common_annotations: tuple[tuple[str, str], ...] = ()
    namespace: str = ""
    replicas: tuple[KustomizeReplica, ...] = ()
    patches: str = ""
    """The `patches` list as canonical JSON text (targets and inline patches, as kustomize reads them)."""
    components: tuple[str, ...] = ()
    generate_kustomization: bool = False
    """Flux: a folder without a kustomization.yaml is built from one generated over the YAML manifests
    below it (subfolders holding a kustomization enter as folders), as kustomize-controller does, so
    the options above apply to a plain folder too."""
    metadata_labels: tuple[tuple[str, str], ...] = ()
    """Flux's `commonMetadata.labels`: set on each rendered object's own metadata after substitution,
    never on selectors or templates (kustomize-controller's `SetCommonMetadata`); not a kustomize edit."""
    metadata_annotations: tuple[tuple[str, str], ...] = ()
    """Flux's `commonMetadata.annotations`, set as `metadata_labels` are."""

    @property
    def empty(self) -> bool:
        """No edit to make to the kustomization: `generate_kustomization` and the common metadata are
        not edits (the renderer applies them)."""
        edits = replace(self, generate_kustomization=False, metadata_labels=(), metadata_annotations=())
        return edits == KustomizeOptions()


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """All of a source's rendering options; the defaults render a plain folder as Argo CD does."""

    directory: DirectoryOptions = DirectoryOptions()
    helm: HelmOptions = HelmOptions()
    kustomize: KustomizeOptions = KustomizeOptions()
    chart: str = ""
    """A chart in a Helm repository (`repoURL` is the repository, `targetRevision` its version)."""
    substitute: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Flux's post-build variables (`postBuild.substituteFrom` with `substitute` over it): `${var}` in
    the rendered manifests (see `core.flux_substitute`). Values may come from Secrets: left out of the
    repr."""
    artifact: FluxArtifact | None = None
    """A Flux ExternalArtifact (`core.flux_artifact`): the source is the repository root its copies
    read, the renderer builds the artifact from those files, and the app's path is inside it."""
    oci_artifact: OciArtifactOptions | None = None
    """A Flux OCIRepository's artifact (`core.oci_artifact`): `repoURL` is its `oci://` repository,
    `targetRevision` the tag, semver range or digest of its `spec.ref`, and the app's path is inside
    the artifact's unpacked layer."""
