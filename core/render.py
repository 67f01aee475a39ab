"""Rendering: an app's files, or its kustomize build, into the desired objects keyed and namespaced.

Errors are per file: a file that fails to parse, or an object that fails validation, becomes one
`RenderError` naming the file and line, and every other file still renders. A `Renderer` keeps the
parsed documents of each file, so a re-render after a commit re-parses only the files that changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from core import sync_hooks
from core.chart_dependencies import with_dependencies
from core.directory_files import selected_paths
from core.errors import KubedriftError, RenderError
from core.flux_artifact import ArtifactBuilds, ArtifactFolder, FluxArtifact
from core.flux_substitute import substitute_stream
from core.helm_chart import CHART_FILE, NO_CAPABILITIES, Capabilities, is_chart, render_chart
from core.jsonnet_render import LIBRARY_SUFFIXES, is_jsonnet_path, render_jsonnet
from core.kinds import BUILTIN_SCOPE, NamespaceScope
from core.kustomize import KUSTOMIZATION_FILES, KustomizeRunner, SubprocessKustomize
from core.kustomize_overlay import build_with_options
from core.manifest_file import Manifest, ParsedFile, is_manifest_path, parse_manifest_file
from core.model import FOLDER_REVISION_PREFIX, ResourceKey
from core.source_options import DirectoryOptions, HelmOptions, KustomizeOptions
from core.sync_options import SYNC_OPTIONS_ANNOTATION, sync_options_problem

_SYNC_ANNOTATIONS = frozenset(
    {
        sync_hooks.HOOK_ANNOTATION,
        sync_hooks.HOOK_DELETE_POLICY_ANNOTATION,
        sync_hooks.SYNC_WAVE_ANNOTATION,
        SYNC_OPTIONS_ANNOTATION,
    }
)
EVERY_FILE = DirectoryOptions(recurse=True)
NO_HELM_OPTIONS = HelmOptions()
NO_KUSTOMIZE_OPTIONS = KustomizeOptions()
"""Every manifest file of the folder and its subfolders (a folder named on the command line)."""

__all__ = ["DesiredObject", "KustomizeRunner", "RenderResult", "Renderer", "SubprocessKustomize"]


@dataclass(frozen=True, slots=True)
class DesiredObject:
    """One object Git declares, with the file it came from.

    `obj` is shared with the renderer's cache and with later renders: treat it as read-only.
    """

    key: ResourceKey
    version: str
    obj: dict[str, Any]
    file: str
    """Path relative to the app path; for a kustomize build, the kustomization file."""
    line: int | None
    """Line of the document's start in `file`, when known."""


@dataclass(frozen=True, slots=True)
class RenderResult:
    """The desired objects of an app and the errors of the files that failed."""

    objects: Mapping[ResourceKey, DesiredObject]
    errors: tuple[RenderError, ...]
    hooks: tuple[DesiredObject, ...] = ()
    """Hook manifests that run in a sync (`core.sync_hooks`), in file order: kept out of `objects`,
    which is what is compared and pruned. A hook named by `generateName` has an empty name in its key."""

    @property
    def ok(self) -> bool:
        return not self.errors


def is_hook(obj: Mapping[str, Any]) -> bool:
    """Whether an object is a hook (Argo CD's, or Helm's, which Argo CD maps onto its own) or skipped."""
    return sync_hooks.is_hook(obj)


def _sync_annotation_problem(obj: Mapping[str, Any]) -> str | None:
    """What is wrong with a manifest's hook, wave or sync-options annotations; None when fine."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, Mapping) or not annotations.keys() & _SYNC_ANNOTATIONS:
        return None
    return sync_hooks.annotation_problem(obj) or sync_options_problem(obj)


def _content_digest(files: Mapping[str, bytes]) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    for path in sorted(files):
        content = files[path]
        digest.update(path.encode())
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.digest()


def _describe(key: ResourceKey) -> str:
    """`apps/Deployment shop/web`, as a person would say it."""
    kind = f"{key.group}/{key.kind}" if key.group else key.kind
    return f"{kind} {key.namespace}/{key.name}" if key.namespace else f"{kind} {key.name}"


def _where(desired: DesiredObject) -> str:
    return f"{desired.file}:{desired.line}" if desired.line is not None else desired.file


class Renderer:
    """Renders one app's files; keeps a per-file parse cache so a re-render re-parses only changed files.

    Not thread-safe: one renderer belongs to one app and is called from one worker at a time.
    """

    def __init__(
        self,
        *,
        default_namespace: str,
        scope: NamespaceScope = BUILTIN_SCOPE,
        kustomize: KustomizeRunner | None = None,
        app_path: str = "",
        directory: DirectoryOptions = EVERY_FILE,
        helm: HelmOptions = NO_HELM_OPTIONS,
        kustomize_options: KustomizeOptions = NO_KUSTOMIZE_OPTIONS,
        capabilities: Capabilities = NO_CAPABILITIES,
        release_name: str = "",
        substitute: tuple[tuple[str, str], ...] = (),
        artifact: FluxArtifact | None = None,
    ) -> None:
        self.default_namespace = default_namespace
        self.substitute = dict(substitute)
        """Flux's `postBuild.substitute`, applied to each file's (or build's) text before it is parsed;
        empty: no substitution at all, as Flux does without postBuild."""
        self.directory = directory
        """Which files of a plain folder are manifests (Argo CD's `directory`; apps pass their own)."""
        self.helm = helm
        self.kustomize_options = kustomize_options
        self.capabilities = capabilities
        """The destination cluster's version and APIs, which a chart's templates may ask about."""
        """Argo CD's `kustomize` options, applied to a copy of the app's kustomization before a build."""
        self.release_name = release_name
        """A chart's release name when `helm.releaseName` does not say: the app's name, as in Argo CD."""
        self.scope = scope
        self.kustomize: KustomizeRunner = kustomize if kustomize is not None else SubprocessKustomize()
        self.artifact = artifact
        """A Flux ExternalArtifact: the files to render are its source repository's, remapped by its copy
        operations before anything reads them; the app's path is then inside the artifact."""
        self.app_path = artifact.path if artifact is not None else app_path
        """Where the app lives in its repository (in its artifact, for one), for messages and to find
        the repository root of a folder on disk."""
        self._artifacts = ArtifactBuilds()
        self._beyond_app = b""
        """A digest of the files around the app folder that a build may read (an artifact's), part of
        what a build is cached by."""
        self.parse_count = 0
        """File parses done so far (a kustomize build's output counts as one)."""
        self._file_cache: dict[str, ParsedFile] = {}
        self._build_cache: tuple[bytes, ParsedFile] | None = None
        self._jsonnet_cache: tuple[tuple[str, bytes], list[ParsedFile]] | None = None
        self.referenced: Mapping[str, bytes | None] = {}
        """A multi-source app's value files from other sources (`$name/path` as written) -> their
        content, None when missing (`core.multi_source` sets it before each render); part of what a
        chart's build is cached by."""

    def render(
        self,
        files: Mapping[str, bytes],
        *,
        materialize: Callable[[], Path] | None = None,
        revision: str = "",
    ) -> RenderResult:
        """Renders `files` (relative "/" paths to contents) into desired objects and per-file errors.

        When the app root holds a chart or a kustomization, or Jsonnet files, `materialize()` is called
        for the folder on disk, which is built or evaluated there. `revision` (the commit, or a
        folder's digest) keys what Jsonnet evaluated, since its imports may reach past the app folder.
        """
        if self.artifact is None:
            return self._render_files(files, materialize, revision)
        try:
            built = self._artifacts.build(self.artifact, files, revision)
        except RenderError as error:
            return RenderResult({}, (error,))
        self._beyond_app = built.digest
        with ArtifactFolder(built.files, self.artifact.path) as on_disk:
            return self._render_files(built.at_path, on_disk, revision)

    def _render_files(
        self, files: Mapping[str, bytes], materialize: Callable[[], Path] | None, revision: str
    ) -> RenderResult:
        kustomization = next((name for name in KUSTOMIZATION_FILES if name in files), None)
        if is_chart(files):
            self._file_cache = {}
            parsed = [self._build(CHART_FILE, files, materialize, self._render_chart, revision)]
        elif kustomization is not None or self._generates_kustomization(files):
            self._file_cache = {}
            entry = kustomization or KUSTOMIZATION_FILES[0]
            parsed = [self._build(entry, files, materialize, self._kustomize_build, revision)]
        else:
            parsed = self._parse_files(files)
            parsed += self._evaluate_jsonnet(files, materialize, revision)
            if not any(file.manifests or file.errors for file in parsed):
                return RenderResult({}, (self._nothing_to_render(files),))
        return self._assemble(parsed)

    def _nothing_to_render(self, files: Mapping[str, bytes]) -> RenderError:
        """Why a plain folder gave no object at all: an app that renders nothing is a mistake to name,
        never an empty app shown Synced and Healthy."""
        place = self.app_path if self.app_path not in ("", ".") else "the app folder"
        manifests = [path for path in files if is_manifest_path(path)]
        if manifests and not self.directory.recurse and all("/" in path for path in manifests):
            why = "its manifests are all in subfolders; set source.directory.recurse: true to read them"
        elif manifests:
            why = "source.directory.include/exclude leave none of its manifests; fix the globs"
        elif any(path.endswith(LIBRARY_SUFFIXES) for path in files):
            why = "it holds only Jsonnet libraries (.libsonnet), which are imported, never evaluated"
        elif files:
            why = (
                "it holds no YAML or JSON manifests, no Chart.yaml and no kustomization.yaml (a config "
                "management plugin app?); point source.path at the manifests"
            )
        else:
            why = "it is empty or does not exist at this revision; fix source.path"
        return RenderError(f"nothing to render in {place}: {why}")

    def _evaluate_jsonnet(
        self, files: Mapping[str, bytes], materialize: Callable[[], Path] | None, revision: str
    ) -> list[ParsedFile]:
        """Each selected `.jsonnet` file evaluated on disk (Argo CD's directory.jsonnet options), kept
        until the revision or the app's files change."""
        paths = [path for path in selected_paths(sorted(files), self.directory) if is_jsonnet_path(path)]
        if not paths:
            return []
        key = (revision, _content_digest(files))
        if self._jsonnet_cache is not None and self._jsonnet_cache[0] == key:
            return self._jsonnet_cache[1]
        if materialize is None:
            errors = (
                RenderError("Jsonnet found but no checkout to evaluate it in was given", file=paths[0]),
            )
            return [ParsedFile(b"", errors=errors)]
        folder = materialize()
        root = self._repository_root(folder)
        parsed = []
        for path in paths:
            try:
                stream = render_jsonnet(
                    folder, path, self.directory.jsonnet, repo_root=root, build_env=self._build_env()
                )
            except RenderError as error:
                parsed.append(ParsedFile(b"", errors=(error,)))
                continue
            parsed.append(parse_manifest_file(path, stream, lines_known=False))
            self.parse_count += 1
        self._jsonnet_cache = (key, parsed)
        return parsed

    def _parse_files(self, files: Mapping[str, bytes]) -> list[ParsedFile]:
        previous, current = self._file_cache, {}
        for path in selected_paths(sorted(files), self.directory):
            if not is_manifest_path(path):
                continue
            content = files[path]
            cached = previous.get(path)
            if self.substitute:
                try:
                    content = substitute_stream(content, self.substitute)
                except RenderError as error:
                    current[path] = ParsedFile(b"", errors=(RenderError(error.message, file=path),))
                    continue
            if cached is None or (cached.content is not content and cached.content != content):
                cached = parse_manifest_file(path, content)
                self.parse_count += 1
            current[path] = cached
        self._file_cache = current
        return list(current.values())

    def _build(
        self,
        entry: str,
        files: Mapping[str, bytes],
        materialize: Callable[[], Path] | None,
        build: Callable[[str, Path], bytes],
        revision: str = "",
    ) -> ParsedFile:
        """A built app (a kustomization, a chart): `build(entry, folder)` on the files put on disk,
        its output parsed as one stream; cached by the files' content (the options are the app's own).

        A commit is part of the key too: an overlay's `../base`, or a chart's `file://../lib`
        dependency, lies outside the app folder, so a commit that changes only them must build again.
        """
        digest = _content_digest(files) + self._beyond_app
        if revision and not revision.startswith(FOLDER_REVISION_PREFIX):
            digest += revision.encode()
        if self.referenced:
            present = {path: data for path, data in self.referenced.items() if data is not None}
            digest += _content_digest(present)
        if self._build_cache is not None and self._build_cache[0] == digest:
            return self._build_cache[1]
        place = self.app_path or "the app folder"
        try:
            if materialize is None:
                raise RenderError(f"{entry} found in {place} but no checkout to build it from was given")
            output = build(entry, materialize())
            if self.substitute:
                output = substitute_stream(output, self.substitute)
        except RenderError as exc:
            return ParsedFile(b"", errors=(RenderError(exc.message, file=exc.file or entry, line=exc.line),))
        except (KubedriftError, OSError) as exc:
            return ParsedFile(b"", errors=(RenderError(f"cannot build: {exc}", file=entry),))
        # Failures are not cached: a retry on the same tree is what a user who fixed the tool wants.
        parsed = parse_manifest_file(entry, output, lines_known=False)
        self.parse_count += 1
        self._build_cache = (digest, parsed)
        return parsed

    def _generates_kustomization(self, files: Mapping[str, bytes]) -> bool:
        """Flux: a folder without a kustomization is built from a generated one when that changes what
        it renders: options to apply, or a subfolder that is a kustomization of its own. Otherwise its
        files are read as they are, which is the same objects, and keeps each one's file and line."""
        options = self.kustomize_options
        return options.generate_kustomization and (
            not options.empty or any(path.rpartition("/")[2] in KUSTOMIZATION_FILES for path in files)
        )

    def _kustomize_build(self, kustomization: str, folder: Path) -> bytes:
        output = build_with_options(
            folder,
            self._repository_root(folder),
            self.kustomize_options,
            self.kustomize,
            env=self._build_env(),
        )
        if output is None:
            place = self.app_path or "the app folder"
            found = f"{kustomization} found in {place}"
            if not (folder / kustomization).exists():
                found = f"Flux builds {place} with kustomize (its Kustomization sets kustomize options)"
            raise RenderError(f"{found} but neither kubectl nor kustomize is installed; install one of them")
        return output

    def _render_chart(self, chart_file: str, folder: Path) -> bytes:
        """The chart in `folder` through Helm's own engine; value files may come from anywhere in the
        repository the folder is `app_path` of, and nowhere outside it."""
        from core.chart_repository import default_chart_cache_dir  # urllib and tarfile: only for charts

        root = self._repository_root(folder)
        with with_dependencies(folder, repo_root=root, cache_dir=default_chart_cache_dir()) as chart:
            return render_chart(
                chart,
                self.helm,
                release_name=self.helm.release_name or self.release_name or "release",
                namespace=self.helm.namespace or self.default_namespace,
                repo_root=root,
                capabilities=self.capabilities,
                values_dir=folder,
                referenced=self.referenced,
            )

    def _repository_root(self, folder: Path) -> Path:
        """The repository the app `folder` (on disk, at `app_path` in it) belongs to."""
        depth = len(PurePosixPath(self.app_path).parts) if self.app_path not in ("", ".") else 0
        return folder.parents[depth - 1] if depth else folder

    def _build_env(self) -> dict[str, str]:
        """Argo CD's build environment, as far as kubedrift knows it, for `${ARGOCD_APP_NAME}` and the
        like in kustomize options."""
        return {
            "ARGOCD_APP_NAME": self.release_name,
            "ARGOCD_APP_NAMESPACE": self.default_namespace,
            "ARGOCD_APP_SOURCE_PATH": self.app_path,
        }

    def _assemble(self, parsed: list[ParsedFile]) -> RenderResult:
        crd_scopes = {group_kind: namespaced for file in parsed for group_kind, namespaced in file.crd_scopes}
        namespaced_by_kind: dict[tuple[str, str], bool] = {}
        objects: dict[ResourceKey, DesiredObject] = {}
        hooks: list[DesiredObject] = []
        named_hooks: dict[ResourceKey, DesiredObject] = {}
        errors: list[RenderError] = []
        for file in parsed:
            errors.extend(file.errors)
            for manifest in file.manifests:
                group_kind = (manifest.group, manifest.kind)
                namespaced = namespaced_by_kind.get(group_kind)
                if namespaced is None:
                    namespaced = namespaced_by_kind[group_kind] = self._is_namespaced(group_kind, crd_scopes)
                desired = manifest.placed
                if desired is None or manifest.placed_namespaced is not namespaced:
                    desired = manifest.placed = self._place(manifest, namespaced)
                    manifest.placed_namespaced = namespaced
                problem = _sync_annotation_problem(manifest.obj)
                if problem is not None:
                    named = desired.key
                    if not named.name:  # a hook named by generateName
                        generated = f"{manifest.obj['metadata'].get('generateName')}*"
                        named = ResourceKey(named.group, named.kind, named.namespace, generated)
                    message = f"{_describe(named)}: {problem}"
                    errors.append(RenderError(message, file=desired.file, line=desired.line))
                if is_hook(manifest.obj):
                    # Run around a sync, never compared (Argo CD's hooks; Helm's map onto them).
                    if not sync_hooks.hook_phases(manifest.obj):
                        continue  # Skip, Helm's test hooks, PreDelete...: never run by a sync
                    hooks.append(desired)
                    if not desired.key.name:
                        continue  # named by generateName: the server picks a new name each time
                    table = named_hooks
                else:
                    table = objects
                first = table.setdefault(desired.key, desired)
                if first is not desired:
                    where = f"in {_where(first)} and {_where(desired)}"
                    message = f"{_describe(desired.key)} is declared twice: {where}; keep one"
                    errors.append(RenderError(message, file=desired.file, line=desired.line))
        return RenderResult(objects, tuple(errors), tuple(hooks))

    def _is_namespaced(self, group_kind: tuple[str, str], crd_scopes: Mapping[tuple[str, str], bool]) -> bool:
        known = self.scope.is_namespaced(*group_kind)
        if known is None:
            # A custom kind without discovery: trust a CRD in the same set, else assume namespaced
            # (most custom kinds are, and a wrong guess shows up as drift rather than a lost object).
            known = crd_scopes.get(group_kind, True)
        return known

    def _place(self, manifest: Manifest, namespaced: bool) -> DesiredObject:
        """The object with its namespace settled; copies only the top level and metadata, never the cache."""
        obj = manifest.obj
        if namespaced:
            namespace = manifest.namespace or self.default_namespace
            if not manifest.namespace:
                obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
        else:
            # An API server ignores the namespace of a cluster-scoped object, so live has none.
            namespace = ""
            if "namespace" in obj["metadata"]:
                metadata = {k: v for k, v in obj["metadata"].items() if k != "namespace"}
                obj = {**obj, "metadata": metadata}
        options = self.kustomize_options
        labels, annotations = options.metadata_labels, options.metadata_annotations
        if labels or annotations:
            # Flux's commonMetadata: on the object's own metadata only, over what the build set.
            metadata = dict(obj["metadata"])
            for table, pairs in (("labels", labels), ("annotations", annotations)):
                if pairs:
                    current = metadata.get(table)
                    metadata[table] = {**(current if isinstance(current, Mapping) else {}), **dict(pairs)}
            obj = {**obj, "metadata": metadata}
        key = ResourceKey(manifest.group, manifest.kind, namespace, manifest.name)
        return DesiredObject(key, manifest.version, obj, manifest.file, manifest.line)
