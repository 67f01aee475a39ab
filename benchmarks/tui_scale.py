"""Scale in the TUI (issue 6, item 2): many apps on the dashboard, and one row updated among many.

- `dashboard_first_frame_s`: `kubedrift --config` with a kubedrift.yaml of many apps (each a
  folder of ten manifests), process start to the first dashboard frame, as for `first_frame_s`.
- One row updated among `rows_small` and among `rows_large` rows: the real dashboard in-process
  with that many apps, its engine held idle so nothing else happens, then `AppTable.update_row`
  on a visible row. The cost is the main thread's CPU time from the call until the frame is
  rendered and any follow-up work is done (a quiet window's CPU is subtracted), so the wait for
  Textual's next frame tick is not counted. The figure is the ratio of the two medians; the
  small table is measured before and after the large one (A-B-A) against drifting machine load.
- The resource tree of the whole fleet is measured with the screen latency (see there).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import manifests, write_folder
from benchmarks.paint_probe import PaintProbe, wait_painted
from core.config import Config
from core.engine import Engine, Publish
from core.model import App, Destination, Source
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.app_table import AppRow, AppTable

SIZE = (120, 40)
MANIFESTS_PER_APP = 10
VISIBLE_ROWS = 20
FOLLOW_UP_SECONDS = 0.05
PAINT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class RowUpdates:
    rows: int
    first_frame_seconds: float
    """From the app's start (in-process, imports done) to the first dashboard frame with every row."""
    cpu_seconds: float
    """Median main-thread CPU of one row update, to the painted frame and after."""
    to_paint_seconds: float
    """Median wall time from `update_row` to the frame (includes waiting for the frame tick)."""
    samples: int


def write_many_apps(root: Path, apps: int) -> Path:
    """A kubedrift.yaml of `apps` apps, each a folder of MANIFESTS_PER_APP manifests; returns its path."""
    objects = manifests(apps * MANIFESTS_PER_APP)
    lines = ["apps:"]
    for number in range(apps):
        name = f"app-{number:04d}"
        write_folder(
            root / "apps" / name, objects[number * MANIFESTS_PER_APP : (number + 1) * MANIFESTS_PER_APP]
        )
        lines.append(f"  - name: {name}")
        lines.append(f"    source: {{repoURL: ./apps/{name}, path: .}}")
        lines.append(f"    destination: {{namespace: {name}}}")
    config = root / "kubedrift.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def measure_row_updates(rows: int, samples: int) -> RowUpdates:
    return asyncio.run(_measure(rows, samples))


async def _idle_engine_run(publish: Publish, stop: asyncio.Event) -> None:
    await stop.wait()


def _idle_engine(config: Config) -> Engine:
    engine = Engine(config, None)
    engine.run = _idle_engine_run  # type: ignore[method-assign]
    return engine


async def _measure(rows: int, samples: int) -> RowUpdates:
    apps = tuple(
        App(
            f"app-{number:05d}", Source(f"./apps/app-{number:05d}", "", "."), Destination(namespace="default")
        )
        for number in range(rows)
    )
    config = Config(apps=apps)
    app = KubedriftApp(TuiSettings(config, engine_factory=lambda: _idle_engine(config)))
    probe = PaintProbe(app)
    started = time.perf_counter()
    first_frame = probe.next_paint(screen_type=DashboardScreen, after=started)
    async with app.run_test(size=SIZE):
        painted = await wait_painted(first_frame, 600.0)
        if painted is None:
            raise TimeoutError(f"the dashboard of {rows} apps never painted")
        table = app.screen.query_one(AppTable)
        await asyncio.sleep(0.5)
        names = list(table.rows_by_app)[:VISIBLE_ROWS]
        quiet = [await _cpu_of_quiet_window() for _ in range(5)]
        costs, waits = [], []
        for sample in range(samples):
            row = table.rows_by_app[names[sample % len(names)]]
            drifted = row.sync != "OutOfSync"
            changed = dataclasses.replace(
                row, sync="OutOfSync" if drifted else "Synced", out_of_sync=int(drifted)
            )
            cpu, wait = await _update_cost(probe, table, changed)
            costs.append(cpu)
            waits.append(wait)
    return RowUpdates(
        rows,
        painted - started,
        max(0.0, statistics.median(costs) - statistics.median(quiet)),
        statistics.median(waits),
        len(costs),
    )


async def _update_cost(probe: PaintProbe, table: AppTable, row: AppRow) -> tuple[float, float]:
    cpu_start, wall_start = time.thread_time(), time.perf_counter()
    painted = probe.next_paint(after=wall_start)
    table.update_row(row)
    at = await wait_painted(painted, PAINT_TIMEOUT)
    await asyncio.sleep(FOLLOW_UP_SECONDS)
    return time.thread_time() - cpu_start, (at if at is not None else time.perf_counter()) - wall_start


async def _cpu_of_quiet_window() -> float:
    """The CPU used by a window as long as one update's, with nothing to do (the baseline)."""
    cpu_start = time.thread_time()
    await asyncio.sleep(1 / 60 + FOLLOW_UP_SECONDS)
    return time.thread_time() - cpu_start


@dataclass(frozen=True, slots=True)
class RowRatio:
    """One row updated among `rows_small`, among `rows_large`, and among `rows_small` again (A-B-A)."""

    small: RowUpdates
    large: RowUpdates
    small_again: RowUpdates

    @property
    def ratio(self) -> float:
        return row_update_ratio([self.small, self.small_again], self.large)

    def describe(self) -> list[str]:
        return describe([self.small, self.large, self.small_again])


def measure_row_ratio(rows_small: int, rows_large: int, samples: int) -> RowRatio:
    small = measure_row_updates(rows_small, samples)
    large = measure_row_updates(rows_large, samples)
    return RowRatio(small, large, measure_row_updates(rows_small, samples))


def row_update_ratio(smalls: Sequence[RowUpdates], large: RowUpdates) -> float:
    """Large over small; the small table is measured before and after the large one, and the two
    averaged, so a machine that got busier during the run does not skew the ratio."""
    small = statistics.fmean(s.cpu_seconds for s in smalls)
    return large.cpu_seconds / small if small > 0 else float("nan")


def describe(updates: Sequence[RowUpdates]) -> list[str]:
    return [
        f"{u.rows} rows: first frame {u.first_frame_seconds:.2f} s, "
        f"update {u.cpu_seconds * 1000:.1f} ms CPU, "
        f"{u.to_paint_seconds * 1000:.1f} ms to the frame (medians, n={u.samples})"
        for u in updates
    ]
