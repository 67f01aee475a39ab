"""Screenshots of the app screen, the history screen and the sync confirmation against the sandbox,
at 80x24 (SSH) and 120x36, compared with the accepted SVGs in __snapshots__/. Regenerate with
--snapshot-update after looking at the new ones.

Everything on screen is made deterministic: one app, commits with fixed dates (so fixed SHAs), Pod
names from a seeded generator, the event log's and the status line's clocks pinned.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from kubernetes import client
from textual.pilot import Pilot

from core.cluster import ClusterAdapter
from core.config import Config
from core.engine import Engine
from core.health import health_of
from core.kubeconfig import load_kubeconfig
from core.model import Health
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy
from tests.tui.conftest import git, wait_until, write_gitops
from tests.tui.test_app_screen import CONFIG_MAP, diff_text, label_of, open_app, tree_of
from tests.tui.test_snapshots import PINNED_CLOCK
from tui.app import KubedriftApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.history import HistoryScreen
from tui.settings import TuiSettings
from tui.widgets import status_bar
from tui.widgets.commit_list import CommitList
from tui.widgets.engine_feed import LogEntry
from tui.widgets.event_log import EventLog
from tui.widgets.revision_delta import RevisionDelta

SOLO_CONFIG = """\
apps:
  - name: shop
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
    destination: {namespace: shop}
"""


@pytest.fixture(autouse=True)
def pinned_clocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(status_bar, "wall_clock", lambda: PINNED_CLOCK)
    monkeypatch.setattr(LogEntry, "clock", property(lambda entry: "03:04:05"))


def settled(api: client.ApiClient) -> bool:
    """The shop's Deployment and StatefulSet are Healthy, so the app starts with no health changes."""
    apps = client.AppsV1Api(api)
    objects = [
        apps.read_namespaced_deployment("web", "shop", _preload_content=False),
        apps.read_namespaced_stateful_set("db", "shop", _preload_content=False),
    ]
    return all(health_of(json.loads(obj.data)).status is Health.HEALTHY for obj in objects)


@pytest.fixture
def solo_settings(tmp_path: Path, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> TuiSettings:
    """Only the shop app, at its second commit (three replicas), deployed and settled."""
    rng = random.Random(2025)
    monkeypatch.setattr("sandbox.write_pipeline.secrets", SimpleNamespace(choice=rng.choice))
    root = tmp_path / "solo"
    config: Config = write_gitops(root, SOLO_CONFIG)
    web = root / "gitops" / "apps" / "shop" / "web.yaml"
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 3"))
    git(root / "gitops", "commit", "-q", "-am", "web: three replicas for the sale")
    kubeconfig_path = str(sandbox.kubeconfig(tmp_path / "solo-kubeconfig"))
    api = load_kubeconfig(kubeconfig_path, environ={}).api_client("sandbox")
    deploy(ClusterAdapter(api, context="sandbox"), config)
    deadline = time.monotonic() + 20
    while not settled(api):
        assert time.monotonic() < deadline, "the shop never became Healthy"
        time.sleep(0.05)

    def engine() -> Engine:
        return Engine(config, load_kubeconfig(kubeconfig_path, environ={}), base_dir=root, watch_tree=True)

    return dataclasses.replace(TuiSettings(config, kubeconfig=kubeconfig_path), engine_factory=engine)


async def drifted_config_map(pilot: Pilot[object]) -> None:
    """Open shop, change its ConfigMap in the cluster, and wait for every pane to show it."""
    app = pilot.app
    assert isinstance(app, KubedriftApp)
    screen = await open_app(pilot, "shop")
    tree = tree_of(screen)

    def children_settled() -> bool:
        pods = [entry for entry in tree.entries.values() if entry.key.kind == "Pod"]
        return len(pods) == 4 and all(entry.health == "Healthy" for entry in pods)

    await wait_until(pilot, children_settled, "the Pods, all Healthy")
    api = load_kubeconfig(app.settings.kubeconfig, environ={}).api_client("sandbox")
    client.CoreV1Api(api).patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "debug"}})
    await wait_until(pilot, lambda: "OutOfSync" in label_of(tree, CONFIG_MAP), "the ConfigMap to drift")
    await wait_until(pilot, lambda: "LOG_LEVEL: debug" in diff_text(screen), "its diff")
    log = screen.query_one(EventLog)
    await wait_until(pilot, lambda: any("drift detected" in line for line in log.texts), "the log line")
    await pilot.pause(0.3)


async def history_with_older_commit(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, KubedriftApp)
    screen = await open_app(pilot, "shop")
    await wait_until(pilot, lambda: bool(tree_of(screen).entries), "the tree")
    await pilot.press("H")
    history = app.screen
    assert isinstance(history, HistoryScreen)
    commits = history.query_one(CommitList)
    await wait_until(pilot, lambda: commits.row_count == 2, "both commits")
    commits.move_cursor(row=1)
    delta = history.query_one(RevisionDelta)
    await wait_until(pilot, lambda: "/spec/replicas: 3 → 2" in delta.text, "the older commit's changes")
    await pilot.pause(0.3)


async def sync_confirmation(pilot: Pilot[object]) -> None:
    await drifted_config_map(pilot)
    await pilot.press("s")
    assert isinstance(pilot.app.screen, ConfirmScreen)
    await pilot.pause(0.3)


def test_app_screen_80x24(snap_compare: Callable[..., bool], solo_settings: TuiSettings) -> None:
    app = KubedriftApp(solo_settings)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drifted_config_map)


def test_app_screen_120x36(snap_compare: Callable[..., bool], solo_settings: TuiSettings) -> None:
    app = KubedriftApp(solo_settings)
    assert snap_compare(app, terminal_size=(120, 36), run_before=drifted_config_map)


def test_history_80x24(snap_compare: Callable[..., bool], solo_settings: TuiSettings) -> None:
    app = KubedriftApp(solo_settings)
    assert snap_compare(app, terminal_size=(80, 24), run_before=history_with_older_commit)


def test_history_120x36(snap_compare: Callable[..., bool], solo_settings: TuiSettings) -> None:
    app = KubedriftApp(solo_settings)
    assert snap_compare(app, terminal_size=(120, 36), run_before=history_with_older_commit)


def test_sync_confirmation_80x24(snap_compare: Callable[..., bool], solo_settings: TuiSettings) -> None:
    app = KubedriftApp(solo_settings)
    assert snap_compare(app, terminal_size=(80, 24), run_before=sync_confirmation)
