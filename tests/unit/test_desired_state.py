"""Config, Git source, rendering and reconciliation joined: the path from kubedrift.yaml to a verdict."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core.config import load_config, zero_config
from core.desired_state import AppDesiredState
from core.model import AppSync, ResourceKey, SyncStatus
from core.reconcile import reconcile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "drift"
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


def desired_yaml(base: str) -> str:
    obj = yaml.safe_load((FIXTURES / base / "desired.yaml").read_text())
    del obj["metadata"]["namespace"]  # the app's destination namespace fills it in
    return yaml.safe_dump(obj)


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    repo = tmp_path / "gitops"
    (repo / "apps" / "shop").mkdir(parents=True)
    (repo / "apps" / "shop" / "web.yaml").write_text(
        desired_yaml("deployment-defaults") + "---\n" + desired_yaml("service-defaults")
    )
    (repo / "apps" / "shop" / "config.yaml").write_text(desired_yaml("configmap"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "shop")
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: shop\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        "    destination: {namespace: shop}\n"
    )
    return repo


def live_objects(*bases: str) -> dict[ResourceKey, dict]:
    objs = [yaml.safe_load((FIXTURES / base / "live.yaml").read_text()) for base in bases]
    return {ResourceKey.of(obj): obj for obj in objs}


def test_config_to_verdict(gitops: Path) -> None:
    (app,) = load_config(gitops.parent / "kubedrift.yaml").apps
    state = AppDesiredState(app).load()
    assert state.errors == () and state.render_ok
    assert state.revision == git(gitops, "rev-parse", "HEAD")
    live = live_objects("deployment-defaults", "service-defaults", "configmap")
    assert reconcile(app, state.objects, live).sync is AppSync.SYNCED

    drifted = copy.deepcopy(live)
    drifted[ResourceKey("apps", "Deployment", "shop", "web")]["spec"]["replicas"] = 1
    result = reconcile(app, state.objects, drifted)
    assert result.sync is AppSync.OUT_OF_SYNC
    assert result.resources[ResourceKey("apps", "Deployment", "shop", "web")].status is SyncStatus.OUT_OF_SYNC


def test_bad_file_is_an_error_and_the_rest_still_renders(gitops: Path) -> None:
    (gitops / "apps" / "shop" / "broken.yaml").write_text("kind: ConfigMap\nmetadata: [unclosed\n")
    git(gitops, "add", ".")
    git(gitops, "commit", "-q", "-m", "broken")
    (app,) = load_config(gitops.parent / "kubedrift.yaml").apps
    state = AppDesiredState(app).load()
    assert not state.render_ok
    assert len(state.errors) == 1 and "broken.yaml" in state.errors[0]
    assert ResourceKey("apps", "Deployment", "shop", "web") in state.objects


def test_unknown_revision_keeps_the_last_good_one(gitops: Path) -> None:
    (app,) = load_config(gitops.parent / "kubedrift.yaml").apps
    loader = AppDesiredState(app)
    good = loader.load()
    git(gitops, "branch", "-q", "-m", "main", "renamed")
    state = loader.load()
    assert state.revision == good.revision
    assert state.objects == good.objects
    assert not state.render_ok, "a fallback revision must never allow pruning"
    assert "main" in state.errors[0] and "still showing revision" in state.errors[0]


def test_unknown_revision_without_a_good_one_is_an_error(gitops: Path) -> None:
    (gitops.parent / "kubedrift.yaml").write_text(
        "apps:\n  - name: shop\n    source: {repoURL: ./gitops, targetRevision: nope, path: apps/shop}\n"
    )
    (app,) = load_config(gitops.parent / "kubedrift.yaml").apps
    state = AppDesiredState(app).load()
    assert state.revision is None and state.objects == {} and not state.render_ok
    assert "nope" in state.errors[0]


@pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="neither kubectl nor kustomize is installed",
)
def test_kustomize_overlay_renders_from_a_git_revision(gitops: Path) -> None:
    base = gitops / "apps" / "base"
    overlay = gitops / "apps" / "prod"
    base.mkdir()
    overlay.mkdir()
    (base / "config.yaml").write_text(desired_yaml("configmap"))
    (base / "kustomization.yaml").write_text("resources: [config.yaml]\n")
    (overlay / "kustomization.yaml").write_text("resources: [../base]\nnamePrefix: prod-\n")
    git(gitops, "add", ".")
    git(gitops, "commit", "-q", "-m", "overlay")
    (gitops.parent / "kubedrift.yaml").write_text(
        "apps:\n  - name: prod\n    source: {repoURL: ./gitops, targetRevision: main, path: apps/prod}\n"
        "    destination: {namespace: prod}\n"
    )
    (app,) = load_config(gitops.parent / "kubedrift.yaml").apps
    state = AppDesiredState(app).load()
    assert state.errors == ()
    assert list(state.objects) == [ResourceKey("", "ConfigMap", "prod", "prod-web-config")]


def test_zero_config_reads_the_folder_on_disk(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "cm.yaml").write_text(desired_yaml("configmap"))
    (app,) = zero_config(tmp_path / "manifests").apps
    state = AppDesiredState(app).load()
    assert state.render_ok and state.revision is not None and state.revision.startswith("folder:")
    assert list(state.objects) == [ResourceKey("", "ConfigMap", "default", "web-config")]
