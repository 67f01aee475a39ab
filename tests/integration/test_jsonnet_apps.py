"""A Jsonnet app (Argo CD's directory.jsonnet) against the sandbox: the TLAs shape what is synced, the
synced app is Synced at once, and a kubectl change shows as drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.gitops import committed_repository
from tests.kubectl import Kubectl
from tui.cli import main

JSONNET = Path(__file__).resolve().parent.parent / "fixtures" / "jsonnet"


def test_a_jsonnet_app_syncs_and_is_synced_then_a_kubectl_change_is_drift(
    tmp_path: Path,
    kubeconfig_path: Path,
    kubectl: Kubectl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repo = tmp_path / "gitops"
    shutil.copytree(JSONNET / "guestbook", repo / "guestbook")
    committed_repository(repo, "jsonnet guestbook")
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: guestbook\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: guestbook}\n"
        "    destination: {namespace: web}\n"
    )
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    kubectl.run("create", "namespace", "web")

    assert main([*argv, "sync", "guestbook", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main([*argv, "check", "-o", "json"]) == 0
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    kinds = sorted(r["kind"] for r in app["resources"])
    assert "Deployment" in kinds and "Service" in kinds, kinds
    (deployment,) = [r for r in app["resources"] if r["kind"] == "Deployment"]

    kubectl.run("scale", "deployment", deployment["name"], "-n", "web", "--replicas=7")
    assert main([*argv, "check", "-o", "json"]) == 1
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    (drifted,) = [r for r in app["resources"] if r["status"] != "Synced"]
    assert [change["path"] for change in drifted["changes"]] == ["/spec/replicas"]
