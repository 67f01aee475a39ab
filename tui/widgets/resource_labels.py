"""How the resource tree's nodes read: the app, a kind with its drift counts, a resource or an owned
child with its sync and health, each as a Rich `Text` coloured from the theme, with its width.

A 10,000-resource app labels 10,000 nodes at once, so a label is built as one `Text` with its spans
laid out directly (what `Text.assemble` of the parts gives, without its per-part copies), and the
theme's styles are worked out once per theme rather than once per label. The width in cells comes
with the label, since the tree measures every line it lays out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Span, Text

from tui.resource_entries import TreeEntry
from tui.status_text import LOOKS, Tone, status_label, tone_style

DRIFT_WORDS = ("OutOfSync", "Missing", "Extraneous", "Unknown")
"""Sync words a kind counts beside its name, in this order."""
_BOLD = Style(bold=True)
_GAP = "  "


@dataclass(frozen=True, slots=True)
class Label:
    """A node's label and its width in terminal cells."""

    text: Text
    cells: int


class ResourceLabels:
    """Label maker for one tree in one theme; make a new one when the theme changes."""

    def __init__(self, variables: Mapping[str, str], namespace: str) -> None:
        self.variables = variables
        """The theme variables (`App.theme_variables`) the styles come from."""
        self.namespace = namespace
        """The app's destination namespace: resources there are labelled by name alone."""
        self._tones = {tone: tone_style(tone, variables) for tone in Tone}
        # A status reads the same on every node: `✓ Synced`, its width and style, worked out once.
        self._words: dict[str, tuple[str, int, Style]] = {}

    def word(self, word: str) -> tuple[str, int, Style]:
        """`word` as shown (glyph and word), its width in cells, and its style."""
        found = self._words.get(word)
        if found is None:
            shown = status_label(word)
            _, tone = LOOKS.get(word, ("·", Tone.QUIET))
            found = self._words[word] = (shown, cell_len(shown), self._tones[tone])
        return found

    def status(self, word: str) -> Text:
        """`✓ Synced` coloured, on its own."""
        shown, _, style = self.word(word)
        return Text(shown, style=style, no_wrap=True)

    def entry(self, entry: TreeEntry) -> Label:
        """A resource by name (bold), or an owned child by kind and name, then its sync and health."""
        key = entry.key
        spans: list[Span] = []
        if entry.owned:
            plain = f"{key.kind} {key.name}"
        else:
            plain = key.name if key.namespace in ("", self.namespace) else f"{key.namespace}/{key.name}"
            spans.append(Span(0, len(plain), _BOLD))
        cells = cell_len(plain)
        for word, note in ((entry.sync, entry.sync_note), (entry.health, "")):
            if word is None:
                continue
            shown, width, style = self.word(word)
            if note:
                shown = f"{shown} ({note})"  # drift rule 7's marking, in the word's colour
                width = cell_len(shown)
            start = len(plain) + len(_GAP)
            plain = f"{plain}{_GAP}{shown}"
            spans.append(Span(start, len(plain), style))
            cells += len(_GAP) + width
        return Label(Text(plain, spans=spans), cells)

    def kind(self, kind: str, entries: Iterable[TreeEntry]) -> Label:
        """`Deployment (3) ≠1`: how many resources of the kind, and how many drifted, by word."""
        count = 0
        drifted = dict.fromkeys(DRIFT_WORDS, 0)
        for entry in entries:
            count += 1
            if entry.sync in drifted:
                drifted[entry.sync] += 1
        text = Text(f"{kind} ({count})", style=_BOLD)
        for word, number in drifted.items():
            if number:
                glyph, tone = LOOKS[word]
                text.append(f" {glyph}{number}", style=self._tones[tone])
        return Label(text, text.cell_len)

    def root(self, app_name: str, sync: str, health: str) -> Label:
        """The app's name, then its own sync and health."""
        text = Text.assemble((app_name, _BOLD), _GAP, self.status(sync), _GAP, self.status(health))
        return Label(text, text.cell_len)


__all__ = ["DRIFT_WORDS", "Label", "ResourceLabels"]
