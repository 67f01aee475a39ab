"""`kubedrift rollback APP --revert`: a commit that puts the app's path back as it was at a good revision.

Git stays the source of truth: instead of leaving the app pinned while Git still holds the bad
revision, a person can move Git past it. The commit restores the app's folder (and only it) to its
content at the good revision, so other apps sharing the repository keep their changes, and its
message names every commit it undoes. It is made only where it is safe to:
- a local repository with a working tree (a remote one would need a push kubedrift does not do);
- on the branch the app follows (`targetRevision`), checked out;
- with no uncommitted change under the app's path, which the commit would otherwise swallow.
Anything else is one sentence saying what to do instead. The commit is made with `git commit`, so
the user's identity, signing and hooks apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import GitSourceError, KubedriftError

if TYPE_CHECKING:
    from core.git_repository import GitRepository


@dataclass(frozen=True, slots=True)
class RevertCommit:
    """The commit made, and the commits it undoes (newest first)."""

    sha: str
    undone: tuple[tuple[str, str], ...]
    """(sha, subject) of each commit after the good revision that touched the app's path."""


def revert_app_path(
    repository: GitRepository,
    *,
    app: str,
    root: str,
    target_revision: str,
    good: str,
) -> RevertCommit:
    """Commit the app's path `root` (from the repository's top) as it was at `good`, on the checked-out
    branch, which must be `target_revision` (or `HEAD`)."""
    import git

    if repository.is_remote:
        raise KubedriftError(
            f"cannot commit a revert for {app}: its repository {repository.display_url} is remote; revert "
            "in a clone and push, or run `kubedrift rollback` without --revert"
        )
    repo = repository.open()
    if repo.working_tree_dir is None:
        raise KubedriftError(f"cannot commit a revert for {app}: {repository.path} has no working tree")
    if repo.head.is_detached:
        raise KubedriftError(
            f"cannot commit a revert for {app}: {repo.working_tree_dir} has no branch checked out; "
            f"check out {target_revision} first"
        )
    branch = repo.active_branch.name
    if target_revision not in ("", "HEAD", branch):
        raise KubedriftError(
            f"cannot commit a revert for {app}: {repo.working_tree_dir} has {branch} checked out, but the "
            f"app follows {target_revision}; check out {target_revision} first"
        )
    pathspec = root if root not in ("", ".") else "."
    if repo.is_dirty(index=True, working_tree=True, untracked_files=False, path=pathspec):
        raise KubedriftError(
            f"cannot commit a revert for {app}: {pathspec} has uncommitted changes in "
            f"{repo.working_tree_dir}; commit or stash them first"
        )
    undone = tuple(
        (commit.hexsha, str(commit.summary)) for commit in repo.iter_commits(f"{good}..HEAD", paths=pathspec)
    )
    if not undone:
        raise KubedriftError(
            f"nothing to revert for {app}: no commit after {good[:7]} changed {pathspec}; "
            "run `kubedrift rollback` without --revert"
        )
    message = _message(app, pathspec, good, undone)
    try:
        # The folder as it was: what was added since goes, what was changed or removed comes back.
        repo.git.rm("-r", "-q", "--ignore-unmatch", "--", pathspec)
        repo.git.checkout(good, "--", pathspec)
        repo.git.commit("-q", "-m", message, "--", pathspec)
    except git.GitCommandError as error:
        said = " ".join(str(error.stderr or error).split())
        # Leave the folder as HEAD has it: nothing half-done stays in the user's tree.
        repo.git.checkout("HEAD", "--", pathspec)
        raise GitSourceError(f"git could not commit the revert of {app}: {said}") from None
    return RevertCommit(repo.head.commit.hexsha, undone)


def _message(app: str, pathspec: str, good: str, undone: tuple[tuple[str, str], ...]) -> str:
    lines = [
        f"Revert {app} to {good[:7]}",
        "",
        f"kubedrift rollback {app} --revert: {pathspec} as it was at {good}, undoing:",
        *(f"  {sha[:7]} {subject}" for sha, subject in undone),
    ]
    return "\n".join(lines) + "\n"
