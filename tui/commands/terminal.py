"""How headless output looks: colour only on a terminal, never with NO_COLOR, tables that line up."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}
STATUS_COLOURS = {
    "Synced": "green",
    "Healthy": "green",
    "OutOfSync": "yellow",
    "Missing": "yellow",
    "Extraneous": "magenta",
    "Progressing": "cyan",
    "Suspended": "blue",
    "Degraded": "red",
    "Unknown": "red",
    "created": "green",
    "configured": "yellow",
    "pruned": "magenta",
    "skipped": "blue",
    "failed": "red",
}


class Style:
    """Colours text when the stream is a terminal and NO_COLOR is unset (https://no-color.org)."""

    def __init__(self, stream: TextIO | None = None, *, colour: bool | None = None) -> None:
        stream = stream or sys.stdout
        if colour is None:
            colour = stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        self.enabled = colour

    def __call__(self, text: str, colour: str) -> str:
        if not self.enabled or colour not in _CODES:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"

    def status(self, text: str) -> str:
        return self(text, STATUS_COLOURS.get(text, ""))


def table(rows: Sequence[Sequence[str]], style: Style, *, coloured_columns: Sequence[int] = ()) -> str:
    """Left-aligned columns (the first row is the header), with status columns coloured."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = []
        for column, cell in enumerate(row):
            padded = cell.ljust(widths[column]) if column < len(row) - 1 else cell
            if index == 0:
                padded = style(padded, "bold")
            elif column in coloured_columns:
                padded = padded.replace(cell, style.status(cell), 1)
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
