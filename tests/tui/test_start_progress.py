"""The dashboard shows the engine's start-up progress while its lists are under way, then hides it."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from core.api_resources import ApiResource
from core.cluster import ClusterAdapter, ListPage
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.start_lists import StartProgress
from tests.tui.conftest import wait_until
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.app_table import AppTable
from tui.widgets.start_progress import StartProgressLine, start_progress_text

PROGRESS = re.compile(r"^listing (\d+)/(\d+) kinds · ([\d,]+) objects? judged$")


class HeldDeployments(ClusterAdapter):
    """The sandbox's adapter, whose start-up list of Deployments waits until `gate` opens."""

    gate = threading.Event()

    def list_pages(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> Iterator[ListPage]:
        if resource.kind == "Deployment" and label_selector is None:
            assert self.gate.wait(30), "the test never let the Deployments through"
        yield from super().list_pages(resource, namespace, label_selector=label_selector)


def line_of(app: KubedriftApp) -> StartProgressLine:
    return app.screen.query_one(StartProgressLine)


def text_of(app: KubedriftApp) -> str:
    return str(line_of(app).content)


def rows_loading(app: KubedriftApp) -> bool:
    rows = app.screen.query_one(AppTable).rows_by_app.values()
    return bool(rows) and all(row.sync == "Loading" for row in rows)


async def test_progress_shows_while_lists_are_pending_and_goes_once_every_app_is_evaluated(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    settings = settings_for()
    kubeconfig = load_kubeconfig(str(kubeconfig_path), environ={})
    gate = threading.Event()

    def adapter(context: str, read_only: bool) -> ClusterAdapter:
        held = HeldDeployments(kubeconfig.api_client(context), context=context, read_only=read_only)
        held.gate = gate
        return held

    def engine() -> Engine:
        return Engine(
            settings.config,
            kubeconfig,
            adapter_factory=adapter,
            base_dir=settings.config.path.parent if settings.config.path else None,
        )

    app = KubedriftApp(dataclasses.replace(settings, engine_factory=engine))
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            assert isinstance(app.screen, DashboardScreen)

            def listing() -> bool:
                match = PROGRESS.match(text_of(app))
                return match is not None and int(match[1]) == int(match[2]) - 1 and int(match[3]) > 0

            await wait_until(pilot, listing, "every kind but Deployments listed")
            assert line_of(app).display, "the line shows while the lists are under way"
            assert rows_loading(app), "no verdict before every kind is listed"
            progress = app.engine.start_progress
            assert text_of(app) == start_progress_text(progress)
            assert not progress.evaluated

            gate.set()
            await wait_until(pilot, lambda: not rows_loading(app), "the apps evaluated")
            await wait_until(pilot, lambda: not line_of(app).display, "the progress line to go")
            assert line_of(app).has_class("-done")
            done = app.engine.start_progress
            assert done.evaluated and done.kinds_listed == done.kinds_to_list
    finally:
        gate.set()


def test_the_progress_text_reads_as_a_sentence() -> None:
    assert start_progress_text(StartProgress()) == "starting: reading Git and the clusters…"
    assert start_progress_text(StartProgress(7, 3, 41_500)) == "listing 3/7 kinds · 41,500 objects judged"
    assert start_progress_text(StartProgress(1, 0, 1)) == "listing 0/1 kind · 1 object judged"
