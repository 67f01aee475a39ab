"""The dashboard's table: one row per app, updated cell by cell as the engine reports changes.

The screen hands down `AppRow` values. A row is repainted only when its text changed, and then
only its own line (`RowTable` renders only the lines on screen, and a row's cells only when it is
painted), so one event costs the same at 10 apps or 10,000, and an unchanged row never repaints.
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

from core.app_of_apps import family_order
from core.model import SyncStatus
from core.redact import redact_text
from core.runtime import AppRuntime
from tui.keys import binding
from tui.status_text import LOOKS, SHARED, Tone, rollback_label, short_revision, status_label, tone_style
from tui.widgets.row_table import Column, RowTable

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
    rolled_back: str = ""
    """`↶ RolledBack: <bad> -> <good>` while an automated rollback pins the app (tui.status_text)."""
    shared: int = 0
    """How many of its objects another app declares too: a warning, shown beside the drift counts."""
    parent: str = ""
    """The app that renders this one (app of apps): the row sits indented under its parent's."""
    policy_known: bool = True
    """False for an agent's app whose policy the agent has not said (`check -o json` does not): `-`."""

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
            error=redact_text(runtime.cluster_error) if runtime.cluster_error else None,
            parent=runtime.app.parent,
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
            next((redact_text(error) for error in errors if error), None),
            last_event,
            rollback_label(runtime.rollback),
            shared=len(runtime.shared_with),
            parent=runtime.app.parent,
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


class AppTable(RowTable):
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

    def __init__(self, *, id: str | None = None, place: str = "CONTEXT", by_name: bool = False) -> None:
        """`place` heads the column saying where an app runs: its context, or the agent holding it.
        `by_name` orders the apps by name rather than as they came (the config's order in-process;
        attached, as each agent happened to answer)."""
        labels = [(key, place if key == "context" else label) for key, label in COLUMNS]
        super().__init__([Column(key, _header(key, label)) for key, label in labels], self, id=id)
        self.by_name = by_name
        self.rows_by_app: dict[str, AppRow] = {}
        """The latest row of every app, shown or filtered out, in the order apps were added."""
        self._shown: dict[str, tuple[str, ...]] = {}
        """The text of each shown row as last painted; its colours follow from its words."""
        self._age_timer: Timer | None = None
        self._age_due = 0.0

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self.refresh_all, init=False)

    # What the screen calls.

    def set_rows(self, rows: Iterable[AppRow]) -> None:
        """Show `rows` (first use, or when the filter changes: the only times rows are re-added)."""
        for row in rows:
            self.rows_by_app[row.name] = row
        self._rebuild()

    def update_row(self, row: AppRow) -> None:
        """Show a changed app: its line is repainted only when its text changed."""
        self.rows_by_app[row.name] = row
        if not self._matches(row):
            return
        if row.name not in self:
            self._rebuild()
            return
        self._repaint_if_changed(row)
        self._schedule_ages([row])

    def remove_row(self, name: str) -> None:
        """An app the engine no longer has (a child app its parent stopped rendering): its row goes."""
        if self.rows_by_app.pop(name, None) is not None and name in self:
            self._rebuild()

    @property
    def highlighted_app(self) -> str | None:
        """The app under the cursor; None when the table is empty."""
        return self.highlighted_key

    # Rows.

    def row_cells(self, key: str) -> list[Text]:
        row = self.rows_by_app[key]
        variables = self.app.theme_variables
        name, context, sync, health, _, policy, age, revision = self._texts(row)
        plain = Style()
        return [
            Text(name, style=Style(bold=True)),
            Text(context, style=plain),
            Text(sync, style=tone_style(_tone(row.sync), variables)),
            Text(health, style=tone_style(_tone(row.health), variables)),
            self._drift(row, variables),
            Text(policy, style=tone_style(Tone.QUIET, variables) if row.read_only else plain),
            Text(age, style=plain),
            Text(
                revision,
                style=tone_style(Tone.BAD, variables) if row.error or row.rolled_back else plain,
                no_wrap=True,
            ),
        ]

    def row_widths(self, key: str) -> list[int]:
        return [cell_len(text) for text in self._texts(self.rows_by_app[key])]

    def _texts(self, row: AppRow) -> tuple[str, ...]:
        """The plain text of each cell: what the widths are measured from and repaints decided on."""
        if row.error:
            revision = f"⚠ {row.error}"
        elif row.rolled_back:
            revision = row.rolled_back
        else:
            revision = short_revision(row.revision)
            if row.subject:
                revision = f"{revision} {row.subject}"
        return (
            f" {self._indent(row)}{row.name} ",
            f"{row.context} ",
            f"{status_label(row.sync)} ",
            f"{status_label(row.health)} ",
            "".join(part for part, _ in _drift_parts(row)),
            f"{_policy(row)} ",
            f"{self._age(row)} ",
            revision,
        )

    @staticmethod
    def _drift(row: AppRow, variables: Mapping[str, str]) -> Text:
        text = Text(no_wrap=True)
        for part, tone in _drift_parts(row):
            text.append(part, style=tone_style(tone, variables))
        return text

    def _indent(self, row: AppRow) -> str:
        """`  └ ` per generation for a child app (app of apps); nothing for an app of the config."""
        depth, parent, seen = 0, row.parent, {row.name}
        while parent in self.rows_by_app and parent not in seen:
            depth, seen = depth + 1, seen | {parent}
            parent = self.rows_by_app[parent].parent
        return f"{'  ' * (depth - 1)}└ " if depth else ""

    @staticmethod
    def _age(row: AppRow) -> str:
        return "-" if row.last_event is None else age_text(time.monotonic() - row.last_event)

    def _repaint_if_changed(self, row: AppRow) -> None:
        texts = self._texts(row)
        if self._shown.get(row.name) != texts:
            self._shown[row.name] = texts
            self.refresh_row(row.name)

    # Rendering.

    def watch_filter_text(self) -> None:
        self._rebuild()

    def _matches(self, row: AppRow) -> bool:
        wanted = self.filter_text.strip().lower()
        return not wanted or wanted in row.name.lower() or wanted in row.context.lower()

    def _rebuild(self) -> None:
        rows = self.rows_by_app
        names = sorted(rows) if self.by_name else rows
        ordered = family_order({name: rows[name].parent for name in names})  # children under parents
        shown = [rows[name] for name in ordered if self._matches(rows[name])]
        self._shown = {row.name: self._texts(row) for row in shown}
        self.set_row_keys(row.name for row in shown)
        self._schedule_ages(shown)

    # Ages.

    def _schedule_ages(self, rows: Iterable[AppRow]) -> None:
        """Arm one timer for the moment the first of `rows`' ages is due to read differently, unless
        one is armed for earlier already: an update looks at its own row, not at every row."""
        now = time.monotonic()
        waits = [seconds_to_next_age(now - row.last_event) for row in rows if row.last_event is not None]
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
            if row.name in self:
                self._repaint_if_changed(row)
        self._schedule_ages(self.rows_by_app.values())


def _policy(row: AppRow) -> str:
    words = ["auto" if row.auto_sync else "manual"]
    if row.self_heal:
        words.append("heal")
    policy = "·".join(words) if row.policy_known else "-"
    return f"{policy} (ro)" if row.read_only else policy


def _header(key: str, label: str) -> str:
    return f" {label} " if key == "app" else f"{label} "


def _drift_parts(row: AppRow) -> list[tuple[str, Tone]]:
    """`≠1 `, `∅0 `, `+0 `: each count with its glyph, toned when it is not zero; then `⚠1 ` for the
    objects another app declares too, when there are any."""
    parts = []
    counts = (("OutOfSync", row.out_of_sync), ("Missing", row.missing), ("Extraneous", row.extraneous))
    for word, count in counts:
        glyph, tone = LOOKS[word]
        parts.append((f"{glyph}{count} ", tone if count else Tone.QUIET))
    if row.shared:  # only then: a warning, where a zero would only be noise
        glyph, tone = LOOKS[SHARED]
        parts.append((f"{glyph}{row.shared} ", tone))
    return parts


def _tone(word: str) -> Tone:
    return LOOKS.get(word, ("·", Tone.QUIET))[1]


__all__ = ["AppRow", "AppTable", "age_text", "seconds_to_next_age", "status_label"]
