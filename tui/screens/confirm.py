"""The confirmation before a sync, prune or rollback: exactly what will be created, configured and
pruned, grouped, each line with its own mark (`+`, `~`, `-`) so it reads without colour.

Keyboard only: `y` or enter goes ahead, `n` or escape cancels. A prune carries its own warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from core.operations import PlannedChange
from tui.keys import binding
from tui.status_text import short_revision

SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("create", "Will be created", "+", "$success"),
    ("apply", "Will be configured", "~", "$warning"),
    ("delete", "Will be pruned (deleted)", "-", "$error"),
    ("hook", "Hooks will run (created fresh)", ">", "$accent"),
)
"""Verb, heading, mark and colour of each group, in the order a sync does them."""


class ConfirmScreen(ModalScreen[bool]):
    """Lists a sync plan and returns True only when the user says yes."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    ConfirmScreen VerticalScroll {
        height: auto;
        max-height: 14;
    }
    ConfirmScreen .prune-warning {
        color: $error;
        text-style: bold;
    }
    ConfirmScreen .rollback-note {
        color: $text-muted;
    }
    ConfirmScreen .confirm-keys {
        color: $text-muted;
    }
    """

    BINDINGS = [
        binding("confirm"),
        binding("cancel"),
        binding("back", "cancel", description="Cancel"),
    ]

    def __init__(
        self, app_name: str, plan: Sequence[PlannedChange], *, prune: bool, revision: str | None = None
    ) -> None:
        super().__init__()
        self.app_name = app_name
        self.plan = tuple(plan)
        self.prune = prune
        self.revision = revision
        """The commit a rollback syncs to; None for the app's target revision."""

    @property
    def question(self) -> str:
        if self.revision is not None:
            return f"Roll {self.app_name} back to revision {short_revision(self.revision)}?"
        return f"Sync {self.app_name}" + (" and prune its leftovers?" if self.prune else "?")

    def groups(self) -> list[tuple[str, str, str, list[str]]]:
        """(heading, mark, colour, resources) of each non-empty group, in sync order."""
        found = []
        for verb, heading, mark, colour in SECTIONS:
            keys = [str(change.key) for change in self.plan if change.verb == verb]
            if keys:
                found.append((heading, mark, colour, keys))
        return found

    def compose(self) -> ComposeResult:
        deletes = sum(1 for change in self.plan if change.verb == "delete")
        with Vertical():
            yield Static(f"[b]{escape(self.question)}[/b]")
            with VerticalScroll():
                for heading, mark, colour, keys in self.groups():
                    lines = "\n".join(f"  {mark} {escape(key)}" for key in keys)
                    yield Static(f"[b {colour}]{heading} ({len(keys)}):[/]\n{lines}", classes="confirm-group")
            if self.prune and not deletes:
                yield Static("Nothing will be pruned: the app has no tracked leftovers.")
            elif self.prune:
                yield Static(
                    f"⚠ Prune deletes the {deletes} object{'s' if deletes != 1 else ''} listed above from "
                    "the cluster (foreground deletion). Only objects carrying this app's tracking id are "
                    "touched.",
                    classes="prune-warning",
                )
            if self.revision is not None:
                yield Static(
                    "The cluster will run this revision while Git's target stays where it is, so the app "
                    "reads OutOfSync until Git catches up or you sync again.",
                    classes="rollback-note",
                )
            yield Static("y / enter: go ahead    n / escape: cancel", classes="confirm-keys")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = "confirm"

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
