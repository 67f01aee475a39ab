"""Keys: every binding has an id and a description, help lists them all, keymaps remap them, q quits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType

from textual.binding import Binding

from tests.tui.conftest import wait_until
from tui.app import KubedriftApp
from tui.keys import KEYS, binding, keymap_problems
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.settings import TuiSettings
from tui.widgets.app_table import AppTable

DASHBOARD_IDS = {
    "open",
    "back",
    "diff",
    "sync",
    "prune",
    "toggle_self_heal",
    "toggle_auto_sync",
    "refresh",
    "filter",
    "history",
    "theme",
    "help",
    "quit",
}


def own_bindings(*classes: type) -> list[Binding]:
    return [b for cls in classes for b in cls.BINDINGS if isinstance(b, Binding)]  # type: ignore[attr-defined]


def test_every_binding_of_ours_has_an_id_and_a_description() -> None:
    bindings = own_bindings(KubedriftApp, DashboardScreen, AppTable, HelpScreen, ConfirmScreen)
    assert bindings
    for found in bindings:
        assert found.id in KEYS, found
        assert found.description and found.tooltip, found


def test_binding_takes_key_and_words_from_the_table() -> None:
    made = binding("sync")
    assert (made.key, made.action, made.id, made.description) == ("s", "sync", "sync", "Sync")
    assert binding("theme", "next_theme").action == "next_theme"


def test_unknown_keymap_ids_are_named() -> None:
    assert keymap_problems({"sync": "ctrl+s"}) == []
    (problem,) = keymap_problems({"synk": "ctrl+s"})
    assert "'synk'" in problem and "sync" in problem


async def test_help_lists_every_binding_of_the_dashboard(
    offline_settings: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(offline_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = {line.id: line for line in app.screen.lines}
        assert set(listed) == DASHBOARD_IDS
        assert listed["sync"].key == "s"
        assert listed["sync"].description == KEYS["sync"].help
        assert listed["help"].key == "?"
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("question_mark", "question_mark")
        assert isinstance(app.screen, DashboardScreen), "? closes help too"


async def test_keymap_remaps_keys_and_help_follows(offline_settings: Callable[..., TuiSettings]) -> None:
    settings = offline_settings()
    keymap = MappingProxyType({"help": "f1", "sync": "ctrl+s", "sink": "x"})
    app = KubedriftApp(offline_settings(dataclasses.replace(settings.config, keymap=keymap)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        assert any("'sink'" in n.message for n in app._notifications), "an unknown id is reported"
        await pilot.press("question_mark")
        assert isinstance(app.screen, DashboardScreen), "? no longer opens help"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        listed = {line.id: line.key for line in app.screen.lines}
        assert listed["sync"] == "^s"
        assert listed["help"] == "f1"


async def test_q_quits_with_exit_code_0(offline_settings: Callable[..., TuiSettings]) -> None:
    app = KubedriftApp(offline_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
