"""One app: its resource tree, the diff of the highlighted resource, and its event log; for a
highlighted Argo Rollouts Rollout or Flagger Canary, where its rollout stands.

The tree, the diff and the log follow the engine through `EngineFeed.Updated`: when it names this
app the tree entries are worked out again and handed down, and the tree touches only the nodes
that changed. Owned children (ReplicaSets, Pods) change without any status change, so the tree is
also looked at every few seconds; that repaints nothing unless a label reads differently.

A drifted or unhealthy resource's recent Events are listed under its diff. Listing them is a request
to the cluster, so it runs on a thread worker, once per resource highlighted and again when its
verdict changes; the pane shows the diff at once and the Events when they come.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Tree
from textual.worker import Worker, WorkerState

from core.cluster import ClusterAdapter
from core.engine import Engine
from core.model import ResourceKey, ResourceResult
from core.operations import is_read_only
from core.resource_events import RecentEvent, fetch_recent_events
from core.rollout_status import rollout_status_of
from core.runtime import AppRuntime
from core.shared_resources import shared_warning, shared_warnings
from tui.actions import ActsOnApps
from tui.app_family import family_details, family_notes, touches_family
from tui.keys import binding
from tui.resource_diff import (
    PANE_EVENTS,
    ResourceDiff,
    app_summary,
    kind_summary,
    owned_summary,
    resource_diff,
    wants_events,
)
from tui.resource_entries import AppEntries, TreeEntry
from tui.widgets.diff_view import DiffView
from tui.widgets.engine_feed import EngineFeed, LogEntry
from tui.widgets.event_log import EventLog
from tui.widgets.resource_tree import KindGroup, ResourceTree
from tui.widgets.rollout_panel import RolloutPanel
from tui.widgets.status_bar import StatusBar, StatusLine

if TYPE_CHECKING:
    from tui.app import KubedriftApp

CHILDREN_POLL_SECONDS = 2.0
WIDE_LAYOUT_COLUMNS = 110
"""From this width the tree and the diff sit side by side; below it they are stacked."""
_DRIFTED = ("OutOfSync", "Missing", "Extraneous", "Unknown")


WholeObject = tuple[ResourceKey, Mapping[str, Any], Mapping[str, Any] | None]
"""A whole live object read for the diff pane: its key, the cut-down object it stands for, it."""


class AppDetailScreen(Screen[None]):
    """The resources of one app, the diff of the highlighted one, and what happened to the app."""

    BINDINGS = [
        binding("diff", "focus_diff"),
        binding("sync"),
        binding("prune"),
        binding("toggle_self_heal"),
        binding("toggle_auto_sync"),
        binding("refresh", show=False),
        binding("filter", description="Filter"),
        binding("history"),
        binding("back"),
    ]

    def __init__(self, app_name: str) -> None:
        super().__init__()
        self.app_name = app_name
        self._cursor_placed = False
        self._diff_inputs: tuple[object, ...] = ()
        self._entries = AppEntries()
        self._events: tuple[ResourceKey, tuple[RecentEvent, ...]] | None = None
        """The recent Events last fetched, and whose."""
        self._events_asked: tuple[ResourceKey, ResourceResult | None] | None = None
        """The resource and verdict the last fetch was for: the same again asks nothing."""
        self._whole: WholeObject | None = None
        """The last whole object read for the pane: (key, the cut-down object it stands for, it)."""
        self._whole_asked: tuple[ResourceKey, int] | None = None

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
        yield Input(
            placeholder="filter resources by name or kind; enter keeps it, escape clears it", id="filter"
        )
        with Container(id="panes"):
            yield ResourceTree(self.app_name, self._namespace(), id="tree")
            yield DiffView(id="diff")
        yield RolloutPanel(id="rollout")
        yield EventLog(id="log")
        yield self._status_line()
        yield Footer()

    def _status_line(self) -> StatusLine:
        """The line under the screen: the clusters' watch state here (the attached screens: agents)."""
        return StatusBar(
            self.engine,
            read_only=self.kubedrift.read_only,
            banner=self.kubedrift.settings.banner,
            id="status",
        )

    def on_mount(self) -> None:
        self.title = f"kubedrift · {self.app_name}"
        # A blinking cursor repaints twice a second: too much for an SSH session left on the filter.
        self.query_one("#filter", Input).cursor_blink = False
        self.query_one(ResourceTree).border_title = "resources"
        self.query_one(DiffView).border_title = "diff"
        self.query_one(EventLog).border_title = "events"
        self._fit_layout()
        self.query_one(EventLog).add(self._mine(self.kubedrift.feed.entries))
        self._show_tree()
        self.query_one(ResourceTree).focus()
        self.set_interval(CHILDREN_POLL_SECONDS, self._show_tree, name="app-children")

    def _namespace(self) -> str:
        """The app's destination namespace: resources there are labelled by name alone."""
        return self.runtime.app.destination.namespace

    def _has_app(self) -> bool:
        """Whether the app is still one of the apps (a child app may go: app of apps)."""
        return self.app_name in self.engine.apps

    def _touched(self, changed: Iterable[str]) -> bool:
        """Whether the apps in `changed` include this app or a child app whose line it shows."""
        return touches_family(self.engine, self.app_name, changed)

    def on_resize(self) -> None:
        self._fit_layout()

    def _fit_layout(self) -> None:
        self.set_class(self.size.width < WIDE_LAYOUT_COLUMNS, "-narrow")

    # Live updates.

    def on_engine_feed_updated(self, message: EngineFeed.Updated) -> None:
        if self._closed_when_gone():
            return
        entries = self._mine(message.entries)
        if entries:
            self.query_one(EventLog).add(entries)
        if self._touched(message.apps):  # the app, or a child app it lists
            self._show_tree()
        self.query_one(StatusLine).refresh_state()

    def on_screen_resume(self) -> None:
        self._closed_when_gone()

    def _closed_when_gone(self) -> bool:
        """Leave the screen of a child app its parent no longer renders (app of apps), once on top."""
        if self._has_app():
            return False
        if self.is_current:
            self.notify(f"{self.app_name} is no longer an app: its parent stopped rendering it.", timeout=8)
            self.app.pop_screen()
        return True

    def _mine(self, entries: Iterable[LogEntry]) -> list[LogEntry]:
        """This app's lines, and those about every app (a refresh, an engine error)."""
        return [entry for entry in entries if entry.app in (self.app_name, "")]

    def _show_tree(self) -> None:
        if self.app_name not in self.engine.apps:
            return  # gone (a child app): the next Updated closes the screen
        runtime = self.runtime
        tree = self.query_one(ResourceTree)
        loaded = runtime.desired.revision is not None
        tree.set_app_status(
            str(runtime.reconciler.sync) if loaded else "Loading",
            str(runtime.reconciler.health) if loaded else "Loading",
        )
        cluster = self.engine.clusters.get(runtime.context or "")
        entries = self._entries.of(runtime, cluster.cache if cluster is not None else None)
        tree.set_shared(runtime.shared_with)
        tree.set_entries(entries)
        if not self._cursor_placed and entries:
            self._cursor_placed = True
            drifted = next((entry for entry in entries if entry.sync in _DRIFTED), entries[0])
            tree.highlight(drifted.key)
        self._show_diff()

    @on(Tree.NodeHighlighted, "#tree")
    def _node_highlighted(self) -> None:
        self._show_diff()

    def _show_diff(self) -> None:
        """Work out the diff pane again, unless nothing it is made from has changed."""
        runtime = self.runtime
        highlighted = self.query_one(ResourceTree).highlighted
        self._show_rollout(highlighted)
        inputs: tuple[object, ...]
        if isinstance(highlighted, TreeEntry) and not highlighted.owned:
            key = highlighted.key
            inputs = (
                key,
                runtime.reconciler.results.get(key),
                self._live(key),
                runtime.desired.objects.get(key),
                runtime.app,
                runtime.shared_with,
            )
        elif isinstance(highlighted, TreeEntry):
            inputs = (highlighted, self._live(highlighted.key))
        else:
            inputs = (highlighted, object())  # the app and kind summaries are cheap: always redo them
        if len(inputs) == len(self._diff_inputs) and all(
            new is old for new, old in zip(inputs, self._diff_inputs, strict=True)
        ):
            return
        moved = not self._diff_inputs or self._diff_inputs[0] != inputs[0]
        self._diff_inputs = inputs
        self.query_one(DiffView).content = self._diff_of(highlighted)
        if isinstance(highlighted, TreeEntry) and not highlighted.owned:
            self._ask_for_events(highlighted.key, again=moved)

    # Recent Events, under the diff.

    def _ask_for_events(self, key: ResourceKey, *, again: bool) -> None:
        """Fetch `key`'s recent Events when the pane lists them for it and they are not asked for
        already; `again`: the cursor came back to it, so what was fetched before may be old."""
        runtime = self.runtime
        result = runtime.reconciler.results.get(key)
        live = self._live(key)
        if not wants_events(result, live) or (not again and self._events_asked == (key, result)):
            return
        cluster = self.engine.clusters.get(runtime.context or "")
        if cluster is None or cluster.adapter is None or cluster.error is not None:
            return  # an unreachable cluster has nothing to say; the status line says why
        self._events_asked = (key, result)
        self._read_events(cluster.adapter, key, live)

    @work(thread=True, exclusive=True, group="events", exit_on_error=False)
    def _read_events(
        self, adapter: ClusterAdapter, key: ResourceKey, live: Mapping[str, Any] | None
    ) -> tuple[ResourceKey, tuple[RecentEvent, ...]]:
        return key, fetch_recent_events(adapter, [(key, live)]).get(key, ())[:PANE_EVENTS]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place fetched Events arrive. A failure lists none: Events are a hint beside the
        diff, and the cluster's own errors are told by the status line."""
        worker = event.worker
        if worker.group == "whole" and event.state is WorkerState.SUCCESS:
            self._whole = cast("WholeObject", worker.result)
            self._diff_inputs = ()
            self._show_diff()  # drawn again with the whole object
            return
        if worker.group != "events" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        fetched = worker.result if event.state is WorkerState.SUCCESS else None
        self._events = cast("tuple[ResourceKey, tuple[RecentEvent, ...]] | None", fetched)
        highlighted = self.query_one(ResourceTree).highlighted
        if isinstance(highlighted, TreeEntry) and not highlighted.owned:
            self.query_one(DiffView).content = self._diff_of(highlighted)  # the pane again, with them

    def _with_events(self, key: ResourceKey, shown: ResourceDiff) -> ResourceDiff:
        """`shown` with `key`'s recent Events, when they were fetched and it still warrants them."""
        if self._events is None or self._events[0] != key or not self._events[1]:
            return shown
        if not wants_events(self.runtime.reconciler.results.get(key), self._live(key)):
            return shown
        return replace(shown, events=self._events[1])

    def _show_rollout(self, highlighted: TreeEntry | KindGroup | None) -> None:
        """The rollout panel shows a highlighted Rollout or Flagger Canary, and hides otherwise."""
        declared = isinstance(highlighted, TreeEntry) and not highlighted.owned
        live = self._live(highlighted.key) if isinstance(highlighted, TreeEntry) and declared else None
        self.query_one(RolloutPanel).status = rollout_status_of(live)

    @on(RolloutPanel.Resized)
    def _keep_cursor_in_view(self) -> None:
        """The rollout panel took rows from the tree: keep the highlighted line in view."""
        tree = self.query_one(ResourceTree)
        if tree.cursor_node is not None:
            tree.scroll_to_node(tree.cursor_node, animate=False)

    def _diff_of(self, highlighted: TreeEntry | KindGroup | None) -> ResourceDiff:
        """What the diff pane shows, with the warnings of objects other apps declare too; for the app
        itself, its parent and child apps too (app of apps)."""
        shown = self._diff_without_warnings(highlighted)
        if highlighted is None:
            details = (*shown.details, *family_details(self.engine, self.app_name))
            notes = (*shown.notes, *family_notes(self.engine, self.app_name))
            shown = replace(shown, details=details, notes=notes)
        shared = self.runtime.shared_with
        warnings: tuple[str, ...]
        if isinstance(highlighted, TreeEntry) and not highlighted.owned:
            others = shared.get(highlighted.key)
            warnings = () if not others else (shared_warning(highlighted.key, others),)
        else:
            warnings = shared_warnings(shared) if highlighted is None else ()
        if not warnings:
            return shown
        return replace(shown, notes=(*shown.notes, *(f"Warning: {warning}." for warning in warnings)))

    def _diff_without_warnings(self, highlighted: TreeEntry | KindGroup | None) -> ResourceDiff:
        runtime = self.runtime
        if isinstance(highlighted, TreeEntry) and highlighted.owned:
            return owned_summary(highlighted, self._live(highlighted.key))
        if isinstance(highlighted, TreeEntry):
            shown = resource_diff(runtime, highlighted.key, self._live(highlighted.key))
            return self._with_events(highlighted.key, shown)
        if isinstance(highlighted, KindGroup):
            wanted = (highlighted.group, highlighted.kind)
            entries = [
                entry
                for entry in self.query_one(ResourceTree).entries.values()
                if not entry.owned and (entry.key.group, entry.key.kind) == wanted
            ]
            return kind_summary(highlighted.group, highlighted.kind, entries)
        return app_summary(runtime, read_only=is_read_only(self.engine, self.app_name))

    def _live(self, key: ResourceKey) -> Mapping[str, Any] | None:
        """`key`'s live object for the pane: whole. The cache may keep it cut down to its verdict's
        needs (core.live_projection); then the cut-down form shows until one GET, off this thread,
        brings the whole object, and the pane is drawn again."""
        cached = self.engine.live_object(self.app_name, key)
        if cached is None or not self.engine.is_cut_down(self.app_name, key):
            return cached
        if self._whole is not None and self._whole[0] == key and self._whole[1] is cached:
            return self._whole[2]
        if self._whole_asked != (key, id(cached)):
            self._whole_asked = (key, id(cached))
            self._read_whole(key, cached)
        return cached

    @work(thread=True, exclusive=True, group="whole", exit_on_error=False)
    def _read_whole(self, key: ResourceKey, cached: Mapping[str, Any]) -> WholeObject:
        return key, cached, self.engine.full_live_object(self.app_name, key)

    # Actions.

    def action_focus_diff(self) -> None:
        """Move the focus to the diff pane, to scroll it."""
        self.query_one(DiffView).focus()

    def action_sync(self) -> None:
        self._actions().ask_to_sync(self.app_name)

    def action_prune(self) -> None:
        self._actions().ask_to_sync(self.app_name, prune=True)

    def action_toggle_self_heal(self) -> None:
        if self._actions().toggle_self_heal(self.app_name):
            self._show_tree()

    def action_toggle_auto_sync(self) -> None:
        if self._actions().toggle_auto_sync(self.app_name):
            self._show_tree()

    def action_refresh(self) -> None:
        self._actions().refresh_app(self.app_name)

    def action_history(self) -> None:
        from tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.app_name))

    def action_filter(self) -> None:
        self.set_class(True, "-filtering")
        field = self.query_one("#filter", Input)
        field.value = self.query_one(ResourceTree).filter_text
        field.focus()

    def action_back(self) -> None:
        """Escape: close and clear the filter first, then leave the diff pane, then the screen."""
        tree = self.query_one(ResourceTree)
        if self.has_class("-filtering") or tree.filter_text:
            self.query_one("#filter", Input).value = ""
            tree.filter_text = ""
            self._close_filter()
        elif not tree.has_focus:
            tree.focus()
        else:
            self.app.pop_screen()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(ResourceTree).filter_text = event.value

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self._close_filter()

    def _close_filter(self) -> None:
        self.set_class(False, "-filtering")
        self.query_one(ResourceTree).focus()

    def _actions(self) -> ActsOnApps:
        return self.kubedrift.actions
