"""The attached TUI's feed: the apps of many `kubedrift agent`s (core.agent_fleet) in, coalesced
`Updated` messages out, as `EngineFeed` does for the engine in this process.

The fleet follows each agent's watch stream on the App's event loop and calls `apply` after each
change: the apps it names are redrawn with the next delivery, its stream lines become event-log
lines worded as the engine's own, and an agent lost or back is a line too (the status line says how
each agent stands; a lost agent's apps show Unknown, which the fleet itself decides).
"""

from __future__ import annotations

from enum import StrEnum

from textual import work
from textual.worker import Worker, WorkerState

from core.agent_fleet import AgentFleet, FleetUpdate
from core.errors import KubedriftError
from core.redact import redact_text
from core.status_events import rfc3339_now
from tui.remote_view import describe_line
from tui.widgets.status_feed import LogEntry, LogLevel, StatusFeed


class AgentLink(StrEnum):
    """How the TUI's connection to one agent stands, as the status line says it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    """The stream dropped; its apps keep their last statuses for a few seconds while it retries."""
    DISCONNECTED = "disconnected"
    """Unreachable past the fleet's grace period: its apps show Unknown."""


def agent_link(fleet: AgentFleet, agent: str) -> AgentLink:
    """How `agent` stands now, from the fleet's view of it."""
    state = fleet.agents[agent]
    if state.unreachable:
        return AgentLink.DISCONNECTED
    if state.connected:
        return AgentLink.CONNECTED
    return AgentLink.RECONNECTING if state.sequence is not None else AgentLink.CONNECTING


class FleetFeed(StatusFeed):
    """Follows every agent in a worker on the App's loop and tells every screen what changed."""

    def __init__(self, fleet: AgentFleet, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.fleet = fleet
        self.links: dict[str, AgentLink] = {agent: AgentLink.CONNECTING for agent in fleet.agents}
        """How each agent stood at the last change, for the lines that say it moved."""

    def _begin(self) -> None:
        self._follow_agents()

    def knows(self, app: str) -> bool:
        return app in self.fleet.apps

    @work(exclusive=True, group="fleet", exit_on_error=False)
    async def _follow_agents(self) -> None:
        try:
            await self.fleet.run(self.apply, self._stop)
        finally:
            await self.fleet.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failure of the fleet itself becomes a sentence (network trouble never is:
        the fleet turns that into an agent's state)."""
        if event.worker.group != "fleet" or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        text = str(error) if isinstance(error, KubedriftError) else f"following the agents stopped: {error!r}"
        text = redact_text(text)
        self.log_entry(LogEntry(rfc3339_now(), "", text, LogLevel.ERROR))
        self.notify(text, title="kubedrift", severity="error", timeout=15)

    def apply(self, update: FleetUpdate) -> None:
        """The fleet's callback (on the event loop): note what changed, deliver soon."""
        for line in update.lines:
            entry = describe_line(line)
            if entry is not None:
                self._add(entry)
        for agent in sorted(update.agents):
            self._note_link(agent)
        self._pending_apps.update(update.apps)
        self._schedule()

    def _note_link(self, agent: str) -> None:
        link, before = agent_link(self.fleet, agent), self.links.get(agent)
        if link is before:
            return
        self.links[agent] = link
        state = self.fleet.agents[agent]
        if link is AgentLink.CONNECTED:
            mode = "read-only" if state.info.get("readOnly") else "writes allowed"
            held = sum(1 for remote in self.fleet.apps.values() if remote.agent == agent)
            noun = "app" if held == 1 else "apps"
            text = f"agent {agent} connected ({mode}): {held} {noun}"
            self._add(LogEntry(rfc3339_now(), "", text, LogLevel.SUCCESS))
        elif link is AgentLink.RECONNECTING:
            self._add(
                LogEntry(rfc3339_now(), "", f"agent {agent}: stream lost, reconnecting", LogLevel.WARNING)
            )
        elif link is AgentLink.DISCONNECTED:
            text = f"{redact_text(state.unreachable)}; its apps show Unknown"
            self._add(LogEntry(rfc3339_now(), "", text, LogLevel.ERROR))
            # The dashboard has no event log: why an agent is lost is said where it is seen.
            self.notify(text, title=agent, severity="error", timeout=10)
