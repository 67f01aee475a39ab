"""Screenshots of the real kubedrift against the demo, by Pilot: `python screenshots/make_screenshots.py`.

It starts the demo's sandbox and sample repository in this process (`tui.demo.DemoWorkspace`),
makes a little history and drift, then runs `KubedriftApp` once per shot with `App.run_test` and
writes the SVGs beside this file. Every shot it cannot make is named on stderr, with the reason,
and the exit code is then 1: nothing is skipped silently.

The same run gives the same pictures: Git dates are pinned (so SHAs repeat), the drift is seeded,
the sandbox's generated pod names are seeded, the clock the status line reads is pinned, and the
demo's temp folder is shown under one fixed name.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent
ROOT = OUT_DIR.parent
sys.path.insert(0, str(ROOT))
# Before Textual is imported: toasts and screens appear at once instead of sliding in.
os.environ["TEXTUAL_ANIMATIONS"] = "none"
os.environ["TZ"] = "UTC"
time.tzset()

from textual.pilot import Pilot  # noqa: E402

import sandbox.write_pipeline  # noqa: E402
from core.model import ResourceKey  # noqa: E402
from tui.app import KubedriftApp  # noqa: E402
from tui.demo import DemoWorkspace, tui_settings  # noqa: E402
from tui.demo.drift import Drifter, DriftKind  # noqa: E402
from tui.screens.confirm import ConfirmScreen  # noqa: E402
from tui.screens.dashboard import DashboardScreen  # noqa: E402
from tui.screens.help import HelpScreen  # noqa: E402
from tui.settings import TuiSettings  # noqa: E402
from tui.themes import SHIPPED_ORDER  # noqa: E402
from tui.widgets import status_bar  # noqa: E402
from tui.widgets.app_table import AppTable  # noqa: E402

WIDE = (120, 36)
SSH = (80, 24)
SEED = 7
WAIT_SECONDS = 30.0
# 2025-03-04 09:30:00 UTC, then a day per commit: the sample repository's history.
FIRST_COMMIT = 1741080600
DAY = 86400
SHOWN_DEMO_FOLDER = "/tmp/kubedrift-demo-3x7q1p"
CLOCK_READERS = (
    "core.engine_messages",
    "core.engine_liveness",
    "tui.widgets.engine_feed",
    "tui.actions",
    "tui.screens.dashboard",
)
SCALED = ResourceKey("apps", "Deployment", "shop", "web")
"""What `prepare` drifts by hand, and what the app screen shot shows."""

Step = Callable[[KubedriftApp, Pilot[int]], Awaitable[None]]


@dataclass(frozen=True)
class Shot:
    """One SVG: which settings, which size, and the keys or calls that lead to the picture."""

    file: str
    size: tuple[int, int]
    steps: Step
    read_only: bool = False
    theme: str | None = None
    needs: str | None = None
    """A module that must exist for this shot (a screen still being built)."""


# Reaching the picture.


async def wait_until(pilot: Pilot[int], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await pilot.pause(0.05)


def dashboard_settled(app: KubedriftApp) -> bool:
    """Every row final: statuses listed, every workload Healthy, every commit subject read."""
    if not isinstance(app.screen, DashboardScreen):
        return False
    rows = app.screen.query_one(AppTable).rows_by_app.values()
    return bool(rows) and all(row.health == "Healthy" and row.subject for row in rows)


async def settle(app: KubedriftApp, pilot: Pilot[int]) -> None:
    await wait_until(pilot, lambda: dashboard_settled(app), "the dashboard to settle")
    await pilot.pause(0.3)  # let the status line's first poll and the last repaint land


async def dashboard(app: KubedriftApp, pilot: Pilot[int]) -> None:
    await settle(app, pilot)


async def help_screen(app: KubedriftApp, pilot: Pilot[int]) -> None:
    await settle(app, pilot)
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
    await pilot.pause(0.2)


async def sync_confirm(app: KubedriftApp, pilot: Pilot[int]) -> None:
    await settle(app, pilot)
    await pilot.press("s")  # the shop row is highlighted first, and shop has drifted
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the sync confirmation")
    await pilot.pause(0.2)


async def read_only_refusal(app: KubedriftApp, pilot: Pilot[int]) -> None:
    await settle(app, pilot)
    await pilot.press("s")
    await wait_until(pilot, lambda: bool(app._notifications), "the read-only refusal")
    await pilot.pause(0.2)


async def app_tree_diff(app: KubedriftApp, pilot: Pilot[int]) -> None:
    from tui.screens.app_detail import AppDetailScreen
    from tui.widgets.diff_view import DiffView
    from tui.widgets.resource_tree import ResourceTree

    await settle(app, pilot)
    await pilot.press("enter")  # shop, the first row; its scaled Deployment is highlighted first

    def diff_shown() -> bool:
        screen = app.screen
        if not isinstance(screen, AppDetailScreen):
            return False
        tree = screen.query_one(ResourceTree)
        pods = [entry for entry in tree.entries.values() if entry.owned and entry.key.kind == "Pod"]
        return tree.highlighted_key == SCALED and bool(pods) and "replicas" in screen.query_one(DiffView).text

    await wait_until(pilot, diff_shown, "the app screen with the Deployment's diff")
    await pilot.pause(0.3)


async def history(app: KubedriftApp, pilot: Pilot[int]) -> None:
    from tui.screens.history import HistoryScreen
    from tui.widgets.commit_list import CommitList
    from tui.widgets.revision_delta import RevisionDelta

    await settle(app, pilot)
    await pilot.press("H")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, HistoryScreen) and app.screen.query_one(CommitList).row_count > 1,
        "the commits touching apps/shop",
    )
    commits = app.screen.query_one(CommitList)
    await pilot.press("down")  # the first commit: what rolling back to it would change
    oldest = commits.highlighted_sha
    assert oldest is not None
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    await wait_until(
        pilot,
        lambda: oldest in screen.deltas and oldest[:7] in screen.query_one(RevisionDelta).text,
        "the first commit's changes against the current revision",
    )
    await pilot.pause(0.3)


SHOTS = (
    Shot("dashboard.svg", WIDE, dashboard),
    Shot("app-tree-diff.svg", WIDE, app_tree_diff, needs="tui.screens.app_detail"),
    Shot("history.svg", WIDE, history, needs="tui.screens.history"),
    Shot("help.svg", WIDE, help_screen),
    Shot("sync-confirm.svg", WIDE, sync_confirm),
    Shot("read-only.svg", SSH, read_only_refusal, read_only=True, theme="ansi"),
    *(Shot(f"dashboard-{theme}.svg", WIDE, dashboard, theme=theme) for theme in SHIPPED_ORDER),
)


# The world the shots are taken in.


def pin_git_date(day: int) -> None:
    """GitPython reads these for every commit, so the demo's SHAs come out the same each run."""
    stamp = f"{FIRST_COMMIT + day * DAY} +0000"
    os.environ["GIT_AUTHOR_DATE"] = stamp
    os.environ["GIT_COMMITTER_DATE"] = stamp


def pin_clocks() -> None:
    """The status line's Git time and the event log's times all read one fixed moment."""
    moment = FIRST_COMMIT + 2 * DAY + 3600
    stamp = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    status_bar.wall_clock = lambda: float(moment)
    # Each module that stamps event-log lines imported the clock by name, so each gets the pinned one.
    for name in CLOCK_READERS:
        module = importlib.import_module(name)
        if hasattr(module, "rfc3339_now"):
            module.rfc3339_now = lambda: stamp  # type: ignore[attr-defined]


def seed_generated_names() -> None:
    # The sandbox names pods `<replicaset>-<5 random characters>` from `secrets`, which cannot be
    # seeded; a seeded Random in its place keeps the pod names in the tree the same on every run.
    sandbox.write_pipeline.secrets = random.Random(SEED)  # type: ignore[attr-defined,assignment]


def prepare(workspace: DemoWorkspace) -> None:
    """History for shop, a Git change not yet synced to reports, and a manual scale of shop's web."""
    drifter = Drifter.for_kubeconfig(workspace.kubeconfig_path, workspace.repo, seed=SEED)
    try:
        pin_git_date(1)
        drifter.perform(DriftKind.GIT_COMMIT, "shop")
        workspace.sync_all()
        workspace.wait_until_settled()
        pin_git_date(2)
        drifter.perform(DriftKind.GIT_COMMIT, "reports")
        drifter.perform(DriftKind.SCALE, "shop")
    finally:
        drifter.close()


def settings_for(workspace: DemoWorkspace, shot: Shot) -> TuiSettings:
    settings = tui_settings(workspace, read_only=shot.read_only, theme=shot.theme)
    banner = (settings.banner or "").replace(str(workspace.root), SHOWN_DEMO_FOLDER)
    return replace(settings, banner=banner)


async def take(workspace: DemoWorkspace, shot: Shot) -> None:
    app = KubedriftApp(settings_for(workspace, shot))
    async with app.run_test(size=shot.size, notifications=True) as pilot:
        await shot.steps(app, pilot)
        app.save_screenshot(shot.file, str(OUT_DIR))


def missing_module(shot: Shot) -> str | None:
    if shot.needs is None or importlib.util.find_spec(shot.needs) is not None:
        return None
    return f"{shot.needs} does not exist yet"


async def take_all(workspace: DemoWorkspace) -> list[str]:
    """Take every shot; one line per shot that could not be made."""
    failures: list[str] = []
    for shot in SHOTS:
        reason = missing_module(shot)
        if reason is None:
            try:
                await take(workspace, shot)
            except Exception as error:
                traceback.print_exc()
                reason = f"{type(error).__name__}: {error}"
        if reason is None:
            print(f"wrote {OUT_DIR.name}/{shot.file}")
        else:
            failures.append(f"could not make {shot.file}: {reason}")
    return failures


def main() -> int:
    pin_git_date(0)
    pin_clocks()
    seed_generated_names()
    with DemoWorkspace.create() as workspace:
        # No user themes from the real home folder in the pictures.
        os.environ["XDG_CONFIG_HOME"] = str(workspace.root / "config")
        workspace.sync_all()
        workspace.wait_until_settled()
        prepare(workspace)
        failures = asyncio.run(take_all(workspace))
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
