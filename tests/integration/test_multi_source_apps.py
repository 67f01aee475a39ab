"""Multi-source apps against the sandbox, shaped like Argo CD's "Multiple Sources for an Application":
a chart from a Helm repository with its values from the team's Git repository (`$values/...`), synced
and Synced right after, and a commit to the values alone seen live as drift; two Git sources with
paths, whose union is the app."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, ResourceKey, SyncStatus
from core.status_events import AppStatusChange, ResourceStatusChange
from tests.integration.gitops import commit_file, committed_repository, git
from tests.live_run import LiveRun
from tests.unit.test_chart_repository import ChartServer
from tui.cli import main

MULTISOURCE = Path(__file__).parent.parent / "fixtures" / "multisource"
SETTINGS = ResourceKey("", "ConfigMap", "default", "settings-settings")


@pytest.fixture
def charts() -> Iterator[ChartServer]:
    server = ChartServer()
    server.publish("settings", "1.0.0", "1.1.0")
    yield server
    server.httpd.shutdown()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_helm_repository_chart_with_values_from_git_syncs_and_a_values_commit_is_drift(
    tmp_path: Path,
    kubeconfig_path: Path,
    charts: ChartServer,
    env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = committed_repository(shutil.copytree(MULTISOURCE / "values", tmp_path / "values"))
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: settings\n"
        "    sources:\n"
        f"      - repoURL: '{charts.url}/charts'\n"
        "        chart: settings\n"
        "        targetRevision: 1.*\n"
        "        helm:\n"
        "          valueFiles: [$values/envs/prod/values.yaml]\n"
        "      - {repoURL: ./values, targetRevision: main, ref: values}\n"
        "    destination: {namespace: default}\n"
    )
    argv = ["--config", str(config), "--kubeconfig", str(kubeconfig_path)]

    assert main([*argv, "sync", "settings", "--yes"]) == 0, capsys.readouterr()
    assert "Synced revision 1.1.0\n" in capsys.readouterr().out, "the chart's version is the app's revision"
    assert main([*argv, "check", "-o", "json"]) == 0
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    assert (app["sync"], app["errors"]) == ("Synced", [])
    assert app["revision"].startswith("1.1.0 (sha256:")
    assert [(r["kind"], r["name"], r["status"]) for r in app["resources"]] == [
        ("ConfigMap", "settings-settings", "Synced")
    ]

    engine = Engine(load_config(config), load_kubeconfig(str(kubeconfig_path), environ={}))
    with LiveRun(engine) as run:
        run.wait_for(lambda c: isinstance(c, AppStatusChange) and c.sync is AppSync.SYNCED)
        text = (values / "envs/prod/values.yaml").read_text().replace("colour: amber", "colour: crimson")
        commit_file(values, "envs/prod/values.yaml", text, "crimson in prod")
        run.wait_for(
            lambda c: (
                isinstance(c, ResourceStatusChange)
                and c.key == SETTINGS
                and c.status is SyncStatus.OUT_OF_SYNC
            )
        )

    assert main([*argv, "check", "-o", "json"]) == 1
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    (resource,) = app["resources"]
    assert resource["changes"] == [{"path": "/data/colour", "desired": "crimson", "live": "amber"}]


def test_two_git_sources_with_paths_sync_as_one_app(
    tmp_path: Path, kubeconfig_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = committed_repository(shutil.copytree(MULTISOURCE / "billing-app", tmp_path / "billing-app"))
    committed_repository(shutil.copytree(MULTISOURCE / "common-settings", tmp_path / "common-settings"))
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: billing\n"
        "    sources:\n"
        "      - {repoURL: ./billing-app, path: manifests, targetRevision: main}\n"
        "      - {repoURL: ./common-settings, path: configmaps-billing, targetRevision: HEAD}\n"
        "    destination: {namespace: default}\n"
    )
    argv = ["--config", str(config), "--kubeconfig", str(kubeconfig_path)]

    assert main([*argv, "check", "-o", "json"]) == 1
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    assert {(r["kind"], r["name"], r["status"]) for r in app["resources"]} == {
        ("Deployment", "billing", "Missing"),
        ("ConfigMap", "billing-settings", "Missing"),
    }
    assert main([*argv, "sync", "billing", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main([*argv, "check", "-o", "json"]) == 0
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    assert (app["sync"], app["errors"], app["revision"]) == ("Synced", [], git(billing, "rev-parse", "main"))
    assert {(r["kind"], r["status"]) for r in app["resources"]} == {
        ("Deployment", "Synced"),
        ("ConfigMap", "Synced"),
    }


def test_auto_sync_applies_a_commit_to_any_source_once(
    tmp_path: Path, kubeconfig_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    billing = committed_repository(shutil.copytree(MULTISOURCE / "billing-app", tmp_path / "billing-app"))
    settings = committed_repository(
        shutil.copytree(MULTISOURCE / "common-settings", tmp_path / "common-settings")
    )
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: billing\n"
        "    sources:\n"
        "      - {repoURL: ./billing-app, path: manifests, targetRevision: main}\n"
        "      - {repoURL: ./common-settings, path: configmaps-billing, targetRevision: main}\n"
        "    destination: {namespace: default}\n"
        "    syncPolicy: {automated: {}}\n"
    )
    argv = ["--config", str(config), "--kubeconfig", str(kubeconfig_path)]
    assert main([*argv, "sync", "billing", "--yes"]) == 0, capsys.readouterr()
    key = ResourceKey("", "ConfigMap", "default", "billing-settings")

    engine = Engine(load_config(config), load_kubeconfig(str(kubeconfig_path), environ={}))
    with LiveRun(engine) as run:
        run.wait_for(lambda c: isinstance(c, AppStatusChange) and c.sync is AppSync.SYNCED)
        path = "configmaps-billing/configmap.yaml"
        commit_file(settings, path, (settings / path).read_text().replace("EUR", "CHF"), "francs")
        # Only the second source moved: the app's one revision (the first source's) stays, and still
        # the new settings are applied, once.
        run.wait_for(
            lambda c: (
                isinstance(c, ResourceStatusChange) and c.key == key and c.status is SyncStatus.OUT_OF_SYNC
            )
        )
        run.wait_for(
            lambda c: isinstance(c, ResourceStatusChange) and c.key == key and c.status is SyncStatus.SYNCED
        )
    live = engine.live_object("billing", key)
    assert live is not None and live["data"]["CURRENCY"] == "CHF"
    audit = (tmp_path / "state" / "kubedrift" / "audit.jsonl").read_text().splitlines()
    revision = git(billing, "rev-parse", "main")
    assert [(json.loads(line)["operation"], json.loads(line)["revision"]) for line in audit] == [
        ("sync", revision),
        ("auto-sync", revision),
    ]
