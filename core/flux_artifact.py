"""A Flux ExternalArtifact's files: its ArtifactGenerator's copy operations applied to its sources'
files (Flux 2.7's source-watcher, `source.extensions.fluxcd.io/v1beta1`; `core.flux_generators`
reads the generator).

`artifact_files` does what source-watcher's builder (`internal/builder`) does on disk, over files in
memory, so that the renderer reads an artifact as it reads a repository. The operations run in order,
a later one overwriting what an earlier one wrote, with `cp`-like rules:
- `@alias/path` without glob characters (`*?[]`) names a file or a folder. A file goes to `to`, or
  into it when `to` ends with `/` or is a folder already. A folder goes into `to` as a folder of its
  own name (`@src/config` to `@artifact/dest` gives `dest/config/...`), and `@src/` copies the whole
  source into `to`.
- A glob matches as Go's `fs.Glob` matches: one segment of the pattern per segment of the path, with
  `**` no more than `*`. Each match, file or folder (copied whole), goes to `to` joined with its whole
  path; under a pattern ending in `/**` the part before it is dropped, so `@src/apps/**` to
  `@artifact/base/` copies `apps/x/y.yaml` to `base/x/y.yaml`. Any other glob keeps its folders
  (`configs/*.yaml` to `dest/` gives `dest/configs/a.yaml`): that is what the builder does, whatever
  the `cp` example in source-watcher's docs says.
- `exclude` globs are doublestar's (`core.flux_globs`; `**` spans folders, `{a,b}` picks one): each is
  matched against a path from the source's root and from the pattern's literal prefix (the part
  before its first glob segment), and one without a `/` also against the file's own name. An excluded
  folder is left out whole.
- `strategy: Merge` merges a YAML file (its documents merged into one map) into the file already at
  its destination as Helm merges values files (maps key by key, anything else replacing), and writes
  the result with sorted keys; with nothing there yet, it copies. Files inside a copied folder always
  overwrite.
- A path or glob that finds nothing, or whose every match is excluded, fails the whole artifact, as it
  fails source-watcher's build.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from core.errors import RenderError
from core.flux_globs import GLOB_CHARACTERS, doublestar, go_segment
from core.helm_chart import merge_values
from core.kube_yaml import STR, KubeLoader, is_merge, key_text, merge_sources, scalar_value
from core.unreadable_file import UnreadableFile
from core.yaml_limits import RefusedDocument, check_shape


@dataclass(frozen=True, slots=True)
class ArtifactCopy:
    """One `copy` operation of an artifact, with the place it was written, for its errors."""

    alias: str
    """The source it reads, by its alias in the generator's `spec.sources`."""
    pattern: str
    """The path or glob after `@alias/` (empty: the whole source)."""
    to: str
    """The path after `@artifact/`, as written: a trailing `/` means into that folder."""
    exclude: tuple[str, ...] = ()
    merge: bool = False
    """`strategy: Merge`; False is `Overwrite`."""
    file: str = ""
    line: int | None = None
    field: str = ""
    """Where the operation is, such as `spec.artifacts[1].copy[0]`."""

    def error(self, message: str) -> RenderError:
        """`message` about this operation: `file:line: spec.artifacts[1].copy[0]: message`."""
        return RenderError(
            f"{self.field}: {message}" if self.field else message, file=self.file, line=self.line
        )


@dataclass(frozen=True, slots=True)
class FluxArtifact:
    """The ExternalArtifact a Kustomization reads: how it is built, and where the Kustomization's path is."""

    name: str
    """`namespace/name`, for messages."""
    copies: tuple[ArtifactCopy, ...]
    path: str = "."
    """The Kustomization's `spec.path`, inside the artifact."""


@dataclass(frozen=True, slots=True)
class BuiltArtifact:
    """An artifact's files, those under the app's path, and a digest of them all."""

    files: dict[str, bytes]
    at_path: dict[str, bytes]
    """The files under the Kustomization's path, keyed relative to it: what the renderer reads."""
    digest: bytes
    """Of every file of the artifact: a build of the path may read any of them (`../base`)."""


class ArtifactBuilds:
    """Builds one app's artifact, once per revision of its repository (a commit, or a folder's digest)."""

    def __init__(self) -> None:
        self._last: tuple[str, FluxArtifact, BuiltArtifact] | None = None

    def build(self, artifact: FluxArtifact, files: Mapping[str, bytes], revision: str) -> BuiltArtifact:
        """The artifact built from `files` (its repository's, at `revision`). Raises RenderError."""
        last = self._last
        if last is not None and revision and last[:2] == (revision, artifact):
            return last[2]
        every = dict.fromkeys({copy.alias for copy in artifact.copies}, files)
        built_files = artifact_files(every, artifact.copies)
        at_path = files_below(built_files, artifact.path)
        if not at_path:
            where = "holds no file" if artifact.path == "." else f"has no folder {artifact.path}"
            raise RenderError(
                f"nothing to render: the ExternalArtifact {artifact.name} {where}; fix the Kustomization's "
                "spec.path, or the copy operations of the ArtifactGenerator that builds it"
            )
        digest = hashlib.blake2b(digest_size=20)
        for path in sorted(built_files):
            digest.update(f"{path}\0{len(built_files[path])}\0".encode())
            digest.update(built_files[path])
        built = BuiltArtifact(built_files, at_path, digest.digest())
        if revision:
            self._last = (revision, artifact, built)
        return built


def artifact_files(
    files_by_alias: Mapping[str, Mapping[str, bytes]], copies: Sequence[ArtifactCopy]
) -> dict[str, bytes]:
    """The artifact's files (relative `/` paths to contents): `copies` applied in order to the files of
    each source alias. Contents are shared, not copied, except where a Merge rewrites a file. Raises
    RenderError naming the operation that fails, as source-watcher fails the whole artifact."""
    staged = _Staging()
    trees: dict[str, _Tree] = {}
    for copy in copies:
        files = files_by_alias.get(copy.alias)
        if files is None:
            raise copy.error(f"no source has the alias {copy.alias!r}; add it to spec.sources")
        tree = trees.get(copy.alias)
        if tree is None:
            tree = trees[copy.alias] = _Tree(files)
        _apply(copy, tree, staged)
    return staged.files


def files_below(files: Mapping[str, bytes], path: str) -> dict[str, bytes]:
    """The files under the folder `path` (`.`: all of them), keyed relative to it."""
    if path in ("", "."):
        return dict(files)
    prefix = path.rstrip("/") + "/"
    return {key[len(prefix) :]: content for key, content in files.items() if key.startswith(prefix)}


class ArtifactFolder:
    """An artifact's files on disk, for what reads a folder (kustomize, Helm, Jsonnet): written to a
    scratch folder on the first call, removed when the `with` block ends. Calls return the folder of
    `path` inside it; the artifact's root is the repository root a build may reach up to."""

    def __init__(self, files: Mapping[str, bytes], path: str) -> None:
        self._files = files
        self._path = path
        self._scratch: Path | None = None

    def __enter__(self) -> ArtifactFolder:
        return self

    def __call__(self) -> Path:
        root = self._root()
        return root if self._path in ("", ".") else root / self._path

    def _root(self) -> Path:
        if self._scratch is not None:
            return self._scratch / "artifact"
        self._scratch = Path(tempfile.mkdtemp(prefix="kubedrift-artifact-"))
        root = self._scratch / "artifact"
        root.mkdir()
        for key, content in self._files.items():
            if isinstance(content, UnreadableFile):
                continue  # nothing to write; the build that misses it says so
            target = root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return root

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


class _Tree:
    """A source's files, with the folders they imply, as a file system would list them."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        children: dict[str, set[str]] = {".": set()}
        for path in files:
            parent = "."
            for part in path.split("/")[:-1]:
                children[parent].add(part)
                parent = part if parent == "." else f"{parent}/{part}"
                children.setdefault(parent, set())
            children[parent].add(path.rpartition("/")[2])
        self.children = {folder: sorted(names) for folder, names in children.items()}
        self._sorted_files = sorted(files)

    def is_folder(self, path: str) -> bool:
        return path in self.children

    def glob(self, pattern: str) -> list[str]:
        """Go's `fs.Glob`: the files and folders matching `pattern` segment by segment, in its order."""
        regexes = [go_segment(segment) for segment in pattern.split("/")]
        found = ["."]
        for regex in regexes:
            found = [
                name if folder == "." else f"{folder}/{name}"
                for folder in found
                for name in self.children.get(folder, ())
                if regex.fullmatch(name)
            ]
        return found

    def folders_below(self, folder: str) -> Iterator[str]:
        prefix = "" if folder == "." else folder + "/"
        return (path for path in sorted(self.children) if path != "." and path.startswith(prefix))

    def files_below(self, folder: str) -> Iterator[str]:
        prefix = "" if folder == "." else folder + "/"
        return (path for path in self._sorted_files if path.startswith(prefix))


class _Staging:
    """The artifact as it is built: its files, and the folders the copies made."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.folders: set[str] = {"."}

    def make_folder(self, folder: str, copy: ArtifactCopy) -> None:
        while folder not in self.folders:
            if folder in self.files:
                raise copy.error(f"cannot copy into {folder}: an earlier copy put a file there")
            self.folders.add(folder)
            folder = posixpath.dirname(folder) or "."

    def put(self, path: str, content: bytes, copy: ArtifactCopy, *, merge: bool = False) -> None:
        if path in self.folders:
            raise copy.error(f"cannot copy a file to {path}: an earlier copy put a folder there")
        self.make_folder(posixpath.dirname(path) or ".", copy)
        current = self.files.get(path)
        self.files[path] = _merged(current, content, path, copy) if merge and current is not None else content


class _Exclusion:
    """A copy's `exclude` globs (source-watcher's `shouldExcludePath`)."""

    def __init__(self, patterns: Sequence[str], base: str) -> None:
        self._patterns = [(doublestar(pattern), "/" not in pattern) for pattern in patterns]
        self._base = posixpath.normpath(base) if base else "."

    def __call__(self, path: str) -> bool:
        if self._matches(path):
            return True
        if self._base == ".":
            return False
        relative = posixpath.relpath(path, self._base)
        if relative == ".." or relative.startswith("../") or relative in (".", path):
            return False
        return self._matches(relative)

    def _matches(self, path: str) -> bool:
        name = path.rpartition("/")[2]
        return any(
            regex.fullmatch(path) is not None or (by_name and regex.fullmatch(name) is not None)
            for regex, by_name in self._patterns
        )


def _apply(copy: ArtifactCopy, tree: _Tree, staged: _Staging) -> None:
    into = copy.to.endswith("/") or copy.to == ""
    destination = _join(copy.to)
    if not any(character in copy.pattern for character in GLOB_CHARACTERS):
        source = _join(copy.pattern)
        if source in tree.files:
            if _Exclusion(copy.exclude, ".")(source):
                return
            name = source.rpartition("/")[2]
            target = _join(destination, name) if into or destination in staged.folders else destination
            staged.put(target, tree.files[source], copy, merge=copy.merge)
        elif tree.is_folder(source):
            target = _join(destination, posixpath.basename(source))
            _copy_folder(copy, tree, source, target, _Exclusion(copy.exclude, source), staged)
        else:
            raise copy.error(
                f"{source} is not in the source @{copy.alias} at this revision; fix the path, or commit it"
            )
        return
    matches = tree.glob(copy.pattern)
    if not matches:
        raise copy.error(
            f"no file or folder of the source @{copy.alias} matches {copy.pattern!r} at this revision; "
            "fix the pattern, or commit what it should copy"
        )
    excluded = _Exclusion(copy.exclude, _literal_prefix(copy.pattern))
    kept = [match for match in matches if not excluded(match)]
    if not kept:
        raise copy.error(f"every file matching {copy.pattern!r} is excluded; fix the pattern or the excludes")
    for match in kept:
        target = _glob_destination(copy.pattern, match, destination)
        if tree.is_folder(match):
            _copy_folder(copy, tree, match, target, excluded, staged)
        else:
            staged.put(target, tree.files[match], copy, merge=copy.merge)


def _copy_folder(
    copy: ArtifactCopy, tree: _Tree, source: str, target: str, excluded: _Exclusion, staged: _Staging
) -> None:
    """`source`'s files and folders under `target`, leaving out excluded ones and everything in an
    excluded folder (source-watcher's `copyDirWithRoots`, which never merges)."""
    staged.make_folder(target, copy)
    start = 0 if source == "." else len(source) + 1
    left_out: list[str] = []

    def inside_left_out(path: str) -> bool:
        return any(path.startswith(folder + "/") for folder in left_out)

    for folder in tree.folders_below(source):
        if inside_left_out(folder):
            continue
        if excluded(folder):
            left_out.append(folder)
            continue
        staged.make_folder(_join(target, folder[start:]), copy)
    for path in tree.files_below(source):
        if not inside_left_out(path) and not excluded(path):
            staged.put(_join(target, path[start:]), tree.files[path], copy)


def _glob_destination(pattern: str, match: str, destination: str) -> str:
    """source-watcher's `calculateGlobDestination`: `dir/**` drops `dir/`; other globs keep the path."""
    if pattern.endswith("/**"):
        prefix = pattern[: -len("/**")] + "/"
        if match.startswith(prefix):
            return _join(destination, match[len(prefix) :])
    return _join(destination, match)


def _literal_prefix(pattern: str) -> str:
    """The folders of `pattern` before its first glob segment (`.` when it starts with one)."""
    parts = []
    for part in _join(pattern).split("/"):
        if any(character in part for character in GLOB_CHARACTERS):
            break
        parts.append(part)
    return "/".join(parts) or "."


def _join(*parts: str) -> str:
    """Go's `filepath.Join`: the parts joined and cleaned, `.` for nothing."""
    return posixpath.normpath(posixpath.join(*(part for part in parts if part))) if any(parts) else "."


def _merged(current: bytes, incoming: bytes, path: str, copy: ArtifactCopy) -> bytes:
    """`incoming` merged over `current` as source-watcher merges YAML (Helm's values merge)."""
    merged = merge_values(_values(current, path, copy), _values(incoming, path, copy))
    return yaml.safe_dump(merged, sort_keys=True, default_flow_style=False, allow_unicode=True).encode()


def _values(content: bytes, path: str, copy: ArtifactCopy) -> dict[str, Any]:
    """A YAML file's documents merged into one map, each read as sigs.k8s.io/yaml reads it."""
    if isinstance(content, UnreadableFile):
        raise copy.error(f"cannot merge into {path}: a file it merges {content.problem}")
    why = f"cannot merge into {path}: a file it merges is not a YAML map of values, as Merge needs"
    try:
        text = content.decode("utf-8")
        documents = list(yaml.compose_all(text, Loader=KubeLoader))
        values: dict[str, Any] = {}
        for node in documents:
            if node is None:
                continue
            check_shape(node)
            document = _plain(node)
            if not isinstance(document, dict):
                raise copy.error(why)
            values = merge_values(values, document)
    except (UnicodeDecodeError, yaml.YAMLError, RefusedDocument, RecursionError):
        raise copy.error(f"cannot merge into {path}: a file it merges is not valid YAML; fix it") from None
    return values


def _plain(node: yaml.Node) -> Any:
    """A composed YAML node as plain values, scalars resolved as kubectl resolves them."""
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == STR else scalar_value(node)
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    mapping: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if is_merge(key_node):
            for source in merge_sources(value_node):
                mapping.update(_plain(source))
        else:
            mapping[key_text(key_node)] = _plain(value_node)
    return mapping
