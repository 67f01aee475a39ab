"""The engine feed: lossless coalescing, log lines for status changes, and silence when idle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from textual.message import Message
from textual.widget import Widget

from core.model import AppSync, Health, ResourceKey, SyncStatus
from core.status_events import AppStatusChange, ResourceStatusChange
from tests.tui.conftest import wait_until
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.engine_feed import EngineFeed, LogEntry, LogLevel, describe_change

TS = "2025-01-02T03:04:05.000Z"
WEB = ResourceKey("apps", "Deployment", "shop", "web")


def entry(text: str) -> LogEntry:
    return LogEntry(TS, "shop", text)


def test_a_newer_update_takes_in_what_the_older_carried() -> None:
    older = EngineFeed.Updated(frozenset({"shop"}), (entry("one"),))
    newer = EngineFeed.Updated(frozenset({"db"}), (entry("two"),))
    assert older.can_replace(newer)
    assert newer.apps == {"shop", "db"}
    assert [e.text for e in newer.entries] == ["one", "two"]
    assert not older.can_replace(Message())


def resource(
    status: SyncStatus | None, previous: SyncStatus | None, **health: Health
) -> ResourceStatusChange:
    return ResourceStatusChange(
        TS,
        "shop",
        WEB,
        status,
        health.get("now", Health.HEALTHY),
        previous,
        health.get("before", Health.HEALTHY),
    )


@pytest.mark.parametrize(
    ("change", "text", "level"),
    [
        (resource(SyncStatus.OUT_OF_SYNC, SyncStatus.SYNCED), "Deployment/web drifted from Git", "warning"),
        (
            resource(SyncStatus.MISSING, SyncStatus.SYNCED),
            "Deployment/web is missing from the cluster",
            "warning",
        ),
        (resource(SyncStatus.SYNCED, SyncStatus.OUT_OF_SYNC), "Deployment/web back in sync", "success"),
        (resource(SyncStatus.UNKNOWN, SyncStatus.SYNCED), "Deployment/web cannot be read", "error"),
        (resource(None, SyncStatus.SYNCED), "Deployment/web is no longer tracked", "info"),
        (
            resource(SyncStatus.SYNCED, SyncStatus.SYNCED, now=Health.DEGRADED),
            "Deployment/web health Degraded (was Healthy)",
            "error",
        ),
        (
            AppStatusChange(TS, "shop", AppSync.OUT_OF_SYNC, Health.HEALTHY, AppSync.SYNCED, Health.HEALTHY),
            "drift detected: the app is OutOfSync",
            "warning",
        ),
        (
            AppStatusChange(TS, "shop", AppSync.SYNCED, Health.PROGRESSING, None, None),
            "watching: Synced, Progressing",
            "info",
        ),
    ],
)
def test_status_changes_become_log_lines(change: Any, text: str, level: str) -> None:
    described = describe_change(change)
    assert described is not None
    assert (described.text, described.level, described.app, described.ts) == (
        text,
        LogLevel(level),
        "shop",
        TS,
    )


def test_quiet_changes_make_no_line() -> None:
    assert describe_change(resource(SyncStatus.OUT_OF_SYNC, SyncStatus.OUT_OF_SYNC)) is None, "details only"
    assert describe_change(resource(SyncStatus.SYNCED, None)) is None, "a new resource already in sync"


def test_self_heal_is_named_when_it_brought_a_resource_back() -> None:
    described = describe_change(resource(SyncStatus.SYNCED, SyncStatus.OUT_OF_SYNC), self_heal=True)
    assert described is not None and described.text == "Deployment/web back in sync (self-heal)"


async def test_an_idle_screen_gets_no_updates_and_does_not_repaint(
    offline_settings: Callable[..., TuiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = KubedriftApp(offline_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.feed.updates_sent > 0,
            "the first list",
        )
        await pilot.pause(0.5)
        repaints: list[Widget] = []
        original = Widget.refresh

        def counting_refresh(self: Widget, *args: Any, **kwargs: Any) -> Widget:
            repaints.append(self)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Widget, "refresh", counting_refresh)
        sent = app.feed.updates_sent
        await asyncio.sleep(2.5)  # longer than the status bar's look at the engine
        assert app.feed.updates_sent == sent
        assert repaints == []
        app.feed.log_entry(LogEntry(TS, "shop", "something happened"))
        await wait_until(pilot, lambda: app.feed.updates_sent == sent + 1, "the next update")
        assert app.feed.entries[-1].text == "something happened"
