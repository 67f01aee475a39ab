"""The app screen's event log: drift detected, back in sync, healed, synced, pruned, errors.

The screen hands down the feed's `LogEntry` lines for its app; each is written once, newest at the
bottom, as `HH:MM:SS ✓ text`. The glyph and the words carry the meaning without colour.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from tui.status_text import Tone, tone_style
from tui.widgets.engine_feed import LogEntry, LogLevel

_LOOKS: dict[LogLevel, tuple[str, Tone | None]] = {
    LogLevel.INFO: ("·", None),
    LogLevel.SUCCESS: ("✓", Tone.GOOD),
    LogLevel.WARNING: ("!", Tone.DRIFT),
    LogLevel.ERROR: ("✗", Tone.BAD),
}


class EventLog(RichLog):
    """One app's log lines, newest last."""

    DEFAULT_CSS = """
    EventLog {
        background: $background;
        scrollbar-size-vertical: 1;
    }
    """

    MAX_LINES = 200

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=self.MAX_LINES, min_width=10, wrap=True, auto_scroll=True)
        self.texts: deque[str] = deque(maxlen=self.MAX_LINES)
        """The lines written, uncoloured, oldest first."""

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Write `entries` at the bottom."""
        variables = self.app.theme_variables
        for entry in entries:
            glyph, tone = _LOOKS.get(entry.level, ("·", None))
            line = Text(f"{entry.clock} ", style="dim")
            line.append(f"{glyph} {entry.text}", style=tone_style(tone, variables) if tone else "")
            self.texts.append(line.plain)
            self.write(line)
