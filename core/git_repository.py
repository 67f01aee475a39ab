"""One Git repository read through GitPython, straight from its object store.

Nothing is ever checked out: revisions are resolved and trees and blobs are read through the
`git cat-file` processes GitPython keeps running, so the user's working tree and index are never
touched and a lookup on every poll spawns no process. Objects never change once written, so the
trees and blobs read are cached by id; after a commit only the changed folders and files are read.
"""

from __future__ import annotations

import os

# Without git on PATH, importing GitPython raises. Folder sources must keep working, and Git
# sources then fail with GitCommandNotFound, which becomes a sentence below.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import posixpath
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import git

from core.errors import GitSourceError
from core.git_remote import (
    NETWORK_TIMEOUT_SECONDS,
    clone_folder_name,
    clone_lock,
    default_cache_dir,
    failure_detail,
    is_remote_url,
    network_failure,
    non_interactive_env,
)
from core.git_tree import TreeReader, inside_repository
from core.redact import redact_url

_HEADS_AND_TAGS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit in the history of an app path."""

    sha: str
    author: str
    date: str
    """Author date, RFC 3339 in UTC."""
    subject: str


def normalize_repo_path(path: str) -> str:
    """A path inside a repository as `a/b`, or `.` for its top; refuses a path that leaves it."""
    normalized = posixpath.normpath(path.replace("\\", "/").strip().lstrip("/") or ".")
    if normalized == ".." or normalized.startswith("../"):
        raise GitSourceError(f"path {path!r} leaves the repository: give a path inside it")
    return normalized


def inside_git_repository(folder: Path) -> bool:
    """True when `folder` is, or is inside, a Git repository."""
    try:
        git.Repo(folder, search_parent_directories=True).close()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    return True


def _stderr_of(error: Exception) -> str:
    """What git printed, without the `stderr: '...'` wrapping GitPython adds to its errors."""
    if not isinstance(error, git.CommandError):
        return str(error)
    wrapped = str(error.stderr or "")
    prefix = "\n  stderr: '"
    return wrapped[len(prefix) : -1] if wrapped.startswith(prefix) and wrapped.endswith("'") else wrapped


def _git_failure(where: str, error: Exception) -> GitSourceError:
    """Sentences for a git that is missing, or that refuses or fails to read a repository."""
    if isinstance(error, git.GitCommandNotFound):
        return GitSourceError(f"git is not installed, so {where} cannot be read: install git and retry")
    stderr = _stderr_of(error)
    if "dubious ownership" in stderr:
        return GitSourceError(
            f"git refuses to read {where} because another user owns it: "
            f"run `git config --global --add safe.directory {where}`"
        )
    return GitSourceError(f"git failed to read {where} ({failure_detail(stderr)}): check the repository")


class _MissingObject(Exception):
    """git's object store has no object by that name (or the name is ambiguous)."""


class GitRepository:
    """One repository: a local path read in place, or a remote URL kept as a bare clone in the cache.

    `cache_dir` is the folder that holds the clones (default `$XDG_CACHE_HOME/kubedrift/repos`).
    Safe to share between threads and between the apps of one repository.
    """

    def __init__(
        self,
        repo_url: str,
        *,
        base_dir: Path | None = None,
        cache_dir: Path | None = None,
        network_timeout: float = NETWORK_TIMEOUT_SECONDS,
    ) -> None:
        self.repo_url = repo_url
        self.display_url = redact_url(repo_url)
        self.is_remote = is_remote_url(repo_url)
        self.network_timeout = network_timeout
        if self.is_remote:
            self.path = (cache_dir or default_cache_dir()) / clone_folder_name(repo_url)
        else:
            local = Path(repo_url).expanduser()
            self.path = local if local.is_absolute() else (base_dir or Path.cwd()) / local
        self.subdir = "."
        """Where a local `repo_url` sits inside its repository; known once the repository is open."""
        self._repo: git.Repo | None = None
        self._lock = threading.RLock()
        self._trees = TreeReader(self._object, self.display_url)

    def __repr__(self) -> str:
        return f"GitRepository({self.display_url!r}, path={str(self.path)!r})"

    def open(self) -> git.Repo:
        """The GitPython repository, cloning a remote one first if it was never fetched."""
        with self._lock:
            if self._repo is None:
                self._repo = self._open_remote() if self.is_remote else self._open_local()
            return self._repo

    def _open_remote(self) -> git.Repo:
        if not (self.path / "HEAD").exists():
            self.fetch()
        try:
            return git.Repo(self.path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
            raise GitSourceError(
                f"the clone of {self.display_url} at {self.path} is damaged: delete that folder and retry"
            ) from error

    def _open_local(self) -> git.Repo:
        try:
            repo = git.Repo(self.path, search_parent_directories=True)
        except git.NoSuchPathError as error:
            raise GitSourceError(
                f"repository folder {self.path} does not exist: check the repoURL"
            ) from error
        except git.InvalidGitRepositoryError as error:
            raise GitSourceError(
                f"{self.path} is not in a Git repository: run `git init` there, "
                "or leave targetRevision empty to read it as a plain folder"
            ) from error
        if repo.working_tree_dir is not None:
            top = Path(repo.working_tree_dir).resolve()
            self.subdir = Path(os.path.relpath(self.path.resolve(), top)).as_posix()
        return repo

    # -- network -----------------------------------------------------------------------------------

    def fetch(self) -> None:
        """Fetch a remote repository (cloning it first when needed); a local one is left alone."""
        if not self.is_remote:
            return
        with clone_lock(self.path):
            if not (self.path / "HEAD").exists():
                self._clone()
                return
            # The URL is passed every time rather than stored, so no token is ever written to disk.
            self._run_network(
                "fetch", ["--quiet", "--prune", "--no-tags", "--", self.repo_url, *_HEADS_AND_TAGS]
            )

    def _clone(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            shutil.rmtree(self.path)  # a clone without HEAD was interrupted and holds nothing of value
        # Cloned aside and renamed, so a clone cut short never looks like a finished one.
        staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        try:
            self._run_network("clone", ["--bare", "--quiet", "--", self.repo_url, str(staging)])
            git.Git(staging).remote("remove", "origin", with_exceptions=False)
            staging.rename(self.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _run_network(self, verb: str, args: list[str]) -> None:
        runner = git.Git(self.path if verb == "fetch" else self.path.parent)
        timeout = None if sys.platform == "win32" else self.network_timeout  # unsupported there
        try:
            getattr(runner, verb)(
                *args, env=non_interactive_env(self._ssh_command()), kill_after_timeout=timeout
            )
        except git.GitCommandNotFound as error:
            raise _git_failure(self.display_url, error) from error
        except git.GitCommandError as error:
            raise network_failure(verb, self.repo_url, _stderr_of(error), self.network_timeout) from error

    def _ssh_command(self) -> str | None:
        """The user's ssh command, so BatchMode can be added to it rather than replace it."""
        if "GIT_SSH" in os.environ and "GIT_SSH_COMMAND" not in os.environ:
            return None
        if os.environ.get("GIT_SSH_COMMAND"):
            return os.environ["GIT_SSH_COMMAND"]
        configured = git.Git(self.path.parent).config("--get", "core.sshCommand", with_exceptions=False)
        return str(configured).strip()

    # -- objects -----------------------------------------------------------------------------------

    def resolve(self, revision: str) -> str:
        """The full commit SHA of a branch, tag, SHA (full or short) or `HEAD`."""
        wanted = revision.strip() or "HEAD"
        if any(char in wanted for char in "\n\r\0"):
            raise GitSourceError(f"revision {revision!r} is not a valid Git revision: check targetRevision")
        with self._lock:
            try:
                # cat-file resolves names exactly as git does: refs first, then (short) SHAs.
                sha = self._cat_file(lambda repo: repo.git.get_object_header(f"{wanted}^{{commit}}"))[0]
            except _MissingObject as error:
                hint = " or fetch the repository" if self.is_remote else ""
                raise GitSourceError(
                    f"revision {wanted!r} not found in {self.display_url}: "
                    f"check targetRevision (a branch, tag or commit SHA){hint}"
                ) from error
        return sha.decode() if isinstance(sha, bytes) else str(sha)

    def _cat_file(self, call: Callable[[git.Repo], _T]) -> _T:
        """Ask GitPython's persistent cat-file processes, restarting them once if they died."""
        repo = self.open()
        failure: Exception | None = None
        for _ in range(2):
            try:
                return call(repo)
            except git.GitCommandNotFound as error:
                raise _git_failure(str(self.path), error) from error
            except ValueError as error:
                if "could not be resolved" in str(error):  # git answered "missing" or "ambiguous"
                    raise _MissingObject(str(error)) from error
                failure = error  # an empty answer: the process is gone, or git refused the repository
            except OSError as error:
                failure = error
            repo.git.clear_cache()
        assert failure is not None
        raise _git_failure(str(self.path), failure) from failure

    def _object(self, binsha: bytes, kind: bytes) -> bytes:
        try:
            _, typename, _, data = self._cat_file(lambda repo: repo.git.get_object_data(binsha.hex()))
        except _MissingObject as error:
            raise GitSourceError(
                f"object {binsha.hex()} is missing from {self.display_url}: the repository is damaged "
                "or shallow; fetch it again"
            ) from error
        if (typename if isinstance(typename, bytes) else str(typename).encode()) != kind:
            raise GitSourceError(f"object {binsha.hex()} in {self.display_url} is not a {kind.decode()}")
        return bytes(data)

    def read_tree(self, sha: str, path: str) -> dict[str, bytes]:
        """Every file under `path` at commit `sha`, keyed relative to `path` with `/` separators.

        Symlinks read as the file they lead to inside the repository. Unchanged files come back as
        the very same bytes objects as before, so callers can compare by identity first.
        """
        commit, where = self.resolve(sha), normalize_repo_path(path)
        with self._lock:
            return self._trees.files(commit, where)

    def changed_files(self, old_sha: str, new_sha: str, path: str) -> set[str]:
        """Files under `path` that differ between two commits, keyed like read_tree: added,
        modified and deleted ones, and both sides of a rename."""
        old_commit, new_commit = self.resolve(old_sha), self.resolve(new_sha)
        where = normalize_repo_path(path)
        if old_commit == new_commit:
            return set()
        with self._lock:
            return self._trees.changed(old_commit, new_commit, where)

    def history(self, path: str, revision: str = "HEAD", max_count: int = 200) -> list[Commit]:
        """Commits reachable from `revision` that touched `path`, newest first."""
        commit, where = self.resolve(revision), normalize_repo_path(path)
        args = [f"--max-count={max_count}", "--no-show-signature", "-z", "--format=%H%x1f%aN%x1f%at%x1f%s"]
        args += [commit, "--", *([] if where == "." else [where])]
        try:
            output = self.open().git.log(*args, env={"GIT_LITERAL_PATHSPECS": "1"}, stdout_as_string=False)
        except (git.GitCommandError, git.GitCommandNotFound) as error:
            raise _git_failure(str(self.path), error) from error
        commits = []
        for record in bytes(output).decode("utf-8", "replace").split("\0"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) == 4:
                sha, author, timestamp, subject = fields
                date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                commits.append(Commit(sha, author, date, subject))
        return commits

    def export(self, sha: str, dest: Path) -> None:
        """Write the whole tree of commit `sha` into `dest`, for tools such as kustomize that need
        files on disk. Symlinks that would leave `dest` are not written."""
        commit = self.resolve(sha)
        dest.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for rel, mode, blob in self._trees.walk(self._trees.root_tree(commit)):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                content = self._trees.blob(blob)
                if stat.S_ISLNK(mode):
                    link = content.decode("utf-8", "surrogateescape")
                    if inside_repository(posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))):
                        os.symlink(link, target)
                    continue
                target.write_bytes(content)
                if mode & 0o111:
                    target.chmod(0o755)

    def close(self) -> None:
        """Stop GitPython's persistent git processes; the repository reopens on next use."""
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None
