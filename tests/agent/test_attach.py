"""`kubedrift attach` and `agents:`: check and watch fed by real agents, one per sandbox (cluster).

East is the shared read-only agent on the shop sandbox (conftest); west serves the app `blog` on a
sandbox of its own. What is checked: `check -o json` merges both agents' apps with `"agent"`; `watch
-o jsonl` prints drift injected on either; a killed agent's apps go Unknown with the sentence, and
come back when it restarts; a dropped stream resumes with no change lost or repeated (compared with
what the agent's own stream holds); a 410 resyncs; a sync through attach on a read-only agent is
refused with the agent's sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from core.agent_client import AgentClient, AgentRefused
from core.agent_fleet import AgentFleet
from core.agent_stream import Connected, Disconnected, Resynced, StreamEvent
from core.agents_config import AgentEndpoint, default_name
from core.cluster import ClusterAdapter
from core.config import load_config
from core.kubeconfig import load_kubeconfig
from core.notification_config import SecretReference
from sandbox.handle import SandboxThread
from tests.agent.agent_thread import TOKEN, WAIT_SECONDS, AgentThread, wait_for
from tests.agent.conftest import ShopCluster
from tests.integration.gitops import deploy, make_gitops
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
KUBEDRIFT = [sys.executable, "-m", "tui.cli"]


# -- the second cluster, and its agent -------------------------------------------------------------


@pytest.fixture(scope="module")
def west(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopCluster]:
    """A sandbox of its own whose app is `blog` (the shop manifests under another name)."""
    root = tmp_path_factory.mktemp("west")
    with SandboxThread(controllers=()) as sandbox:
        kubeconfig = sandbox.kubeconfig(root / "kubeconfig")
        config_path = make_gitops(root)
        config_path.write_text(config_path.read_text().replace("name: shop", "name: blog"))
        adapter = ClusterAdapter(
            load_kubeconfig(str(kubeconfig), environ={}).api_client("sandbox"), context="sandbox"
        )
        deploy(adapter, load_config(config_path))
        yield ShopCluster(sandbox, kubeconfig, config_path, root)


@pytest.fixture(scope="module")
def west_agent(west: ShopCluster, token_file: Path) -> Iterator[AgentThread]:
    with AgentThread(west.config, west.kubeconfig, token_file=token_file, identity="agent-west") as running:
        running.wait_ready()
        yield running


def endpoint(url: str, token_file: Path, name: str | None = None) -> AgentEndpoint:
    token = SecretReference(origin="test", from_file=token_file)
    return AgentEndpoint(name=name or default_name(url), url=url, token=token)


def set_log_level(cluster: ShopCluster, level: str) -> None:
    """Drift (anything but `info`, which Git says) or its repair, on the app's ConfigMap."""
    cluster.core_api().patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": level}})


def app_sync(agent: AgentThread) -> str:
    return str(agent.request("/api/v1/status").json()["apps"][0]["sync"])


# -- check ----------------------------------------------------------------------------------------


def test_check_json_merges_both_agents_apps_each_with_its_agent(
    agent: AgentThread, west_agent: AgentThread, token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["attach", agent.url, west_agent.url, "--token-file", str(token_file), "--check", "-o", "json"]
    )
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    by_agent = {app["name"]: app["agent"] for app in printed["apps"]}
    assert by_agent == {"shop": default_name(agent.url), "blog": default_name(west_agent.url)}
    # Each entry is the agent's own check -o json entry, with only "agent" added.
    own = agent.request("/api/v1/status").json()["apps"] + west_agent.request("/api/v1/status").json()["apps"]
    assert [{k: v for k, v in app.items() if k != "agent"} for app in printed["apps"]] == own


def test_check_with_agents_in_the_config_reads_them_by_name(
    agent: AgentThread,
    west_agent: AgentThread,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "agents:\n"
        f"  - {{name: east, url: '{agent.url}', tokenFile: {token_file}}}\n"
        f"  - {{name: west, url: '{west_agent.url}', token: {{fromEnv: WEST_TOKEN}}}}\n"
    )
    os.environ["WEST_TOKEN"] = TOKEN
    try:
        code = main(["check", "--config", str(config)])
        text = capsys.readouterr().out
        json_code = main(["check", "--config", str(config), "-o", "json", "--app", "blog"])
        printed = json.loads(capsys.readouterr().out)
    finally:
        del os.environ["WEST_TOKEN"]
    assert code == 0 and json_code == 0
    assert text.splitlines()[0].split() == ["APP", "SYNC", "HEALTH", "REVISION", "RESOURCES"]
    assert {line.split()[0] for line in text.splitlines()[1:]} == {"shop", "blog"}
    assert [(app["name"], app["agent"]) for app in printed["apps"]] == [("blog", "west")]


def test_check_with_an_unreachable_agent_exits_2_naming_it(
    agent: AgentThread, token_file: Path, unused_tcp_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = f"http://127.0.0.1:{unused_tcp_port}"
    code = main(["attach", agent.url, gone, "--token-file", str(token_file), "--check"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines()[1].split()[0] == "shop", "what the reachable agent said is still shown"
    assert err.startswith(f"kubedrift: agent 127.0.0.1:{unused_tcp_port} is unreachable: ")
    assert "check that it runs" in err and len(err.strip().splitlines()) == 1


# -- actions ---------------------------------------------------------------------------------------


async def test_a_sync_through_attach_on_a_read_only_agent_gets_its_refusal(
    agent: AgentThread, west_agent: AgentThread, token_file: Path
) -> None:
    fleet = AgentFleet(
        [endpoint(agent.url, token_file, "east"), endpoint(west_agent.url, token_file, "west")]
    )
    try:
        await fleet.load()
        client = fleet.client_for("blog")
        assert client is not None and client.name == "west"
        with pytest.raises(AgentRefused) as refused:
            await client.sync("blog", prune=True)
    finally:
        await fleet.close()
    assert str(refused.value) == (
        "the agent agent-west is read-only: set agent.allowWrites: true in its kubedrift.yaml to let it write"
    )


# -- the stream: drops and resyncs -----------------------------------------------------------------


class Proxy:
    """A TCP proxy in front of an agent whose connections the test can cut, and hold off."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.open = True
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def cut(self, *, hold: bool) -> None:
        """Drops every open connection; with `hold`, refuses new ones until `release`."""
        self.open = not hold
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    def release(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut(hold=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


class Follower:
    """A client's stream read in the background."""

    def __init__(self, client: AgentClient, since: int | None) -> None:
        self.events: list[StreamEvent] = []
        self.stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._read(client, since))

    async def _read(self, client: AgentClient, since: int | None) -> None:
        async for event in client.follow(since, self.stop):
            self.events.append(event)

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [event for event in self.events if isinstance(event, dict)]

    async def until(self, done: Callable[[Follower], bool], what: str) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while not done(self):
                await asyncio.sleep(0.02)
        assert done(self), what

    async def close(self) -> None:
        self.stop.set()
        async with asyncio.timeout(WAIT_SECONDS):
            await self._task


def app_went(sync: str) -> Callable[[Follower], bool]:
    return lambda follower: any(
        line.get("app") == "shop" and line.get("sync") == sync and "group" not in line
        for line in follower.lines
    )


@pytest.fixture
async def proxied(agent: AgentThread) -> AsyncIterator[Proxy]:
    proxy = Proxy(int(agent.url.rsplit(":", 1)[1]))
    yield proxy
    await proxy.close()


async def wait_agent(condition: Callable[[], bool], what: str) -> None:
    await asyncio.to_thread(wait_for, condition, what)


async def test_a_dropped_stream_resumes_with_no_change_lost_or_repeated(
    agent: AgentThread, shop: ShopCluster, proxied: Proxy, token_file: Path
) -> None:
    url = await proxied.start()
    async with AgentClient(endpoint(url, token_file), retry_initial=0.05, retry_max=0.2) as client:
        start = (await client.status())["sequence"]
        follower = Follower(client, since=start)
        try:
            await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events), "connected")
            set_log_level(shop, "debug")
            await follower.until(app_went("OutOfSync"), "the drift's line")
            proxied.cut(hold=True)
            await follower.until(
                lambda f: any(isinstance(e, Disconnected) for e in f.events), "the drop seen"
            )
            set_log_level(shop, "info")  # repaired while the stream is down
            await wait_agent(lambda: app_sync(agent) == "Synced", "the agent to see the repair")
            proxied.release()
            await follower.until(app_went("Synced"), "the repair's line, after resuming")
        finally:
            await follower.close()
    assert not any(isinstance(event, Resynced) for event in follower.events), "resumed, not resynced"
    received = follower.lines
    held = agent.open_stream(f"?since={start}")
    try:
        expected = [held.next_line() for _ in received]
    finally:
        held.close()
    assert received == expected, "exactly the agent's lines, in order, none lost, none twice"
    assert [line["seq"] for line in received] == list(range(start + 1, start + 1 + len(received)))


async def test_a_stream_older_than_the_agent_retains_resyncs_from_its_status(
    shop: ShopCluster, token_file: Path
) -> None:
    small = AgentThread(
        shop.config, shop.kubeconfig, token_file=token_file, identity="agent-small", retained_lines=3
    )
    with small:
        small.wait_ready()
        for level, sync in (("debug", "OutOfSync"), ("info", "Synced")):
            set_log_level(shop, level)
            await wait_agent(lambda sync=sync: app_sync(small) == sync, f"the agent to see {sync}")
        assert small.request("/api/v1/watch?since=0").status == 410, "line 1 is no longer retained"
        async with AgentClient(endpoint(small.url, token_file)) as client:
            follower = Follower(client, since=0)
            try:
                await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events), "connected")
                set_log_level(shop, "debug")
                await follower.until(
                    lambda f: app_went("OutOfSync")(f) or resynced_to(f, "OutOfSync"), "drift"
                )
            finally:
                await follower.close()
                set_log_level(shop, "info")
                await wait_agent(lambda: app_sync(small) == "Synced", "the repair")
    first = follower.events[0]
    assert isinstance(first, Resynced), "since=0 is older than what the agent retains: its status instead"
    assert [app["name"] for app in first.status["apps"]] == ["shop"]
    expected = None
    for event in follower.events:  # every line goes on from the last status or line, none skipped
        if isinstance(event, Resynced):
            expected = event.status["sequence"] + 1
        elif isinstance(event, dict):
            assert event["seq"] == expected
            expected += 1


def resynced_to(follower: Follower, sync: str) -> bool:
    """Whether a resync after the first brought the app's `sync` (a burst the agent could not keep)."""
    statuses = [event.status for event in follower.events[1:] if isinstance(event, Resynced)]
    return any(status["apps"][0]["sync"] == sync for status in statuses)


# -- watch, and an agent killed and restarted ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Lines:
    """The lines a stream printed, read as they come; `take` finds one in any order and consumes it."""

    def __init__(self, stream: IO[str] | None) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._pending: list[str] = []
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._queue.put(line)

    def take(self, matches: Callable[[str], bool], what: str) -> str:
        while True:
            for index, line in enumerate(self._pending):
                if matches(line):
                    return self._pending.pop(index)
            try:
                line = self._queue.get(timeout=WAIT_SECONDS)
            except queue.Empty:
                raise AssertionError(f"no line: {what}; printed: {self.seen}") from None
            self._pending.append(line)
            self.seen.append(line)


class Process:
    """A kubedrift subprocess whose stdout and stderr lines are read as they come."""

    def __init__(self, arguments: list[str], cwd: Path, kubeconfig: Path) -> None:
        environment = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
        environment["KUBECONFIG"] = str(kubeconfig)
        self.process = subprocess.Popen(
            [*KUBEDRIFT, *arguments],
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out = Lines(self.process.stdout)
        self.err = Lines(self.process.stderr)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=WAIT_SECONDS)


class AgentProcess:
    """`kubedrift agent` serving west as a subprocess, started (and restarted) on one port."""

    def __init__(self, west: ShopCluster, token_file: Path) -> None:
        self.west, self.token_file = west, token_file
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.running: list[Process] = []

    def start(self) -> Process:
        arguments = ["agent", "--config", str(self.west.config_path), "--listen", f"127.0.0.1:{self.port}"]
        arguments += ["--token-file", str(self.token_file), "--identity", "west-0"]
        running = Process(arguments, self.west.root, self.west.kubeconfig)
        running.err.take(lambda line: "serving on" in line, "the agent's start line")
        self.running.append(running)
        return running


@pytest.fixture
def west_process(west: ShopCluster, token_file: Path) -> Iterator[AgentProcess]:
    agent = AgentProcess(west, token_file)
    yield agent
    for running in agent.running:
        running.stop(signal.SIGKILL)


def line_of(lines: Lines, app: str, sync: str, *, previous: str | None = None) -> dict[str, Any]:
    def matches(text: str) -> bool:
        line = json.loads(text)
        wanted = line.get("app") == app and line.get("sync") == sync and "group" not in line
        return wanted and (previous is None or line["previous"]["sync"] == previous)

    return dict(json.loads(lines.take(matches, f"{app} going {sync}")))


def test_watch_over_two_agents_follows_drift_on_either_and_a_killed_agent(
    agent: AgentThread,
    shop: ShopCluster,
    west: ShopCluster,
    west_process: AgentProcess,
    token_file: Path,
) -> None:
    west_agent = west_process.start()
    west_url = west_process.url
    east_name, west_name = default_name(agent.url), default_name(west_url)
    watch = Process(
        ["attach", agent.url, west_url, "--token-file", str(token_file), "--watch", "-o", "jsonl"],
        shop.root,
        shop.kubeconfig,
    )
    try:
        first = {line_of(watch.out, "shop", "Synced")["agent"], line_of(watch.out, "blog", "Synced")["agent"]}
        assert first == {east_name, west_name}, "each app's state when first seen, with its agent"

        set_log_level(shop, "debug")
        drifted = line_of(watch.out, "shop", "OutOfSync", previous="Synced")
        set_log_level(shop, "info")
        assert line_of(watch.out, "shop", "Synced", previous="OutOfSync")["agent"] == east_name
        set_log_level(west, "debug")
        west_drift = line_of(watch.out, "blog", "OutOfSync", previous="Synced")
        assert (drifted["agent"], west_drift["agent"]) == (east_name, west_name)
        assert "seq" not in drifted and {"ts", "app", "sync", "health", "previous"} < set(drifted)

        west_agent.stop(signal.SIGKILL)
        lost = line_of(watch.out, "blog", "Unknown", previous="OutOfSync")
        assert (lost["health"], lost["agent"]) == ("Unknown", west_name)
        said = watch.err.take(lambda line: "unreachable" in line, "the lost agent's sentence")
        assert said.startswith(f"kubedrift: agent {west_name} is unreachable: ")

        set_log_level(west, "info")  # repaired while its agent is down
        west_process.start()
        back = line_of(watch.out, "blog", "Synced", previous="Unknown")
        assert back["agent"] == west_name
        found = watch.err.take(lambda line: "reachable again" in line, "the agent back")
        assert found.strip() == f"kubedrift: agent {west_name} is reachable again"
    finally:
        set_log_level(shop, "info")
        set_log_level(west, "info")
        code = watch.stop()
    assert code == 0, "SIGTERM stops watch cleanly"
