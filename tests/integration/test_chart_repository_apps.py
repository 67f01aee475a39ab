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
