"""core.agent_fleet: several fake agents merged into one view, kept current, lost and found again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from core.agent_client import AgentClient
from core.agent_fleet import AgentFleet, FleetUpdate
from core.agents_config import AgentEndpoint
from tests.unit.fake_agent import FakeAgent, app_entry, start


def app_line(app: str, sync: str, health: str = "Healthy") -> dict[str, Any]:
    previous = {"sync": "Synced", "health": "Healthy"}
    return {"ts": "t", "app": app, "sync": sync, "health": health, "previous": previous}


class Running:
    """A fleet run in the background, recording its updates."""

    def __init__(self, fleet: AgentFleet) -> None:
        self.fleet = fleet
        self.updates: list[FleetUpdate] = []
        self.stop = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(fleet.run(self._record, self.stop))

    def _record(self, update: FleetUpdate) -> None:
        self.updates.append(update)
        self._changed.set()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [line for update in self.updates for line in update.lines]

    async def until(self, done: Callable[[AgentFleet], bool]) -> None:
        async with asyncio.timeout(10):
            while not done(self.fleet):
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self.stop.set()
        async with asyncio.timeout(10):
            await self._task
        await self.fleet.close()


def client_factory(endpoint: AgentEndpoint) -> AgentClient:
    return AgentClient(endpoint, retry_initial=0.01, retry_max=0.05)


@pytest.fixture
async def agents() -> AsyncIterator[tuple[FakeAgent, FakeAgent, list[TestServer]]]:
    east_apps = {"shop": app_entry("shop"), "blog": app_entry("blog")}
    east = FakeAgent(identity="east-0", token=None, apps=east_apps)
    west = FakeAgent(identity="west-0", token=None, apps={"wiki": app_entry("wiki", "OutOfSync")})
    servers = [await start(east), await start(west)]
    yield east, west, servers
    for server in servers:
        await server.close()


def all_loaded(fleet: AgentFleet) -> bool:
    return len(fleet.apps) == 3 and all(agent.connected for agent in fleet.agents.values())


def fleet_for(servers: list[TestServer], unreachable_after: float = 0.1) -> AgentFleet:
    endpoints = [
        AgentEndpoint(name=name, url=str(server.make_url("")).rstrip("/"))
        for name, server in zip(("east", "west"), servers, strict=True)
    ]
    return AgentFleet(endpoints, unreachable_after=unreachable_after, client_factory=client_factory)


async def test_load_merges_every_agents_apps_marked_with_their_agent(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    fleet = fleet_for(agents[2])
    await fleet.load()
    await fleet.close()
    assert {name: remote.agent for name, remote in fleet.apps.items()} == {
        "shop": "east",
        "blog": "east",
        "wiki": "west",
    }
    assert fleet.apps["wiki"].status["sync"] == "OutOfSync" and fleet.apps["wiki"].connected
    assert fleet.agents["west"].info["name"] == "west-0"
    assert fleet.client_for("wiki") is fleet.clients["west"]


async def test_load_marks_an_agent_that_is_down(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]], unused_tcp_port: int
) -> None:
    endpoints = [
        AgentEndpoint(name="east", url=str(agents[2][0].make_url("")).rstrip("/")),
        AgentEndpoint(name="gone", url=f"http://127.0.0.1:{unused_tcp_port}"),
    ]
    fleet = AgentFleet(endpoints, client_factory=client_factory)
    await fleet.load()
    await fleet.close()
    assert set(fleet.apps) == {"shop", "blog"}
    assert fleet.agents["gone"].unreachable.startswith("agent gone is unreachable: ")
    assert not fleet.agents["gone"].connected


async def test_stream_lines_update_the_view_and_pass_on_with_the_agent_name(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    east, west, servers = agents
    running = Running(fleet_for(servers))
    await running.until(all_loaded)
    initial = len(running.lines)
    west.add_line(app_line("wiki", "Synced"))
    await running.until(lambda fleet: fleet.apps["wiki"].status["sync"] == "Synced")
    east.apps["shop"]["resources"][0].update(status="OutOfSync")
    east.add_line(app_line("shop", "OutOfSync"))
    await running.until(lambda fleet: fleet.apps["shop"].status["resources"][0]["status"] == "OutOfSync")
    await running.close()
    assert initial == 3  # each app's state when first seen, as `watch` prints at start
    streamed = running.lines[initial:]
    assert [(line["app"], line["sync"], line["agent"]) for line in streamed] == [
        ("wiki", "Synced", "west"),
        ("shop", "OutOfSync", "east"),
    ]
    assert all("seq" not in line for line in streamed)


async def test_a_lost_agent_turns_its_apps_unknown_and_they_come_back(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    _, west, servers = agents
    running = Running(fleet_for(servers))
    await running.until(all_loaded)
    west.add_line(app_line("wiki", "Synced"))
    west.add_line(app_line("wiki", "OutOfSync"))
    await running.until(lambda fleet: len([line for line in running.lines if line["app"] == "wiki"]) == 3)
    port = servers[1].port
    await servers[1].close()
    await running.until(lambda fleet: fleet.apps["wiki"].status["sync"] == "Unknown")
    wiki = running.fleet.apps["wiki"]
    assert wiki.status["health"] == "Unknown" and not wiki.connected
    assert wiki.status["errors"][0].startswith("agent west is unreachable: ")
    assert running.fleet.apps["shop"].status["sync"] == "Synced"  # the other agent's apps are untouched
    west.lines.clear()  # a new process: its stream counts from 1 again, from its first statuses
    west.apps["wiki"]["sync"] = "Synced"
    west.add_line(app_line("wiki", "Synced"))
    servers[1] = await start(west, port)
    await running.until(lambda fleet: fleet.apps["wiki"].connected)
    await running.close()
    assert running.fleet.apps["wiki"].status["sync"] == "Synced"
    wiki_lines = [(line["sync"], line["previous"]["sync"]) for line in running.lines if line["app"] == "wiki"]
    assert wiki_lines[3:] == [("Unknown", "OutOfSync"), ("Synced", "Unknown")]


async def test_a_stream_drop_shorter_than_the_grace_leaves_the_apps_as_they_are(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    _, west, servers = agents
    running = Running(fleet_for(servers, unreachable_after=30))
    await running.until(all_loaded)
    west.drop_streams()
    await running.until(lambda fleet: not fleet.agents["west"].connected)
    assert running.fleet.apps["wiki"].status["sync"] == "OutOfSync", "not Unknown within the grace"
    west.add_line(app_line("wiki", "Synced"))
    await running.until(lambda fleet: fleet.apps["wiki"].status["sync"] == "Synced")
    await running.close()
    assert [line["sync"] for line in running.lines if line["app"] == "wiki"] == ["OutOfSync", "Synced"]


async def test_a_resync_replaces_the_agents_apps_with_lines_for_what_changed(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    _, west, servers = agents
    running = Running(fleet_for(servers, unreachable_after=30))
    await running.until(all_loaded)
    west.drop_streams()
    await running.until(lambda fleet: not fleet.agents["west"].connected)
    del west.apps["wiki"]
    west.apps["docs"] = app_entry("docs")
    west.add_line(app_line("docs", "Synced"))
    west.add_line(app_line("wiki", "OutOfSync"))
    west.oldest = 3  # both lines forgotten: the stream answers 410, the fleet reads the status again
    await running.until(lambda fleet: "docs" in fleet.apps and "wiki" not in fleet.apps)
    await running.close()
    assert running.fleet.apps["docs"].agent == "west"
    assert [(line["app"], line["previous"]["sync"]) for line in running.lines[3:]] == [("docs", None)]


async def test_an_app_moves_to_the_agent_that_spoke_of_it_last(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    east, west, servers = agents
    running = Running(fleet_for(servers))
    await running.until(all_loaded)
    west.apps["blog"] = app_entry("blog", "OutOfSync")  # sharding handed blog to west
    west.add_line(app_line("blog", "OutOfSync"))
    await running.until(lambda fleet: fleet.apps["blog"].agent == "west")
    assert running.fleet.conflicts["blog"] == ("east", "west")
    assert running.fleet.apps["blog"].conflict == ("east",)
    del east.apps["blog"]  # east let it go: its next word of blog is a 404
    east.add_line({"ts": "t", "app": "blog", "childApp": {"parent": "x", "change": "removed", "message": ""}})
    await running.until(lambda fleet: "blog" not in fleet.conflicts)
    await running.close()
    assert running.fleet.apps["blog"].agent == "west"
    assert running.fleet.client_for("blog") is running.fleet.clients["west"]


def resource_line(app: str, name: str, status: str) -> dict[str, Any]:
    key = {"group": "", "kind": "ConfigMap", "namespace": app, "name": name}
    previous = {"status": "Synced", "health": "Healthy"}
    return {"ts": "t", "app": app, **key, "status": status, "health": "Healthy", "previous": previous}


async def test_a_line_about_a_listed_resource_updates_it_without_reading_the_whole_app_again(
    agents: tuple[FakeAgent, FakeAgent, list[TestServer]],
) -> None:
    # An app's entry lists every resource (megabytes at 25,000): a line that says it all is applied.
    east, _west, servers = agents
    running = Running(fleet_for(servers))
    await running.until(all_loaded)
    reads = [request for request in east.requests if request.startswith("GET /api/v1/apps/shop")]
    east.add_line(resource_line("shop", "cm-0", "OutOfSync"))
    await running.until(lambda fleet: fleet.apps["shop"].status["resources"][0]["status"] == "OutOfSync")
    await asyncio.sleep(0.2)  # a read would have been sent by now
    assert [r for r in east.requests if r.startswith("GET /api/v1/apps/shop")] == reads
    east.apps["shop"]["resources"].append({**east.apps["shop"]["resources"][0], "name": "cm-new"})
    east.add_line(resource_line("shop", "cm-new", "OutOfSync"))  # one it did not list: read the app
    await running.until(lambda fleet: len(fleet.apps["shop"].status["resources"]) == 2)
    await running.close()
    assert [r for r in east.requests if r.startswith("GET /api/v1/apps/shop")] == [
        *reads,
        "GET /api/v1/apps/shop",
    ]
