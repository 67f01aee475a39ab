"""A chart app rendered at a past version (a rollback, `sync --revision`) is built from that version's
files, not from the version its targetRevision resolves to now; the next load is the current one again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.desired_state import AppDesiredState
from core.model import App, Destination, ResourceKey, Source
from core.source_options import SourceOptions
from tests.unit.test_chart_repository import ChartServer

KEY = ResourceKey("", "ConfigMap", "default", "settings-settings")


@pytest.fixture
def charts() -> Iterator[ChartServer]:
    server = ChartServer()
    server.publish("settings", "1.0.0", "1.1.0")
    yield server
    server.httpd.shutdown()


def test_a_past_chart_version_renders_its_own_files(
    charts: ChartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source = Source(f"{charts.url}/charts", "1.*", ".", options=SourceOptions(chart="settings"))
    loader = AppDesiredState(App("settings", source, Destination(namespace="default")))

    now = loader.load()
    past = loader.load("1.0.0")
    again = loader.load()

    assert [state.errors for state in (now, past, again)] == [(), (), ()]
    versions = [state.objects[KEY]["data"]["chartVersion"] for state in (now, past, again)]
    assert versions == ["1.1.0", "1.0.0", "1.1.0"]
    assert past.revision is not None and past.revision.startswith("1.0.0 (sha256:")
