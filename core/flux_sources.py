"""Flux's source objects (`source.toolkit.fluxcd.io`) as what kubedrift reads: a Git repository at a
revision, a Helm repository, or a chart in an OCI registry.

- A GitRepository's `spec.url` and `spec.ref`: commit, then name, then tag, then branch (later in that
  list wins, as in source-controller); none: `master`, source-controller's default. A semver range as
  the only reference is not resolved (kubedrift would have to list the remote's tags).
- A HelmRepository's `spec.url`: an HTTP(S) index, or `oci://` with `type: oci`; both are read by
  `core.chart_repository`.
- An OCIRepository holding a Helm chart (a HelmRelease's `chartRef`): `spec.url` is the chart's own
  reference (`oci://host/path/chart`), so it splits into the registry path and the chart's name that
  `core.chart_repository` reads; `spec.ref.semver` or `spec.ref.tag` is the version. Without either,
  Flux pulls the tag `latest`, which is no chart version; a digest cannot be asked for by version.
  Those are app errors.
- An OCIRepository as a Kustomization's source (a Flux artifact of manifests, `flux push artifact`):
  `spec.url` and `spec.ref` (digest, then semver with `semverFilter`, then tag; none: `latest`),
  `spec.layerSelector`, `spec.insecure` and the docker config of `spec.secretRef` become the source
  that `core.oci_artifact` reads. Only the `generic` provider is read; workload identity
  (`serviceAccountName`, a cloud `provider`), client certificates, proxies and `spec.ignore` are app
  errors. `spec.verify` is not checked: kubedrift shows what the artifact holds.
- `flux bootstrap` writes the GitRepository `flux-system/flux-system` into the cluster, not into the
  repository (its `gotk-sync.yaml` may hold a comment only). When included files name it and it is not
  among them, the local Git repository holding those files stands in for it, at its checked-out branch:
  that is the repository bootstrap points Flux at. Any other missing source is an app error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.config_yaml import YamlField
from core.flux_values import ReferenceLookup, ReferenceUnreadable, unresolved
from core.oci_artifact import DEFAULT_TAG, OciArtifactOptions, ReferenceKind, RegistryCredentials
from core.oci_registry import DIGEST

SOURCE_GROUP = "source.toolkit.fluxcd.io"
DEFAULT_BRANCH = "master"
"""source-controller's reference when a GitRepository gives none."""
NOT_YET = "is not supported yet"

SourceKey = tuple[str, str, str]
"""(kind, namespace, name) of a source object."""
BOOTSTRAP_SOURCE: SourceKey = ("GitRepository", "flux-system", "flux-system")
"""The GitRepository `flux bootstrap` creates in the cluster."""


@dataclass(frozen=True, slots=True)
class GitSource:
    """A Git repository at a revision: what a GitRepository gives a Kustomization or an artifact."""

    url: str
    revision: str
    stand_in: bool = False
    """The local repository holding the included files, read in place of bootstrap's GitRepository."""

    @property
    def note(self) -> str:
        """What an app reading a stand-in says once, in its origin; empty otherwise."""
        if not self.stand_in:
            return ""
        kind, namespace, name = BOOTSTRAP_SOURCE
        return (
            f"source: the Git repository {self.url} at {self.revision}, standing in for the {kind} "
            f"{namespace}/{name} that flux bootstrap creates, which is not in the included files"
        )


@dataclass(frozen=True, slots=True)
class LocalRepository:
    """The Git working tree holding an included file, and its checked-out branch."""

    folder: str
    branch: str
    """`HEAD` when no branch is checked out."""


@dataclass(frozen=True, slots=True)
class OciChart:
    """A chart in an OCI registry: `core.chart_repository` reads `<registry>/<chart>` at `version`."""

    registry: str
    chart: str
    version: str


@dataclass(frozen=True, slots=True)
class SourceIndex:
    """The source objects a set of Flux objects may name, and how to say one is absent."""

    objects: Mapping[SourceKey, YamlField]
    missing: str
    """What follows an absent source's name: `is not in the included files; ...`."""
    local_repository: Callable[[str], LocalRepository | None] | None = None
    """The Git repository holding an included file (named as in messages), to stand in for bootstrap's
    GitRepository; None: no stand-in (objects read from a cluster, where that GitRepository is)."""

    def git(self, reference: YamlField, namespace: str) -> GitSource:
        """The GitRepository `reference` names, as a repository and revision. Raises Unresolved."""
        reference.mapping()
        where = reference.optional_string("namespace") or namespace
        named = (reference.value.get("kind"), where, reference.value.get("name"))
        if named == BOOTSTRAP_SOURCE and named not in self.objects and self.local_repository is not None:
            local = self.local_repository(reference.file)
            if local is not None:
                return GitSource(local.folder, local.branch, stand_in=True)
        url, revision = git_revision(self.find(reference, namespace, ("GitRepository",)))
        return GitSource(url, revision)

    def find(self, reference: YamlField, namespace: str, kinds: tuple[str, ...]) -> YamlField:
        """The source `reference` (a sourceRef or chartRef) names, of one of `kinds`. Raises Unresolved."""
        reference.mapping()
        kind_field = reference.required("kind")
        kind = kind_field.string()
        if kind not in kinds:
            article = "an" if kind[:1] in "AEIOU" else "a"
            choices = " or ".join(kinds)
            message = f"{article} {kind} source {NOT_YET}; kubedrift reads it from a {choices}"
            raise unresolved(kind_field, message)
        name = reference.required("name").string()
        where = reference.optional_string("namespace") or namespace
        found = self.objects.get((kind, where, name))
        if found is None:
            raise unresolved(reference, f"the {kind} {where}/{name} {self.missing}")
        return found


def local_repository(file: str) -> LocalRepository | None:
    """The Git working tree holding `file`, at its checked-out branch; None when it is in none."""
    try:
        import git  # GitPython: only for included files that lean on bootstrap's GitRepository
    except ImportError:  # GitPython finds no git executable: then nothing can read the repository
        return None
    try:
        repository = git.Repo(Path(os.path.abspath(file)).parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repository:
        if repository.bare or repository.working_tree_dir is None:
            return None
        try:
            branch = repository.active_branch.name
        except TypeError:  # a detached HEAD: follow whatever is checked out
            branch = "HEAD"
        return LocalRepository(str(repository.working_tree_dir), branch)


def git_revision(repository: YamlField) -> tuple[str, str]:
    """A GitRepository's URL and the revision kubedrift resolves (a branch, tag or commit)."""
    spec = repository.required("spec").mapping()
    url = spec.required("url").string()
    ref = spec.optional("ref")
    ref = ref.mapping() if ref is not None else None
    if (
        ref is not None
        and ref.optional("semver") is not None
        and not (ref.optional("commit") or ref.optional("name"))
    ):
        raise unresolved(ref.required("semver"), f"a semver range as the reference {NOT_YET}")
    revision = DEFAULT_BRANCH
    if ref is not None:
        for key in ("branch", "tag", "name", "commit"):  # later ones win, as in source-controller
            revision = ref.optional_string(key) or revision
    return url, revision


def helm_repository_url(repository: YamlField) -> str:
    """A HelmRepository's index URL, or its `oci://` registry."""
    spec = repository.required("spec").mapping()
    url_field = spec.required("url")
    url = url_field.string()
    if spec.optional_string("type") == "oci" and not url.startswith("oci://"):
        raise unresolved(url_field, "a HelmRepository of type oci needs an oci:// URL; fix spec.url")
    return url


def oci_chart(repository: YamlField) -> OciChart:
    """The chart an OCIRepository points at, as a registry path, a chart name and a version."""
    spec = repository.required("spec").mapping()
    url_field = spec.required("url")
    url = url_field.string().rstrip("/")
    registry, _, chart = url.rpartition("/")
    if not url.startswith("oci://") or "/" not in url.removeprefix("oci://") or not chart:
        raise unresolved(url_field, "expected oci://host/path/chart, the chart's own reference")
    ref = spec.optional("ref")
    ref = ref.mapping() if ref is not None else None
    if ref is not None and ref.optional("digest") is not None:
        raise unresolved(
            ref.required("digest"), f"a digest as the reference {NOT_YET}; give ref.tag or ref.semver"
        )
    version = (ref.optional_string("semver") or ref.optional_string("tag")) if ref is not None else None
    if not version:
        raise unresolved(
            ref or spec,
            "no ref.tag or ref.semver: Flux pulls the tag latest, which is no chart version kubedrift "
            "can resolve; give ref.tag or ref.semver",
        )
    return OciChart(registry, chart, version)


@dataclass(frozen=True, slots=True)
class OciSource:
    """An OCIRepository's artifact as a source: `oci://host/repository`, the tag, range or digest."""

    url: str
    revision: str
    options: OciArtifactOptions


_OCI_UNSUPPORTED = ("serviceAccountName", "certSecretRef", "proxySecretRef", "ignore")
_LAYER_OPERATIONS = ("extract", "copy")


def oci_artifact(repository: YamlField, lookup: ReferenceLookup) -> OciSource:
    """The artifact an OCIRepository points at, with what reading it takes. Raises Unresolved."""
    metadata = repository.required("metadata").mapping()
    namespace = metadata.optional_string("namespace") or "default"
    name = metadata.required("name").string()
    spec = repository.required("spec").mapping()
    url_field = spec.required("url")
    url = url_field.string().rstrip("/")
    host, _, path = url.removeprefix("oci://").partition("/")
    if not url.startswith("oci://") or not host or not path or "@" in url or ":" in path:
        raise unresolved(
            url_field, "expected oci://host/repository, without a tag or digest (spec.ref gives those)"
        )
    provider = spec.optional_string("provider") or "generic"
    if provider != "generic":
        raise unresolved(
            spec.required("provider"),
            f"the {provider} provider (workload identity) {NOT_YET}; use the generic provider with a "
            "spec.secretRef",
        )
    for key in _OCI_UNSUPPORTED:
        if spec.optional(key) is not None:
            raise unresolved(spec.required(key), f"{key} {NOT_YET}")
    kind, revision, semver_filter = _oci_reference(spec)
    selector = spec.optional("layerSelector")
    media_type = ""
    if selector is not None:
        selector.mapping()
        media_type = selector.optional_string("mediaType") or ""
        operation = selector.optional_string("operation") or "extract"
        if operation not in _LAYER_OPERATIONS:
            raise unresolved(selector.required("operation"), "expected extract or copy")
    options = OciArtifactOptions(
        reference=kind,
        semver_filter=semver_filter,
        layer_media_type=media_type,
        insecure=spec.optional_boolean("insecure", default=False),
        credentials=_registry_credentials(spec.optional("secretRef"), namespace, host, lookup),
        declared=f"{repository.origin}: OCIRepository {namespace}/{name}",
    )
    return OciSource(url, revision, options)


def _oci_reference(spec: YamlField) -> tuple[ReferenceKind, str, str]:
    """(kind, the tag, range or digest, semverFilter) of `spec.ref`: digest wins, then semver, then tag."""
    ref = spec.optional("ref")
    if ref is None:
        return ReferenceKind.TAG, DEFAULT_TAG, ""
    ref.mapping()
    digest = ref.optional_string("digest")
    if digest:
        if not DIGEST.fullmatch(digest):
            raise unresolved(ref.required("digest"), "expected sha256: and 64 lowercase hex digits")
        return ReferenceKind.DIGEST, digest, ""
    semver = ref.optional_string("semver")
    if semver:
        return ReferenceKind.SEMVER, semver, ref.optional_string("semverFilter") or ""
    return ReferenceKind.TAG, ref.optional_string("tag") or DEFAULT_TAG, ""


def _registry_credentials(
    secret_ref: YamlField | None, namespace: str, host: str, lookup: ReferenceLookup
) -> RegistryCredentials | None:
    """The credentials for `host` in the docker config Secret `spec.secretRef` names (as `kubectl create
    secret docker-registry` writes it); None without a secretRef, or when the config has none for the
    host, which Flux then reads anonymously."""
    if secret_ref is None:
        return None
    secret_ref.mapping()
    name = secret_ref.required("name").string()
    try:
        found = lookup.find("Secret", namespace, name)
    except ReferenceUnreadable as unreadable:
        raise unresolved(secret_ref, f"the Secret {namespace}/{name} cannot be read: {unreadable}") from None
    if found is None:
        raise unresolved(secret_ref, f"the Secret {namespace}/{name} {lookup.missing}")
    text = found.data.get(".dockerconfigjson")
    legacy = text is None
    text = found.data.get(".dockercfg") if legacy else text
    if text is None:
        raise unresolved(
            secret_ref,
            f"the Secret {namespace}/{name} has no .dockerconfigjson; create it with kubectl create secret "
            "docker-registry",
        )
    try:
        config = json.loads(text)
        auths = config if legacy else config.get("auths") or {}
        entries = {_config_host(key): value for key, value in auths.items() if isinstance(value, dict)}
    except (ValueError, AttributeError):
        raise unresolved(
            secret_ref, f"the docker config in the Secret {namespace}/{name} is not JSON; fix it"
        ) from None
    entry = entries.get(host)
    if entry is None:
        return None
    username, password = entry.get("username"), entry.get("password")
    if not (isinstance(username, str) and isinstance(password, str)) and isinstance(entry.get("auth"), str):
        try:
            username, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            raise unresolved(
                secret_ref,
                f"the auth of {host} in the Secret {namespace}/{name} is not base64 user:password; fix it",
            ) from None
    if not isinstance(username, str) or not isinstance(password, str):
        raise unresolved(
            secret_ref,
            f"the Secret {namespace}/{name} gives {host} no username and password; fix its docker config",
        )
    return RegistryCredentials(username, password)


def _config_host(key: str) -> str:
    """A docker config's registry key (`https://host/v1/`, `host`) as `host[:port]`."""
    return key.partition("://")[2].partition("/")[0] if "://" in key else key.partition("/")[0]


def repository_path(path: str) -> str:
    """A Flux path (from the repository root, `./` allowed) as a source path."""
    return posixpath.normpath(path.strip().lstrip("/")) if path.strip() else "."
