"""The app screen on the sandbox: the tree with owned Pods, live drift without a keypress, the diff
(masked Secrets, ignored fields marked), the filter, help, themes, idleness and NO_COLOR. Actions
taken from it are in test_app_actions.py; the widgets alone in test_resource_tree.py."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets.tree import TreeNode

from core.config import Config, load_config
from core.model import ResourceKey
from tests.tui.conftest import CONFIG, wait_until
from tests.tui.test_dashboard import SIZE, apps_api, core_api, highlight, loaded
from tui.app import KubedriftApp
from tui.screens.app_detail import AppDetailScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.settings import TuiSettings
from tui.widgets.diff_view import DiffView
from tui.widgets.event_log import EventLog
from tui.widgets.resource_tree import NodeData, ResourceTree

WEB = ResourceKey("apps", "Deployment", "shop", "web")
SECRET = ResourceKey("", "Secret", "shop", "db-credentials")
CONFIG_MAP = ResourceKey("", "ConfigMap", "shop", "web-config")
APP_SCREEN_IDS = {
    "diff",
    "sync",
    "prune",
    "toggle_self_heal",
    "toggle_auto_sync",
    "refresh",
    "filter",
    "history",
    "back",
    "theme",
    "help",
    "quit",
}


# Helpers shared with the history and snapshot tests.


async def open_app(pilot: Pilot[object], name: str) -> AppDetailScreen:
    """From the dashboard, once loaded: highlight `name` and press enter."""
    app = pilot.app
    assert isinstance(app, KubedriftApp)
    await wait_until(pilot, lambda: loaded(app), "the first list")
    await highlight(app, name)
    await pilot.press("enter")
    assert isinstance(app.screen, AppDetailScreen)
    return app.screen


def tree_of(screen: AppDetailScreen) -> ResourceTree:
    return screen.query_one(ResourceTree)


def diff_text(screen: AppDetailScreen) -> str:
    return screen.query_one(DiffView).text


def node_of(tree: ResourceTree, key: ResourceKey) -> TreeNode[NodeData] | None:
    found: list[TreeNode[NodeData]] = []

    def walk(node: TreeNode[NodeData]) -> None:
        data = node.data
        if data is not None and getattr(data, "key", None) == key:
            found.append(node)
        for child in node.children:
            walk(child)

    walk(tree.root)
    return found[0] if found else None


def label_of(tree: ResourceTree, key: ResourceKey) -> str:
    node = node_of(tree, key)
    return "" if node is None else str(node.label)


async def select(pilot: Pilot[object], screen: AppDetailScreen, key: ResourceKey) -> None:
    """Move the tree's cursor to `key`, as arrow keys would, and wait for its diff."""
    tree = tree_of(screen)
    await wait_until(pilot, lambda: node_of(tree, key) is not None, f"a node for {key}")
    tree.highlight(key)
    await wait_until(pilot, lambda: tree.highlighted_key == key, f"the cursor on {key}")
    await wait_until(pilot, lambda: diff_text(screen).startswith(str(key)), f"the diff of {key}")


def with_ignore_rules(config: Config) -> Config:
    """The test config, with shop's Deployment replicas under ignoreDifferences."""
    assert config.path is not None
    path = config.path.parent / "ignoring.yaml"
    path.write_text(
        CONFIG.replace(
            "    destination: {namespace: shop}\n",
            "    destination: {namespace: shop}\n"
            "    ignoreDifferences:\n"
            "      - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}\n",
            1,
        )
    )
    return load_config(path)


# The tree.


async def test_the_tree_shows_kinds_resources_and_the_pods_a_deployment_owns(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)

        def pods_of(owner: ResourceKey) -> list[ResourceKey]:
            node = node_of(tree, owner)
            return [] if node is None else [c.data.key for c in node.children if hasattr(c.data, "key")]

        def replica_sets() -> list[ResourceKey]:
            return [key for key in pods_of(WEB) if key.kind == "ReplicaSet"]

        await wait_until(
            pilot,
            lambda: len(replica_sets()) == 1 and len(pods_of(replica_sets()[0])) == 2,
            "the ReplicaSet and its two Pods under the Deployment",
        )
        kinds = [str(node.label) for node in tree.root.children]
        assert kinds == ["ConfigMap (1)", "Deployment (1)", "Secret (1)", "Service (1)", "StatefulSet (1)"]
        assert str(tree.root.label) == "shop  ✓ Synced  ♥ Healthy"
        assert label_of(tree, WEB) == "web  ✓ Synced  ♥ Healthy"
        (replica_set,) = replica_sets()
        assert replica_set.name.startswith("web-")
        assert label_of(tree, replica_set).startswith(f"ReplicaSet {replica_set.name}  ")
        assert all(key.kind == "Pod" for key in pods_of(replica_set))
        await wait_until(
            pilot,
            lambda: (
                [key.name for key in pods_of(ResourceKey("apps", "StatefulSet", "shop", "db"))] == ["db-0"]
            ),
            "the StatefulSet's Pod",
        )
        pod_label = label_of(tree, pods_of(replica_set)[0])
        assert pod_label.startswith("Pod web-") and ("Healthy" in pod_label or "Progressing" in pod_label)
        assert "Synced" not in pod_label, "owned children are not in Git: no sync word"


async def test_a_cluster_change_shows_in_the_tree_and_diff_without_a_keypress(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)
        await select(pilot, screen, WEB)
        assert "In sync with Git" in diff_text(screen)
        rebuilt: list[bool] = []
        original_clear = tree.clear
        tree.clear = lambda: rebuilt.append(True) or original_clear()  # type: ignore[method-assign]
        web_node = node_of(tree, WEB)

        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})

        await wait_until(pilot, lambda: "OutOfSync" in label_of(tree, WEB), "the node to turn OutOfSync")
        await wait_until(pilot, lambda: "replicas: 5" in diff_text(screen), "the diff to follow")
        lines = diff_text(screen).splitlines()
        assert "-  replicas: 5" in lines and "+  replicas: 2" in lines
        assert lines[0].startswith("Deployment.apps/shop/web  ≠ OutOfSync  ")
        assert "Drift at /spec/replicas: - live, + Git; a sync applies the + lines." in lines
        assert str(tree.root.label).startswith("shop  ≠ OutOfSync")
        assert str(tree.root.children[1].label) == "Deployment (1) ≠1"
        assert node_of(tree, WEB) is web_node, "the node is updated in place"
        assert rebuilt == [], "one event must not rebuild the tree"
        log = screen.query_one(EventLog)
        await wait_until(
            pilot,
            lambda: any("Deployment/web drifted from Git" in line for line in log.texts),
            "the log line",
        )
        await wait_until(
            pilot,
            lambda: sum(1 for key in tree.entries if key.kind == "Pod" and key.name.startswith("web-")) == 5,
            "the new Pods to appear under the ReplicaSet",
        )


async def test_a_secret_diff_never_shows_its_values(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        hacked = base64.b64encode(b"hunter2").decode()
        core_api(kubeconfig_path).patch_namespaced_secret(
            "db-credentials", "shop", {"data": {"password": hacked}}
        )
        await wait_until(
            pilot, lambda: "OutOfSync" in label_of(tree_of(screen), SECRET), "the Secret to drift"
        )
        await select(pilot, screen, SECRET)
        text = diff_text(screen)
        assert "password: '*** (changed)'" in text or "password: *** (changed)" in text
        assert "***" in text
        for secret in ("hunter2", hacked, "s3cr3t-value", base64.b64encode(b"s3cr3t-value").decode()):
            assert secret not in text


async def test_fields_under_ignore_differences_are_marked_and_do_not_drift(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    settings = settings_for()
    app = KubedriftApp(settings_for(with_ignore_rules(settings.config)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        await select(pilot, screen, WEB)
        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})
        await wait_until(pilot, lambda: "live 5" in diff_text(screen), "the live value of the ignored field")
        lines = diff_text(screen).splitlines()
        assert "⊘ /spec/replicas  live 5 · git 2" in lines
        assert any(line.startswith("⊘ ignored by ignoreDifferences") for line in lines)
        assert "In sync with Git: a sync would change nothing here." in lines
        assert "Synced" in label_of(tree_of(screen), WEB)


async def test_the_filter_narrows_the_tree_by_name_or_kind_and_escape_clears_it_then_goes_back(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)
        await wait_until(pilot, lambda: len(tree.visible_keys()) >= 5, "the resources")

        def top_level() -> set[str]:
            return {str(key) for key in tree.visible_keys() if key.kind not in ("Pod", "ReplicaSet")}

        await pilot.press("slash", "w", "e", "b")
        assert top_level() == {"ConfigMap/shop/web-config", "Deployment.apps/shop/web", "Service/shop/web"}
        await pilot.press("enter")
        assert tree.has_focus, "enter keeps the filter and goes back to the tree"
        assert tree.filter_text == "web"

        await pilot.press("slash", "backspace", "backspace", "backspace", "s", "e", "c", "r", "e", "t")
        assert top_level() == {"Secret/shop/db-credentials"}, "a kind matches too"
        await pilot.press("enter", "escape")
        assert isinstance(app.screen, AppDetailScreen), "the first escape clears the filter"
        assert tree.filter_text == ""
        assert len(top_level()) == 5
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_d_focuses_the_diff_and_escape_comes_back_to_the_tree(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        await pilot.press("d")
        assert screen.query_one(DiffView).has_focus
        await pilot.press("escape")
        assert tree_of(screen).has_focus and app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_help_lists_every_binding_of_the_app_screen_and_themes_recolour_it(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert {line.id for line in app.screen.lines} == APP_SCREEN_IDS
        await pilot.press("escape")
        assert app.screen is screen

        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 3}})
        tree = tree_of(screen)
        await wait_until(pilot, lambda: "OutOfSync" in str(tree.root.label), "the drift")

        def drift_colour() -> str:
            label = tree.root.label
            assert isinstance(label, Text)
            (span,) = [span for span in label.spans if label.plain[span.start : span.end] == "≠ OutOfSync"]
            return str(span.style)

        before, theme = drift_colour(), app.theme
        await pilot.press("t")
        assert app.theme != theme
        await wait_until(pilot, lambda: drift_colour() != before, "the tree to take the new theme's colours")


async def test_an_idle_app_screen_changes_nothing_when_looked_at_again(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)
        await wait_until(
            pilot,
            lambda: (
                sum(1 for e in tree.entries.values() if e.key.kind == "Pod" and e.health == "Healthy") == 3
            ),
            "the Pods, Healthy",
        )
        await select(pilot, screen, WEB)
        await pilot.pause(0.3)
        relabelled: list[object] = []
        written: list[object] = []
        for node in [tree.root, *(node_of(tree, key) for key in tree.entries)]:
            assert node is not None
            node.set_label = relabelled.append  # type: ignore[method-assign]
        screen.query_one(DiffView).write = lambda *args, **kwargs: written.append(args)  # type: ignore[method-assign]
        for _ in range(3):
            screen._show_tree()  # what the children poll does every few seconds
        assert relabelled == [] and written == [], "nothing changed, so nothing is repainted"


async def test_the_app_screen_reads_without_colour(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = KubedriftApp(settings_for())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_app(pilot, "shop")
        await select(pilot, screen, WEB)
        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 4}})
        await wait_until(pilot, lambda: "replicas: 4" in diff_text(screen), "the drift")
        # At 80x24 the diff may run past the pane (who changed it and recent Events follow it):
        # scroll it by keyboard to the changed line.
        shown = screen.query_one(DiffView).lines_shown
        await pilot.press("d", *["down"] * shown.index("-  replicas: 4"))
        await pilot.pause(0.2)
        shot = app.export_screenshot()
        assert app.no_color
        for words in ("≠&#160;OutOfSync", "-&#160;&#160;replicas:&#160;4", "+&#160;&#160;replicas:&#160;2"):
            assert words in shot
        assert app.theme_variables["warning"].lower() not in shot.lower(), "no status colour is drawn"
