"""The history screen's lower pane: how a commit differs from the current revision, field by field.

Objects only at that commit read `+`, objects it lacks read `-`, changed ones `~` with one
`path: now → then` line per field, or the changed lines of a multi-line value (a file, a script) as
`diff -u` shows them; Secret values arrive masked from core and stay `***`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.widgets import RichLog

from core.drift.object_compare import DeltaKind, ObjectDelta
from core.drift.text import is_multiline, value_diff
from core.model import Change
from tui.status_text import Tone, short_revision, tone_style

VALUE_WIDTH = 60


class RevisionDelta(RichLog):
    """The field-level difference between one commit and the current revision."""

    DEFAULT_CSS = """
    RevisionDelta {
        background: $background;
        scrollbar-size-horizontal: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, min_width=10, wrap=False, auto_scroll=False)
        self.lines_shown: list[str] = []
        """The text of every line shown, uncoloured."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines_shown)

    def show_sentence(self, sentence: str) -> None:
        """Show one sentence alone (loading, an error, no history)."""
        self._reset()
        self._sentence(Text(sentence))

    def show_deltas(self, revision: str, current: str | None, deltas: Sequence[ObjectDelta]) -> None:
        """Show how `revision` differs from `current`, object by object."""
        self._reset()
        variables = self.app.theme_variables
        then, now = short_revision(revision), short_revision(current)
        if revision == current:
            self._sentence(Text(f"{then} is the current revision: syncing to it is an ordinary sync."))
            return
        if not deltas:
            self._sentence(Text(f"{then} has the same manifests as the current revision {now}."))
            return
        self._sentence(Text(f"{then} against the current revision {now}: each field reads now → at {then}."))
        for delta in deltas:
            if delta.kind is DeltaKind.ADDED:
                line = Text(f"+ {delta.key}", style=tone_style(Tone.GOOD, variables))
                line.append(f"  only at {then}: a rollback creates it", style=Style(dim=True))
                self._line(line)
            elif delta.kind is DeltaKind.REMOVED:
                line = Text(f"- {delta.key}", style=tone_style(Tone.BAD, variables))
                line.append(
                    f"  not at {then}: a rollback leaves it, a prune deletes it", style=Style(dim=True)
                )
                self._line(line)
            else:
                self._line(Text(f"~ {delta.key}", style=tone_style(Tone.DRIFT, variables)))
                for change in delta.changes:
                    if not change.secret and is_multiline(change.live) and is_multiline(change.desired):
                        self._value_lines(change, variables)
                    else:
                        self._line(self._change_line(change, variables))

    def _change_line(self, change: Change, variables: Mapping[str, str]) -> Text:
        line = Text(f"    {change.path or '/'}: ")
        line.append(_value(change.live), style=tone_style(Tone.BAD, variables))
        line.append(" → ")
        line.append(_value(change.desired), style=tone_style(Tone.GOOD, variables))
        if change.secret:
            line.append("  (secret value changed)", style=Style(dim=True))
        return line

    def _value_lines(self, change: Change, variables: Mapping[str, str]) -> None:
        """A file or script that changed: its changed lines, as `diff -u` shows them (now `-`, then `+`)."""
        self._line(Text(f"    {change.path}: (lines now → then)"))
        tones = {"-": Tone.BAD, "+": Tone.GOOD, "@": Tone.QUIET}
        for line in value_diff(change.live, change.desired):
            tone = tones.get(line[:1])
            self._line(Text(f"      {line}", style=tone_style(tone, variables) if tone else ""))

    def _reset(self) -> None:
        self.clear()
        self.lines_shown = []

    def _line(self, text: Text) -> None:
        self.lines_shown.append(text.plain)
        self.write(text, shrink=False, scroll_end=False)

    def _sentence(self, text: Text) -> None:
        self.lines_shown.append(text.plain)
        self.write(Padding(text, 0), shrink=True, scroll_end=False)


def _value(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"
