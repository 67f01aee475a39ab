"""`kubedrift rollback --revert`'s commit: the app's folder as at the good revision, only where safe."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.errors import KubedriftError
from core.git_repository import GitRepository
from core.git_revert import revert_app_path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=ENV, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def revert(repo: Path, target_revision: str, good: str) -> None:
    revert_app_path(
        GitRepository(str(repo)), app="web", root="apps/web", target_revision=target_revision, good=good
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(name, ENV[name])
    folder = tmp_path / "gitops"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    return folder


def test_the_folder_comes_back_as_it_was_and_other_apps_keep_their_changes(repo: Path) -> None:
    good = commit(repo, {"apps/web/web.yaml": "v: 1\n", "apps/web/old.yaml": "old: 1\n"}, "web 1")
    first = commit(repo, {"apps/web/web.yaml": "v: 2\n", "apps/web/new.yaml": "new: 1\n"}, "web 2")
    commit(repo, {"apps/db/db.yaml": "db: 2\n"}, "db 2")  # another app: left alone, not named
    second = commit(repo, {"apps/web/old.yaml": None}, "drop old")
    made = revert_app_path(
        GitRepository(str(repo)), app="web", root="apps/web", target_revision="main", good=good
    )
    assert made.undone == ((second, "drop old"), (first, "web 2"))
    assert git(repo, "rev-parse", "HEAD") == made.sha
    assert git(repo, "diff", good, made.sha, "--", "apps/web") == ""
    assert (repo / "apps/db/db.yaml").read_text() == "db: 2\n"
    assert not (repo / "apps/web/new.yaml").exists()
    message = git(repo, "log", "-1", "--format=%B")
    assert message.splitlines()[0] == f"Revert web to {good[:7]}"
    assert f"{first[:7]} web 2" in message and f"{second[:7]} drop old" in message
    assert "db 2" not in message
    assert git(repo, "status", "--porcelain") == ""


def test_uncommitted_changes_in_the_folder_are_never_swallowed(repo: Path) -> None:
    good = commit(repo, {"apps/web/web.yaml": "v: 1\n"}, "web 1")
    commit(repo, {"apps/web/web.yaml": "v: 2\n"}, "web 2")
    (repo / "apps/web/web.yaml").write_text("v: 3 # being edited\n")
    with pytest.raises(KubedriftError, match="has uncommitted changes") as raised:
        revert(repo, "main", good)
    assert "commit or stash them first" in str(raised.value)
    assert (repo / "apps/web/web.yaml").read_text() == "v: 3 # being edited\n"


def test_another_branch_checked_out_is_refused(repo: Path) -> None:
    good = commit(repo, {"apps/web/web.yaml": "v: 1\n"}, "web 1")
    commit(repo, {"apps/web/web.yaml": "v: 2\n"}, "web 2")
    git(repo, "checkout", "-q", "-b", "feature")
    with pytest.raises(KubedriftError, match="has feature checked out, but the app follows main"):
        revert(repo, "main", good)


def test_nothing_to_revert_says_so(repo: Path) -> None:
    good = commit(repo, {"apps/web/web.yaml": "v: 1\n"}, "web 1")
    commit(repo, {"apps/db/db.yaml": "db: 2\n"}, "db 2")
    with pytest.raises(KubedriftError, match=f"no commit after {good[:7]} changed apps/web"):
        revert(repo, "HEAD", good)


def test_a_remote_repository_is_refused() -> None:
    remote = GitRepository("https://git.example.invalid/gitops.git", cache_dir=Path("/nonexistent"))
    with pytest.raises(KubedriftError, match="is remote; revert in a clone and push"):
        revert_app_path(remote, app="web", root="apps/web", target_revision="main", good="a" * 40)
