"""A chart from a Helm repository as an app (`source.chart`, `targetRevision` a version or a range):
fetched, rendered by Helm's engine, synced and Synced after; the version picked shows as the revision;
a version that does not exist is the app's one error, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_chart_repository import ChartServer
from tui.cli import main


@pytest.fixture
def charts() -> Iterator[ChartServer]:
    server = ChartServer()
    server.publish("settings", "1.0.0", "1.1.0", "2.0.0-rc.1")
    yield server
    server.httpd.shutdown()


def config(tmp_path: Path, url: str, version: str) -> list[str]:
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: settings\n"
        f"    source: {{repoURL: '{url}/charts', chart: settings, targetRevision: '{version}',\n"
        "             helm: {parameters: [{name: colour, value: amber}]}}\n"
        "    destination: {namespace: default}\n"
    )
    return ["--config", str(tmp_path / "kubedrift.yaml")]


def test_a_repository_chart_is_fetched_rendered_synced_and_synced_after(
    tmp_path: Path,
    kubeconfig_path: Path,
    charts: ChartServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    argv = [*config(tmp_path, charts.url, "1.*"), "--kubeconfig", str(kubeconfig_path)]

    assert main([*argv, "sync", "settings", "--yes"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "Synced revision 1.1.0\n" in out, "the newest stable version the range admits, not the rc"
    assert main([*argv, "check", "-o", "json"]) == 0
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    assert app["sync"] == "Synced" and app["revision"].startswith("1.1.0 (sha256:")
    ((name, kind),) = [(r["name"], r["kind"]) for r in app["resources"]]
    assert (kind, name) == ("ConfigMap", "settings-settings")
    assert (tmp_path / "cache" / "kubedrift" / "charts").is_dir()


def test_a_version_the_repository_does_not_have_is_the_apps_one_error(
    tmp_path: Path,
    kubeconfig_path: Path,
    charts: ChartServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    argv = [*config(tmp_path, charts.url, "3.0.0"), "--kubeconfig", str(kubeconfig_path)]
    assert main([*argv, "check", "-o", "json"]) == 2
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    (error,) = app["errors"]
    assert "3.0.0" in error and "1.1.0" in error and "\n" not in error, error


def test_a_chart_whose_dependencies_are_not_committed_fetches_them_as_helm_dependency_build(
    tmp_path: Path,
    kubeconfig_path: Path,
    charts: ChartServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The shape of argocd-example-apps' helm-dependency: a wrapper chart, its dependency by URL and
    # Chart.lock, no charts/ in Git.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = tmp_path / "gitops" / "wrapper"
    app.mkdir(parents=True)
    (app / "Chart.yaml").write_text(
        "apiVersion: v2\nname: wrapper\nversion: 0.1.0\n"
        f"dependencies:\n  - {{name: settings, version: '1.*', repository: '{charts.url}/charts'}}\n"
    )
    (app / "Chart.lock").write_text(
        f"dependencies:\n  - {{name: settings, version: 1.0.0, repository: '{charts.url}/charts'}}\n"
    )
    (app / "values.yaml").write_text("settings: {colour: violet}\n")
    before = sorted(p.name for p in app.iterdir())
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n  - name: wrapper\n    source: {repoURL: ./gitops, targetRevision: '', path: wrapper}\n"
    )
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    main([*argv, "check", "-o", "json"])
    (result,) = json.loads(capsys.readouterr().out)["apps"]
    assert result["errors"] == [] and [(r["kind"], r["name"]) for r in result["resources"]] == [
        ("ConfigMap", "wrapper-settings")
    ], result
    assert sorted(p.name for p in app.iterdir()) == before, "charts/ is never written into the user's folder"
    assert any("settings-1.0.0.tgz" in path for _, path, _, _ in charts.log), "the version Chart.lock pins"
