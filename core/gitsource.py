"""Where an app's desired state comes from: a Git repository (local or remote) or a plain folder.

This is the module the rest of kubedrift imports. `AppSource` binds one app's `Source` to a
`GitRepository` (read from the object store, never checked out; see `core.git_repository`) or to a
`FolderSource` (files on disk, watched with watchfiles), and keeps the last snapshot that loaded.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import posixpath
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import watchfiles

from core.errors import GitSourceError
from core.git_remote import default_cache_dir, is_remote_url
from core.git_repository import Commit, GitRepository, inside_git_repository, normalize_repo_path
from core.model import FOLDER_REVISION_PREFIX, Source
from core.unreadable_file import UnreadableFile

if TYPE_CHECKING:
    from core.chart_repository import ChartRepository
    from core.oci_artifact import OciArtifacts

__all__ = [
    "AppSource",
    "Commit",
    "FolderSource",
    "GitRepository",
    "SourceSnapshot",
    "default_cache_dir",
    "shared_source",
]

WATCH_STEP_MS = 25
"""A batch of changes is reported once one step passes with no new event."""
WATCH_DEBOUNCE_MS = 70
"""A long burst of events is cut after this long, so a save shows within step + debounce < 100 ms."""
WATCH_POLL_DELAY_MS = 50
"""Used only where watchfiles must poll instead of being notified (network mounts, some VMs)."""
TIMESTAMP_SLACK_NS = 2_000_000_000
"""File times may lag the clock (coarse kernel clocks, 2 s on FAT): a file written this long before
a read began may still have been written after it."""
SETTLE_SECONDS = 0.05
"""How long a folder must stay unchanged after a read for the read to count (the second look)."""
SETTLE_ATTEMPTS = 40
"""Reads of a folder that keeps changing before the load gives up (about 2 s of constant writes)."""
_EDITOR_SCRATCH = re.compile(r"(~$|\.sw.$|^#.*#$|^flycheck_|\.___jb_...___$)")
_IGNORED_FOLDERS = frozenset({"__pycache__", "node_modules"})


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """The files of an app at one revision."""

    revision: str
    """The commit SHA; for a plain folder a digest of its contents, prefixed `folder:`."""
    files: Mapping[str, bytes]
    """Every file under the app path, keyed relative to it with `/` separators."""
    root: str
    """The app path inside the repository (`.` for its top)."""


class _FolderFilter:
    """Which paths of a plain folder count: no hidden files or folders, no editor scratch files."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @staticmethod
    def wanted_name(name: str) -> bool:
        return not (name.startswith(".") or name in _IGNORED_FOLDERS or _EDITOR_SCRATCH.search(name))

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        relative = os.path.relpath(path, self._root)
        if relative == "." or relative.startswith(".."):
            return False
        return all(self.wanted_name(part) for part in Path(relative).parts)


class FolderSource:
    """A plain folder of manifests on disk (zero-config mode, or `targetRevision: ""`).

    Files on disk are not committed atomically: an editor may truncate a file and write it again,
    and a save may land while the folder is read. A load therefore reads only a folder that has
    settled: after reading, it checks every file's size, time and inode again a little later, and
    reads once more if anything moved. A file that cannot be read (a broken or looping symlink, a
    link leaving the folder, no permission) is kept as an `UnreadableFile` rather than skipped, as
    Git mode keeps it (core.git_tree), so its objects are never mistaken for objects Git dropped.
    """

    def __init__(
        self,
        folder: Path,
        *,
        boundary: Path | None = None,
        settle_seconds: float = SETTLE_SECONDS,
        settle_attempts: int = SETTLE_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`boundary` is the folder symlinks may not leave (the working tree); `folder` by default."""
        self.folder = folder
        self.boundary = boundary if boundary is not None else folder
        self.settle_seconds = settle_seconds
        self.settle_attempts = settle_attempts
        self._sleep = sleep

    def load(self) -> SourceSnapshot:
        """Every file of the folder once it has settled; a digest of names and contents is the revision."""
        if not self.folder.is_dir():
            raise GitSourceError(f"folder {self.folder} does not exist or is not a folder: check the path")
        real, boundary = os.path.realpath(self.folder), os.path.realpath(self.boundary)
        if os.path.commonpath([real, boundary]) != boundary:
            raise GitSourceError(
                f"the app folder {self.folder} leads to {real}, outside the repository {self.boundary}; "
                "kubedrift reads only files inside it: point the app's path at a folder there"
            )
        for _ in range(self.settle_attempts):
            files, stamps = self._read()
            self._sleep(self.settle_seconds)
            if self._stamps() == stamps:
                return self._snapshot(files)
        raise GitSourceError(
            f"files in {self.folder} kept changing for {self.settle_attempts * self.settle_seconds:.1f} s; "
            "kubedrift reads the folder again once they settle"
        )

    def _walk(self) -> Iterator[tuple[str, Path]]:
        """(relative key, path) of every wanted file, in a stable order.

        Links to folders are followed as Git mode follows them (core.git_tree), but only within the
        repository: a link to a folder outside it, or back up to a folder being walked, makes the
        whole read fail with that sentence (the last good state stays), since its files cannot be
        told apart from files Git dropped."""
        boundary = os.path.realpath(self.boundary)
        for current, folders, names in os.walk(self.folder, followlinks=True):
            folders[:] = sorted(f for f in folders if _FolderFilter.wanted_name(f))
            for name in folders:
                _check_folder_link(Path(current, name), self.folder, boundary)
            for name in sorted(n for n in names if _FolderFilter.wanted_name(n)):
                file = Path(current, name)
                yield file.relative_to(self.folder).as_posix(), file

    def _stamps(self) -> dict[str, tuple[int, int, int] | None]:
        """What tells a file changed without reading it: size, modification time and inode."""
        stamps: dict[str, tuple[int, int, int] | None] = {}
        for key, file in self._walk():
            stamps[key] = _stamp(file)
        return stamps

    def _read(self) -> tuple[dict[str, bytes], dict[str, tuple[int, int, int] | None]]:
        files: dict[str, bytes] = {}
        stamps: dict[str, tuple[int, int, int] | None] = {}
        boundary = os.path.realpath(self.boundary)
        for key, file in self._walk():
            stamps[key] = _stamp(file)
            problem = _link_problem(file, boundary)
            if problem is not None:
                files[key] = UnreadableFile(problem)
                continue
            try:
                files[key] = file.read_bytes()
            except FileNotFoundError:
                # Gone between the walk and the read: the settle check sees the folder moved.
                stamps[key] = None
            except OSError as error:
                files[key] = UnreadableFile(
                    f"cannot be read ({error.strerror or error}); check its permissions"
                )
        return files, stamps

    @staticmethod
    def _snapshot(files: dict[str, bytes]) -> SourceSnapshot:
        digest = hashlib.blake2b(digest_size=20)
        for key in sorted(files):
            digest.update(f"{key}\0{len(files[key])}\0".encode())
            digest.update(files[key])
        return SourceSnapshot(f"{FOLDER_REVISION_PREFIX}{digest.hexdigest()}", MappingProxyType(files), ".")

    def changed_since(self, when_ns: int) -> bool:
        """Whether a file or folder of this one was written at or after `when_ns` (a `time.time_ns()`),
        or may have been; a folder that is gone has changed. Reads file times only, no contents."""
        since = when_ns - TIMESTAMP_SLACK_NS
        try:
            if self.folder.stat().st_mtime_ns >= since:
                return True
            for current, folders, names in os.walk(self.folder):
                folders[:] = [f for f in folders if _FolderFilter.wanted_name(f)]
                for name in [*folders, *(n for n in names if _FolderFilter.wanted_name(n))]:
                    if os.stat(os.path.join(current, name)).st_mtime_ns >= since:
                        return True
        except OSError:
            return True
        return False

    def watch_filter(self) -> Callable[[watchfiles.Change, str], bool]:
        """Whether a change (at an absolute path) is to one of this folder's files."""
        return _FolderFilter(self.folder.resolve())

    async def changes(
        self, stop_event: asyncio.Event | threading.Event | None = None
    ) -> AsyncIterator[set[str]]:
        """Sets of changed paths (relative, `/`-separated; deleted ones included) as files are saved."""
        root = self.folder.resolve()
        if not root.is_dir():
            raise GitSourceError(f"folder {self.folder} does not exist or is not a folder: check the path")
        watch_stop: Any = stop_event  # watchfiles only calls is_set(), which threading.Event has too
        async for batch in watchfiles.awatch(
            root,
            watch_filter=_FolderFilter(root),
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_STEP_MS,
            stop_event=watch_stop,
            poll_delay_ms=WATCH_POLL_DELAY_MS,
            rust_timeout=1_000,
        ):
            changed = {
                Path(os.path.relpath(path, root)).as_posix() for _, path in batch if not os.path.isdir(path)
            }
            if changed:
                yield changed


def _stamp(file: Path) -> tuple[int, int, int] | None:
    try:
        found = file.stat()
    except OSError:
        return None
    return (found.st_size, found.st_mtime_ns, found.st_ino)


def _link_problem(file: Path, boundary: str) -> str | None:
    """Why a symlink cannot stand for a manifest (it loops, dangles or leaves `boundary`), or None."""
    if not file.is_symlink():
        return None
    target = os.readlink(file)
    try:
        resolved = os.path.realpath(file, strict=True)
    except FileNotFoundError:
        return f"is a symlink to {target}, which does not exist; fix or remove the link"
    except OSError as error:
        if error.errno == errno.ELOOP or "loop" in str(error).lower():
            return f"is a symlink loop ({target}); fix or remove the link"
        return f"is a symlink that cannot be followed ({error.strerror or error}); fix or remove the link"
    if os.path.commonpath([resolved, boundary]) != boundary:
        return f"is a symlink to {target}, outside the repository; kubedrift reads only files inside it"
    return None


def _check_folder_link(folder: Path, root: Path, boundary: str) -> None:
    """Raise GitSourceError when `folder` is a link that leaves `boundary` or loops back up."""
    if not folder.is_symlink():
        return
    target = os.readlink(folder)
    shown = folder.relative_to(root).as_posix()
    real = os.path.realpath(folder)
    if os.path.commonpath([real, boundary]) != boundary:
        raise GitSourceError(
            f"{shown} is a symlink to {target}, outside the repository; kubedrift reads only files "
            "inside it: fix or remove the link"
        )
    parent = os.path.realpath(folder.parent)
    if os.path.commonpath([real, parent]) == real:
        raise GitSourceError(f"{shown} is a symlink loop ({target}): fix or remove the link")


class AppSource:
    """One app's `Source` bound to its repository or folder, keeping the last snapshot that loaded."""

    def __init__(
        self,
        source: Source,
        *,
        base_dir: Path | None = None,
        cache_dir: Path | None = None,
        repository: GitRepository | None = None,
    ) -> None:
        """`repository` lets several apps of one repository share a clone and its caches."""
        self.source = source
        self.last_good: SourceSnapshot | None = None
        """The newest snapshot of the target revision that loaded; a later failure leaves it as is."""
        self._read_at = 0
        """When the folder was last read for `last_good` (time.time_ns())."""
        self._path = source.path or "."
        self.repository: GitRepository | None = None
        self.folder: FolderSource | None = None
        self.charts: ChartRepository | None = None
        """A chart from a Helm repository (`source.chart`): the Helm repository, read by version."""
        self.artifacts: OciArtifacts | None = None
        """A Flux OCIRepository's artifact (`source.options.oci_artifact`): its registry repository."""
        self.chart_folder: Path | None = None
        """Where the chart of `last_good` is unpacked, or the app's path in the OCI artifact last loaded
        (read-only: the cache's)."""
        self._artifact_folder: Path | None = None
        """The app's path in the OCI artifact of `last_good`."""
        if source.options.oci_artifact is not None:
            from core.oci_artifact import OciArtifacts, default_artifact_cache_dir

            cache = cache_dir / "oci" if cache_dir is not None else default_artifact_cache_dir()
            self.artifacts = OciArtifacts(source.repo_url, source.options.oci_artifact, cache_dir=cache)
            return
        if source.options.chart:
            from core.chart_repository import ChartRepository, default_chart_cache_dir

            charts = cache_dir / "charts" if cache_dir is not None else default_chart_cache_dir()
            self.charts = ChartRepository(source.repo_url, cache_dir=charts)
            return
        local = None if is_remote_url(source.repo_url) else Path(source.repo_url).expanduser()
        if local is not None and not local.is_absolute():
            local = (base_dir or Path.cwd()) / local
        if local is not None and (
            source.target_revision == "" or (local.is_dir() and not inside_git_repository(local))
        ):
            self.folder = FolderSource(local / self._path, boundary=local)
        else:
            self.repository = repository or GitRepository(
                source.repo_url, base_dir=base_dir, cache_dir=cache_dir
            )

    @property
    def is_polled(self) -> bool:
        """Whether new revisions are found by asking a server (a remote Git repository, a Helm
        repository) rather than by watching files."""
        if self.charts is not None or self.artifacts is not None:
            return True
        return self.repository is not None and self.repository.is_remote

    @property
    def is_folder(self) -> bool:
        """True when the source is read from disk rather than from Git."""
        return self.folder is not None

    @property
    def root(self) -> str:
        """The app path inside the repository (`.` for its top)."""
        if self.repository is None:
            return normalize_repo_path(self._path)
        self.repository.open()  # the subdir of a local path is known once the repository is open
        return normalize_repo_path(posixpath.join(self.repository.subdir, self._path))

    def load(self, revision: str | None = None) -> SourceSnapshot:
        """The app's files at `revision` (None: the target revision).

        Only loads of the target revision update `last_good`, so previewing an old revision in the
        history screen never becomes the fallback. A failure raises GitSourceError and leaves
        `last_good` as it was.
        """
        if self.charts is not None:
            return self._load_chart(revision)
        if self.artifacts is not None:
            return self._load_artifact(revision)
        if self.folder is not None:
            root = normalize_repo_path(self._path)
            read_at = time.time_ns()
            snapshot = self.folder.load()
            if revision is None:
                self._read_at = read_at
            if self.last_good is not None and self.last_good.revision == snapshot.revision:
                return self.last_good  # same contents: hand back the same object, cheap to compare
            snapshot = replace(snapshot, root=root)
        else:
            assert self.repository is not None
            sha = self.repository.resolve(self.source.target_revision if revision is None else revision)
            root = self.root
            if self.last_good is not None and (self.last_good.revision, self.last_good.root) == (sha, root):
                return self.last_good
            snapshot = SourceSnapshot(sha, MappingProxyType(self.repository.read_tree(sha, root)), root)
        if revision is None:
            self.last_good = snapshot
        return snapshot

    def _load_chart(self, revision: str | None) -> SourceSnapshot:
        """The chart's files at the version `targetRevision` names (an exact version or a constraint;
        `HEAD`, the default when none is given, means the newest stable version)."""
        assert self.charts is not None
        wanted = self.source.target_revision if revision is None else revision
        if wanted == "HEAD":
            wanted = ""
        release = self.charts.fetch(self.source.options.chart, wanted)
        # The folder of the snapshot handed back, a past version's too (a rollback's): the render
        # that follows builds the chart from it.
        self.chart_folder = release.folder
        if revision is None and self.last_good is not None and self.last_good.revision == release.revision:
            return self.last_good
        snapshot = replace(
            FolderSource(release.folder, boundary=release.folder).load(), revision=release.revision
        )
        if revision is None:
            self.last_good = snapshot
        return snapshot

    def _load_artifact(self, revision: str | None) -> SourceSnapshot:
        """The files at the app's path in the OCI artifact `targetRevision` names (a tag, a semver range
        or a digest); a past revision (`<tag>@sha256:<hex>`) is read by its digest."""
        assert self.artifacts is not None
        root = normalize_repo_path(self._path)
        try:
            release = self.artifacts.fetch(self.source.target_revision if revision is None else revision)
            folder = release.folder / root if root != "." else release.folder
            if not folder.is_dir():
                raise GitSourceError(
                    f"the artifact {release.revision} of {self.source.repo_url} has no folder {root}; fix "
                    "the Kustomization's spec.path"
                )
        except GitSourceError:
            # What renders next is last_good (the fallback): its folder is the one to build.
            self.chart_folder = self._artifact_folder
            raise
        # The folder of the snapshot handed back, past revisions' too: the render that follows builds it.
        self.chart_folder = folder
        if revision is None and self.last_good is not None and self.last_good.revision == release.revision:
            return self.last_good
        # The cache never changes once written: no need to wait for it to settle.
        files = FolderSource(folder, boundary=release.folder, settle_seconds=0).load().files
        snapshot = SourceSnapshot(release.revision, files, root)
        if revision is None:
            self.last_good, self._artifact_folder = snapshot, folder
        return snapshot

    def may_have_changed(self) -> bool:
        """Whether the target revision may render differently from `last_good`: its ref moved, or a
        file of the folder was written since it was read. Cheap: a ref lookup, or file times."""
        if self.last_good is None or self.charts is not None or self.artifacts is not None:
            return True  # a chart's or an artifact's next load asks its registry at most once a minute
        if self.folder is not None:
            return self.folder.changed_since(self._read_at)
        assert self.repository is not None
        try:
            return self.repository.resolve(self.source.target_revision) != self.last_good.revision
        except GitSourceError:
            return True  # the load that follows reports it

    def refresh(self) -> None:
        """Fetch new commits of a remote repository, or re-read a Helm repository's index or an OCI
        artifact's tag; nothing to do for local repositories and folders."""
        if self.repository is not None:
            self.repository.fetch()
        if self.charts is not None:
            self.charts.refresh()
        if self.artifacts is not None:
            self.artifacts.refresh()

    def history(self, revision: str | None = None, max_count: int = 200) -> list[Commit]:
        """Commits that touched the app path, newest first; a plain folder has none."""
        if self.repository is None:
            return []
        return self.repository.history(
            self.root, revision or self.source.target_revision or "HEAD", max_count
        )

    def changed_files(self, old_sha: str, new_sha: str) -> set[str]:
        """Files of the app that differ between two commits, keyed like the snapshot's files."""
        if self.repository is None:
            raise GitSourceError(
                f"{self.source.repo_url} is read as a plain folder, which has no commits to compare: "
                "give the app a Git repository and a targetRevision"
            )
        return self.repository.changed_files(old_sha, new_sha, self.root)

    def close(self) -> None:
        if self.repository is not None:
            self.repository.close()


def shared_source(
    source: Source,
    repositories: dict[str, GitRepository],
    *,
    base_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> AppSource:
    """`source` bound to the GitRepository `repositories` already holds for its repoURL, or to a new
    one it then holds: sources of one repository (several apps, or one app's several sources) share
    one clone, one pair of git processes and one object cache."""
    bound = AppSource(
        source, base_dir=base_dir, cache_dir=cache_dir, repository=repositories.get(source.repo_url)
    )
    if bound.repository is not None:
        repositories.setdefault(source.repo_url, bound.repository)
    return bound
