"""Screenshots of the real kubedrift against the demo, by Pilot: `python screenshots/make_screenshots.py`.

It starts the demo's sandbox and sample repository in this process (`tui.demo.DemoWorkspace`),
makes a little history and drift, then runs `KubedriftApp` once per shot with `App.run_test` and
writes the SVGs beside this file. Every shot it cannot make is named on stderr, with the reason,
and the exit code is then 1: nothing is skipped silently.

The same run gives the same pictures: Git dates are pinned (so SHAs repeat), the drift is seeded,
the sandbox's generated pod names are seeded, the clock the status line reads is pinned, and the
demo's temp folder is shown under one fixed name. A sync is caught mid-way by holding it at a chosen
wait (`held_sync.py`), never by racing it.

The last two shots change the demo's world first: a Git commit to datastore, synced by hand by waves
(`sync-waves.svg`), then Argo Rollouts' CRD and a canary Rollout in shop (`canary_world.py`,
`app-rollout.svg`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import random
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

OUT_DIR = Path(__file__).resolve().parent
ROOT = OUT_DIR.parent
sys.path.insert(0, str(ROOT))
# Before Textual is imported: toasts and screens appear at once instead of sliding in.
os.environ["TEXTUAL_ANIMATIONS"] = "none"
os.environ["TZ"] = "UTC"
time.tzset()

import canary_world  # noqa: E402  (beside this script)
from held_sync import HeldSync  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

import core.actions  # noqa: E402
import sandbox.write_pipeline  # noqa: E402
import tui.actions  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.model import Health, ResourceKey  # noqa: E402
from tui.app import KubedriftApp  # noqa: E402
from tui.demo import DemoWorkspace, tui_settings  # noqa: E402
from tui.demo.drift import Drifter, DriftKind  # noqa: E402
from tui.demo.sample_repo import DATASTORE, SHOP  # noqa: E402
from tui.screens.confirm import ConfirmScreen  # noqa: E402
from tui.screens.dashboard import DashboardScreen  # noqa: E402
from tui.screens.help import HelpScreen  # noqa: E402
from tui.settings import TuiSettings  # noqa: E402
from tui.themes import SHIPPED_ORDER  # noqa: E402
from tui.widgets import status_bar  # noqa: E402
from tui.widgets.app_table import AppTable  # noqa: E402

if TYPE_CHECKING:
    from tui.screens.app_detail import AppDetailScreen

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
DATASTORE_SERVICE = ResourceKey("", "Service", DATASTORE.namespace, "db")
DATASTORE_SERVICE_FILE = f"{DATASTORE.path}/service.yaml"
HELD_AT = "Sync wave 0: waiting for"
"""The sync-waves shot is taken while a sync of datastore waits for its wave 0 to be Healthy."""

Step = Callable[[KubedriftApp, Pilot[int]], Awaitable[None]]
World = Callable[[DemoWorkspace], None]


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
    world: World | None = None
    """What changes in the demo just before this shot; every later shot sees it too."""
    manual: tuple[str, ...] = ()
    """Apps whose auto-sync is off for the shot's session, as `a` turns it off: a person syncs them."""
    after: Step | None = None
    """What is done once the picture is saved (or failed), before the app exits."""


HELD_SYNC = HeldSync(hold_at_most=WAIT_SECONDS)


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


def dashboard_loaded(app: KubedriftApp) -> bool:
    """Every row listed with its commit subject, whatever its health."""
    if not isinstance(app.screen, DashboardScreen):
        return False
    rows = app.screen.query_one(AppTable).rows_by_app.values()
    return bool(rows) and all(row.subject and row.health != "Loading" for row in rows)


async def open_app(app: KubedriftApp, pilot: Pilot[int], name: str) -> AppDetailScreen:
    from tui.screens.app_detail import AppDetailScreen

    await wait_until(pilot, lambda: dashboard_loaded(app), "the dashboard's rows")
    table = app.screen.query_one(AppTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, AppDetailScreen), f"the screen of {name}")
    screen = app.screen
    assert isinstance(screen, AppDetailScreen)
    return screen


async def sync_by_waves(app: KubedriftApp, pilot: Pilot[int]) -> None:
    from tui.widgets.diff_view import DiffView
    from tui.widgets.resource_tree import ResourceTree
    from tui.widgets.status_bar import StatusBar

    screen = await open_app(app, pilot, DATASTORE.name)
    tree = screen.query_one(ResourceTree)
    diff = screen.query_one(DiffView)
    await wait_until(
        pilot,
        lambda: tree.highlighted_key == DATASTORE_SERVICE and "publishNotReadyAddresses" in diff.text,
        "the Service's change from Git",
    )
    HELD_SYNC.arm(app, HELD_AT)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the sync confirmation")
    await pilot.press("y")
    await wait_until(pilot, HELD_SYNC.held.is_set, f"the sync to reach {HELD_AT!r}")
    bar = screen.query_one(StatusBar)
    await wait_until(pilot, lambda: "wave 0" in str(bar.render()), "the progress line")
    await pilot.pause(0.3)


async def let_the_sync_finish(app: KubedriftApp, pilot: Pilot[int]) -> None:
    from tui.screens.app_detail import AppDetailScreen
    from tui.widgets.event_log import EventLog

    HELD_SYNC.release()
    if not isinstance(app.screen, AppDetailScreen):
        return
    log = app.screen.query_one(EventLog)
    await wait_until(pilot, lambda: any("sync: " in text for text in log.texts), "the sync's result")


def datastore_commit(workspace: DemoWorkspace) -> None:
    """A Git commit to datastore's Service, which syncs in the last wave: while the sync waits on
    wave 0 nothing it applied has changed, so the event log holds only the sync's own lines."""
    pin_git_date(3)
    documents = workspace.repo.read(DATASTORE_SERVICE_FILE)
    documents[0]["spec"]["publishNotReadyAddresses"] = True
    workspace.repo.commit(DATASTORE_SERVICE_FILE, documents, "datastore: publish db-0 before it is ready")


def canary(workspace: DemoWorkspace) -> None:
    pin_git_date(4)
    canary_world.build(workspace)


async def rollout(app: KubedriftApp, pilot: Pilot[int]) -> None:
    from tui.widgets.resource_tree import ResourceTree
    from tui.widgets.rollout_panel import RolloutPanel

    screen = await open_app(app, pilot, SHOP.name)
    tree = screen.query_one(ResourceTree)

    def paused() -> bool:
        entry = tree.entries.get(canary_world.CHECKOUT)
        return entry is not None and entry.health == "Suspended"

    await wait_until(pilot, paused, "the paused Rollout in the tree")
    # shop's sync took web back to Git's replicas: the pod it scaled away must be gone first.
    await wait_until(
        pilot,
        lambda: sum(1 for key in tree.entries if key.kind == "Pod") == 3,
        "web's three pods",
    )
    tree.highlight(canary_world.CHECKOUT)
    panel = screen.query_one(RolloutPanel)
    await wait_until(pilot, lambda: bool(panel.lines_shown), "the rollout panel")
    await pilot.pause(0.3)


SHOTS = (
    Shot("dashboard.svg", WIDE, dashboard),
    Shot("app-tree-diff.svg", WIDE, app_tree_diff, needs="tui.screens.app_detail"),
    Shot("history.svg", WIDE, history, needs="tui.screens.history"),
    Shot("help.svg", WIDE, help_screen),
    Shot("sync-confirm.svg", WIDE, sync_confirm),
    Shot("read-only.svg", SSH, read_only_refusal, read_only=True, theme="ansi"),
    *(Shot(f"dashboard-{theme}.svg", WIDE, dashboard, theme=theme) for theme in SHIPPED_ORDER),
    # The two that change the demo's world come last, so the shots above never see their commits.
    Shot(
        "sync-waves.svg",
        WIDE,
        sync_by_waves,
        world=datastore_commit,
        manual=(DATASTORE.name,),
        after=let_the_sync_finish,
    ),
    Shot("app-rollout.svg", WIDE, rollout, world=canary),
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


def hold_syncs_here() -> None:
    """Every sync's waiter asks `HELD_SYNC` first, and the TUI shows every progress line it is given
    (not at most ten a second), so the line a held sync shows is the last one it reached."""
    core.actions.SyncWaiter = HELD_SYNC.waiter  # type: ignore[attr-defined,assignment]
    tui.actions.PROGRESS_PER_SECOND = math.inf  # type: ignore[assignment]


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
        workspace.sync_all(apps=[SHOP.name])
        workspace.wait_until_settled()
        pin_git_date(2)
        drifter.perform(DriftKind.GIT_COMMIT, "reports")
        drifter.perform(DriftKind.SCALE, "shop")
    finally:
        drifter.close()
    wait_until_healthy(workspace)


def wait_until_healthy(workspace: DemoWorkspace) -> None:
    """Until the scaled Deployment's new pods are ready: a first shot that saw it Progressing would
    size the dashboard's HEALTH column for that word."""
    deadline = time.monotonic() + WAIT_SECONDS

    def healthy() -> bool:
        statuses = workspace.engine(watch_tree=False).evaluate()
        return all(status.health is Health.HEALTHY for status in statuses)

    while not healthy():
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting for every app to be Healthy")
        time.sleep(0.1)


def settings_for(workspace: DemoWorkspace, shot: Shot) -> TuiSettings:
    settings = tui_settings(workspace, read_only=shot.read_only, theme=shot.theme)
    banner = (settings.banner or "").replace(str(workspace.root), SHOWN_DEMO_FOLDER)
    make_engine = settings.engine_factory
    if not shot.manual or make_engine is None:
        return replace(settings, banner=banner)

    def engine() -> Engine:
        made = make_engine()
        for name in shot.manual:  # before the engine runs, so automation never sees them automated
            made.set_policy(name, automated=False)
        return made

    return replace(settings, banner=banner, engine_factory=engine)


async def take(workspace: DemoWorkspace, shot: Shot) -> None:
    if shot.world is not None:
        shot.world(workspace)
    app = KubedriftApp(settings_for(workspace, shot))
    async with app.run_test(size=shot.size, notifications=True) as pilot:
        try:
            await shot.steps(app, pilot)
            app.save_screenshot(shot.file, str(OUT_DIR))
        finally:
            if shot.after is not None:
                await shot.after(app, pilot)


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
    hold_syncs_here()
    with DemoWorkspace.create() as workspace:
        # No user themes from the real home folder in the pictures.
        os.environ["XDG_CONFIG_HOME"] = str(workspace.root / "config")
        # shop's pods first, on their own: datastore's hook makes a pod too, and the seeded names
        # must go out in the same order every run.
        workspace.sync_all(apps=[SHOP.name])
        workspace.wait_until_settled(apps=[SHOP.name])
        workspace.sync_all()
        workspace.wait_until_settled()
        prepare(workspace)
        failures = asyncio.run(take_all(workspace))
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
