"""The first screen: every app in one table, the clusters' watch state, and the actions on an app.

Rows follow the engine through `EngineFeed.Updated`; only the apps it names are recomputed. Child
apps (app of apps) come and go with their parent's renders: each sits indented under its parent. The
actions on the highlighted app (sync, prune, toggles, refresh) are the App's `AppActions`, shared
with the app and history screens; this screen only picks the app and shows the new policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input
from textual.worker import Worker, WorkerState

from core.engine import Engine
from core.operations import is_read_only
from tui.actions import ActsOnApps
from tui.keys import binding
from tui.widgets.app_table import AppRow, AppTable
from tui.widgets.engine_feed import EngineFeed
from tui.widgets.start_progress import StartProgressLine
from tui.widgets.status_bar import StatusBar, StatusLine

if TYPE_CHECKING:
    from tui.app import KubedriftApp


class DashboardScreen(Screen[None]):
    """Apps at a glance; enter opens one, s/p/h/a act on the highlighted one."""

    BINDINGS = [
        binding("open"),
        binding("diff", "open", show=False),
        binding("sync"),
        binding("prune"),
        binding("toggle_self_heal"),
        binding("toggle_auto_sync"),
        binding("refresh", show=False),
        binding("filter", show=False),
        binding("history"),
        binding("back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._last_event: dict[str, float] = {}
        self._subjects: dict[str, str] = {}
        self._subjects_asked: set[str] = set()

    @property
    def kubedrift(self) -> KubedriftApp:
        return cast("KubedriftApp", self.app)

    @property
    def engine(self) -> Engine:
        return self.kubedrift.engine

    def compose(self) -> ComposeResult:
        yield Header()
        yield self._app_table()
        yield Input(
            placeholder="filter apps by name or context; enter keeps it, escape clears it",
            id="filter",
        )
        yield from self._start_progress()
        yield self._status_line()
        yield Footer()

    def _app_table(self) -> AppTable:
        return AppTable(id="apps")

    def _start_progress(self) -> Iterable[Widget]:
        """The engine's start-up progress, shown until every app is evaluated (none when attached)."""
        yield StartProgressLine(self.engine, id="start-progress")

    def _status_line(self) -> StatusLine:
        """The line under the screen: the clusters' watch state here (the attached screens: agents)."""
        return StatusBar(
            self.engine,
            read_only=self.kubedrift.read_only,
            banner=self.kubedrift.settings.banner,
            id="status",
        )

    def on_mount(self) -> None:
        # A blinking cursor repaints twice a second: too much for an SSH session left on the filter.
        self.query_one("#filter", Input).cursor_blink = False
        table = self.query_one(AppTable)
        table.set_rows(self._first_rows())
        table.focus()

    def _first_rows(self) -> Iterable[AppRow]:
        """Every app as Loading: the engine starts once they are on screen."""
        return (
            AppRow.loading(runtime, read_only=is_read_only(self.engine, name))
            for name, runtime in self.engine.apps.items()
        )

    # Live updates.

    def on_engine_feed_updated(self, message: EngineFeed.Updated) -> None:
        table = self.query_one(AppTable)
        now = time.monotonic()
        for app in sorted(message.apps):
            if self._has_app(app):
                self._last_event[app] = now
                table.update_row(self._row(app))
            else:  # a child app whose parent no longer renders it (app of apps)
                table.remove_row(app)
                self._last_event.pop(app, None)
        self.query_one(StatusLine).refresh_state()
        for line in self.query(StartProgressLine):  # hidden with the first verdicts, not a poll later
            line.refresh_progress()

    def _has_app(self, app: str) -> bool:
        return app in self.engine.apps

    def _row(self, app: str) -> AppRow:
        runtime = self.engine.apps[app]
        revision = runtime.desired.revision
        if revision and not revision.startswith("folder:") and revision not in self._subjects_asked:
            self._subjects_asked.add(revision)
            self._read_subject(app, revision)
        return AppRow.of(
            runtime,
            read_only=is_read_only(self.engine, app),
            subject=self._subjects.get(revision or "", ""),
            last_event=self._last_event.get(app),
        )

    @work(thread=True, group="git", exit_on_error=False)
    def _read_subject(self, app: str, revision: str) -> tuple[str, str]:
        """The subject line of `revision`'s commit (Git blocks, hence a thread)."""
        runtime = self.engine.apps.get(app)  # a child app may have gone meanwhile
        loader = runtime.loader if runtime is not None else None
        repository = loader.source.repository if loader is not None else None
        if repository is None:
            return revision, ""
        commits = repository.history(".", revision, max_count=1)
        return revision, commits[0].subject if commits else ""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place this screen's background work reports: commit subjects (syncs run on AppActions)."""
        worker = event.worker
        if event.state is WorkerState.SUCCESS and worker.group == "git" and worker.result is not None:
            revision, subject = worker.result
            self._subjects[revision] = subject
            for app, runtime in self.engine.apps.items():
                if runtime.desired.revision == revision:
                    self.query_one(AppTable).update_row(self._row(app))
        # A failed subject read leaves the row with the SHA alone; the history screen says why.

    # Actions on the highlighted app.

    def action_open(self) -> None:
        from tui.screens.app_detail import AppDetailScreen  # the app screen imports this module

        self._push_for_highlighted(AppDetailScreen)

    @on(AppTable.RowSelected, "#apps")
    def _row_selected(self) -> None:
        self.action_open()

    def action_history(self) -> None:
        from tui.screens.history import HistoryScreen

        self._push_for_highlighted(HistoryScreen)

    def action_sync(self) -> None:
        app = self._target()
        if app is not None:
            self._actions().ask_to_sync(app)

    def action_prune(self) -> None:
        app = self._target()
        if app is not None:
            self._actions().ask_to_sync(app, prune=True)

    def action_toggle_self_heal(self) -> None:
        app = self._target()
        if app is not None and self._actions().toggle_self_heal(app):
            self.query_one(AppTable).update_row(self._row(app))

    def action_toggle_auto_sync(self) -> None:
        app = self._target()
        if app is not None and self._actions().toggle_auto_sync(app):
            self.query_one(AppTable).update_row(self._row(app))

    def action_refresh(self) -> None:
        self._actions().refresh_app()

    def action_filter(self) -> None:
        self.set_class(True, "-filtering")
        field = self.query_one("#filter", Input)
        field.value = self.query_one(AppTable).filter_text
        field.focus()

    def action_back(self) -> None:
        """Escape on the dashboard: clear and close the filter (there is no screen to go back to)."""
        self.query_one("#filter", Input).value = ""
        self._close_filter()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(AppTable).filter_text = event.value

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self._close_filter()

    def _close_filter(self) -> None:
        self.set_class(False, "-filtering")
        self.query_one(AppTable).focus()

    # How the actions are carried out.

    def _target(self) -> str | None:
        """The highlighted app, or None after saying that no app is highlighted."""
        app = self.query_one(AppTable).highlighted_app
        if app is None:
            self.notify("No app is highlighted.", severity="warning", timeout=3)
        return app

    def _push_for_highlighted(self, screen_class: Callable[[str], Screen[Any]]) -> None:
        app = self.query_one(AppTable).highlighted_app
        if app is not None:
            self.app.push_screen(screen_class(app))

    def _actions(self) -> ActsOnApps:
        return self.kubedrift.actions
