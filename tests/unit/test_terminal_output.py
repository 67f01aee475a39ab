"""Headless output: colour only on a terminal and never with NO_COLOR; tables that line up."""

from __future__ import annotations

import io

import pytest

from tui.commands.terminal import Style, table


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert Style(FakeTerminal()).status("OutOfSync") == "\x1b[33mOutOfSync\x1b[0m"


def test_no_colour_with_no_color_or_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert Style(FakeTerminal()).status("OutOfSync") == "OutOfSync"
    monkeypatch.delenv("NO_COLOR")
    assert Style(io.StringIO()).status("OutOfSync") == "OutOfSync"


def test_table_columns_line_up_even_when_coloured() -> None:
    rows = [["APP", "SYNC"], ["shop", "OutOfSync"], ["datastore", "Synced"]]
    plain = table(rows, Style(colour=False), coloured_columns=(1,)).splitlines()
    assert [line.index(word) for line, word in zip(plain, ["SYNC", "OutOfSync", "Synced"], strict=True)] == [
        11,
        11,
        11,
    ]
    coloured = table(rows, Style(colour=True), coloured_columns=(1,))
    assert "\x1b[32mSynced\x1b[0m" in coloured
