"""The history screen's commit table: the commits that touched an app's path, newest first.

Each row reads `● current` for the revision the app is compared against now and `◆ last sync`
for the one the last sync in this session applied (a rollback), so what is where reads in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

from core.gitsource import Commit
from tui.status_text import Tone, tone_style

COLUMNS: tuple[tuple[str, str], ...] = (
    ("now", "NOW"),
    ("sha", "SHA"),
    ("date", "DATE (UTC)"),
    ("author", "AUTHOR"),
    ("subject", "SUBJECT"),
)
CURRENT = "● current"
LAST_SYNC = "◆ last sync"


class CommitList(DataTable[Text]):
    """Commits of one app path, one row each, keyed by SHA."""

    DEFAULT_CSS = """
    CommitList {
        background: $background;
        scrollbar-size-horizontal: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.commits: tuple[Commit, ...] = ()
        self.current: str | None = None
        """The revision the app is compared against now (its target revision's commit)."""
        self.last_sync: str | None = None

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.watch(self.app, "theme", self._restyle, init=False)

    def set_commits(self, commits: Sequence[Commit], *, current: str | None, last_sync: str | None) -> None:
        """Show `commits`; the cursor stays on the commit it was on when that one is still listed."""
        keep = self.highlighted_sha
        self.commits = tuple(commits)
        self.current, self.last_sync = current, last_sync
        self.clear()
        for commit in self.commits:
            self.add_row(*self._cells(commit), key=commit.sha)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep))

    def set_markers(self, *, current: str | None, last_sync: str | None) -> None:
        """Move the `current` and `last sync` words without touching other cells."""
        if (current, last_sync) == (self.current, self.last_sync):
            return
        self.current, self.last_sync = current, last_sync
        for commit in self.commits:
            self.update_cell(commit.sha, "now", self._marker(commit.sha))

    @property
    def highlighted_sha(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def _cells(self, commit: Commit) -> tuple[Text, ...]:
        return (
            self._marker(commit.sha),
            Text(commit.sha[:7], style=Style(bold=True)),
            Text(commit.date.replace("T", " ")[:16]),
            Text(commit.author),
            Text(commit.subject, no_wrap=True),
        )

    def _marker(self, sha: str) -> Text:
        words = [word for word, at in ((CURRENT, self.current), (LAST_SYNC, self.last_sync)) if at == sha]
        tone = Tone.GOOD if sha == self.current else Tone.BUSY
        return Text(", ".join(words), style=tone_style(tone, self.app.theme_variables) if words else Style())

    def _restyle(self) -> None:
        for commit in self.commits:
            self.update_cell(commit.sha, "now", self._marker(commit.sha))
