"""The first screen: every app in one table, the clusters' watch state, and the actions on an app.

Rows follow the engine through `EngineFeed.Updated`; only the apps it names are recomputed. Sync
and prune ask first (ConfirmScreen), then run `core.operations.sync_now` on a thread worker; one
`Worker.StateChanged` handler turns every worker's outcome into a log line and a notification.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input
from textual.worker import Worker, WorkerState

from core.engine import Engine
from core.errors import KubedriftError
from core.model import SyncResult
from core.operations import is_read_only, plan_sync, sync_now
from core.status_events import rfc3339_now
from tui.keys import binding
from tui.status_text import describe_sync
from tui.widgets.app_table import AppRow, AppTable
from tui.widgets.engine_feed import EngineFeed, LogEntry, LogLevel
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.app import KubedriftApp


@dataclass(frozen=True, slots=True)
class _SyncRequest:
    """What a sync worker was asked to do, so its outcome can be reported against the right app."""

    app: str
    prune: bool

    @property
    def verb(self) -> str:
        return "sync with prune" if self.prune else "sync"


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
        self._syncs: dict[Worker[SyncResult], _SyncRequest] = {}

    @property
    def kubedrift(self) -> KubedriftApp:
        return cast("KubedriftApp", self.app)

    @property
    def engine(self) -> Engine:
        return self.kubedrift.engine

    def compose(self) -> ComposeResult:
        yield Header()
        yield AppTable(id="apps")
        yield Input(
            placeholder="filter apps by name or context; enter keeps it, escape clears it", id="filter"
        )
        yield StatusBar(
            self.engine,
            read_only=self.kubedrift.read_only,
            banner=self.kubedrift.settings.banner,
            id="status",
        )
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(AppTable)
        table.set_rows(
            AppRow.loading(runtime, read_only=is_read_only(self.engine, name))
            for name, runtime in self.engine.apps.items()
        )
        table.focus()

    # Live updates.

    def on_engine_feed_updated(self, message: EngineFeed.Updated) -> None:
        table = self.query_one(AppTable)
        now = time.monotonic()
        for app in sorted(message.apps):
            if app in self.engine.apps:
                self._last_event[app] = now
                table.update_row(self._row(app))
        self.query_one(StatusBar).refresh_state()

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
        runtime = self.engine.apps[app]
        repository = runtime.loader.source.repository if runtime.loader is not None else None
        if repository is None:
            return revision, ""
        commits = repository.history(".", revision, max_count=1)
        return revision, commits[0].subject if commits else ""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place this screen's background work reports: commit subjects and syncs."""
        worker = event.worker
        if event.state is WorkerState.SUCCESS and worker.group == "git" and worker.result is not None:
            revision, subject = worker.result
            self._subjects[revision] = subject
            for app, runtime in self.engine.apps.items():
                if runtime.desired.revision == revision:
                    self.query_one(AppTable).update_row(self._row(app))
        elif event.state is WorkerState.SUCCESS and worker in self._syncs:
            request = self._syncs.pop(worker)
            self._sync_succeeded(request, worker.result)
        elif event.state is WorkerState.ERROR and worker in self._syncs:
            request = self._syncs.pop(worker)
            self._sync_failed(request, worker.error)
        elif event.state is WorkerState.ERROR and worker.group == "git":
            pass  # no subject: the row shows the SHA alone, and the history screen says why

    # Actions on the highlighted app.

    def action_open(self) -> None:
        self._push_app_screen("tui.screens.app_detail", "AppDetailScreen", "the app screen")

    @on(DataTable.RowSelected, "#apps")
    def _row_selected(self) -> None:
        self.action_open()

    def action_history(self) -> None:
        self._push_app_screen("tui.screens.history", "HistoryScreen", "the history screen")

    def action_sync(self) -> None:
        self._ask_to_sync(prune=False)

    def action_prune(self) -> None:
        self._ask_to_sync(prune=True)

    def action_toggle_self_heal(self) -> None:
        app = self._target("toggle self-heal")
        if app is None:
            return
        policy = self.engine.apps[app].app.sync_policy
        self.engine.set_policy(app, self_heal=not policy.self_heal)
        caveat = "" if policy.automated or policy.self_heal else "; it acts only while auto-sync is on"
        self._policy_changed(app, f"self-heal {'off' if policy.self_heal else 'on'} for this session{caveat}")

    def action_toggle_auto_sync(self) -> None:
        app = self._target("toggle auto-sync")
        if app is None:
            return
        automated = self.engine.apps[app].app.sync_policy.automated
        self.engine.set_policy(app, automated=not automated)
        self._policy_changed(app, f"auto-sync {'off' if automated else 'on'} for this session")

    def action_refresh(self) -> None:
        self.engine.refresh()
        self._feed().log_entry(LogEntry(rfc3339_now(), "", "refresh: fetching Git and relisting every watch"))
        self.notify("Fetching Git and relisting the clusters…", title="refresh", timeout=3)

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

    def _target(self, doing: str) -> str | None:
        """The highlighted app, or None after telling the user why `doing` cannot go ahead."""
        app = self.query_one(AppTable).highlighted_app
        if app is None:
            self.notify("No app is highlighted.", severity="warning", timeout=3)
            return None
        if is_read_only(self.engine, app):
            context = self.engine.apps[app].context or "its cluster"
            self.notify(
                f"Read-only: {doing} refused for {app}; kubedrift is read-only for {context}, "
                "so nothing was sent.",
                title="read-only",
                severity="warning",
            )
            return None
        return app

    def _ask_to_sync(self, *, prune: bool) -> None:
        request = _SyncRequest(self._target("sync with prune" if prune else "sync") or "", prune)
        if not request.app:
            return
        runtime = self.engine.apps[request.app]
        if runtime.desired.revision is None:
            self.notify(
                f"{request.app} has no desired state from Git yet; wait for it to load.", severity="warning"
            )
            return
        plan = plan_sync(runtime, prune=prune)
        if not plan:
            nothing = (
                "in sync and has no leftovers to prune" if prune else "in sync: there is nothing to apply"
            )
            self.notify(f"{request.app} is {nothing}.", title=request.verb, timeout=4)
            return
        from tui.screens.confirm import ConfirmScreen

        def confirmed(go: bool | None) -> None:
            if go:
                self._feed().sync_started(request.app)
                self._syncs[self._sync(request)] = request

        self.app.push_screen(ConfirmScreen(request.app, plan, prune=prune), confirmed)

    @work(thread=True, group="sync", exit_on_error=False)
    def _sync(self, request: _SyncRequest) -> SyncResult:
        return sync_now(self.engine, request.app, prune=request.prune)

    def _sync_succeeded(self, request: _SyncRequest, result: SyncResult | None) -> None:
        if result is None:
            return
        summary = f"{request.verb}: {describe_sync(result)}"
        level = LogLevel.ERROR if result.failed else LogLevel.SUCCESS
        self._feed().sync_ended(request.app, LogEntry(rfc3339_now(), request.app, summary, level))
        self.notify(summary, title=request.app, severity="error" if result.failed else "information")

    def _sync_failed(self, request: _SyncRequest, error: BaseException | None) -> None:
        if isinstance(error, KubedriftError):
            text = str(error)
        else:
            text = f"{request.verb} of {request.app} failed unexpectedly: {error!r}"
        self._feed().sync_ended(request.app, LogEntry(rfc3339_now(), request.app, text, LogLevel.ERROR))
        self.notify(text, title=request.app, severity="error", timeout=10)

    def _policy_changed(self, app: str, text: str) -> None:
        self._feed().log_entry(LogEntry(rfc3339_now(), app, text))
        self.query_one(AppTable).update_row(self._row(app))
        self.notify(f"{app}: {text}.", timeout=4)

    def _push_app_screen(self, module: str, class_name: str, what: str) -> None:
        app = self.query_one(AppTable).highlighted_app
        if app is None:
            return
        # The app and history screens are built separately; until they exist the key says so.
        if importlib.util.find_spec(module) is None:
            self.notify(f"{what} is not available in this build.", severity="warning", timeout=3)
            return
        screen_class = getattr(importlib.import_module(module), class_name)
        self.app.push_screen(screen_class(app))

    def _feed(self) -> EngineFeed:
        return self.kubedrift.feed
