"""Start-up order: the dashboard's first frame comes before the engine connects, lists and loads Git."""

from __future__ import annotations

import asyncio
from typing import Any

from core.config import Config
from core.engine import Engine, Publish
from core.model import App, Destination, Source
from tests.tui.conftest import wait_until
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings


class RecordingEngine(Engine):
    """An engine that only notes when it was started, and idles until stopped."""

    def __init__(self, config: Config, moments: list[str]) -> None:
        super().__init__(config, None)
        self.moments = moments

    async def run(self, publish: Publish, stop: asyncio.Event) -> None:
        self.moments.append("engine started")
        await stop.wait()


async def test_the_dashboard_is_painted_before_the_engine_starts() -> None:
    apps = tuple(App(f"app-{n}", Source(f"./apps/app-{n}", "", "."), Destination()) for n in range(3))
    config = Config(apps=apps)
    moments: list[str] = []
    engine = RecordingEngine(config, moments)
    app = KubedriftApp(TuiSettings(config, engine_factory=lambda: engine))
    # Frames of a headless app end in `_display`, as the benchmarks' first-frame probe reads them.
    shown = app._display

    def display(screen: Any, renderable: Any) -> None:
        shown(screen, renderable)
        if renderable is not None and isinstance(screen, DashboardScreen) and not moments:
            moments.append("dashboard painted")

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "engine started" in moments, "the engine to start")
        app.feed.start()  # a second start is a no-op
        await pilot.pause()
    assert moments == ["dashboard painted", "engine started"]
