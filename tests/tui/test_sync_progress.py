"""A sync with hooks and waves in the TUI: its phases and waves in the event log as they happen, its
progress line in the status bar while it runs, and its result at the end."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.sync_waves import SyncProgress
from tests.tui.conftest import git, wait_until
from tests.tui.test_app_screen import open_app
from tests.tui.test_dashboard import SIZE
from tui.app import KubedriftApp
from tui.settings import TuiSettings
from tui.widgets.event_log import EventLog
from tui.widgets.status_bar import StatusBar

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "apps" / "pre-post-sync"


def settings(root: Path, kubeconfig_path: Path) -> TuiSettings:
    repo = root / "waves-gitops"
    shutil.copytree(FIXTURE, repo / "apps" / "pps")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "guestbook with hooks")
    (root / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: pps\n"
        "    source: {repoURL: ./waves-gitops, targetRevision: main, path: apps/pps}\n"
        "    destination: {namespace: pps}\n"
        "    syncPolicy: {syncOptions: [CreateNamespace=true]}\n"
    )
    config = load_config(root / "kubedrift.yaml")
    tui_settings = TuiSettings(config)

    def engine() -> Engine:
        return Engine(
            config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=root, watch_tree=True
        )

    return dataclasses.replace(tui_settings, engine_factory=engine)


async def test_a_sync_shows_its_phases_and_waves_and_its_result(
    tmp_path: Path, kubeconfig_path: Path
) -> None:
    app = KubedriftApp(settings(tmp_path, kubeconfig_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "pps")
        lines: list[str] = []
        forward: Callable[[str, SyncProgress], None] = app.feed.sync_progressed

        def noted(name: str, progress: SyncProgress) -> None:
            if not progress.event:
                lines.append(progress.line)
            forward(name, progress)

        app.feed.sync_progressed = noted  # type: ignore[method-assign]
        await pilot.press("s", "enter")
        log = screen.query_one(EventLog)
        await wait_until(
            pilot, lambda: any("sync: " in line for line in log.texts), "the sync's result", limit=30
        )
        texts = log.texts
        ordered = [
            "PreSync: Job.batch/pps/before created",
            "PreSync: Job.batch/pps/before Succeeded",
            "Sync: Healthy",
            "PostSync: Job.batch/pps/after Succeeded",
        ]
        found = [next(index for index, text in enumerate(texts) if wanted in text) for wanted in ordered]
        assert found == sorted(found)
        result = next(text for text in texts if "sync: " in text)
        assert "5 created" in result and "failed" not in result  # the namespace, two hooks, two resources
        assert "PreSync 1/3 · wave 0 1/1" in lines and "PostSync 3/3 · wave 0 1/1" in lines
        assert "⟳" not in str(screen.query_one(StatusBar).render())  # the line goes once the sync is done


async def test_the_status_bar_shows_a_sync_under_way(tmp_path: Path, kubeconfig_path: Path) -> None:
    app = KubedriftApp(settings(tmp_path, kubeconfig_path))
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, "pps")
        app.feed.sync_progress["pps"] = "Sync 2/3 · wave 1 3/7 Deployment.apps/pps/web"
        bar = app.screen.query_one(StatusBar)
        bar.refresh_state()
        await pilot.pause()
        assert "⟳ pps: Sync 2/3 · wave 1 3/7 Deployment.apps/pps/web" in str(bar.render())
