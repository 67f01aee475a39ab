"""Flux's OCI artifacts workflow against the sandbox: CI pushes a folder of manifests to a registry (the
test serves one, with Docker's bearer-token auth) and an OCIRepository with a semver range feeds a
Kustomization. kubedrift loads it under Flux's revision, syncs it, shows it Synced right after, and when
a new tag is pushed, its next poll of the registry shows the new content's drift."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, ResourceKey, SyncStatus
from core.status_events import AppStatusChange, ResourceStatusChange, RevisionChange
from tests.kubectl import Kubectl
from tests.live_run import LiveRun
from tests.oci_registry import Registry, serving
from tui.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flux" / "oci"
APP = "flux-system-podinfo"
REPOSITORY = "manifests/podinfo"
UI = ResourceKey("", "ConfigMap", "podinfo", "podinfo-ui")


@pytest.fixture
def registry() -> Iterator[Registry]:
    yield from serving(Registry(token=True))


def deploy_folder(message: str | None = None) -> dict[str, bytes]:
    """What `flux push artifact --path=./deploy` packs, with the UI message changed when given."""
    files = {path.name: path.read_bytes() for path in sorted((FIXTURES / "deploy").iterdir())}
    if message is not None:
        files["configmap.yaml"] = files["configmap.yaml"].replace(b"from the OCI artifact", message.encode())
    return files


def checked(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    main([*argv, "check", "-o", "json"])
    (status,) = json.loads(capsys.readouterr().out)["apps"]
    return dict(status)


def drifted(app: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [
        (r["kind"], r["name"], [c["path"] for c in r["changes"]])
        for r in app["resources"]
        if r["status"] != "Synced"
    ]


def test_an_oci_artifact_syncs_is_synced_after_and_a_new_tag_is_polled_into_drift(
    tmp_path: Path,
    kubeconfig_path: Path,
    kubectl: Kubectl,
    registry: Registry,
    state_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = registry.push_artifact(REPOSITORY, "1.0.0", deploy_folder())
    fleet = tmp_path / "clusters"
    shutil.copytree(FIXTURES / "clusters", fleet)
    sync = fleet / "production" / "podinfo.yaml"
    sync.write_text(sync.read_text().replace("registry.example.com:5000", registry.host))
    config = tmp_path / "kubedrift.yaml"
    config.write_text("apps:\n  - {include: clusters/production, tracking: flux}\n")
    argv = ["--config", str(config), "--kubeconfig", str(kubeconfig_path)]

    before = checked(argv, capsys)
    assert (before["errors"], before["revision"], before["sync"]) == ([], f"1.0.0@{first}", "OutOfSync")

    assert main([*argv, "sync", APP, "--yes"]) == 0, capsys.readouterr()
    assert f"revision 1.0.0@{first[7:19]}" in capsys.readouterr().out
    after = checked(argv, capsys)
    assert (after["sync"], after["errors"], drifted(after)) == ("Synced", [], [])
    live = kubectl.json("get", "configmap", "podinfo-ui", "-n", "podinfo")
    assert live["data"]["PODINFO_UI_MESSAGE"] == "from the OCI artifact"
    assert live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "podinfo"
    assert kubectl.json("get", "deployment", "podinfo", "-n", "podinfo")["spec"]["replicas"] == 2

    engine = Engine(
        load_config(config), load_kubeconfig(str(kubeconfig_path), environ={}), git_poll_seconds=0.2
    )
    with LiveRun(engine) as run:
        run.wait_for(lambda c: isinstance(c, AppStatusChange) and c.app == APP and c.sync is AppSync.SYNCED)
        second = registry.push_artifact(REPOSITORY, "1.1.0", deploy_folder("from the new tag"))
        run.wait_for(lambda c: isinstance(c, RevisionChange) and c.revision == f"1.1.0@{second}", timeout=20)
        change = run.wait_for(lambda c: isinstance(c, ResourceStatusChange) and c.key == UI, timeout=20)
    assert change.status is SyncStatus.OUT_OF_SYNC

    polled = checked(argv, capsys)
    assert polled["revision"] == f"1.1.0@{second}"
    assert drifted(polled) == [("ConfigMap", "podinfo-ui", ["/data/PODINFO_UI_MESSAGE"])]
    (ui,) = [r for r in polled["resources"] if r["name"] == "podinfo-ui"]
    assert (
        ui["changes"][0]["desired"] == "from the new tag"
        and ui["changes"][0]["live"] == "from the OCI artifact"
    )
    assert registry.issued, "the registry's bearer-token flow was used"
