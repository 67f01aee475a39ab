"""An event storm (1,000 status changes a second for 5 s) while keys are pressed: every key is handled
during the storm, and the screens get a bounded number of coalesced updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.message import Message

from core.model import Health, ResourceKey, SyncStatus
from core.status_events import ResourceStatusChange, StatusChange
from tests.tui.conftest import wait_until
from tests.tui.test_dashboard import SIZE, loaded, table_of
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.settings import TuiSettings
from tui.widgets.engine_feed import EngineFeed

EVENTS_PER_SECOND = 1000
STORM_SECONDS = 5.0
BATCH = 10
APPS = ("shop", "staging", "canary")


def synthetic_batch(round_number: int) -> list[StatusChange]:
    """BATCH resource changes that flip between OutOfSync and Synced, so each makes a log line."""
    changes: list[StatusChange] = []
    for index in range(BATCH):
        drifted = (round_number + index) % 2 == 0
        status, previous = (
            (SyncStatus.OUT_OF_SYNC, SyncStatus.SYNCED)
            if drifted
            else (SyncStatus.SYNCED, SyncStatus.OUT_OF_SYNC)
        )
        key = ResourceKey("", "ConfigMap", "shop", f"storm-{index}")
        app = APPS[(round_number + index) % len(APPS)]
        changes.append(
            ResourceStatusChange(
                "2025-01-01T00:00:00.000Z", app, key, status, Health.HEALTHY, previous, Health.HEALTHY
            )
        )
    return changes


async def test_keys_are_handled_during_an_event_storm(settings_for: Callable[..., TuiSettings]) -> None:
    delivered: list[Message] = []

    def hook(message: Message) -> None:
        if isinstance(message, EngineFeed.Updated):
            delivered.append(message)

    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        table = table_of(app)
        table.move_cursor(row=0)
        published = 0
        updates_before = app.feed.updates_sent

        async def storm() -> None:
            nonlocal published
            start = time.monotonic()
            rounds = int(EVENTS_PER_SECOND * STORM_SECONDS / BATCH)
            for round_number in range(rounds):
                app.feed.publish(synthetic_batch(round_number))
                published += BATCH
                # Keep to the schedule: 1,000 events a second, whatever the keys cost.
                delay = start + (round_number + 1) * BATCH / EVENTS_PER_SECOND - time.monotonic()
                await asyncio.sleep(max(0.0, delay))

        storm_task = asyncio.create_task(storm())
        started = time.monotonic()
        handled_during_storm = 0
        toggles = 0
        cycle = 0

        async def press(key: str) -> None:
            nonlocal handled_during_storm
            await pilot.press(key)
            if not storm_task.done():
                handled_during_storm += 1

        while not storm_task.done():
            cycle += 1
            await press("down")
            assert table.cursor_row == 1
            await press("h")
            toggles += 1
            await press("up")
            assert table.cursor_row == 0
            if cycle % 3 == 0:
                await press("question_mark")
                assert isinstance(app.screen, HelpScreen)
                await press("escape")
                assert isinstance(app.screen, DashboardScreen)
        await storm_task
        elapsed = time.monotonic() - started
        await pilot.pause(0.2)

        assert published == EVENTS_PER_SECOND * STORM_SECONDS
        # Pilot waits for the app to go idle after each key, which a storm delays: the count is small,
        # but every one of these keys was handled (asserted above) before the storm ended.
        assert handled_during_storm >= 5, "keys were handled while the storm was still running"
        # Every h press toggled self-heal of the app on row 1, and none was lost.
        assert app.engine.apps["staging"].app.sync_policy.self_heal is (toggles % 2 == 1)
        updates = app.feed.updates_sent - updates_before
        assert 1 <= updates <= elapsed * EngineFeed.MAX_UPDATES_PER_SECOND + 2
        assert len(delivered) < published / 10, "updates are coalesced, never one per event"
        assert len(delivered) <= 2 * updates, "one Updated per screen (the dashboard, and help when open)"
        assert app.feed.changes_seen >= published
        assert len(app.feed.entries) == EngineFeed.LOG_SIZE, "the log stays bounded"
