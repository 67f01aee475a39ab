"""A kustomization with Argo CD's `source.kustomize` options as an app: the options shape what is
applied (names, images, namespace), the synced app is Synced at once, and the user's files are never
touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gitops import committed_repository
from tests.kubectl import Kubectl
from tui.cli import main

KUSTOMIZE = Path(__file__).resolve().parent.parent / "fixtures" / "kustomize"


def test_kustomize_options_shape_what_is_synced_and_it_is_synced_after(
    tmp_path: Path,
    kubeconfig_path: Path,
    kubectl: Kubectl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repo = tmp_path / "gitops"
    shutil.copytree(KUSTOMIZE / "guestbook", repo / "guestbook")
    committed_repository(repo, "guestbook")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: guestbook\n"
        "    source:\n"
        "      repoURL: ./gitops\n"
        "      targetRevision: main\n"
        "      path: guestbook/overlays/dev\n"
        "      kustomize: {namePrefix: qa-, images: ['nginx:1.27'], namespace: qa}\n"
        "    destination: {namespace: web}\n"
    )
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    kubectl.run("create", "namespace", "qa")

    assert main([*argv, "sync", "guestbook", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main([*argv, "check", "-o", "json"]) == 0
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    names = {(r["kind"], r["namespace"], r["name"]) for r in app["resources"]}
    # Argo CD's namePrefix replaces the overlay's own `dev-`; its namespace wins over the destination.
    assert ("Deployment", "qa", "qa-guestbook-ui") in names, names
    deployment: dict[str, Any] = kubectl.json("get", "deployment", "qa-guestbook-ui", "-n", "qa")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before, "the repository's files are never edited"
