"""`?`: the keys of the screen underneath, generated from its active bindings, so it never goes stale."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.keys import binding


@dataclass(frozen=True, slots=True)
class HelpLine:
    """One key as the help screen lists it."""

    key: str
    """The key as it is displayed (after any keymap)."""
    id: str
    """The binding id, which is what `keymap:` in kubedrift.yaml remaps."""
    description: str


def help_lines(active: Mapping[str, ActiveBinding], key_display: Callable[[Binding], str]) -> list[HelpLine]:
    """The bindings that have an id, one line each, in the order the screen declares them.

    `key_display` is `App.get_key_display`, passed in so the keys read as the footer shows them.
    """
    lines: dict[str, HelpLine] = {}
    for active_binding in active.values():
        found = active_binding.binding
        if found.id is None or found.id in lines:
            continue
        lines[found.id] = HelpLine(key_display(found), found.id, found.tooltip or found.description)
    return list(lines.values())


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath: key, id (for `keymap:`), and what it does."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: auto;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen DataTable {
        width: auto;
        height: auto;
        max-height: 18;
    }
    HelpScreen .help-note {
        color: $text-muted;
        width: auto;
    }
    """

    BINDINGS = [binding("back", "close"), binding("help", "close", description="Close")]

    def __init__(self, lines: Sequence[HelpLine]) -> None:
        super().__init__()
        self.lines = tuple(lines)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Keys[/b]", classes="help-title")
            yield DataTable(cursor_type="row", zebra_stripes=False, id="help-keys")
            yield Static("Remap a key with its id under keymap: in kubedrift.yaml", classes="help-note")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = "help"
        table: DataTable[Text] = self.query_one(DataTable)
        table.add_column("KEY", key="key")
        table.add_column("ID", key="id")
        table.add_column("WHAT IT DOES", key="description")
        for line in self.lines:
            table.add_row(Text(line.key, style="bold"), Text(line.id), Text(line.description), key=line.id)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
