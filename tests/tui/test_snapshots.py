"""Screenshots of the dashboard against the sandbox, at 80x24 (SSH) and 120x36, compared with the
accepted SVGs in __snapshots__/. Regenerate with --snapshot-update after looking at the new ones."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import wait_until
from tests.tui.test_dashboard import cell, loaded, table_of
from tui.app import KubedriftApp
from tui.settings import TuiSettings
from tui.widgets import status_bar

# 2025-01-02 03:04:05 UTC: the time the status line shows for the last Git read.
PINNED_CLOCK = 1735787045.0


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(status_bar, "wall_clock", lambda: PINNED_CLOCK)


def settled(app: KubedriftApp) -> bool:
    """Every row final: shop and canary Healthy, staging Missing, commit subjects read."""
    if not loaded(app):
        return False
    rows = table_of(app).rows_by_app
    healthy = all(rows[name].health == "Healthy" for name in ("shop", "canary"))
    return healthy and all(row.subject for row in rows.values())


async def until_settled(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, KubedriftApp)
    await wait_until(pilot, lambda: settled(app), "every row to settle")
    assert cell(app, "staging", "health") == "∅ Missing"


def test_dashboard_80x24(snap_compare: Callable[..., bool], settings_for: Callable[..., TuiSettings]) -> None:
    assert snap_compare(KubedriftApp(settings_for()), terminal_size=(80, 24), run_before=until_settled)


def test_dashboard_120x36(
    snap_compare: Callable[..., bool], settings_for: Callable[..., TuiSettings]
) -> None:
    assert snap_compare(KubedriftApp(settings_for()), terminal_size=(120, 36), run_before=until_settled)


def test_dashboard_read_only_80x24(
    snap_compare: Callable[..., bool], settings_for: Callable[..., TuiSettings]
) -> None:
    app = KubedriftApp(settings_for(read_only=True, theme="ansi"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=until_settled)
