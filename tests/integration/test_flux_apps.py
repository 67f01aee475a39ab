"""A Flux Kustomization under `include:` with `tracking: flux`, against the sandbox: its GitRepository
and path give the app, postBuild.substitute fills the manifests, a sync writes Flux's own labels (not
kubedrift's), the app is Synced after, and a kubectl change is drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gitops import committed_repository
from tests.kubectl import Kubectl
from tui.cli import main

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: ${replicas:=1}
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo, env: "${cluster_env}"}}
    spec:
      containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.7.0"}]
"""


def test_a_flux_kustomization_is_an_app_tracked_by_fluxs_labels(
    tmp_path: Path,
    kubeconfig_path: Path,
    kubectl: Kubectl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repo = tmp_path / "fleet"
    (repo / "apps" / "production").mkdir(parents=True)
    (repo / "apps" / "production" / "podinfo.yaml").write_text(DEPLOYMENT)
    committed_repository(repo, "podinfo")
    flux = tmp_path / "clusters"
    flux.mkdir()
    (flux / "sync.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: fleet, namespace: flux-system}\n"
        f"spec: {{url: '{repo}', ref: {{branch: main}}, interval: 1m}}\n"
        "---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec:\n"
        "  sourceRef: {kind: GitRepository, name: fleet}\n"
        "  path: ./apps/production\n"
        "  prune: true\n"
        "  targetNamespace: podinfo\n"
        "  postBuild: {substitute: {cluster_env: production, replicas: '2'}}\n"
    )
    (tmp_path / "kubedrift.yaml").write_text("apps:\n  - {include: clusters, tracking: flux}\n")
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    kubectl.run("create", "namespace", "podinfo")

    assert main([*argv, "sync", "flux-system-apps", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    live = kubectl.json("get", "deployment", "podinfo", "-n", "podinfo")
    assert (
        live["spec"]["replicas"] == 2
        and live["spec"]["template"]["metadata"]["labels"]["env"] == "production"
    )
    labels = live["metadata"]["labels"]
    assert labels["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert labels["kustomize.toolkit.fluxcd.io/namespace"] == "flux-system"
    assert "app.kubernetes.io/managed-by" not in labels, "standing in for Flux: none of kubedrift's own"

    assert main([*argv, "check", "-o", "json"]) == 0
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    assert (app["name"], app["sync"]) == ("flux-system-apps", "Synced")

    kubectl.run("scale", "deployment", "podinfo", "-n", "podinfo", "--replicas=4")
    assert main([*argv, "check", "-o", "json"]) == 1
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    ((resource, paths),) = [
        (r["name"], [c["path"] for c in r["changes"]]) for r in app["resources"] if r["status"] != "Synced"
    ]
    assert (resource, paths) == ("podinfo", ["/spec/replicas"])


FLUX = Path(__file__).parent.parent / "fixtures" / "flux"


@pytest.fixture
def flux_crds(kubectl: Kubectl) -> Kubectl:
    """The sandbox serving Flux's kinds (and Argo CD's Application)."""
    kubectl.run("apply", "-f", str(FLUX / "crds.yaml"))
    return kubectl


def changed(app: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [
        (r["name"], [c["path"] for c in r["changes"]]) for r in app["resources"] if r["status"] != "Synced"
    ]


def test_a_fleet_shaped_like_fluxs_example_syncs_and_then_shows_exactly_a_kubectl_change(
    tmp_path: Path,
    kubeconfig_path: Path,
    flux_crds: Kubectl,
    state_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubectl = flux_crds
    fleet = tmp_path / "fleet"
    shutil.copytree(FLUX / "fleet", fleet)
    bootstrap = fleet / "clusters" / "production" / "flux-system" / "gotk-sync.yaml"
    bootstrap.write_text(bootstrap.read_text().replace("https://git.example.com/fleet.git", str(fleet)))
    committed_repository(fleet, "fleet")
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n  - {include: fleet/clusters/production, tracking: flux}\n"
    )
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    kubectl.run("create", "namespace", "infra")  # infra-controllers' targetNamespace; Flux creates none

    for app in ("flux-system-infra-controllers", "flux-system-apps"):
        assert main([*argv, "sync", app, "--yes"]) == 0, capsys.readouterr()
        capsys.readouterr()
        assert main([*argv, "check", "--app", app, "-o", "json"]) == 0, capsys.readouterr().out
        (status,) = json.loads(capsys.readouterr().out)["apps"]
        assert (status["sync"], status["errors"]) == ("Synced", [])

    # The plain folder got Flux's generated kustomization, edited by the Kustomization's options.
    cache = kubectl.json("get", "deployment", "prod-cache", "-n", "infra")
    assert cache["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/cache:7.2"
    # The overlay's patch, then the cluster's variables, then commonMetadata, as Flux applies them.
    release = kubectl.json("get", "helmrelease", "podinfo", "-n", "podinfo")
    assert release["spec"]["chart"]["spec"]["version"] == ">=6.5.0"
    assert release["spec"]["values"]["replicaCount"] == 2
    assert release["spec"]["values"]["ui"]["message"] == "podinfo on production"
    assert release["spec"]["values"]["ingress"]["hosts"] == [{"host": "podinfo.production.example.com"}]
    labels = release["metadata"]["labels"]
    assert labels["toolkit.fluxcd.io/tenant"] == "apps-team"
    assert labels["kustomize.toolkit.fluxcd.io/name"] == "apps"

    kubectl.run(
        "patch", "helmrelease", "podinfo", "-n", "podinfo", "--type", "merge",
        "-p", '{"spec": {"values": {"replicaCount": 5}}}',
    )  # fmt: skip
    assert main([*argv, "check", "--app", "flux-system-apps", "-o", "json"]) == 1
    (status,) = json.loads(capsys.readouterr().out)["apps"]
    assert changed(status) == [("podinfo", ["/spec/values/replicaCount"])]
    assert main([*argv, "check", "--app", "flux-system-infra-controllers", "-o", "json"]) == 0
