"""The diff pane lists a drifted resource's recent Events under its diff (issue 15 item 5), fetched
on a thread worker, never on the UI thread; a few at most, and nothing when there are none."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from core.model import ResourceKey
from core.resource_events import RecentEvent, fetch_recent_events
from tests.tui.conftest import wait_until
from tests.tui.test_app_screen import CONFIG_MAP, WEB, diff_text, label_of, open_app, select, tree_of
from tests.tui.test_dashboard import apps_api, core_api
from tui.app import KubedriftApp
from tui.resource_diff import PANE_EVENTS
from tui.screens import app_detail
from tui.screens.app_detail import AppDetailScreen
from tui.settings import TuiSettings

HEADING = "Recent events:"


class Fetches:
    """fetch_recent_events as the screen calls it, noting which objects were asked about, on which thread."""

    def __init__(self) -> None:
        self.asked: list[tuple[ResourceKey, str]] = []

    def __call__(
        self, adapter: Any, objects: Iterable[tuple[ResourceKey, Mapping[str, Any] | None]]
    ) -> dict[ResourceKey, tuple[RecentEvent, ...]]:
        wanted = list(objects)
        self.asked += [(key, threading.current_thread().name) for key, _ in wanted]
        return fetch_recent_events(adapter, wanted)

    def about(self, key: ResourceKey) -> list[str]:
        return [thread for asked, thread in self.asked if asked == key]


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> Fetches:
    recorder = Fetches()
    monkeypatch.setattr(app_detail, "fetch_recent_events", recorder)
    return recorder


def old_event(kubeconfig_path: Path, about: dict[str, Any], name: str, minute: int) -> None:
    """An Event about `about` from long ago, as another controller would have recorded it."""
    metadata = about["metadata"]
    time = f"2026-01-01T00:{minute:02d}:00Z"
    involved = {"apiVersion": about["apiVersion"], "kind": about["kind"], "name": metadata["name"]}
    involved |= {"namespace": "shop", "uid": metadata["uid"]}
    core_api(kubeconfig_path).create_namespaced_event(
        "shop",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": "shop"},
            "involvedObject": involved,
            "reason": f"Old{minute}",
            "message": f"something from minute {minute}",
            "type": "Warning",
            "firstTimestamp": time,
            "lastTimestamp": time,
            "count": 1,
        },
    )


def events_done(pilot: Pilot[object]) -> bool:
    return all(worker.is_finished for worker in pilot.app.workers if worker.group == "events")


def shown_events(screen: AppDetailScreen) -> list[str]:
    """The lines under the heading, each indented by two spaces (a health line may follow them)."""
    lines = diff_text(screen).splitlines()
    if HEADING not in lines:
        return []
    shown = list(itertools.takewhile(lambda line: line.startswith("  "), lines[lines.index(HEADING) + 1 :]))
    return [line.strip() for line in shown]


async def test_a_drifted_deployment_lists_its_newest_events_fetched_off_the_ui_thread(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, fetches: Fetches
) -> None:
    web = apps_api(kubeconfig_path).read_namespaced_deployment("web", "shop", _preload_content=False)
    live = json.loads(web.data)
    for minute in range(1, 5):
        old_event(kubeconfig_path, live, f"web.old{minute}", minute)
    app = KubedriftApp(settings_for())
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)
        await wait_until(pilot, lambda: label_of(tree, WEB) == "web  ✓ Synced  ♥ Healthy", "web rolled out")
        fetches.asked.clear()  # while it rolled out, it was Progressing: its Events were wanted then
        await select(pilot, screen, CONFIG_MAP)
        await select(pilot, screen, WEB)
        await wait_until(pilot, lambda: events_done(pilot), "any fetch done")
        assert HEADING not in diff_text(screen), "Synced and Healthy: no Events are listed"
        assert fetches.about(WEB) == [], "nor asked for"

        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 4}})
        # The sandbox's Deployment controller records the scale-up: the newest Event about web.
        await wait_until(
            pilot,
            lambda: any("to 4" in line for line in shown_events(screen)[:1]),
            "the scale-up Event first under the diff",
        )
        shown = shown_events(screen)
        assert len(shown) == PANE_EVENTS, "a few at most, though web has more"
        assert shown[0].startswith("Normal ScalingReplicaSet")
        text = diff_text(screen)
        assert text.index("+  replicas: 2") < text.index(HEADING), "under the diff"
        assert "Old1" not in text, "the oldest are left out"
        threads = fetches.about(WEB)
        assert threads and threading.main_thread().name not in threads


async def test_a_drifted_object_without_events_shows_none(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, fetches: Fetches
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_app(pilot, "shop")
        await select(pilot, screen, CONFIG_MAP)
        core_api(kubeconfig_path).patch_namespaced_config_map(
            "web-config", "shop", {"data": {"LOG_LEVEL": "debug"}}
        )
        await wait_until(pilot, lambda: "LOG_LEVEL: debug" in diff_text(screen), "the drift")
        await wait_until(pilot, lambda: bool(fetches.about(CONFIG_MAP)), "the Events asked for")
        await wait_until(pilot, lambda: events_done(pilot), "the fetch done")
        await pilot.pause(0.1)
        assert HEADING not in diff_text(screen)
        assert diff_text(screen).splitlines()[-1].startswith("/data/LOG_LEVEL: changed by")
