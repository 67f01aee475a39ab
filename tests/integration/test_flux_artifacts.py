"""A fleet shaped like flux2-kustomize-helm-example since Flux 2.7, against the sandbox: Kustomizations
reading the ExternalArtifacts an ArtifactGenerator splits out of the bootstrap repository (which is
not in the files: the Git repository holding them stands in for it) load without errors, sync, are
Synced right after, and a kubectl change is exactly the drift shown."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gitops import committed_repository
from tests.kubectl import Kubectl
from tui.cli import main

FLUX = Path(__file__).parent.parent / "fixtures" / "flux"
APPS = ("flux-system-infra-controllers", "flux-system-infra-configs", "flux-system-apps")
"""In the order of their dependsOn, as Flux applies them."""


@pytest.fixture
def flux_crds(kubectl: Kubectl) -> Kubectl:
    kubectl.run("apply", "-f", str(FLUX / "crds.yaml"))
    return kubectl


def drifted(app: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [
        (r["kind"], r["name"], [c["path"] for c in r["changes"]])
        for r in app["resources"]
        if r["status"] != "Synced"
    ]


def checked(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """The fleet's apps in `check -o json`. Not its exit code: the HelmReleases they apply may be apps
    of their own, whose charts are on the internet, which the tests do not reach."""
    main([*argv, "check", "-o", "json"])
    statuses = json.loads(capsys.readouterr().out)["apps"]
    return {status["name"]: status for status in statuses if status["name"] in APPS}


def test_kustomizations_of_generated_artifacts_sync_and_then_show_exactly_a_kubectl_change(
    tmp_path: Path,
    kubeconfig_path: Path,
    flux_crds: Kubectl,
    state_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubectl = flux_crds
    fleet = tmp_path / "fleet"
    shutil.copytree(FLUX / "artifacts", fleet)
    committed_repository(fleet, "fleet")
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n  - {include: fleet/clusters/production, tracking: flux}\n"
    )
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    revision = (fleet / ".git" / "refs" / "heads" / "main").read_text().strip()

    before = checked(argv, capsys)
    assert {name: (status["errors"], status["revision"]) for name, status in before.items()} == {
        app: ([], revision) for app in APPS
    }
    assert all(status["sync"] == "OutOfSync" for status in before.values()), "nothing applied yet"

    for app in APPS:
        assert main([*argv, "sync", app, "--yes"]) == 0, capsys.readouterr()
        capsys.readouterr()
        after = checked(argv, capsys)[app]
        assert (after["sync"], after["errors"], drifted(after)) == ("Synced", [], [])

    # The Kustomization's own patch over the artifact's configs, on a cluster-scoped kind.
    issuer = kubectl.json("get", "clusterissuer", "acme")
    assert issuer["spec"]["acme"]["server"] == "https://acme.example.com/production"
    assert issuer["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "infra-configs"
    # The production overlay patching the base, both copied into the apps artifact.
    release = kubectl.json("get", "helmrelease", "podinfo", "-n", "podinfo")
    assert release["spec"]["chart"]["spec"]["version"] == ">=6.5.0"
    assert release["spec"]["values"]["replicaCount"] == 2
    assert release["spec"]["values"]["ingress"]["hosts"] == [{"host": "podinfo.production.example.com"}]
    assert kubectl.json("get", "helmrelease", "valkey", "-n", "cache-system")["spec"]["values"] == {
        "replicas": 1
    }

    kubectl.run(
        "patch", "clusterissuer", "acme", "--type", "merge",
        "-p", '{"spec": {"acme": {"server": "https://acme.example.com/staging"}}}',
    )  # fmt: skip
    statuses = checked(argv, capsys)
    assert drifted(statuses["flux-system-infra-configs"]) == [
        ("ClusterIssuer", "acme", ["/spec/acme/server"])
    ]
    assert [statuses[app]["sync"] for app in APPS] == ["Synced", "OutOfSync", "Synced"]
