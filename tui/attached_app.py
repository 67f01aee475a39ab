"""The TUI attached to `kubedrift agent`s: `kubedrift attach URL...`, or `kubedrift` with `agents:` in
kubedrift.yaml. The same dashboard and app screen, keys, themes and help as in-process; the statuses
come from the agents (core.agent_fleet) and every action goes to the agent holding the app.
"""

from __future__ import annotations

from textual.screen import Screen

from core.agent_fleet import AgentFleet
from tui.app import KubedriftShell
from tui.remote_actions import RemoteActions
from tui.remote_feed import FleetFeed
from tui.screens.attached import AttachedDashboardScreen
from tui.settings import TuiSettings


class AttachedApp(KubedriftShell):
    """Many agents' apps in one terminal; nothing here talks to a cluster or to Git."""

    feed: FleetFeed
    actions: RemoteActions

    def __init__(self, settings: TuiSettings, fleet: AgentFleet) -> None:
        super().__init__(settings)
        self.fleet = fleet
        self.read_only = settings.is_read_only
        """`--read-only` (or `readOnly: true`): nothing is sent to any agent. Otherwise each agent
        says whether it is read-only, refuses writes itself, and the status line marks it."""
        self.feed = FleetFeed(fleet)
        self.actions = RemoteActions(fleet, self.feed, read_only=self.read_only)
        self.sub_title = "attached: " + ", ".join(sorted(fleet.agents))

    def first_screen(self) -> Screen[None]:
        return AttachedDashboardScreen()


def run_attached_tui(settings: TuiSettings, fleet: AgentFleet | None = None) -> int:
    """Run the attached TUI until the user quits; the exit code. The fleet defaults to the config's
    `agents:`."""
    app = AttachedApp(settings, fleet or AgentFleet(settings.config.agents))
    result = app.run()
    return result if result is not None else (app.return_code or 0)
