"""A built app (kustomize, a chart) is cached by its files, and by the commit: an overlay's `../base`
lies outside the app folder, so a commit that changes only the base must build again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.desired_state import AppDesiredState
from core.model import App, Destination, ResourceKey, Source

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")

BASE_KUSTOMIZATION = "resources: [settings.yaml]\n"
OVERLAY_KUSTOMIZATION = "resources: [../../base]\nnamePrefix: prod-\n"


def settings(mode: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{mode: {mode}}}\n"


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def test_a_commit_to_the_base_alone_builds_the_overlay_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit(
        repo,
        {
            "base/kustomization.yaml": BASE_KUSTOMIZATION,
            "base/settings.yaml": settings("slow"),
            "overlays/prod/kustomization.yaml": OVERLAY_KUSTOMIZATION,
        },
        "start",
    )
    app = App(
        name="shop",
        source=Source(repo_url=str(repo), target_revision="main", path="overlays/prod"),
        destination=Destination(namespace="shop"),
    )
    loader = AppDesiredState(app, cache_dir=tmp_path / "cache")
    key = ResourceKey("", "ConfigMap", "shop", "prod-settings")

    before = loader.load()
    second = commit(repo, {"base/settings.yaml": settings("fast")}, "only the base changes")
    after = loader.load()

    assert (before.revision, after.revision) == (first, second)
    assert before.errors == () and after.errors == ()
    assert before.objects[key]["data"] == {"mode": "slow"}
    assert after.objects[key]["data"] == {"mode": "fast"}, "the overlay was served from the old build"
