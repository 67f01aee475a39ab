"""Objects two apps declare, on screen: a ⚠ count on the dashboard, marked nodes and warnings on the
app screen, a line in the event log."""

from __future__ import annotations

from collections.abc import Callable

from core.config import Config, load_config
from core.model import ResourceKey
from tests.tui.conftest import CONFIG, wait_until
from tests.tui.test_app_screen import diff_text, label_of, open_app, select, tree_of
from tests.tui.test_dashboard import SIZE, cell, loaded
from tui.app import KubedriftApp
from tui.settings import TuiSettings

WEB = ResourceKey("apps", "Deployment", "shop", "web")
WEB_WARNING = (
    "Deployment shop/web is also declared by app shop-copy: sync will not take it over without --force, "
    "and self-heal leaves it alone"
)


def with_a_copy_of_shop(config: Config) -> Config:
    """The test config, plus `shop-copy`: the same manifests into the same namespace as shop."""
    assert config.path is not None
    path = config.path.parent / "copied.yaml"
    path.write_text(
        CONFIG + "  - name: shop-copy\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        "    destination: {namespace: shop}\n"
    )
    return load_config(path)


async def test_the_dashboard_counts_what_another_app_declares_too(
    settings_for: Callable[..., TuiSettings], config: Config
) -> None:
    app = KubedriftApp(settings_for(with_a_copy_of_shop(config)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        assert cell(app, "shop", "drift") == "≠0 ∅0 +0 ⚠5"
        assert cell(app, "shop-copy", "drift").endswith("⚠5")
        assert cell(app, "canary", "drift") == "≠0 ∅0 +0", "nothing shared: no marker"
        assert cell(app, "shop", "sync") == "✓ Synced", "a warning leaves the status as it is"


async def test_the_app_screen_marks_the_shared_objects_and_says_why(
    settings_for: Callable[..., TuiSettings], config: Config
) -> None:
    app = KubedriftApp(settings_for(with_a_copy_of_shop(config)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)
        await wait_until(pilot, lambda: "⚠" in label_of(tree, WEB), "the shared mark on web")
        assert label_of(tree, WEB) == "web  ✓ Synced  ♥ Healthy  ⚠ also in shop-copy"
        await select(pilot, screen, WEB)
        assert f"Warning: {WEB_WARNING}." in " ".join(diff_text(screen).split())

        tree.move_cursor(tree.root)
        await wait_until(pilot, lambda: diff_text(screen).startswith("shop"), "the app summary")
        summary = " ".join(diff_text(screen).split())
        assert summary.count("Warning: ") == 5 and f"Warning: {WEB_WARNING}." in summary
        logged = [entry.text for entry in app.feed.entries if entry.app == "shop"]
        assert WEB_WARNING in logged, "the event log says so too"
