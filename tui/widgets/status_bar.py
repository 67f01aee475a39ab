"""The status line: each cluster's watch state, when Git was last read, READ-ONLY, a sync's progress,
and the banner. `StatusLine` is what every status line shares; the attached TUI's says how each
agent stands instead (tui.widgets.agent_status_bar).

The engine publishes status changes, but a watch that starts reconnecting changes no status, so
the bar also looks at the engine every few seconds; it repaints only when its text changes.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from textual.markup import escape
from textual.widgets import Static

from core.engine import Engine
from core.read_only import ReadOnlyReason, read_only_reason
from tui.widgets.abstract_widget import AbstractWidgetMeta

POLL_SECONDS = 2.0
wall_clock: Callable[[], float] = time.time
"""The clock the Git time is read from (tests pin it, so screenshots do not change)."""


class WatchState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class ClusterState:
    """What the status line says about one kubeconfig context."""

    context: str
    state: WatchState
    reconnecting_kinds: int = 0
    forbidden_kinds: tuple[str, ...] = ()
    error: str | None = None
    read_only: ReadOnlyReason | None = None
    """Why nothing is written to this context's cluster; None when writes are allowed."""


def cluster_states(engine: Engine) -> list[ClusterState]:
    """The watch state of every context the apps deploy to, from the engine's runtime."""
    contexts = sorted({runtime.context for runtime in engine.apps.values() if runtime.context})
    states = []
    for context in contexts:
        read_only = read_only_reason(engine.config, engine.kubeconfig, context, forced=engine.read_only)
        cluster = engine.clusters.get(context)
        if cluster is None:
            states.append(ClusterState(context, WatchState.CONNECTING, read_only=read_only))
            continue
        if cluster.error is not None:
            states.append(
                ClusterState(context, WatchState.UNREACHABLE, error=cluster.error, read_only=read_only)
            )
            continue
        forbidden = {
            kind_key
            for runtime in engine.apps.values()
            if runtime.context == context
            for kind_key in runtime.reconciler.unknown_kinds
        }
        failing = {(group, kind) for group, kind, _ in cluster.watch_errors} - forbidden
        state = WatchState.RECONNECTING if failing else WatchState.CONNECTED
        kinds = tuple(sorted(kind for _, kind in forbidden))
        states.append(ClusterState(context, state, len(failing), kinds, read_only=read_only))
    return states


def last_git_read(engine: Engine) -> float | None:
    """When a remote repository was last fetched (its FETCH_HEAD), across the apps; None if never."""
    # Apps of one repository share it (and its clone): each clone is looked at once.
    clones = {
        repository.path
        for runtime in engine.apps.values()
        if runtime.loader is not None
        and (repository := runtime.loader.source.repository) is not None
        and repository.is_remote
    }
    times = []
    for clone in clones:
        try:
            times.append((clone / "FETCH_HEAD").stat().st_mtime)
        except OSError:
            continue
    return max(times, default=None)


class StatusLine(Static, metaclass=AbstractWidgetMeta):
    """The line under every screen: where statuses come from and how that stands (each subclass
    says), READ-ONLY, a sync's progress, and an optional banner line."""

    DEFAULT_CSS = """
    StatusLine {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, *, read_only: bool, banner: str | None = None, id: str | None = None) -> None:
        super().__init__("", id=id, markup=True)
        self.read_only = read_only
        self.banner = banner
        self._shown = ""

    def on_mount(self) -> None:
        self.refresh_state()
        self.set_interval(POLL_SECONDS, self.refresh_state, name="status-bar-poll")

    def refresh_state(self) -> None:
        """Look at the source again; repaint only when the line reads differently."""
        text = self._compose_text()
        if text != self._shown:
            self._shown = text
            self.update(text)

    @abstractmethod
    def source_parts(self) -> list[str]:
        """The markup of where the statuses come from (clusters, agents), one part each."""

    def _compose_text(self) -> str:
        parts = self.source_parts()
        if self.read_only:
            parts.append("[b reverse $error] READ-ONLY [/]")
        for app, progress in sorted(self._sync_progress().items()):
            parts.append(f"[b $accent]⟳ {escape(app)}: {escape(progress)}[/]")
        line = "  ".join(parts)
        if self.banner:
            line += f"\n[b $accent]{escape(self.banner)}[/]"
        return line

    def _sync_progress(self) -> Mapping[str, str]:
        """Each person's sync under way and how far it is (`PreSync 1/3 · wave 0 3/7`), as the app's
        feed has it (`StatusFeed.sync_progress`); nothing outside the app."""
        progress = getattr(getattr(self.app, "feed", None), "sync_progress", None)
        return progress if isinstance(progress, Mapping) else {}


class StatusBar(StatusLine):
    """Cluster watch states, the last Git read, READ-ONLY, and an optional banner line."""

    def __init__(
        self, engine: Engine, *, read_only: bool, banner: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(read_only=read_only, banner=banner, id=id)
        self.engine = engine
        self._revisions: dict[str, str | None] = {}
        self._git_read_at: float | None = None

    def refresh_state(self) -> None:
        """Read the engine again; repaint only when the line reads differently."""
        self._note_git_reads()
        super().refresh_state()

    def _note_git_reads(self) -> None:
        for name, runtime in self.engine.apps.items():
            revision = runtime.desired.revision
            if revision is not None and self._revisions.get(name) != revision:
                self._revisions[name] = revision
                self._git_read_at = wall_clock()
        fetched = last_git_read(self.engine)
        if fetched is not None and (self._git_read_at is None or fetched > self._git_read_at):
            self._git_read_at = fetched

    def source_parts(self) -> list[str]:
        parts = [_cluster_markup(state) for state in cluster_states(self.engine)]
        if self._git_read_at is None:
            parts.append("[dim]git: loading…[/]")
        else:
            parts.append(f"git {datetime.fromtimestamp(self._git_read_at).strftime('%H:%M:%S')}")
        return parts


def _cluster_markup(state: ClusterState) -> str:
    name = escape(state.context)
    if state.read_only is not None:
        note = state.read_only.note  # `same cluster as prod` when another context made it read-only
        name += f" (read-only: {escape(note)})" if note else " (read-only)"
    if state.state is WatchState.CONNECTING:
        return f"[dim]… {name} connecting[/]"
    if state.state is WatchState.UNREACHABLE:
        return f"[$error]✗ {name} unreachable[/]"
    words = []
    if state.state is WatchState.RECONNECTING:
        noun = "kind" if state.reconnecting_kinds == 1 else "kinds"
        words.append(f"[$warning]◐ {name} reconnecting: {state.reconnecting_kinds} {noun}[/]")
    else:
        words.append(f"[$success]● {name} connected[/]")
    if state.forbidden_kinds:
        words.append(f"[$error]forbidden: {escape(', '.join(state.forbidden_kinds))}[/]")
    return " ".join(words)
