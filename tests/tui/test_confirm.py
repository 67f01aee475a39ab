"""The confirmation on its own: grouped lists with marks, the prune warning, the rollback note, and
keyboard-only answers (y / enter go ahead, n / escape cancel)."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Static

from core.model import ResourceKey
from core.operations import PlannedChange
from tui.screens.confirm import ConfirmScreen

PLAN = (
    PlannedChange(ResourceKey("apps", "Deployment", "shop", "web"), "apply"),
    PlannedChange(ResourceKey("", "ConfigMap", "shop", "old-flags"), "delete"),
    PlannedChange(ResourceKey("", "Service", "shop", "web"), "create"),
    PlannedChange(ResourceKey("", "Secret", "shop", "db"), "create"),
)


class Host(App[None]):
    """Pushes one ConfirmScreen and keeps its answer."""

    def __init__(self, screen: ConfirmScreen) -> None:
        super().__init__()
        self.confirm = screen
        self.answers: list[bool | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.confirm, self.answers.append)


def texts(screen: ConfirmScreen) -> list[str]:
    return [str(static.render()) for static in screen.query(Static)]


async def test_the_plan_is_grouped_in_sync_order_with_a_mark_per_line() -> None:
    host = Host(ConfirmScreen("shop", PLAN, prune=True))
    async with host.run_test(size=(80, 24)):
        screen = host.confirm
        assert screen.question == "Sync shop and prune its leftovers?"
        assert [(heading, mark, keys) for heading, mark, _, keys in screen.groups()] == [
            ("Will be created", "+", ["Service/shop/web", "Secret/shop/db"]),
            ("Will be configured", "~", ["Deployment.apps/shop/web"]),
            ("Will be pruned (deleted)", "-", ["ConfigMap/shop/old-flags"]),
        ]
        shown = "\n".join(texts(screen))
        assert "Will be created (2):\n  + Service/shop/web\n  + Secret/shop/db" in shown
        assert "  ~ Deployment.apps/shop/web" in shown
        assert "  - ConfigMap/shop/old-flags" in shown
        (warning,) = screen.query(".prune-warning")
        assert str(warning.render()).startswith("⚠ Prune deletes the 1 object listed above")


async def test_a_sync_without_prune_has_no_prune_warning() -> None:
    plan = [change for change in PLAN if change.verb != "delete"]
    host = Host(ConfirmScreen("shop", plan, prune=False))
    async with host.run_test(size=(80, 24)):
        assert host.confirm.question == "Sync shop?"
        assert not host.confirm.query(".prune-warning")
        assert not host.confirm.query(".rollback-note")
        assert [heading for heading, *_ in host.confirm.groups()] == ["Will be created", "Will be configured"]


async def test_a_prune_with_nothing_to_delete_says_so() -> None:
    plan = [change for change in PLAN if change.verb == "apply"]
    host = Host(ConfirmScreen("shop", plan, prune=True))
    async with host.run_test(size=(80, 24)):
        assert "Nothing will be pruned: the app has no tracked leftovers." in texts(host.confirm)
        assert not host.confirm.query(".prune-warning")


async def test_a_rollback_names_the_revision_and_what_it_means() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    host = Host(ConfirmScreen("shop", PLAN[:1], prune=False, revision=sha))
    async with host.run_test(size=(80, 24)):
        assert host.confirm.question == "Roll shop back to revision 0123456?"
        (note,) = host.confirm.query(".rollback-note")
        assert "reads OutOfSync until Git catches up" in str(note.render())


@pytest.mark.parametrize(("key", "answer"), [("y", True), ("enter", True), ("n", False), ("escape", False)])
async def test_keys_answer_the_question(key: str, answer: bool) -> None:
    host = Host(ConfirmScreen("shop", PLAN, prune=True))
    async with host.run_test(size=(80, 24)) as pilot:
        await pilot.press("x", "s")  # other keys neither answer nor close
        assert host.answers == [] and host.screen is host.confirm
        await pilot.press(key)
        assert host.answers == [answer]
        assert host.screen is not host.confirm


async def test_hooks_are_their_own_group_after_the_changes() -> None:
    plan = [*PLAN, PlannedChange(ResourceKey("batch", "Job", "shop", "db-migrate"), "hook")]
    host = Host(ConfirmScreen("shop", plan, prune=False))
    async with host.run_test(size=(80, 24)):
        groups = host.confirm.groups()
        assert [heading for heading, *_ in groups][-1] == "Hooks will run (created fresh)"
        assert "  > Job.batch/shop/db-migrate" in "\n".join(texts(host.confirm))
