"""The dashboard's table: one row per app, updated cell by cell as the engine reports changes.

The screen hands down `AppRow` values; the table renders them and touches only the cells whose
text or colour changed, so one event never rebuilds the table and an unchanged row never repaints.
Ages read in whole minutes, hours and days, and the table wakes up only when an age's text is due
to change.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import DataTable

from core.model import SyncStatus
from core.runtime import AppRuntime
from tui.keys import binding
from tui.status_text import LOOKS, Tone, short_revision, status_label, status_text, tone_style

COLUMNS: tuple[tuple[str, str], ...] = (
    ("app", "APP"),
    ("context", "CONTEXT"),
    ("sync", "SYNC"),
    ("health", "HEALTH"),
    ("drift", "DRIFT"),
    ("policy", "POLICY"),
    ("age", "AGE"),
    ("revision", "REVISION"),
)
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True, slots=True)
class AppRow:
    """What the dashboard shows of one app."""

    name: str
    context: str
    sync: str
    """An AppSync word, or `Loading` before the engine's first list."""
    health: str
    revision: str | None
    subject: str = ""
    """The subject of the revision's commit, once known."""
    out_of_sync: int = 0
    missing: int = 0
    extraneous: int = 0
    auto_sync: bool = False
    self_heal: bool = False
    read_only: bool = False
    error: str | None = None
    last_event: float | None = None
    """`time.monotonic()` of the app's last status change or action."""

    @classmethod
    def loading(cls, runtime: AppRuntime, *, read_only: bool) -> AppRow:
        policy = runtime.app.sync_policy
        return cls(
            runtime.app.name,
            runtime.context or "-",
            "Loading",
            "Loading",
            None,
            auto_sync=policy.automated,
            self_heal=policy.self_heal,
            read_only=read_only,
            error=runtime.cluster_error,
        )

    @classmethod
    def of(
        cls, runtime: AppRuntime, *, read_only: bool, subject: str = "", last_event: float | None = None
    ) -> AppRow:
        counts = {status: 0 for status in SyncStatus}
        for result in runtime.reconciler.results.values():
            counts[result.status] += 1
        errors = [*runtime.desired.errors, runtime.cluster_error, runtime.automation_error]
        policy = runtime.app.sync_policy
        return cls(
            runtime.app.name,
            runtime.context or "-",
            str(runtime.reconciler.sync),
            str(runtime.reconciler.health),
            runtime.desired.revision,
            subject,
            counts[SyncStatus.OUT_OF_SYNC],
            counts[SyncStatus.MISSING],
            counts[SyncStatus.EXTRANEOUS],
            policy.automated,
            policy.self_heal,
            read_only,
            next((error for error in errors if error), None),
            last_event,
        )


def age_text(seconds: float) -> str:
    """`<1m`, `5m`, `3h`, `2d`: coarse on purpose, so an idle screen changes at most once a minute."""
    if seconds < MINUTE:
        return "<1m"
    if seconds < HOUR:
        return f"{int(seconds // MINUTE)}m"
    if seconds < DAY:
        return f"{int(seconds // HOUR)}h"
    return f"{int(seconds // DAY)}d"


def seconds_to_next_age(seconds: float) -> float:
    """How long until `age_text(seconds)` reads differently."""
    step = MINUTE if seconds < HOUR else HOUR if seconds < DAY else DAY
    return step - (seconds % step) if seconds >= MINUTE else MINUTE - seconds


class AppTable(DataTable[Text]):
    """One row per app: sync, health, drift counts, policy, age of the last event, revision."""

    DEFAULT_CSS = """
    AppTable {
        height: 1fr;
        scrollbar-size-horizontal: 0;
    }
    """

    BINDINGS = [binding("open", "select_cursor")]

    filter_text: reactive[str] = reactive("", init=False)
    """Only rows whose app name or context contains this (case-insensitive) are shown."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=0, zebra_stripes=False)
        self.rows_by_app: dict[str, AppRow] = {}
        """The latest row of every app, shown or filtered out, in the order apps were added."""
        self._shown: dict[tuple[str, str], tuple[str, str]] = {}
        self._age_timer: Timer | None = None
        self._age_due = 0.0
        self._revision_room = 60

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(Text(_header(key, label)), key=key)
        self.watch(self.app, "theme", self._restyle, init=False)

    # What the screen calls.

    def set_rows(self, rows: Iterable[AppRow]) -> None:
        """Show `rows` (first use, or when the filter changes: the only times rows are re-added)."""
        for row in rows:
            self.rows_by_app[row.name] = row
        self._rebuild()

    def update_row(self, row: AppRow) -> None:
        """Show a changed app: only its cells whose text or colour changed are touched."""
        self.rows_by_app[row.name] = row
        if not self._matches(row):
            return
        if row.name not in self.rows:
            self._rebuild()
            return
        for key, cell in self._cells(row).items():
            self._put(row.name, key, cell)
        self._fit_revisions()
        self._schedule_ages()

    @property
    def highlighted_app(self) -> str | None:
        """The app under the cursor; None when the table is empty."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    # Rendering.

    def watch_filter_text(self) -> None:
        self._rebuild()

    def _matches(self, row: AppRow) -> bool:
        wanted = self.filter_text.strip().lower()
        return not wanted or wanted in row.name.lower() or wanted in row.context.lower()

    def _rebuild(self) -> None:
        keep = self.highlighted_app
        self.clear()
        self._shown.clear()
        for row in self.rows_by_app.values():
            if self._matches(row):
                cells = self._cells(row)
                self.add_row(*(cells[key] for key, _ in COLUMNS), key=row.name)
                self._shown.update({(row.name, key): _signature(cell) for key, cell in cells.items()})
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep))
        self._fit_revisions()
        self._schedule_ages()

    def _restyle(self) -> None:
        for row in self.rows_by_app.values():
            if row.name in self.rows:
                for key, cell in self._cells(row).items():
                    self._put(row.name, key, cell)

    def _put(self, app: str, key: str, cell: Text) -> None:
        signature = _signature(cell)
        if self._shown.get((app, key)) != signature:
            self._shown[(app, key)] = signature
            self.update_cell(app, key, cell, update_width=True)

    def _cells(self, row: AppRow) -> dict[str, Text]:
        variables = self.app.theme_variables
        plain = Style()
        cells = {
            "app": Text(f" {row.name} ", style=Style(bold=True)),
            "context": Text(f"{row.context} ", style=plain),
            "sync": _spaced(status_text(row.sync, variables)),
            "health": _spaced(status_text(row.health, variables)),
            "drift": self._drift(row, variables),
            "policy": Text(
                f"{_policy(row)} ", style=tone_style(Tone.QUIET, variables) if row.read_only else plain
            ),
            "age": Text(f"{self._age(row)} ", style=plain),
            "revision": self._revision(row, variables),
        }
        return cells

    def _drift(self, row: AppRow, variables: Mapping[str, str]) -> Text:
        text = Text(no_wrap=True)
        for word, count in (
            ("OutOfSync", row.out_of_sync),
            ("Missing", row.missing),
            ("Extraneous", row.extraneous),
        ):
            glyph, tone = LOOKS[word]
            text.append(f"{glyph}{count} ", style=tone_style(tone if count else Tone.QUIET, variables))
        return text

    def _revision(self, row: AppRow, variables: Mapping[str, str]) -> Text:
        width = self._revision_room
        if row.error:
            return Text(_cut(f"⚠ {row.error}", width), style=tone_style(Tone.BAD, variables), no_wrap=True)
        line = short_revision(row.revision)
        if row.subject:
            line = f"{line} {row.subject}"
        return Text(_cut(line, width), no_wrap=True)

    @staticmethod
    def _age(row: AppRow) -> str:
        return "-" if row.last_event is None else age_text(time.monotonic() - row.last_event)

    # Ages, and the width the revision may take.

    def _schedule_ages(self) -> None:
        """Arm one timer for the moment the first age is due to read differently (none while no ages)."""
        now = time.monotonic()
        waits = [
            seconds_to_next_age(now - row.last_event)
            for row in self.rows_by_app.values()
            if row.last_event is not None
        ]
        if not waits:
            return
        due = now + min(waits) + 0.05
        if self._age_timer is not None:
            if self._age_due <= due:
                return
            self._age_timer.stop()
        self._age_due = due
        self._age_timer = self.set_timer(due - now, self._refresh_ages, name="app-ages")

    def _refresh_ages(self) -> None:
        self._age_timer = None
        for row in self.rows_by_app.values():
            if row.name in self.rows:
                self._put(row.name, "age", Text(f"{self._age(row)} "))
        self._schedule_ages()

    def _room_for_revision(self) -> int:
        """What the other columns leave of the width for the revision, the last and least needed one.

        Measured from the text shown rather than from DataTable's column widths, which it updates
        only on its next render.
        """
        width = self.scrollable_content_region.width
        if not width:
            return self._revision_room
        widths = {key: cell_len(_header(key, label)) for key, label in COLUMNS if key != "revision"}
        for (_, key), (plain, _) in self._shown.items():
            if key in widths:
                widths[key] = max(widths[key], cell_len(plain))
        used = sum(widths.values()) + 2 * self.cell_padding * len(COLUMNS)
        return max(8, width - used - 1)

    def _fit_revisions(self) -> None:
        room = self._room_for_revision()
        if room == self._revision_room:
            return
        self._revision_room = room
        variables = self.app.theme_variables
        for row in self.rows_by_app.values():
            if row.name in self.rows:
                self._put(row.name, "revision", self._revision(row, variables))

    def on_resize(self) -> None:
        self._fit_revisions()


def _policy(row: AppRow) -> str:
    words = ["auto" if row.auto_sync else "manual"]
    if row.self_heal:
        words.append("heal")
    policy = "·".join(words)
    return f"{policy} (ro)" if row.read_only else policy


def _header(key: str, label: str) -> str:
    return f" {label} " if key == "app" else f"{label} "


def _spaced(text: Text) -> Text:
    text.append(" ")
    return text


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def _signature(cell: Text) -> tuple[str, str]:
    spans = ";".join(f"{span.start}:{span.end}:{span.style}" for span in cell.spans)
    return cell.plain, f"{cell.style}|{spans}"


__all__ = ["AppRow", "AppTable", "age_text", "seconds_to_next_age", "status_label"]
