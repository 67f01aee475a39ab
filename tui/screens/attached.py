"""The dashboard and the app screen attached to agents: the same screens, keys and widgets, reading the
fleet of agents (core.agent_fleet) instead of an engine in this process.

Each screen overrides only what it reads: the rows, the tree entries, the diff pane and the status
line. A resource's diff is the agent's resource document, fetched on a worker when the resource is
highlighted and again when the agent's verdict on it changes; the pane says so meanwhile. History
reads the app's Git repository, which only the agent has: its key says so instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.widget import Widget
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from core.agent_client import AgentError
from core.agent_fleet import AgentFleet, RemoteApp
from core.model import ResourceKey
from core.rollout_status import rollout_status_of
from tui.remote_view import (
    RemoteEntries,
    remote_app_summary,
    remote_diff,
    remote_row,
    resource_key,
    resources_of,
)
from tui.resource_diff import ResourceDiff, kind_summary
from tui.resource_entries import TreeEntry
from tui.screens.app_detail import AppDetailScreen
from tui.screens.dashboard import DashboardScreen
from tui.widgets.app_table import AppRow, AppTable
from tui.widgets.diff_view import DiffView
from tui.widgets.resource_tree import KindGroup, ResourceTree
from tui.widgets.rollout_panel import RolloutPanel
from tui.widgets.status_bar import StatusLine

if TYPE_CHECKING:
    from tui.attached_app import AttachedApp

NO_HISTORY = (
    "History reads the app's Git repository, which only its agent has: "
    "run kubedrift (not attached) on a clone to see it."
)
_DRIFTED = ("OutOfSync", "Missing", "Extraneous", "Unknown")


def _fleet(screen: DashboardScreen | AppDetailScreen) -> AgentFleet:
    return cast("AttachedApp", screen.app).fleet


def _status_line(screen: DashboardScreen | AppDetailScreen) -> StatusLine:
    from tui.widgets.agent_status_bar import AgentStatusBar

    app = cast("AttachedApp", screen.app)
    return AgentStatusBar(app.fleet, read_only=app.read_only, banner=app.settings.banner, id="status")


def _policies(screen: DashboardScreen | AppDetailScreen) -> Mapping[str, tuple[bool, bool]]:
    """(auto-sync, self-heal) of the apps whose agent answered a policy request this session."""
    return cast("AttachedApp", screen.app).actions.policies


def _read_only(fleet: AgentFleet, remote: RemoteApp) -> bool:
    state = fleet.agents.get(remote.agent)
    return bool(state is not None and state.info.get("readOnly"))


class AttachedDashboardScreen(DashboardScreen):
    """Every agent's apps in one table; the AGENT column says which agent holds each."""

    def on_mount(self) -> None:
        # DashboardScreen.on_mount runs too (Textual calls each class's handler): this only rewords.
        self.query_one(
            "#filter", Input
        ).placeholder = "filter apps by name or agent; enter keeps it, escape clears it"

    def _app_table(self) -> AppTable:
        return AppTable(id="apps", place="AGENT", by_name=True)

    def _status_line(self) -> StatusLine:
        return _status_line(self)

    def _start_progress(self) -> Iterable[Widget]:
        return ()  # the agents started their engines long ago; their status bar says how each stands

    def _first_rows(self) -> Iterable[AppRow]:
        return (self._row(app) for app in _fleet(self).apps)

    def _has_app(self, app: str) -> bool:
        return app in _fleet(self).apps

    def _row(self, app: str) -> AppRow:
        fleet = _fleet(self)
        remote = fleet.apps[app]
        return remote_row(
            app,
            remote.agent,
            remote.status,
            read_only=_read_only(fleet, remote),
            policy=_policies(self).get(app),
            last_event=self._last_event.get(app),
        )

    def action_history(self) -> None:
        self.notify(NO_HISTORY, title="history", severity="warning", timeout=6)

    def action_open(self) -> None:
        self._push_for_highlighted(AttachedAppScreen)


class AttachedAppScreen(AppDetailScreen):
    """One agent's app: its resources as the agent judges them, and the diff it sends for the
    highlighted one."""

    def __init__(self, app_name: str) -> None:
        super().__init__(app_name)
        self._remote_entries = RemoteEntries()
        self._document: tuple[ResourceKey, Mapping[str, Any]] | None = None
        """The resource document last fetched, and whose."""
        self._asked: tuple[ResourceKey, Mapping[str, Any] | None] | None = None
        """The resource and the verdict (its status entry) the last fetch was for."""
        self._failure: tuple[ResourceKey, str] | None = None

    @property
    def remote(self) -> RemoteApp | None:
        return _fleet(self).apps.get(self.app_name)

    def _namespace(self) -> str:
        """The namespace most of its resources are in: those are labelled by name alone."""
        remote = self.remote
        namespaces = Counter(
            str(resource.get("namespace") or "") for resource in resources_of(remote.status if remote else {})
        )
        namespaces.pop("", None)
        return namespaces.most_common(1)[0][0] if namespaces else ""

    def _has_app(self) -> bool:
        return self.app_name in _fleet(self).apps

    def _touched(self, changed: Iterable[str]) -> bool:
        return self.app_name in changed

    def _status_line(self) -> StatusLine:
        return _status_line(self)

    def action_history(self) -> None:
        self.notify(NO_HISTORY, title="history", severity="warning", timeout=6)

    # The tree and the diff.

    def _show_tree(self) -> None:
        remote = self.remote
        if remote is None:
            return  # gone: the next Updated closes the screen
        tree = self.query_one(ResourceTree)
        tree.set_app_status(
            str(remote.status.get("sync") or "Unknown"), str(remote.status.get("health") or "Unknown")
        )
        entries = self._remote_entries.of(remote.status)
        tree.set_entries(entries)
        if not self._cursor_placed and entries:
            self._cursor_placed = True
            drifted = next((entry for entry in entries if entry.sync in _DRIFTED), entries[0])
            tree.highlight(drifted.key)
        self._show_diff()

    def _show_diff(self) -> None:
        remote = self.remote
        if remote is None:
            return
        highlighted = self.query_one(ResourceTree).highlighted
        diff_view = self.query_one(DiffView)
        if isinstance(highlighted, TreeEntry):
            verdict = self._verdict(remote, highlighted.key)
            if remote.connected and self._asked != (highlighted.key, verdict):
                self._asked = (highlighted.key, verdict)
                self._fetch(remote.agent, highlighted.key)
            shown = self._resource_pane(remote, highlighted)
        elif isinstance(highlighted, KindGroup):
            wanted = (highlighted.group, highlighted.kind)
            members = [
                entry
                for entry in self.query_one(ResourceTree).entries.values()
                if (entry.key.group, entry.key.kind) == wanted
            ]
            shown = kind_summary(highlighted.group, highlighted.kind, members)
        else:
            shown = remote_app_summary(
                self.app_name,
                remote.agent,
                remote.status,
                connected=remote.connected,
                read_only=_read_only(_fleet(self), remote),
                policy=_policies(self).get(self.app_name),
            )
        if diff_view.content != shown:
            diff_view.content = shown
        self._show_rollout(highlighted)

    def _resource_pane(self, remote: RemoteApp, entry: TreeEntry) -> ResourceDiff:
        """The agent's diff when it has come for this resource; else what is known meanwhile. While
        the agent is disconnected an earlier diff may no longer hold, so none is shown."""
        if not remote.connected:
            note = f"The agent {remote.agent} is disconnected: its diff cannot be fetched now."
        elif self._document is not None and self._document[0] == entry.key:
            return remote_diff(self._document[1], entry.key)
        elif self._failure is not None and self._failure[0] == entry.key:
            note = f"The diff could not be fetched: {self._failure[1]}"
        else:
            note = f"Fetching the diff from the agent {remote.agent}…"
        return ResourceDiff(str(entry.key), entry.sync, entry.health, (note,))

    @staticmethod
    def _verdict(remote: RemoteApp, key: ResourceKey) -> Mapping[str, Any] | None:
        return next(
            (resource for resource in resources_of(remote.status) if resource_key(resource) == key), None
        )

    @work(exclusive=True, group="resource", exit_on_error=False)
    async def _fetch(self, agent: str, key: ResourceKey) -> tuple[ResourceKey, Mapping[str, Any] | None, str]:
        """The resource document, or None and why it could not be fetched."""
        try:
            return key, await _fleet(self).clients[agent].resource(self.app_name, key), ""
        except AgentError as error:
            return key, None, error.message

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a fetched resource document (or why it could not be) arrives."""
        worker = event.worker
        if worker.group != "resource" or event.state is not WorkerState.SUCCESS or worker.result is None:
            return
        key, document, failure = worker.result
        if document is not None:
            self._document, self._failure = (key, document), None
        else:
            self._failure = (key, failure)  # asked again when the verdict changes or the cursor comes back
        if self.is_attached:
            self._show_diff()

    def _live(self, key: ResourceKey) -> Mapping[str, Any] | None:
        if self._document is None or self._document[0] != key:
            return None
        live = self._document[1].get("live")
        return live if isinstance(live, Mapping) else None

    def _show_rollout(self, highlighted: TreeEntry | KindGroup | None) -> None:
        live = self._live(highlighted.key) if isinstance(highlighted, TreeEntry) else None
        self.query_one(RolloutPanel).status = rollout_status_of(live)
