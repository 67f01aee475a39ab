"""The confirmation before a sync or prune: exactly what will be created, configured and pruned."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from core.operations import PlannedChange
from tui.keys import binding

_SECTIONS = (
    ("create", "Will be created", "$success"),
    ("apply", "Will be configured", "$warning"),
    ("delete", "Will be pruned (deleted)", "$error"),
)


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

    def compose(self) -> ComposeResult:
        target = f" to revision {self.revision[:12]}" if self.revision else ""
        question = f"Sync {self.app_name}{target}" + (" and prune its leftovers?" if self.prune else "?")
        deletes = sum(1 for change in self.plan if change.verb == "delete")
        with Vertical():
            yield Static(f"[b]{escape(question)}[/b]")
            with VerticalScroll():
                for verb_key, heading, color in _SECTIONS:
                    keys = [change.key for change in self.plan if change.verb == verb_key]
                    if keys:
                        lines = "\n".join(f"  {escape(str(key))}" for key in keys)
                        yield Static(f"[b {color}]{heading} ({len(keys)}):[/]\n{lines}")
            if self.prune and not deletes:
                yield Static("Nothing will be pruned: the app has no tracked leftovers.")
            elif self.prune:
                yield Static(
                    "Prune deletes the objects listed above from the cluster (foreground deletion). "
                    "Only objects carrying this app's tracking id are touched.",
                    classes="prune-warning",
                )
            yield Static("y: go ahead    n / escape: cancel", classes="confirm-keys")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = "confirm"

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
