"""The diff pane: the highlighted resource's unified diff, live `-` against desired `+`, coloured.

The screen sets `content` to a `ResourceDiff`; the pane renders it and repaints only when it
changes. Under the diff: who changed each drifted field, and the object's recent Events once the
screen has fetched them. Each line starts with its own marker (`-`, `+`, `@@`, `⊘` for a field under
ignoreDifferences), so the diff reads the same with NO_COLOR; the colours come from the theme.
Diff lines keep their width and scroll sideways; sentences wrap to the pane.
"""

from __future__ import annotations

from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import RichLog

from tui import resource_diff
from tui.resource_diff import ResourceDiff, event_line
from tui.status_text import Tone, status_text, tone_style

_LINE_TONES = {"-": Tone.BAD, "+": Tone.GOOD, "@": Tone.BUSY}


class DiffView(RichLog):
    """What the highlighted node is and how it differs from Git."""

    DEFAULT_CSS = """
    DiffView {
        background: $background;
        scrollbar-size-horizontal: 1;
    }
    """

    content: reactive[ResourceDiff | None] = reactive(None, init=False)
    """What to show; None shows a hint to highlight a resource."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, min_width=10, wrap=False, highlight=False, markup=False, auto_scroll=False)
        self.lines_shown: list[str] = []
        """The text of every line shown, uncoloured (what a person reads; tests read it too)."""
        self._width = 0

    def on_mount(self) -> None:
        # The signal comes once the new theme's variables are in place; a watch on `theme` runs
        # before, and would colour the diff with the old theme.
        self.app.theme_changed_signal.subscribe(self, lambda _: self._show())
        self._show()

    def watch_content(self) -> None:
        self._show()

    def on_resize(self, event: Resize) -> None:
        super().on_resize(event)
        # Sentences were wrapped to the old width: wrap them again to the new one.
        if self.scrollable_content_region.width != self._width:
            self._show()

    def _show(self) -> None:
        self._width = self.scrollable_content_region.width
        self.clear()
        self.lines_shown = []
        content = self.content
        if content is None:
            self._sentence(Text("Highlight a resource in the tree to see its diff.", style=Style(dim=True)))
            return
        variables = self.app.theme_variables
        heading = Text(content.title, style=Style(bold=True))
        for word in (content.sync, content.health):
            if word:
                heading.append("  ")
                heading.append_text(status_text(word, variables))
        self._line(heading)
        # The diff comes first after what the resource is: at 80x24 it is what a person came for.
        for note in content.notes:
            self._sentence(Text(note))
        lines = content.diff.splitlines()
        # `--- live` / `+++ desired` say what the notes already say; on 24 rows every line counts.
        # Only the header goes: inside a file's value a removed `--x` line also starts with `---`.
        while lines[:1] and lines[0].startswith(("---", "+++")):
            lines.pop(0)
        for line in lines:
            self._line(self._diff_line(line, variables))
        for line in content.changed_by:  # who changed each drifted path, by managedFields
            self._sentence(Text(line, style=tone_style(Tone.QUIET, variables)))
        if content.events:  # what the cluster said about the object lately; nothing when it said nothing
            now = resource_diff.wall_clock()
            self._sentence(Text("Recent events:", style=tone_style(Tone.QUIET, variables)))
            for event in content.events:
                tone = Tone.DRIFT if event.type == "Warning" else Tone.QUIET
                self._sentence(Text(f"  {event_line(event, now)}", style=tone_style(tone, variables)))
        if content.ignored:
            quiet = tone_style(Tone.QUIET, variables)
            ignored = "⊘ ignored by ignoreDifferences (never compared, sync keeps live):"
            self._sentence(Text(ignored, style=quiet))
            for field in content.ignored:
                self._line(Text(f"⊘ {field.pointer}  live {field.live} · git {field.desired}", style=quiet))
        if content.health_message:
            self._sentence(Text(f"Health: {content.health_message}"))
        for detail in content.details:
            self._line(Text(f"  {detail}"))

    def _diff_line(self, line: str, variables: dict[str, str]) -> Text:
        tone = _LINE_TONES.get(line[:1])
        return Text(line, style=tone_style(tone, variables) if tone else Style())

    def _line(self, text: Text) -> None:
        self.lines_shown.append(text.plain)
        self.write(text, shrink=False, scroll_end=False)

    def _sentence(self, text: Text) -> None:
        self.lines_shown.append(text.plain)
        # A Padding, unlike a bare Text, is wrapped to the pane's width by RichLog.
        self.write(Padding(text, 0), shrink=True, scroll_end=False)

    @property
    def text(self) -> str:
        """Everything shown, uncoloured, one line per line."""
        return "\n".join(self.lines_shown)
