"""Test scaffolding: a Git repository of the shop app, a kubedrift.yaml, and a tracked first apply."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.desired_state import AppDesiredState
from core.model import TRACKING_ANNOTATION, TRACKING_LABEL, TRACKING_LABEL_VALUE, ResourceKey

SHOP = Path(__file__).parent.parent / "fixtures" / "apps" / "shop"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_gitops(root: Path, *, extra_config: str = "") -> Path:
    """A repo with apps/shop, and a kubedrift.yaml beside it; returns the config path."""
    repo = root / "gitops"
    shutil.copytree(SHOP, repo / "apps" / "shop")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "shop")
    config = root / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: shop\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        "    destination: {namespace: shop}\n" + extra_config
    )
    return config


def committed_repository(repo: Path, message: str = "start") -> Path:
    """`repo` (its files already written) as a Git repository with one commit on `main`."""
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
    return repo


def commit_file(repo: Path, relative: str, text: str | None, message: str) -> str:
    path = repo / relative
    if text is None:
        path.unlink()
    else:
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def tracked(app: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` as kubedrift applies it: with its tracking label and annotation."""
    applied = copy.deepcopy(dict(obj))
    metadata = applied.setdefault("metadata", {})
    metadata.setdefault("labels", {})[TRACKING_LABEL] = TRACKING_LABEL_VALUE
    metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = ResourceKey.of(applied).tracking_id(app)
    return applied


def deploy(adapter: ClusterAdapter, config: Config) -> None:
    """Apply every app as a first sync would: namespaces first, tracked, server-side."""
    for app in config.apps:
        state = AppDesiredState(app).load()
        assert state.render_ok, state.errors
        namespaces = {key.namespace for key in state.objects if key.namespace}
        for namespace in sorted(namespaces):
            adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for obj in state.objects.values():
            adapter.apply(tracked(app.name, obj))


def shop_config(root: Path, extra_config: str = "") -> Config:
    return load_config(make_gitops(root, extra_config=extra_config))
