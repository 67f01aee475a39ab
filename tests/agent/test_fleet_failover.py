"""Issue 15 end to end: two sharded agents over two clusters, one killed and restarted, seen through attach.

Two sandboxes are two clusters, `home` (which also holds the agents' Leases) and `away`; six copies of
the shop app are spread over both, three on each shard. Shard 0 is an in-process agent (AgentThread);
shard 1 is a real `kubedrift agent --shard 1/2` process, SIGKILLed and started again on the same
port. Both are allowed to write, so they hold their apps' Leases, with short Leases (DURATION s,
renewed every RENEW s) as in test_leases: the process runs the real CLI with only those two constants
of core.app_leases shortened (see LAUNCHER), which the test checks on the Lease it writes.

An AgentFleet (what `kubedrift attach` runs) follows both and records every line it reports. What a
user would see is checked: every app once, from its shard's agent; drift on a shard-1 app; the
killed agent's apps Unknown, then from shard 0 with their real status once the shard's Lease has
expired; drift while they are away seen from shard 0; and back to shard 1 when it restarts. Across
the run, every (sync, health) change an agent's own stream published after the fleet's first look
at that agent is among what the fleet reported for the app, in order, and shard 0's lines came with
gap-free sequence numbers.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from core.agent_client import AgentClient
from core.agent_fleet import AgentFleet, FleetUpdate
from core.agent_stream import Disconnected, Resynced, StreamEvent
from core.agents_config import AgentEndpoint
from core.app_leases import LeaseStore, lease_adapter, shard_lease_name
from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.kubeconfig import load_kubeconfig
from core.notification_config import SecretReference
from core.sharding import Shard, app_shard
from sandbox.handle import SandboxThread
from tests.agent.agent_thread import TOKEN, WAIT_SECONDS, AgentThread, wait_for
from tests.agent.test_attach import Lines, free_port
from tests.agent.test_leases import DURATION, NAMESPACE, RENEW, evaluated, held, quick_leases, six_apps
from tests.integration.gitops import deploy, make_gitops

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
CLUSTERS = ("home", "away")
"""Two kubeconfig contexts, one sandbox each; `home` is the current context and holds the Leases."""
AGENTS = ("shard-0", "shard-1")
"""The fleet's names for the agents (their endpoints)."""
LAUNCHER = (
    "import sys, core.app_leases as leases; "
    f"leases.LEASE_DURATION_SECONDS, leases.RENEW_PERIOD_SECONDS = {DURATION}, {RENEW}; "
    "from tui.cli import main; sys.exit(main(sys.argv[1:]))"
)
"""`kubedrift agent` as the console script runs it, its Leases as short as the in-process agent's."""

State = tuple[str, str]
"""An app's (sync, health)."""


# -- the two clusters and their apps ---------------------------------------------------------------


@dataclass
class Clusters:
    sandboxes: dict[str, SandboxThread]
    kubeconfig: Path
    config_path: Path
    cluster_of: dict[str, str]
    """App name -> the context it is deployed to."""

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def core_api(self, context: str) -> client.CoreV1Api:
        return client.CoreV1Api(load_kubeconfig(str(self.kubeconfig), environ={}).api_client(context))

    def set_log_level(self, app: str, level: str) -> None:
        """Drift (anything but `info`, which Git says) or its repair, on the app's ConfigMap."""
        body = {"data": {"LOG_LEVEL": level}}
        self.core_api(self.cluster_of[app]).patch_namespaced_config_map("web-config", app, body)

    def leases(self) -> LeaseStore:
        adapter = lease_adapter(load_kubeconfig(str(self.kubeconfig), environ={}), "home", environ={})
        return LeaseStore(adapter, NAMESPACE, "reader")


def kubeconfig_of(sandboxes: dict[str, SandboxThread]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": s.url}} for name, s in sandboxes.items()],
        "users": [{"name": "token", "user": {"token": "sandbox"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "token"}} for name in sandboxes],
        "current-context": "home",
    }


@pytest.fixture
def clusters(tmp_path: Path, state_home: Path) -> Iterator[Clusters]:
    """Six shop apps, each in a namespace of its own, every shard with apps on both clusters."""
    with SandboxThread(controllers=()) as home, SandboxThread(controllers=()) as away:
        sandboxes = {"home": home, "away": away}
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(kubeconfig_of(sandboxes)))
        config_path = make_gitops(tmp_path)
        names = six_apps(2)
        cluster_of: dict[str, str] = {}
        for index in range(2):
            for position, name in enumerate(n for n in names if app_shard(n, 2) == index):
                cluster_of[name] = CLUSTERS[position % 2]
        config_path.write_text(
            "apps:\n"
            + "".join(
                f"  - name: {name}\n"
                "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
                f"    destination: {{name: {cluster_of[name]}, namespace: {name}}}\n"
                for name in names
            )
            + "agent: {allowWrites: true}\n"
        )
        config = load_config(config_path)
        loaded = load_kubeconfig(str(kubeconfig), environ={})
        for app in config.apps:
            context = cluster_of[app.name]
            deploy(ClusterAdapter(loaded.api_client(context), context=context), replace(config, apps=(app,)))
        home_adapter = ClusterAdapter(loaded.api_client("home"), context="home")
        home_adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        yield Clusters(sandboxes, kubeconfig, config_path, cluster_of)


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


# -- shard 1, a real process -----------------------------------------------------------------------


class ShardProcess:
    """`kubedrift agent --shard 1/2` on a fixed port, started, SIGKILLed and started again."""

    def __init__(self, clusters: Clusters, token_file: Path, state: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.arguments = [
            "agent", "--config", str(clusters.config_path), "--kubeconfig", str(clusters.kubeconfig),
            "--listen", f"127.0.0.1:{self.port}", "--token-file", str(token_file),
            "--shard", "1/2", "--identity", "kubedrift-1", "--lease-context", "home",
        ]  # fmt: skip
        self.environment = {
            "PATH": os.environ["PATH"],
            "HOME": str(state),
            "PYTHONPATH": str(ROOT),
            "XDG_STATE_HOME": str(state),
        }
        self.running: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *self.arguments],
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.running.append(process)
        said = Lines(process.stderr)
        said.take(lambda line: "serving on" in line, "shard 1's start line")

    def kill(self) -> None:
        process = self.running[-1]
        process.send_signal(signal.SIGKILL)
        assert process.wait(WAIT_SECONDS) == -signal.SIGKILL

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
            process.wait(WAIT_SECONDS)


@pytest.fixture
def shard_process(clusters: Clusters, token_path: Path, tmp_path: Path) -> Iterator[ShardProcess]:
    process = ShardProcess(clusters, token_path, tmp_path / "shard-1")
    yield process
    process.stop_all()


def answers_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=WAIT_SECONDS) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


# -- what the agents published, and what the fleet saw ---------------------------------------------


class OwnStream:
    """One agent process's own stream from its first line (`since=0`), read on a thread until it ends."""

    def __init__(self, url: str) -> None:
        request = urllib.request.Request(
            f"{url}/api/v1/watch?since=0", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        self._response = urllib.request.urlopen(request, timeout=WAIT_SECONDS)
        self.stream_id = str(self._response.headers["Kubedrift-Stream-Id"])
        self.lines: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self._response:
                if raw.strip():
                    self.lines.append(json.loads(raw))
        except (OSError, http.client.HTTPException):
            pass  # the agent was killed mid-chunk, or stopped


class RecordingClient(AgentClient):
    """The fleet's client to one agent, noting every status it read and every stream event."""

    def __init__(self, endpoint: AgentEndpoint) -> None:
        super().__init__(endpoint, retry_initial=0.05, retry_max=0.2)
        self.statuses: list[dict[str, Any]] = []
        self.events: list[StreamEvent] = []

    async def status(self) -> dict[str, Any]:
        document = await super().status()
        self.statuses.append(document)
        return document

    async def follow(
        self, since: int | None = None, stop: asyncio.Event | None = None, *, app: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        async for event in super().follow(since, stop, app=app):
            self.events.append(event)
            yield event


@dataclass
class Attached:
    """A running AgentFleet and everything it reported."""

    fleet: AgentFleet
    clients: dict[str, RecordingClient]
    updates: list[FleetUpdate] = field(default_factory=list)

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [line for update in self.updates for line in update.lines]

    def app_lines(self, app: str, after: int = 0) -> list[dict[str, Any]]:
        """The app's (sync, health) lines, from the `after`-th line reported on."""
        return [line for line in self.lines[after:] if line.get("app") == app and is_app_line(line)]

    def saw(self, app: str, agent: str, sync: str, health: str | None = None, *, after: int = 0) -> bool:
        return any(
            line["agent"] == agent and line["sync"] == sync and health in (None, line["health"])
            for line in self.app_lines(app, after)
        )

    def shown(self, app: str) -> tuple[str, str, str] | None:
        """(agent, sync, health) of the app in the merged view."""
        remote = self.fleet.apps.get(app)
        return None if remote is None else (remote.agent, remote.status["sync"], remote.status["health"])

    async def until(self, done: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while not done():
                    await asyncio.sleep(0.02)
        except TimeoutError:
            shown = {app: self.shown(app) for app in sorted(self.fleet.apps)}
            raise AssertionError(
                f"timed out waiting for {what}; the view: {shown}, conflicts: {self.fleet.conflicts}"
            ) from None


@pytest.fixture
async def attached(token_path: Path) -> AsyncIterator[Callable[[Sequence[str]], Attached]]:
    """Starts an AgentFleet on the given agent URLs (shard 0's first), stopped at the test's end."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    fleets: list[AgentFleet] = []

    def start(urls: Sequence[str]) -> Attached:
        token = SecretReference(origin="test", from_file=token_path)
        endpoints = [AgentEndpoint(name=n, url=u, token=token) for n, u in zip(AGENTS, urls, strict=True)]
        clients: dict[str, RecordingClient] = {}

        def make(endpoint: AgentEndpoint) -> AgentClient:
            clients[endpoint.name] = RecordingClient(endpoint)
            return clients[endpoint.name]

        fleet = AgentFleet(endpoints, unreachable_after=0.3, client_factory=make)
        running = Attached(fleet, clients)
        fleets.append(fleet)
        tasks.append(asyncio.ensure_future(fleet.run(running.updates.append, stop)))
        return running

    yield start
    stop.set()
    await asyncio.gather(*tasks)
    for fleet in fleets:
        await fleet.close()


def is_app_line(line: dict[str, Any]) -> bool:
    """An app's (sync, health) line, not a resource's, a child app's or a rollback's."""
    return "sync" in line and "health" in line and "group" not in line


def compressed(states: Sequence[State]) -> list[State]:
    """`states` with runs of one state kept once."""
    return [state for index, state in enumerate(states) if index == 0 or states[index - 1] != state]


def is_subsequence(wanted: Sequence[State], within: Sequence[State]) -> bool:
    remaining = iter(within)
    return all(any(state == seen for seen in remaining) for state in wanted)


def published_after_first_look(own: OwnStream, statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agent's own lines after the first status the fleet read from that process (the fleet knows
    what came before only as that status, by design)."""
    (first_look, *_) = [s["sequence"] for s in statuses if s["agent"]["streamId"] == own.stream_id]
    return [line for line in own.lines if line["seq"] > first_look]


# -- the test --------------------------------------------------------------------------------------


async def test_a_killed_shards_apps_move_to_the_other_and_back_with_no_status_change_lost(
    clusters: Clusters, shard_process: ShardProcess, token_path: Path, attached: Callable[..., Attached]
) -> None:
    config = clusters.config
    names = {app.name for app in config.apps}
    own = [{name for name in names if app_shard(name, 2) == index} for index in range(2)]
    assert {clusters.cluster_of[name] for name in own[1]} == set(CLUSTERS), "shard 1 reads both clusters"
    drifted, moved_drift = sorted(own[1])[:2]
    leases = clusters.leases()

    def lease_holder(app: str) -> str | None:
        record = leases.read(f"kubedrift-app-{app}")
        return None if record is None else record.live_holder(leases.now())

    def shard_1_holds_its_apps() -> bool:
        return all(lease_holder(name) == "kubedrift-1" for name in own[1])

    build = quick_leases("kubedrift-0", Shard(0, 2))
    with AgentThread(
        config, clusters.kubeconfig, token_file=token_path, identity="kubedrift-0", before_run=build
    ) as first:
        own_streams = [OwnStream(first.url)]
        await asyncio.to_thread(shard_process.start)
        own_streams.append(OwnStream(shard_process.url))
        await asyncio.to_thread(first.wait_ready)
        await asyncio.to_thread(wait_for, lambda: answers_ready(shard_process.url), "shard 1 to be ready")
        shard_lease = leases.read(shard_lease_name(1))
        assert shard_lease is not None and shard_lease.duration_seconds == DURATION, "the launcher's Lease"

        fleet = attached([first.url, shard_process.url])

        # Every app once, from the agent its shard says; each agent holds its apps' Leases.
        def split_by_shard() -> bool:
            return not fleet.fleet.conflicts and all(
                (shown := fleet.shown(name)) is not None and shown[0] == AGENTS[app_shard(name, 2)]
                for name in names
            )

        await fleet.until(split_by_shard, "each app from its own shard's agent")
        assert set(fleet.fleet.apps) == names
        await asyncio.to_thread(wait_for, lambda: held(first) == own[0], "shard 0 to hold its apps")
        await asyncio.to_thread(wait_for, shard_1_holds_its_apps, "shard 1 to hold its apps")
        assert evaluated(first) == own[0]
        states = {fleet.shown(name)[1:] for name in names}  # type: ignore[index]
        assert len(states) == 1, states
        ((sync, health),) = states
        assert sync == "Synced" and health != "Unknown", (
            "as deployed (without controllers nothing gets ready)"
        )

        # Drift on a shard-1 app reaches the fleet from shard 1.
        drifted_at = len(fleet.lines)
        await asyncio.to_thread(clusters.set_log_level, drifted, "debug")
        await fleet.until(
            lambda: fleet.saw(drifted, "shard-1", "OutOfSync", after=drifted_at), "the drift from shard 1"
        )

        # Shard 1 dies: its apps go Unknown, then come from shard 0 once its shard Lease has expired.
        killed_at = len(fleet.lines)
        await asyncio.to_thread(shard_process.kill)
        await fleet.until(
            lambda: all(fleet.saw(name, "shard-1", "Unknown", "Unknown", after=killed_at) for name in own[1]),
            "shard 1's apps to show Unknown",
        )
        assert all(
            error.startswith("agent shard-1 is unreachable: ")
            for name in own[1]
            for error in fleet.fleet.apps[name].status["errors"]
        ), "each says why, while shard 0 still waits out the Lease"
        await fleet.until(
            lambda: (
                all(fleet.shown(name) == ("shard-0", "Synced", health) for name in own[1] - {drifted})
                and fleet.shown(drifted) == ("shard-0", "OutOfSync", health)
            ),
            "shard 1's apps from shard 0, with their real status",
        )
        assert evaluated(first) == names
        await asyncio.to_thread(wait_for, lambda: held(first) == names, "shard 0 to hold every app's Lease")

        # While they are away: drift on one, the other repaired, both seen from shard 0.
        await asyncio.to_thread(clusters.set_log_level, moved_drift, "debug")
        await asyncio.to_thread(clusters.set_log_level, drifted, "info")
        await fleet.until(
            lambda: (
                fleet.shown(moved_drift) == ("shard-0", "OutOfSync", health)
                and fleet.shown(drifted) == ("shard-0", "Synced", health)
            ),
            "the changes made while shard 1 was away, from shard 0",
        )
        assert fleet.saw(moved_drift, "shard-0", "OutOfSync") and fleet.saw(drifted, "shard-0", "Synced")

        # Shard 1 restarts: its apps go back to it, with the states shard 0 last saw.
        await asyncio.to_thread(shard_process.start)
        own_streams.append(OwnStream(shard_process.url))
        await fleet.until(
            lambda: (
                split_by_shard()
                and fleet.shown(moved_drift) == ("shard-1", "OutOfSync", health)
                and fleet.shown(drifted) == ("shard-1", "Synced", health)
            ),
            "shard 1's apps back from shard 1, as shard 0 last saw them",
        )
        await asyncio.to_thread(wait_for, lambda: evaluated(first) == own[0], "shard 0 to let them go")
        await asyncio.to_thread(wait_for, shard_1_holds_its_apps, "shard 1 to hold its apps again")
        await asyncio.to_thread(clusters.set_log_level, moved_drift, "info")
        await fleet.until(
            lambda: fleet.shown(moved_drift) == ("shard-1", "Synced", health), "the repair from shard 1"
        )
        shard_0_events = list(fleet.clients["shard-0"].events)  # before it stops, which the fleet sees

    # No status change lost: what each agent process published after the fleet's first look at it
    # is, app by app and in order, among the states the fleet reported.
    reported = {
        name: compressed([(line["sync"], line["health"]) for line in fleet.app_lines(name)]) for name in names
    }
    statuses = [status for client_ in fleet.clients.values() for status in client_.statuses]
    for stream in own_streams:
        lines = [line for line in published_after_first_look(stream, statuses) if is_app_line(line)]
        for name in names:
            published = compressed([(ln["sync"], ln["health"]) for ln in lines if ln["app"] == name])
            assert is_subsequence(published, reported[name]), (name, published, reported[name])

    def published_by(stream: OwnStream) -> set[tuple[str, str, str]]:
        return {(line["app"], line["sync"], line["health"]) for line in stream.lines if is_app_line(line)}

    assert (drifted, "OutOfSync", health) in published_by(own_streams[1]), "shard 1 saw the first drift"
    assert (moved_drift, "OutOfSync", health) in published_by(own_streams[0]), "shard 0 saw the second"

    # Each app shard 0 let go was said on its stream (else attach goes on showing shard 0's old word).
    let_go = {
        line["app"] for line in own_streams[0].lines if line.get("childApp", {}).get("change") == "removed"
    }
    assert let_go == own[1]

    # Shard 0's stream never dropped: its lines came one by one, gap-free from the fleet's first look.
    assert not any(isinstance(event, Disconnected | Resynced) for event in shard_0_events)
    seqs = [event["seq"] for event in shard_0_events if isinstance(event, dict)]
    start = fleet.clients["shard-0"].statuses[0]["sequence"]
    assert seqs == list(range(start + 1, start + 1 + len(seqs)))
    assert len(seqs) >= len(own[1]), "it spoke of each app it took on"
