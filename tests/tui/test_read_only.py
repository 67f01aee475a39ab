"""On-call mode: READ-ONLY is shown, s/p/h/a are refused with a notification, and nothing is written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from core.config import ContextSettings, load_config
from sandbox.handle import SandboxThread
from tests.tui.conftest import wait_until
from tests.tui.test_dashboard import SIZE, cell, highlight, loaded, table_of
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.status_bar import StatusBar

WRITE_KEYS = ("s", "p", "h", "a")


async def refuse_every_action(app: KubedriftApp, pilot: object, sandbox: SandboxThread) -> None:
    for key in WRITE_KEYS:
        before = len(app._notifications)
        await pilot.press(key)  # type: ignore[attr-defined]
        assert isinstance(app.screen, DashboardScreen), f"{key} must not open a confirmation"
        new = list(app._notifications)[before:]
        assert len(new) == 1, f"{key} is refused with one notification"
        assert "read-only" in new[0].message.lower(), new[0].message
    policy = app.engine.apps["staging"].app.sync_policy
    assert (policy.automated, policy.self_heal) == (False, False), "toggles were refused"
    await pilot.pause(0.5)  # time for anything wrongly started to reach the sandbox
    assert sandbox.request_log, "the log records this session's reads"
    writes = [f"{r.method} {r.path}" for r in sandbox.request_log if r.is_write]
    assert writes == []


async def test_read_only_flag_marks_the_screen_and_refuses_actions(
    settings_for: Callable[..., TuiSettings], sandbox: SandboxThread
) -> None:
    sandbox.faults.clear_request_log()
    app = KubedriftApp(settings_for(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        assert app.read_only
        assert app.sub_title == "READ-ONLY"
        assert "READ-ONLY" in str(app.screen.query_one(StatusBar).render())
        assert cell(app, "staging", "policy") == "manual (ro)"
        await highlight(app, "staging")
        await refuse_every_action(app, pilot, sandbox)
        assert cell(app, "staging", "sync") == "≠ OutOfSync"


async def test_read_only_context_in_the_config_refuses_actions(
    settings_for: Callable[..., TuiSettings], sandbox: SandboxThread
) -> None:
    config = settings_for().config
    config = dataclasses.replace(config, contexts={"sandbox": ContextSettings(read_only=True)})
    sandbox.faults.clear_request_log()
    app = KubedriftApp(settings_for(config))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        assert not app.read_only, "only one context is read-only"
        assert app.sub_title == "READ-ONLY: sandbox"
        assert "sandbox (read-only)" in str(app.screen.query_one(StatusBar).render())
        await highlight(app, "staging")
        await refuse_every_action(app, pilot, sandbox)


async def test_read_only_at_the_top_of_the_config_is_read_only_everywhere(
    settings_for: Callable[..., TuiSettings], tmp_path: Path
) -> None:
    config_file = tmp_path / "kubedrift.yaml"
    config_file.write_text(config_file.read_text() + "readOnly: true\n")
    app = KubedriftApp(settings_for(load_config(config_file)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        assert app.read_only and app.sub_title == "READ-ONLY"
        assert table_of(app).row_count == 3
