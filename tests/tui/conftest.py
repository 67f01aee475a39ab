"""The TUI against the sandbox: a Git repo of three apps (one deployed), an engine factory, a pilot helper."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from sandbox.handle import SandboxThread
from tests.integration.gitops import SHOP, deploy
from tui.settings import TuiSettings

# Fixed dates make the commit SHAs, and so the screenshots, the same on every run.
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2025-01-02T03:04:05Z",
    "GIT_COMMITTER_DATE": "2025-01-02T03:04:05Z",
}
CONFIG = """\
apps:
  - name: shop
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
    destination: {namespace: shop}
  - name: staging
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
    destination: {namespace: staging}
  - name: canary
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
    destination: {namespace: canary}
"""
DEPLOYED = ("shop", "canary")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user themes, audit files or Git caches from the real home folder."""
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread() as running:
        yield running


@pytest.fixture
def kubeconfig_path(sandbox: SandboxThread, tmp_path: Path) -> Path:
    return sandbox.kubeconfig(tmp_path / "kubeconfig")


def write_gitops(root: Path, config_text: str = CONFIG) -> Config:
    repo = root / "gitops"
    shutil.copytree(SHOP, repo / "apps" / "shop")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "shop: web, db and their config")
    (root / "kubedrift.yaml").write_text(config_text)
    return load_config(root / "kubedrift.yaml")


@pytest.fixture
def config(tmp_path: Path, kubeconfig_path: Path) -> Config:
    """shop and canary applied as a first sync would; staging's namespace only (everything Missing)."""
    config = write_gitops(tmp_path)
    adapter = ClusterAdapter(
        load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"), context="sandbox"
    )
    deploy(adapter, dataclasses.replace(config, apps=tuple(a for a in config.apps if a.name in DEPLOYED)))
    adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "staging"}})
    return config


@pytest.fixture
def settings_for(config: Config, kubeconfig_path: Path) -> Callable[..., TuiSettings]:
    """TuiSettings with an engine factory on the sandbox; keyword arguments go to TuiSettings."""

    def make(with_config: Config | None = None, **options: object) -> TuiSettings:
        settings = TuiSettings(with_config or config, **options)  # type: ignore[arg-type]

        def engine() -> Engine:
            return Engine(
                settings.config,
                load_kubeconfig(str(kubeconfig_path), environ={}),
                read_only=settings.read_only,
                base_dir=config.path.parent if config.path else None,
                watch_tree=True,
            )

        return dataclasses.replace(settings, engine_factory=engine)

    return make


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], what: str, limit: float = 20.0
) -> None:
    """Let the app run until `condition` holds; fail naming `what` if it never does."""
    waited = 0.0
    while not condition():
        if waited >= limit:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.05)
        waited += 0.05


@pytest.fixture
def offline_settings(tmp_path: Path) -> Callable[..., TuiSettings]:
    """TuiSettings whose engine has no cluster at all: for keys, help and themes."""
    config = write_gitops(tmp_path)

    def make(with_config: Config | None = None, **options: object) -> TuiSettings:
        chosen = with_config or config
        return TuiSettings(chosen, engine_factory=lambda: Engine(chosen, None, base_dir=tmp_path), **options)  # type: ignore[arg-type]

    return make
