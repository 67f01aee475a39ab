"""`event_to_screen_p95_ms`: a write to the cluster, until the dashboard has painted the change.

The real TUI (`KubedriftApp`, as `kubedrift FOLDER` starts it) runs headless under `run_test`
against the fleet. The writes are those of `engine_latency`; each sample ends at the first frame
the app renders that shows the app row's new sync word (`OutOfSync`, then `Synced` again), as
seen by a PaintProbe. The time the table's cell was updated is noted too, which splits each
sample into "to the table" (watch, engine, feed coalescing, screen) and "to the frame" (paint).

If this build has the app screen (`tui.screens.app_detail`), the time to the first frame of that
screen with the whole fleet as its resource tree is measured too.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from textual.pilot import Pilot

from benchmarks.engine_latency import fleet_engine
from benchmarks.fleet import Fleet
from benchmarks.paint_probe import PaintProbe, wait_painted
from benchmarks.summary import Summary, summarise
from core.config import zero_config
from tui.app import KubedriftApp
from tui.settings import TuiSettings
from tui.widgets.app_table import AppTable

SIZE = (120, 40)
SAMPLE_TIMEOUT = 10.0
START_TIMEOUT = 600.0
APP_SCREEN_MODULE = "tui.screens.app_detail"


@dataclass(frozen=True, slots=True)
class ScreenLatency:
    latency: Summary
    """Seconds from write to the frame showing it."""
    to_table: Summary
    """Seconds from write to the table's cell update (part of `latency`)."""
    start_seconds: float
    """From the app's start to the dashboard row leaving `Loading`."""
    timeouts: int
    tree_first_frame_seconds: float | None
    """The app screen's first frame with the whole fleet; None when this build has no app screen."""
    tree_error: str | None = None
    """Why the app screen could not be measured (it failed); the latencies stand regardless."""


class _CellLog:
    """When the app table's rows were set to repaint, and what they read (a wrapper on the one table)."""

    def __init__(self, table: AppTable) -> None:
        self.updates: list[tuple[float, str, str]] = []
        original = table.refresh_row

        def refresh_row(key: str) -> None:
            original(key)
            at = time.perf_counter()
            for column in table.columns:
                self.updates.append((at, column.key, table.get_cell(key, column.key).plain))

        table.refresh_row = refresh_row  # type: ignore[method-assign]

    def first(self, column: str, text: str, after: float) -> float | None:
        for at, key, plain in self.updates:
            if at >= after and key == column and text in plain:
                return at
        return None


def measure_screen_latency(
    fleet: Fleet, samples: int, *, seed: int = 60, with_tree: bool = True
) -> ScreenLatency:
    """The samples, then (`with_tree`) the app screen's first frame with the whole fleet."""
    return asyncio.run(_measure(fleet, samples, seed, with_tree))


async def _measure(fleet: Fleet, samples: int, seed: int, with_tree: bool) -> ScreenLatency:
    settings = TuiSettings(zero_config(fleet.folder), engine_factory=lambda: fleet_engine(fleet))
    app = KubedriftApp(settings)
    run = _Samples(fleet, random.Random(seed))
    tree: float | None = None
    tree_error: str | None = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            probe = PaintProbe(app)
            await run.take(app, pilot, probe, samples)
            try:
                tree = await _tree_first_frame(app, probe, fleet.app) if with_tree else None
            except Exception as error:  # another screen's failure must not void the latencies
                tree_error = f"{type(error).__name__}: {error}"
    except Exception as error:
        if not run.done:
            raise
        tree_error = tree_error or f"the app failed after the samples: {type(error).__name__}: {error}"
    await asyncio.to_thread(fleet.undo_drift)
    return ScreenLatency(
        summarise(run.latencies),
        summarise(run.to_table),
        run.start_seconds,
        run.timeouts,
        tree,
        tree_error,
    )


class _Samples:
    """The write-to-frame samples of one run of the app."""

    def __init__(self, fleet: Fleet, rng: random.Random) -> None:
        self.fleet = fleet
        self.rng = rng
        self.latencies: list[float] = []
        self.to_table: list[float] = []
        self.timeouts = 0
        self.start_seconds = math.nan
        self.done = False

    async def take(self, app: KubedriftApp, pilot: Pilot[Any], probe: PaintProbe, samples: int) -> None:
        started = time.perf_counter()
        table = await _dashboard_table(app)
        while (row := table.rows_by_app.get(self.fleet.app)) is None or row.sync == "Loading":
            if time.perf_counter() - started > START_TIMEOUT:
                raise TimeoutError("the dashboard never left Loading")
            await asyncio.sleep(0.05)
        self.start_seconds = time.perf_counter() - started
        await pilot.pause(1.0)  # let the watches open and the start-up burst settle
        cells = _CellLog(table)
        for index in self.fleet.drift_targets((samples + 1) // 2, seed=self.rng.randrange(1 << 30)):
            for drifted, word in ((True, "OutOfSync"), (False, "Synced")):
                await asyncio.sleep(self.rng.uniform(0.02, 0.15))
                painted = probe.next_paint(word)
                sent = await asyncio.to_thread(_timed_write, self.fleet, index, drifted)
                at = await wait_painted(painted, SAMPLE_TIMEOUT)
                if at is None:
                    self.timeouts += 1
                    self.latencies.append(SAMPLE_TIMEOUT)
                    continue
                self.latencies.append(at - sent)
                cell_at = cells.first("sync", word, sent)
                if cell_at is not None:
                    self.to_table.append(cell_at - sent)
        self.done = True


def _timed_write(fleet: Fleet, index: int, drifted: bool) -> float:
    sent = time.perf_counter()
    fleet.set_drift(index, drifted)
    return sent


async def _dashboard_table(app: KubedriftApp) -> AppTable:
    for _ in range(int(START_TIMEOUT / 0.02)):
        tables = app.screen.query(AppTable)
        if tables:
            return tables.first()
        await asyncio.sleep(0.02)
    raise TimeoutError("the dashboard never showed its table")


async def _tree_first_frame(app: KubedriftApp, probe: PaintProbe, name: str) -> float | None:
    if importlib.util.find_spec(APP_SCREEN_MODULE) is None:
        return None
    screen_class = importlib.import_module(APP_SCREEN_MODULE).AppDetailScreen
    start = time.perf_counter()
    painted = probe.next_paint(screen_type=screen_class)
    app.push_screen(screen_class(name))
    at = await wait_painted(painted, START_TIMEOUT)
    return None if at is None else at - start
