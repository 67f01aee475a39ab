"""What a person does to an app, for every screen that offers it: sync, prune, roll back, the
session toggles and refresh.

`AppActions` is an invisible widget that the App mounts beside the EngineFeed, on the base screen
that lives as long as the App. Sync workers run on it rather than on the screen that asked, so a
person who leaves the app screen while a sync is under way still gets its result: a worker is
cancelled with the node that runs it, and the base screen is never popped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from textual.widget import Widget
from textual.worker import Worker, WorkerState

from core.audit import AuditWriteError
from core.engine import Engine
from core.errors import KubedriftError
from core.model import SyncResult
from core.operations import PlannedChange, plan_sync, read_only_reason_for, sync_now
from core.redact import redact_text
from core.status_events import rfc3339_now
from core.sync_waves import SyncProgress
from tui.status_text import describe_leftovers, describe_sync, short_revision
from tui.widgets.engine_feed import EngineFeed, LogEntry, LogLevel

PROGRESS_PER_SECOND = 10
"""How often a sync's progress line may repaint: a sync of thousands must not flood the UI thread."""


class ActsOnApps(Protocol):
    """What the screens ask of the App's actions: `AppActions` here, `RemoteActions` (tui.remote_actions)
    when attached to agents, which sends each action to the agent that holds the app."""

    def ask_to_sync(self, app: str, *, prune: bool = False) -> None: ...

    def toggle_self_heal(self, app: str) -> bool: ...

    def toggle_auto_sync(self, app: str) -> bool: ...

    def refresh_app(self, app: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """What a sync worker was asked to do, so its outcome is reported against the right app."""

    app: str
    prune: bool = False
    revision: str | None = None
    """A commit to sync to instead of the target revision: a rollback."""

    @property
    def verb(self) -> str:
        if self.revision is not None:
            return f"rollback to {short_revision(self.revision)}"
        return "sync with prune" if self.prune else "sync"


class AppActions(Widget):
    """Runs the actions on apps and reports each outcome to the event log and as a notification."""

    DEFAULT_CSS = """
    AppActions {
        display: none;
    }
    """

    def __init__(self, engine: Engine, feed: EngineFeed, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.feed = feed
        self._syncs: dict[Worker[SyncResult], SyncRequest] = {}

    # Guards.

    def refused(self, app: str, doing: str) -> bool:
        """True, after telling the user why, when `app` is on a read-only cluster."""
        reason = read_only_reason_for(self.engine, app)
        if reason is None:
            return False
        self.notify(
            f"Read-only: {doing} refused for {app}; {reason}, so nothing was sent.",
            title="read-only",
            severity="warning",
        )
        return True

    # Sync, prune and rollback: asked first, then run on a thread.

    def ask_to_sync(
        self,
        app: str,
        *,
        prune: bool = False,
        revision: str | None = None,
        plan: Sequence[PlannedChange] | None = None,
    ) -> None:
        """Show what a sync of `app` will change and run it if the user agrees.

        `plan` is given for a rollback (`revision`), whose changes the caller worked out against
        that revision; otherwise it is the app's drift now.
        """
        request = SyncRequest(app, prune, revision)
        if self.refused(app, request.verb):
            return
        runtime = self.engine.apps[app]
        if runtime.desired.revision is None:
            self.notify(f"{app} has no desired state from Git yet; wait for it to load.", severity="warning")
            return
        changes = list(plan) if plan is not None else plan_sync(runtime, prune=prune)
        if not changes:
            nothing = (
                "in sync and has no leftovers to prune" if prune else "in sync: there is nothing to apply"
            )
            self.notify(f"{app} is {nothing}.", title=request.verb, timeout=4)
            return
        from tui.screens.confirm import ConfirmScreen

        def confirmed(go: bool | None) -> None:
            if go:
                self.feed.sync_started(app)
                self._syncs[self._run_sync(request)] = request

        self.app.push_screen(ConfirmScreen(app, changes, prune=prune, revision=revision), confirmed)

    def _run_sync(self, request: SyncRequest) -> Worker[SyncResult]:
        progress = self._progress_of(request.app)

        def work() -> SyncResult:
            # The audit line carries the revision, which is what tells a rollback apart.
            return sync_now(
                self.engine, request.app, prune=request.prune, revision=request.revision, progress=progress
            )

        return self.run_worker(work, name=request.verb, group="sync", thread=True, exit_on_error=False)

    def _progress_of(self, app: str) -> Callable[[SyncProgress], None]:
        """The sync worker's progress callback: each phase or wave event, and the progress line at
        most PROGRESS_PER_SECOND times a second, handed to the feed on the UI thread."""
        last = [float("-inf")]

        def report(progress: SyncProgress) -> None:
            if not progress.event:
                now = time.monotonic()
                if now - last[0] < 1 / PROGRESS_PER_SECOND and progress.done < progress.total:
                    return
                last[0] = now
            self.app.call_from_thread(self.feed.sync_progressed, app, progress)

        return report

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a sync's outcome, success or failure, becomes a log line and a notification.

        A sync whose audit line failed still shows its results, then the audit error after them.
        """
        request = self._syncs.get(event.worker)
        if request is None or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        del self._syncs[event.worker]
        error = event.worker.error
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, SyncResult):
            result = event.worker.result
            text = f"{request.verb}: {describe_sync(result)}"
            failed = result.failed
            leftovers = () if result.dry_run else self.engine.apps[request.app].leftovers
            if leftovers:  # drift rule 7: a sync is done only when what it applied is Synced
                text += f"; {describe_leftovers(leftovers)}"
            warned = bool(leftovers) and not failed
        elif isinstance(error, AuditWriteError):
            self._report_unaudited(request, error)
            return
        else:
            text = redact_text(
                str(error)
                if isinstance(error, KubedriftError)
                else f"{request.verb} of {request.app} failed unexpectedly: {error!r}"
            )
            failed, warned = True, False
        level = LogLevel.ERROR if failed else LogLevel.WARNING if warned else LogLevel.SUCCESS
        self.feed.sync_ended(request.app, LogEntry(rfc3339_now(), request.app, text, level))
        self.notify(
            text,
            title=request.app,
            severity="error" if failed else "warning" if warned else "information",
            timeout=10 if failed else 5,
        )

    def _report_unaudited(self, request: SyncRequest, error: AuditWriteError) -> None:
        """The results of a sync that ran, then the audit error that followed them."""
        results = f"{request.verb}: {describe_sync(error.result)}"
        level = LogLevel.ERROR if error.result.failed else LogLevel.SUCCESS
        self.feed.log_entry(LogEntry(rfc3339_now(), request.app, results, level))
        self.feed.sync_ended(request.app, LogEntry(rfc3339_now(), request.app, str(error), LogLevel.ERROR))
        self.notify(f"{results}\n{error}", title=request.app, severity="error", timeout=10)

    @property
    def syncs_running(self) -> int:
        """How many syncs are under way."""
        return len(self._syncs)

    # Session toggles and refresh.

    def toggle_self_heal(self, app: str) -> bool:
        """Turn self-heal on or off for this session; False when refused."""
        if self.refused(app, "toggle self-heal"):
            return False
        policy = self.engine.apps[app].app.sync_policy
        self.engine.set_policy(app, self_heal=not policy.self_heal)
        caveat = "" if policy.automated or policy.self_heal else "; it acts only while auto-sync is on"
        self._policy_changed(app, f"self-heal {'off' if policy.self_heal else 'on'} for this session{caveat}")
        return True

    def toggle_auto_sync(self, app: str) -> bool:
        """Turn auto-sync on or off for this session; False when refused."""
        if self.refused(app, "toggle auto-sync"):
            return False
        automated = self.engine.apps[app].app.sync_policy.automated
        self.engine.set_policy(app, automated=not automated)
        self._policy_changed(app, f"auto-sync {'off' if automated else 'on'} for this session")
        return True

    def refresh_app(self, app: str | None = None) -> None:
        """Fetch Git now and relist the cluster (of `app`, or of every app)."""
        self.engine.refresh(app)
        what = "" if app is None else f" for {app}"
        self.feed.log_entry(
            LogEntry(rfc3339_now(), app or "", f"refresh: fetching Git and relisting every watch{what}")
        )
        self.notify("Fetching Git and relisting the clusters…", title="refresh", timeout=3)

    def _policy_changed(self, app: str, text: str) -> None:
        self.feed.log_entry(LogEntry(rfc3339_now(), app, text))
        self.notify(f"{app}: {text}.", timeout=4)
