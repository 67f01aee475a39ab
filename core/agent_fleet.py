"""Many agents' apps merged into one view, kept current from their watch streams.

Each agent's apps are its *claims*: the app's entry of the agent's status document (the `check -o
json` app object), and when the agent last spoke of it (a tick, from one counter over every agent).
The merged view `apps` gives each app name to one agent: among the agents that are not unreachable,
the one that spoke of it last. Sharding moves an app from one agent to another, and the new holder
speaks of it (a line, a snapshot), so the view moves with it; while two connected agents both claim
an app, `conflicts` names them.

A stream line updates the claim at once (an app line its sync and health, a resource line that
resource's status and health), and the app's full entry is fetched again right after, coalesced per
agent. When an agent's stream cannot be re-established within `unreachable_after` seconds, its apps
show Unknown/Unknown with the error `agent NAME is unreachable: ...`; once it is back, its status is
read again. Network problems never raise out of `run`: they become that state.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.agent_client import AgentClient, AgentError
from core.agent_stream import Connected, Disconnected, Resynced
from core.agents_config import AgentEndpoint
from core.errors import KubedriftError
from core.status_events import rfc3339_now

UNREACHABLE_AFTER = 3.0
"""Seconds an agent's stream may stay down before its apps show Unknown."""
REFETCH_SECONDS = 5.0
"""An app's full entry is read again at most this often, and only after a line about the app itself
(or a resource it did not list): it lists every resource (megabytes for an app of 25,000), and the
lines have already updated its sync, health and resources' verdicts at once. The read brings the
rest: revision, errors, warnings, each resource's changes."""


@dataclass(frozen=True, slots=True)
class RemoteApp:
    """One app of the merged view: the agent that holds it, and its status entry from that agent."""

    agent: str
    status: Mapping[str, Any]
    """The app's `check -o json` entry; Unknown/Unknown with the agent's error while it is unreachable."""
    connected: bool
    conflict: tuple[str, ...] = ()
    """The other connected agents that claim this app too (sharding caught mid-move)."""


@dataclass(frozen=True, slots=True)
class FleetUpdate:
    """What changed in one step, for `on_change`."""

    apps: frozenset[str] = frozenset()
    """Apps whose entry, holder or connection changed (or that left the view)."""
    lines: tuple[dict[str, Any], ...] = ()
    """`watch -o jsonl` lines, each with `"agent": NAME`: the streams' own lines, and lines for the
    changes the fleet itself saw (an agent lost or back, a resync, an app moving agent)."""
    agents: frozenset[str] = frozenset()
    """Agents whose connection state changed."""


OnChange = Callable[[FleetUpdate], None]


@dataclass(slots=True)
class AgentState:
    """What the fleet knows of one agent."""

    endpoint: AgentEndpoint
    connected: bool = False
    unreachable: str = ""
    """The sentence its apps carry as their error while it is unreachable; "" otherwise."""
    info: Mapping[str, Any] = field(default_factory=dict)
    """The `agent` object of its last status: name (identity), shard, readOnly, version."""
    sequence: int | None = None
    """The stream sequence number of its last status."""
    problem: str = ""
    """Why its stream is down, the latest word (the sentence its apps carry once it is unreachable)."""
    claims: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    """App name -> (its status entry, the tick when this agent last spoke of it)."""


class AgentFleet:
    def __init__(
        self,
        endpoints: Sequence[AgentEndpoint],
        *,
        unreachable_after: float = UNREACHABLE_AFTER,
        client_factory: Callable[[AgentEndpoint], AgentClient] = AgentClient,
    ) -> None:
        self.agents = {endpoint.name: AgentState(endpoint) for endpoint in endpoints}
        self.clients = {endpoint.name: client_factory(endpoint) for endpoint in endpoints}
        self.unreachable_after = unreachable_after
        self.apps: dict[str, RemoteApp] = {}
        self.conflicts: dict[str, tuple[str, ...]] = {}
        self._tick = 0
        self._on_change: OnChange = lambda update: None

    def client_for(self, app: str) -> AgentClient | None:
        """The client of the agent that holds `app`, to send its actions to."""
        remote = self.apps.get(app)
        return self.clients[remote.agent] if remote is not None else None

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients.values()))

    async def load(self) -> None:
        """Every agent's status, read once (for `check`); an unreachable agent is marked so."""
        results = await asyncio.gather(*(self._snapshot(name) for name in self.agents))
        changed = set().union(*(result for result in results if result is not None))
        self._publish(changed, [], set(self.agents))

    async def run(self, on_change: OnChange, stop: asyncio.Event) -> None:
        """Follows every agent until `stop` is set, calling `on_change` after each change."""
        self._on_change = on_change
        tasks = [asyncio.ensure_future(self._follow(name, stop)) for name in self.agents]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- one agent -------------------------------------------------------------------------------

    async def _follow(self, name: str, stop: asyncio.Event) -> None:
        state, client = self.agents[name], self.clients[name]
        read = await self._read_status(name)
        pending: set[str] = set()
        wake = asyncio.Event()
        refetcher = asyncio.ensure_future(self._refetch(name, pending, wake, stop))
        # Until its status is read (an agent starting answers 503), it is read again and again.
        reader = None if read else asyncio.ensure_future(self._keep_reading_status(name, stop))
        timer: asyncio.TimerHandle | None = None
        try:
            async for event in client.follow(state.sequence if read else None, stop):
                if isinstance(event, dict):
                    self._apply_line(name, event, pending)
                    wake.set()
                elif isinstance(event, Connected):
                    if timer is not None:
                        timer.cancel()
                        timer = None
                    # Back: its apps show again as they were, and the resumed stream brings what
                    # changed meanwhile (or a resync, when it restarted or no longer holds the lines).
                    before = self._shown(state.claims)
                    state.connected, state.unreachable = True, ""
                    changed = set(state.claims)
                    self._publish(changed, self._lines_for(changed, before), {name})
                elif isinstance(event, Disconnected):
                    state.problem = event.reason
                    if state.connected or (timer is None and not state.unreachable):
                        state.connected = False
                        loop = asyncio.get_running_loop()
                        timer = loop.call_later(self.unreachable_after, self._mark_unreachable, name)
                        self._publish(set(state.claims), [], {name})
                elif isinstance(event, Resynced):
                    before = self._shown(state.claims)
                    changed = self._replace(name, event.status)
                    self._publish(changed, self._lines_for(changed, before), {name})
        finally:
            if timer is not None:
                timer.cancel()
            for task in (refetcher, reader):
                if task is not None:
                    task.cancel()

    async def _read_status(self, name: str, *, mark: bool = True) -> bool:
        """Reads the agent's status into the view, with lines for what that changed; False if it could not."""
        before = self._shown(self.agents[name].claims)
        changed = await self._snapshot(name, mark=mark)
        if changed is None:
            return False
        self._publish(changed, self._lines_for(changed, before), {name})
        return True

    async def _keep_reading_status(self, name: str, stop: asyncio.Event) -> None:
        client = self.clients[name]
        delay = client.retry_initial
        while not stop.is_set() and not await self._read_status(name, mark=False):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, client.retry_max)

    async def _refetch(self, name: str, pending: set[str], wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Fetches the full entry of the apps lines spoke of, as many at once as gathered meanwhile, each
        at most once per REFETCH_SECONDS (a burst of lines about one app costs one read, at its end)."""
        state, client = self.agents[name], self.clients[name]
        loop = asyncio.get_running_loop()
        fetched_at: dict[str, float] = {}
        while not stop.is_set():
            await wake.wait()
            wake.clear()
            due = min(
                (fetched_at.get(app, -REFETCH_SECONDS) + REFETCH_SECONDS for app in pending), default=0.0
            )
            if due > loop.time():
                await asyncio.sleep(due - loop.time())  # what arrives meanwhile joins this read
            now = loop.time()
            apps = sorted(
                app for app in pending if fetched_at.get(app, -REFETCH_SECONDS) + REFETCH_SECONDS <= now
            )
            pending.difference_update(apps)
            if pending:
                wake.set()  # the rest are due later
            changed: set[str] = set()
            for app in apps:
                fetched_at[app] = loop.time()
                try:
                    entry = await client.app(app)
                except AgentError as error:
                    if error.status == 404 and app in state.claims:  # it left this agent
                        del state.claims[app]
                        changed.add(app)
                    continue
                entry.pop("sequence", None)
                claim = state.claims.get(app)
                state.claims[app] = (entry, claim[1] if claim else self._next_tick())
                changed.add(app)
            if changed:
                self._publish(changed, [], set())

    async def _snapshot(self, name: str, *, mark: bool = True) -> set[str] | None:
        """Reads the agent's status and replaces its claims: the apps that may have changed; None (and,
        with `mark`, the agent marked unreachable) when it cannot be read."""
        state = self.agents[name]
        try:
            status = await self.clients[name].status()
        except KubedriftError as error:
            if mark and not state.unreachable:
                state.connected = False
                before = self._shown(state.claims)
                state.unreachable = _unreachable_sentence(name, str(error))
                changed = set(state.claims)
                self._publish(changed, self._lines_for(changed, before), {name})
            return None
        return self._replace(name, status)

    def _replace(self, name: str, status: Mapping[str, Any]) -> set[str]:
        state = self.agents[name]
        state.connected, state.unreachable = True, ""  # it answered
        info = status.get("agent")
        state.info = info if isinstance(info, dict) else {}
        sequence = status.get("sequence")
        state.sequence = sequence if isinstance(sequence, int) else None
        previous = set(state.claims)
        tick = self._next_tick()
        state.claims = {
            str(entry["name"]): (entry, tick)
            for entry in status.get("apps", [])
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)
        }
        return previous | set(state.claims)

    def _mark_unreachable(self, name: str) -> None:
        state = self.agents[name]
        if state.connected:
            return
        before = self._shown(state.claims)
        state.unreachable = _unreachable_sentence(name, state.problem)
        changed = set(state.claims)
        self._publish(changed, self._lines_for(changed, before), {name})

    def _apply_line(self, name: str, line: dict[str, Any], pending: set[str]) -> None:
        """A stream line: the claim updated at once, the line passed on, the full entry fetched after."""
        state = self.agents[name]
        app = line.get("app")
        if not isinstance(app, str):
            return
        shown = {key: value for key, value in line.items() if key != "seq"}
        shown["agent"] = name
        child = line.get("childApp")
        if isinstance(child, dict) and child.get("change") == "removed":
            state.claims.pop(app, None)
            self._publish({app}, [shown], set())
            return
        claim = state.claims.get(app)
        entry, listed = _with_line(claim[0] if claim else _placeholder(app), line)
        state.claims[app] = (entry, self._next_tick())
        if claim is None or not listed:
            pending.add(app)  # the app's own state moved, or a resource it did not list yet
        self._publish({app}, [shown], set())

    # -- the merged view -------------------------------------------------------------------------

    def _publish(self, apps: set[str], lines: list[dict[str, Any]], agents: set[str]) -> None:
        for app in apps:
            self._recompute(app)
        if apps or lines or agents:
            self._on_change(FleetUpdate(frozenset(apps), tuple(lines), frozenset(agents)))

    def _recompute(self, app: str) -> None:
        claims = [
            (claim[1], name, state)
            for name, state in self.agents.items()
            if (claim := state.claims.get(app)) is not None
        ]
        if not claims:
            self.apps.pop(app, None)
            self.conflicts.pop(app, None)
            return
        reachable = [claim for claim in claims if not claim[2].unreachable]
        _, name, state = max(reachable or claims, key=lambda claim: claim[0])
        others = tuple(sorted(other for _, other, _ in reachable if other != name))
        if others:
            self.conflicts[app] = tuple(sorted((name, *others)))
        else:
            self.conflicts.pop(app, None)
        entry = state.claims[app][0]
        shown = _unknown_entry(entry, state.unreachable) if state.unreachable else entry
        self.apps[app] = RemoteApp(name, shown, state.connected and not state.unreachable, others)

    def _shown(self, apps: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """(agent, sync, health) of each app as the view shows it now."""
        return {
            app: (remote.agent, str(remote.status.get("sync")), str(remote.status.get("health")))
            for app in apps
            if (remote := self.apps.get(app)) is not None
        }

    def _lines_for(self, apps: set[str], before: Mapping[str, tuple[str, str, str]]) -> list[dict[str, Any]]:
        """App lines for what the fleet itself saw change (no stream line says it): in `watch` shape."""
        for app in apps:
            self._recompute(app)
        lines = []
        for app in sorted(apps):
            remote = self.apps.get(app)
            if remote is None:
                continue
            now = (str(remote.status.get("sync")), str(remote.status.get("health")))
            was = before.get(app)
            if was is not None and was[1:] == now:
                continue
            previous = {"sync": was[1] if was else None, "health": was[2] if was else None}
            line = {"ts": rfc3339_now(), "app": app, "sync": now[0], "health": now[1], "previous": previous}
            lines.append({**line, "agent": remote.agent})
        return lines

    def _next_tick(self) -> int:
        self._tick += 1
        return self._tick


def _with_line(entry: dict[str, Any], line: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The entry with what one stream line says applied (the refetch brings the rest), and whether
    the line was all news of a resource the entry lists already.

    An app may list 25,000 resources: the one a line names is found by comparing its name first,
    and the list is copied as pointers, so a line costs a scan, not a rebuild of every resource."""
    updated = dict(entry)
    listed = False
    if "sync" in line and "health" in line and "group" not in line:
        updated["sync"], updated["health"] = line["sync"], line["health"]
    elif "group" in line and "status" in line:
        name, identity = line.get("name"), tuple(line.get(key) for key in _IDENTITY)
        resources: list[Any] = list(entry.get("resources", []))
        for index, resource in enumerate(resources):
            if resource.get("name") == name and tuple(resource.get(key) for key in _IDENTITY) == identity:
                if line["status"] is None:
                    del resources[index]  # no longer judged
                else:
                    resources[index] = {**resource, "status": line["status"], "health": line["health"]}
                listed = True
                break
        updated["resources"] = resources
    return updated, listed


_IDENTITY = ("group", "kind", "namespace", "name")


def _placeholder(app: str) -> dict[str, Any]:
    """The entry of an app a line names before its full entry is fetched."""
    return {
        "name": app,
        "revision": None,
        "sync": "Unknown",
        "health": "Unknown",
        "errors": [],
        "resources": [],
    }


def _unknown_entry(entry: Mapping[str, Any], error: str) -> dict[str, Any]:
    shown = copy.deepcopy(dict(entry))
    shown.update(sync="Unknown", health="Unknown", errors=[error])
    for resource in shown.get("resources", []):
        resource.update(status="Unknown", health="Unknown", changes=[])
    return shown


def _unreachable_sentence(name: str, reason: str) -> str:
    prefix = f"agent {name} is unreachable"
    return reason if reason.startswith(prefix) else f"{prefix}: {reason}"
