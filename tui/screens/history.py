"""`H`: the Git commits that touched an app's path; the highlighted one's field-level difference from
the current revision; `s` rolls the app back to it, behind the same confirmation as a sync.

Git and rendering block, so the history and each commit's difference are read on thread workers;
one `Worker.StateChanged` handler takes their results and failures. A rollback runs on the App's
`AppActions`, like every sync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header
from textual.worker import Worker, WorkerState

from core.drift.object_compare import DeltaKind, ObjectDelta
from core.engine import Engine
from core.errors import KubedriftError
from core.gitsource import Commit
from core.model import ResourceKey, SyncStatus
from core.operations import PlannedChange, app_history, revision_changes
from core.redact import redact_text
from core.runtime import AppRuntime
from tui.keys import binding
from tui.status_text import short_revision
from tui.widgets.commit_list import CommitList
from tui.widgets.engine_feed import EngineFeed
from tui.widgets.revision_delta import RevisionDelta

if TYPE_CHECKING:
    from tui.app import KubedriftApp


def rollback_plan(
    runtime: AppRuntime,
    deltas: Sequence[ObjectDelta],
    live_object: Callable[[ResourceKey], Mapping[str, Any] | None],
) -> list[PlannedChange]:
    """What a sync to another revision does: create what is not live, apply what that revision
    changes or what has drifted. Objects the revision lacks are left alone (no prune)."""
    added = {delta.key for delta in deltas if delta.kind is DeltaKind.ADDED}
    removed = {delta.key for delta in deltas if delta.kind is DeltaKind.REMOVED}
    changed = {delta.key for delta in deltas if delta.kind is DeltaKind.CHANGED}
    plan: list[PlannedChange] = []
    for key in sorted((set(runtime.desired.objects) | added) - removed):
        result = runtime.reconciler.results.get(key)
        drifted = result is not None and result.status is not SyncStatus.SYNCED
        if live_object(key) is None:
            plan.append(PlannedChange(key, "create"))
        elif key in added or key in changed or drifted:
            plan.append(PlannedChange(key, "apply"))
    return plan


class HistoryScreen(Screen[None]):
    """Commits of one app's path, what each would change, and rollback."""

    BINDINGS = [
        binding("sync", "rollback", description="Roll back"),
        binding("diff", "focus_delta"),
        binding("refresh", "reload", show=False),
        binding("back"),
    ]

    def __init__(self, app_name: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.deltas: dict[str, list[ObjectDelta]] = {}
        """The difference of each commit read so far, against `deltas_against`."""
        self.deltas_against: str | None = None
        self._history_for: str | None = None
        self._rollback_wanted: str | None = None
        self._reading: str | None = None

    @property
    def kubedrift(self) -> KubedriftApp:
        return cast("KubedriftApp", self.app)

    @property
    def engine(self) -> Engine:
        return self.kubedrift.engine

    @property
    def runtime(self) -> AppRuntime:
        return self.engine.apps[self.app_name]

    def compose(self) -> ComposeResult:
        yield Header()
        yield CommitList(id="commits")
        yield RevisionDelta(id="delta")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"kubedrift · {self.app_name} · history"
        source = self.runtime.app.source
        self.query_one(CommitList).border_title = f"commits touching {source.path}"
        self.query_one(RevisionDelta).border_title = "changes against the current revision"
        self.query_one(RevisionDelta).show_sentence("Reading the Git history…")
        self.query_one(CommitList).focus()
        self._reload()

    # Loading.

    def _reload(self) -> None:
        self._history_for = self.runtime.desired.revision
        self._read_history()

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _read_history(self) -> list[Commit]:
        return app_history(self.engine, self.app_name)

    def _start_reading(self, sha: str) -> None:
        if sha != self._reading:
            self._reading = sha
            self._read_delta(sha)

    @work(thread=True, exclusive=True, group="delta", exit_on_error=False)
    def _read_delta(self, sha: str) -> tuple[str, list[ObjectDelta]]:
        return sha, revision_changes(self.engine, self.app_name, sha)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place the history and the differences arrive, or fail, as a sentence."""
        worker = event.worker
        if event.state is WorkerState.SUCCESS and worker.group == "history":
            self._show_history(cast("list[Commit]", worker.result))
        elif event.state is WorkerState.SUCCESS and worker.group == "delta":
            sha, deltas = cast("tuple[str, list[ObjectDelta]]", worker.result)
            self._reading = None
            self.deltas[sha] = deltas
            if sha == self.query_one(CommitList).highlighted_sha:
                self._show_delta(sha)
            if sha == self._rollback_wanted:
                self._ask_to_roll_back(sha)
        elif event.state is WorkerState.ERROR and worker.group in ("history", "delta"):
            error = worker.error
            what = "the Git history" if worker.group == "history" else "that revision"
            text = str(error) if isinstance(error, KubedriftError) else f"cannot read {what}: {error!r}"
            text = redact_text(text)  # an unexpected Git error quotes the command line, repoURL included
            self._rollback_wanted = self._reading = None
            self.query_one(RevisionDelta).show_sentence(text)
            self.notify(text, title=self.app_name, severity="error", timeout=10)

    def _show_history(self, commits: list[Commit]) -> None:
        runtime = self.runtime
        if runtime.desired.revision != self.deltas_against:
            self.deltas.clear()  # differences were against the previous current revision
            self.deltas_against = runtime.desired.revision
        last_sync = runtime.last_sync.revision if runtime.last_sync is not None else None
        commit_list = self.query_one(CommitList)
        commit_list.set_commits(commits, current=runtime.desired.revision, last_sync=last_sync)
        if not commits:
            folder = runtime.loader is None or runtime.loader.source.is_folder
            self.query_one(RevisionDelta).show_sentence(
                f"{self.app_name} is read from a plain folder, which has no Git history."
                if folder
                else f"No commit touches {runtime.app.source.path} yet."
            )
            return
        self._commit_highlighted()

    @on(DataTable.RowHighlighted, "#commits")
    def _commit_highlighted(self) -> None:
        sha = self.query_one(CommitList).highlighted_sha
        if sha is None:
            return
        if sha in self.deltas:
            self._show_delta(sha)
        else:
            self.query_one(RevisionDelta).show_sentence(f"Reading {short_revision(sha)}…")
            self._start_reading(sha)

    def _show_delta(self, sha: str) -> None:
        self.query_one(RevisionDelta).show_deltas(sha, self.deltas_against, self.deltas[sha])

    @on(DataTable.RowSelected, "#commits")
    def _commit_selected(self) -> None:
        self.action_focus_delta()

    # Live updates: a new commit reloads the list; a sync moves the markers.

    def on_engine_feed_updated(self, message: EngineFeed.Updated) -> None:
        if self.app_name not in message.apps:
            return
        runtime = self.runtime
        if runtime.desired.revision != self._history_for:
            self._reload()
            return
        last_sync = runtime.last_sync.revision if runtime.last_sync is not None else None
        self.query_one(CommitList).set_markers(current=runtime.desired.revision, last_sync=last_sync)

    # Actions.

    def action_focus_delta(self) -> None:
        """Move the focus to the changes pane, to scroll it."""
        self.query_one(RevisionDelta).focus()

    def action_reload(self) -> None:
        """Fetch Git now and read the history again."""
        self.kubedrift.actions.refresh_app(self.app_name)
        self._reload()

    def action_rollback(self) -> None:
        """Sync the app to the highlighted commit, after the confirmation."""
        sha = self.query_one(CommitList).highlighted_sha
        actions = self.kubedrift.actions
        if sha is None or actions.refused(self.app_name, f"rollback to {short_revision(sha)}"):
            return
        policy = self.runtime.app.sync_policy
        if sha != self.runtime.desired.revision and (policy.automated or policy.self_heal):
            self.notify(
                f"Rollback refused: auto-sync or self-heal would bring {self.app_name} straight back to "
                "Git; turn them off for this session first (a, h on the app screen).",
                title="rollback",
                severity="warning",
                timeout=8,
            )
            return
        if sha == self.runtime.desired.revision:
            actions.ask_to_sync(self.app_name)
        elif sha in self.deltas:
            self._ask_to_roll_back(sha)
        else:
            self._rollback_wanted = sha  # asked once its difference has been read
            self._start_reading(sha)

    def _ask_to_roll_back(self, sha: str) -> None:
        self._rollback_wanted = None
        plan = rollback_plan(
            self.runtime, self.deltas[sha], lambda key: self.engine.live_object(self.app_name, key)
        )
        self.kubedrift.actions.ask_to_sync(self.app_name, revision=sha, plan=plan)

    def action_back(self) -> None:
        """Escape: leave the changes pane first, then the screen."""
        commits = self.query_one(CommitList)
        if not commits.has_focus:
            commits.focus()
        else:
            self.app.pop_screen()
