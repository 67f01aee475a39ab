"""The attached TUI's status line: how each agent stands (connected, reconnecting, disconnected),
which are read-only, a sync under way, and the banner.

The fleet's changes refresh it through the screens; a stream that drops changes no app at first,
so, like the in-process bar, it also looks every few seconds and repaints only when its text changes.
"""

from __future__ import annotations

from textual.markup import escape

from core.agent_fleet import AgentFleet
from tui.remote_feed import AgentLink, agent_link
from tui.widgets.status_bar import StatusLine


class AgentStatusBar(StatusLine):
    """One part per agent: `● eu-1 connected (read-only)`, `✗ eu-2 disconnected`."""

    def __init__(
        self, fleet: AgentFleet, *, read_only: bool = False, banner: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(read_only=read_only, banner=banner, id=id)
        self.fleet = fleet

    def source_parts(self) -> list[str]:
        return [self._agent_markup(agent) for agent in sorted(self.fleet.agents)]

    def _agent_markup(self, agent: str) -> str:
        link = agent_link(self.fleet, agent)
        name = escape(agent)
        if self.fleet.agents[agent].info.get("readOnly"):
            name += " (read-only)"
        if link is AgentLink.CONNECTING:
            return f"[dim]… {name} connecting[/]"
        if link is AgentLink.RECONNECTING:
            return f"[$warning]◐ {name} reconnecting[/]"
        if link is AgentLink.DISCONNECTED:
            return f"[$error]✗ {name} disconnected[/]"
        return f"[$success]● {name} connected[/]"
