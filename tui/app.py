"""The kubedrift App: it only wires settings, themes, keys and the engine feed, then shows the dashboard."""

from __future__ import annotations

from typing import cast

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widget import Widget

from core.engine import Engine
from core.operations import read_only_reason_for
from tui.actions import ActsOnApps, AppActions
from tui.keys import binding, keymap_problems
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen, help_lines
from tui.settings import TuiSettings
from tui.themes import STYLESHEET, load_themes, problems_message, user_theme_dir
from tui.widgets.engine_feed import EngineFeed
from tui.widgets.status_feed import StatusFeed


class KubedriftShell(App[int]):
    """What every kubedrift TUI shares: settings, themes, keys, help, and a feed with the actions
    beside it. `KubedriftApp` runs the engine here; the attached TUI (tui.attached_app) reads agents."""

    CSS_PATH = STYLESHEET
    TITLE = "kubedrift"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        binding("help"),
        binding("theme", "next_theme", show=False),
        binding("quit"),
        binding("back", show=False),
    ]

    feed: StatusFeed
    """Where the screens' statuses and event-log lines come from."""
    actions: ActsOnApps
    """Sync, prune, rollback, toggles and refresh; every screen acts through it."""
    read_only: bool
    """Read-only for every app: the status line says READ-ONLY."""

    def __init__(self, settings: TuiSettings) -> None:
        super().__init__()
        self.settings = settings
        self.themes = load_themes(user_theme_dir())
        for theme in self.themes.themes:
            self.register_theme(theme)
        origin = "check --theme" if settings.theme else f"check theme: in {settings.config.path}"
        self.theme = self.themes.choose(settings.theme or settings.config.theme, origin)

    def compose(self) -> ComposeResult:
        yield self.feed
        yield cast("Widget", self.actions)  # AppActions or RemoteActions: both invisible widgets

    def first_screen(self) -> Screen[None]:
        return DashboardScreen()

    def on_mount(self) -> None:
        keymap = dict(self.settings.config.keymap)
        self.set_keymap(keymap)
        problems = keymap_problems(keymap)
        if problems:
            self.notify("\n".join(problems), title="keymap", severity="error", timeout=15)
        if self.themes.problems:
            self.notify(problems_message(self.themes.problems), title="themes", severity="error", timeout=15)
        self.push_screen(self.first_screen())
        # The dashboard shows every app as Loading first; the feed starts once that is on screen.
        self.call_after_refresh(self.feed.start)

    def action_next_theme(self) -> None:
        """Switch to the next theme (shipped ones first, then the user's)."""
        self.theme = self.themes.after(self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_lines(self.screen.active_bindings, self.get_key_display)))

    async def action_back(self) -> None:
        # Screens with something to close first bind `back` themselves; this is the fallback.
        if len(self.screen_stack) > 2:
            self.pop_screen()

    async def action_quit(self) -> None:
        self.exit(0)


class KubedriftApp(KubedriftShell):
    """Live drift between Git and the clusters, for a terminal, an SSH session or an on-call screen."""

    feed: EngineFeed
    actions: AppActions

    def __init__(self, settings: TuiSettings, *, engine: Engine | None = None) -> None:
        super().__init__(settings)
        self.engine = engine or settings.build_engine()
        self.read_only = settings.is_read_only or self.engine.read_only
        """Read-only for every cluster; per-context read-only is `core.operations.is_read_only`."""
        self.feed = EngineFeed(self.engine)
        self.actions = AppActions(self.engine, self.feed)
        self.sub_title = self._read_only_title()

    def _read_only_title(self) -> str:
        if self.read_only:
            return "READ-ONLY"
        # Each read-only context once, with why when it is not marked itself: `admin (same cluster as prod)`.
        reasons = {
            runtime.context: reason
            for name, runtime in self.engine.apps.items()
            if runtime.context and (reason := read_only_reason_for(self.engine, name)) is not None
        }
        contexts = [
            f"{context} ({reasons[context].note})" if reasons[context].note else context
            for context in sorted(reasons)
        ]
        return f"READ-ONLY: {', '.join(contexts)}" if contexts else ""


def run_tui(settings: TuiSettings) -> int:
    """Run the TUI until the user quits; the exit code. Bad settings raise a KubedriftError first.
    With `agents:` in the config it reads those agents instead of the clusters."""
    if settings.config.agents:
        from tui.attached_app import run_attached_tui

        return run_attached_tui(settings)
    app = KubedriftApp(settings)
    result = app.run()
    return result if result is not None else (app.return_code or 0)
