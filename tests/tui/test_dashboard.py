"""The dashboard on the sandbox: rows, live updates in place, open and back, sync, prune, toggles, refresh."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client
from textual.screen import Screen

from core.kubeconfig import load_kubeconfig
from core.model import TRACKING_ANNOTATION, TRACKING_LABEL, TRACKING_LABEL_VALUE
from sandbox.handle import SandboxThread
from tests.tui.conftest import wait_until
from tui.app import KubedriftApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.app_table import AppTable, age_text, seconds_to_next_age
from tui.widgets.engine_feed import LogEntry

SIZE = (120, 36)


def table_of(app: KubedriftApp) -> AppTable:
    return app.screen.query_one(AppTable)


def cell(app: KubedriftApp, row: str, column: str) -> str:
    return str(table_of(app).get_cell(row, column).plain).strip()


def loaded(app: KubedriftApp) -> bool:
    if not isinstance(app.screen, DashboardScreen):
        return False
    rows = table_of(app).rows_by_app.values()
    return bool(rows) and all(row.sync != "Loading" for row in rows)


def core_api(kubeconfig_path: Path) -> client.CoreV1Api:
    return client.CoreV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))


def apps_api(kubeconfig_path: Path) -> client.AppsV1Api:
    return client.AppsV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))


async def highlight(app: KubedriftApp, name: str) -> None:
    table = table_of(app)
    table.move_cursor(row=table.get_row_index(name))
    assert table.highlighted_app == name


async def test_dashboard_shows_one_row_per_app_with_status_words(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        table = table_of(app)
        assert list(table.row_keys) == ["shop", "staging", "canary"]
        assert cell(app, "shop", "sync") == "✓ Synced"
        assert cell(app, "shop", "context") == "sandbox"
        assert cell(app, "staging", "sync") == "≠ OutOfSync"
        assert cell(app, "staging", "health") == "∅ Missing"
        # Every resource of staging is declared in Git and absent from the cluster.
        assert cell(app, "staging", "drift") == "≠0 ∅5 +0"
        assert cell(app, "shop", "policy") == "manual"
        revision = app.engine.apps["shop"].desired.revision
        assert revision is not None
        await wait_until(
            pilot, lambda: "shop: web, db" in cell(app, "shop", "revision"), "the commit subject"
        )
        assert cell(app, "shop", "revision").startswith(revision[:7])
        assert "sandbox connected" in str(app.screen.query_one("#status").render())


async def test_cluster_change_updates_the_row_in_place(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        table = table_of(app)
        rebuilt: list[bool] = []
        original_set = table.set_row_keys
        table.set_row_keys = lambda keys: rebuilt.append(True) or original_set(keys)  # type: ignore[method-assign]
        sent_before = app.feed.updates_sent
        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})
        await wait_until(pilot, lambda: cell(app, "shop", "sync") == "≠ OutOfSync", "the drift to show")
        assert cell(app, "shop", "drift").startswith("≠1")
        assert cell(app, "canary", "sync") == "✓ Synced", "other apps keep their rows"
        assert rebuilt == [], "one event must not rebuild the table"
        assert app.feed.updates_sent > sent_before
        assert any("Deployment/web drifted" in entry.text for entry in app.feed.entries)


async def test_enter_opens_the_app_screen_and_escape_comes_back(
    settings_for: Callable[..., TuiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    class AppDetailScreen(Screen[None]):
        def __init__(self, app_name: str) -> None:
            super().__init__()
            opened.append(app_name)

    module = types.ModuleType("tui.screens.app_detail")
    module.__spec__ = importlib.machinery.ModuleSpec("tui.screens.app_detail", None)
    module.AppDetailScreen = AppDetailScreen  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tui.screens.app_detail", module)

    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await highlight(app, "staging")
        await pilot.press("enter")
        assert isinstance(app.screen, AppDetailScreen)
        assert opened == ["staging"]
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("d")
        assert opened == ["staging", "staging"], "d opens the app too (on its diff)"


async def test_sync_asks_first_then_creates_what_is_missing(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await highlight(app, "staging")
        sandbox.faults.clear_request_log()
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmScreen)
        listed = {str(change.key) for change in app.screen.plan}
        assert "Deployment.apps/staging/web" in listed
        assert {change.verb for change in app.screen.plan} == {"create"}
        await pilot.press("n")
        assert isinstance(app.screen, DashboardScreen)
        assert not [r for r in sandbox.request_log if r.is_write], "cancel sends nothing"

        await pilot.press("s")
        await pilot.press("y")
        await wait_until(pilot, lambda: cell(app, "staging", "sync") == "✓ Synced", "staging to be synced")
        deployment = apps_api(kubeconfig_path).read_namespaced_deployment("web", "staging")
        assert deployment.spec.replicas == 2
        assert any(e.app == "staging" and e.text.startswith("sync: ") for e in app.feed.entries)
        assert any("created" in e.text for e in app.feed.entries if e.app == "staging")


async def test_prune_deletes_only_tracked_leftovers(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    core = core_api(kubeconfig_path)
    tracked = {TRACKING_LABEL: TRACKING_LABEL_VALUE}
    leftover = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name="old-flags",
            labels=tracked,
            annotations={TRACKING_ANNOTATION: "shop:/ConfigMap:shop/old-flags"},
        ),
        data={"a": "b"},
    )
    core.create_namespaced_config_map("shop", leftover)
    core.create_namespaced_config_map(
        "shop", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="keep-me"))
    )
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        assert cell(app, "shop", "drift") == "≠0 ∅0 +1"
        await highlight(app, "shop")
        sandbox.faults.clear_request_log()
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.prune
        assert [(str(c.key), c.verb) for c in app.screen.plan] == [("ConfigMap/shop/old-flags", "delete")]
        assert app.screen.query(".prune-warning"), "prune carries its own warning"
        await pilot.press("y")
        await wait_until(pilot, lambda: cell(app, "shop", "drift") == "≠0 ∅0 +0", "the leftover to go")
        names = {item.metadata.name for item in core.list_namespaced_config_map("shop").items}
        assert "old-flags" not in names
        assert {"keep-me", "web-config"} <= names
        deletes = [r.path for r in sandbox.request_log if r.method == "DELETE"]
        assert deletes == ["/api/v1/namespaces/shop/configmaps/old-flags"]


async def test_toggles_change_the_policy_for_the_session(settings_for: Callable[..., TuiSettings]) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await highlight(app, "canary")
        await pilot.press("h")
        assert app.engine.apps["canary"].app.sync_policy.self_heal
        assert cell(app, "canary", "policy") == "manual·heal"
        await pilot.press("a")
        assert app.engine.apps["canary"].app.sync_policy.automated
        assert cell(app, "canary", "policy") == "auto·heal"
        await pilot.press("h", "a")
        policy = app.engine.apps["canary"].app.sync_policy
        assert (policy.automated, policy.self_heal) == (False, False)
        assert app.settings.config.apps[2].sync_policy.automated is False, "the config is not changed"
        texts = [e.text for e in app.feed.entries if e.app == "canary"]
        assert "self-heal on for this session; it acts only while auto-sync is on" in texts
        assert "auto-sync off for this session" in texts


async def test_refresh_relists_the_cluster(
    settings_for: Callable[..., TuiSettings], sandbox: SandboxThread
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await pilot.pause(0.3)
        sandbox.faults.clear_request_log()

        def relisted() -> bool:
            return any(
                r.method == "GET" and r.query.get("watch") not in ("true", "1") and "/deployments" in r.path
                for r in sandbox.request_log
            )

        assert not relisted()
        await pilot.press("r")
        await wait_until(pilot, relisted, "a relist of Deployments")
        assert any(e.text.startswith("refresh:") for e in app.feed.entries)


async def test_filter_narrows_the_rows_and_escape_clears_it(settings_for: Callable[..., TuiSettings]) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await pilot.press("slash", "s", "t", "a")
        assert list(table_of(app).row_keys) == ["staging"]
        await pilot.press("enter")
        assert table_of(app).has_focus, "enter keeps the filter and goes back to the table"
        assert list(table_of(app).row_keys) == ["staging"]
        await pilot.press("escape")
        assert list(table_of(app).row_keys) == ["shop", "staging", "canary"]


async def test_a_failed_sync_is_one_sentence_in_the_log_and_a_notification(
    settings_for: Callable[..., TuiSettings], sandbox: SandboxThread
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await highlight(app, "staging")
        sandbox.faults.fail_next(resource="deployments", code=422, count=20, message="web is not valid")
        await pilot.press("s", "y")

        def results() -> list[LogEntry]:
            return [e for e in app.feed.entries if e.app == "staging" and e.text.startswith("sync")]

        await wait_until(pilot, lambda: bool(results()), "the result of the sync")
        (entry,) = results()
        assert entry.level == "error"
        assert entry.text.startswith("sync: ") and "failed" in entry.text and "\n" not in entry.text
        assert any(n.severity == "error" and "failed" in n.message for n in app._notifications)


@pytest.mark.parametrize(
    ("seconds", "text", "next_change"),
    [
        (0, "<1m", 60),
        (59.5, "<1m", 0.5),
        (61, "1m", 59),
        (3599, "59m", 1),
        (3600, "1h", 3600),
        (90000, "1d", 82800),
    ],
)
def test_ages_are_coarse_and_know_when_they_change(seconds: float, text: str, next_change: float) -> None:
    assert age_text(seconds) == text
    assert seconds_to_next_age(seconds) == pytest.approx(next_change)
    assert age_text(seconds + next_change + 0.001) != text


async def test_statuses_read_without_colour(
    settings_for: Callable[..., TuiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = KubedriftApp(settings_for())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await pilot.pause(0.2)
        screen = app.export_screenshot()
        assert app.no_color
        assert "≠&#160;OutOfSync" in screen and "∅&#160;Missing" in screen and "✓&#160;Synced" in screen
        warning = app.theme_variables["warning"]
        assert warning.lower() not in screen.lower(), "no status colour is drawn"
