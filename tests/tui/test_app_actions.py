"""Actions taken on the app screen: sync and prune behind the confirmation, a sync that outlives the
screen, the session toggles, and read-only mode refusing all of them without a write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from core.model import TRACKING_ANNOTATION, TRACKING_LABEL, TRACKING_LABEL_VALUE, ResourceKey
from sandbox.handle import SandboxThread
from tests.tui.conftest import wait_until
from tests.tui.test_app_screen import diff_text, label_of, open_app, select, tree_of
from tests.tui.test_dashboard import SIZE, apps_api, core_api
from tui.app import KubedriftApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.event_log import EventLog
from tui.widgets.status_bar import StatusBar


async def test_sync_from_the_app_screen_asks_with_the_groups_and_changes_the_cluster(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "staging")
        await pilot.press("s")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        ((heading, mark, _, keys),) = confirm.groups()
        assert (heading, mark, len(keys)) == ("Will be created", "+", 5)
        assert "Deployment.apps/staging/web" in keys
        await pilot.press("enter")
        assert app.screen is screen
        await wait_until(
            pilot, lambda: "Synced" in str(tree_of(screen).root.label), "staging to be in sync", limit=30
        )
        assert apps_api(kubeconfig_path).read_namespaced_deployment("web", "staging").spec.replicas == 2
        log = screen.query_one(EventLog)
        await wait_until(
            pilot, lambda: any("sync: " in line for line in log.texts), "the sync result in the log"
        )
        assert any("5 created" in line for line in log.texts)


async def test_a_sync_survives_leaving_the_screen(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, "staging")
        await pilot.press("s", "y", "escape")
        assert isinstance(app.screen, DashboardScreen)
        await wait_until(
            pilot,
            lambda: any(e.app == "staging" and e.text.startswith("sync: ") for e in app.feed.entries),
            "the result of the sync started on the app screen",
            limit=30,
        )
        assert apps_api(kubeconfig_path).read_namespaced_deployment("web", "staging")


async def test_prune_from_the_app_screen_lists_the_leftover_with_its_warning(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    leftover = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name="old-flags",
            labels={TRACKING_LABEL: TRACKING_LABEL_VALUE},
            annotations={TRACKING_ANNOTATION: "shop:/ConfigMap:shop/old-flags"},
        ),
        data={"a": "b"},
    )
    core_api(kubeconfig_path).create_namespaced_config_map("shop", leftover)
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        old_flags = ResourceKey("", "ConfigMap", "shop", "old-flags")
        await wait_until(pilot, lambda: "Extraneous" in label_of(tree_of(screen), old_flags), "the leftover")
        await select(pilot, screen, old_flags)
        lines = diff_text(screen).splitlines()
        assert "Tracked for this app but not in Git: a prune deletes it (the - lines are live)." in lines
        assert "-  a: b" in lines
        sandbox.faults.clear_request_log()
        await pilot.press("p")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert [(heading, keys) for heading, _, _, keys in confirm.groups()] == [
            ("Will be pruned (deleted)", ["ConfigMap/shop/old-flags"])
        ]
        (warning,) = confirm.query(".prune-warning")
        assert "deletes the 1 object listed above" in str(warning.render())
        await pilot.press("n")
        assert app.screen is screen
        assert not [r for r in sandbox.request_log if r.is_write], "cancel sends nothing"


async def test_toggles_on_the_app_screen_change_the_policy_and_log_it(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "canary")
        await pilot.press("h", "a")
        policy = app.engine.apps["canary"].app.sync_policy
        assert (policy.automated, policy.self_heal) == (True, True)
        tree_of(screen).move_cursor(tree_of(screen).root)
        await wait_until(
            pilot, lambda: "policy: auto-sync, self-heal" in diff_text(screen), "the app summary"
        )
        log = screen.query_one(EventLog)
        await wait_until(pilot, lambda: any("auto-sync on" in line for line in log.texts), "the log lines")
        assert any("self-heal on for this session" in line for line in log.texts)


async def test_read_only_refuses_every_action_on_the_app_screen_and_writes_nothing(
    settings_for: Callable[..., TuiSettings], sandbox: SandboxThread
) -> None:
    sandbox.faults.clear_request_log()
    app = KubedriftApp(settings_for(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "staging")
        assert "READ-ONLY" in str(screen.query_one(StatusBar).render())
        assert app.sub_title == "READ-ONLY" and screen.sub_title is None, "the header keeps the marker"
        for key in ("s", "p", "h", "a"):
            before = len(app._notifications)
            await pilot.press(key)
            assert app.screen is screen, f"{key} must not open a confirmation"
            (refusal,) = list(app._notifications)[before:]
            assert "read-only" in refusal.message.lower()
        policy = app.engine.apps["staging"].app.sync_policy
        assert (policy.automated, policy.self_heal) == (False, False)
        await pilot.pause(0.5)
        assert sandbox.request_log, "the log records this session's reads"
        assert [f"{r.method} {r.path}" for r in sandbox.request_log if r.is_write] == []
