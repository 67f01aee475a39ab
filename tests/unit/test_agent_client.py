"""core.agent_client and core.agent_stream against a small fake agent speaking the agent contract."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from core.agent_client import AgentClient, AgentError, AgentRefused, AgentUnreachable, resource_path
from core.agent_stream import Connected, Disconnected, Resynced, StreamEvent
from core.agents_config import AgentEndpoint
from core.errors import ConfigError
from core.model import ResourceKey
from core.notification_config import SecretReference
from tests.unit.fake_agent import FakeAgent, app_entry, start


def endpoint_for(server: TestServer, token_file: Path | None = None, name: str = "eu-1") -> AgentEndpoint:
    token = SecretReference(origin="test", from_file=token_file) if token_file else None
    return AgentEndpoint(name=name, url=str(server.make_url("")).rstrip("/"), token=token)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    return path


@pytest.fixture
async def agent() -> AsyncIterator[tuple[FakeAgent, TestServer]]:
    fake = FakeAgent(apps={"shop": app_entry("shop"), "blog": app_entry("blog", "OutOfSync")})
    server = await start(fake)
    yield fake, server
    await server.close()


@pytest.fixture
async def client(agent: tuple[FakeAgent, TestServer], token_file: Path) -> AsyncIterator[AgentClient]:
    async with AgentClient(endpoint_for(agent[1], token_file), retry_initial=0.01, retry_max=0.05) as opened:
        yield opened


async def test_status_and_app_carry_the_bearer_token(client: AgentClient) -> None:
    status = await client.status()
    assert [app["name"] for app in status["apps"]] == ["shop", "blog"]
    assert status["agent"]["readOnly"] is True
    assert (await client.app("blog"))["sync"] == "OutOfSync"


async def test_a_missing_token_is_one_sentence_naming_the_agent(agent: tuple[FakeAgent, TestServer]) -> None:
    async with AgentClient(endpoint_for(agent[1])) as anonymous:
        with pytest.raises(AgentError) as raised:
            await anonymous.status()
    assert raised.value.status == 401
    assert "eu-1" in str(raised.value) and "token" in str(raised.value)


async def test_a_rotated_token_file_is_read_again_after_a_401(
    agent: tuple[FakeAgent, TestServer], client: AgentClient, token_file: Path
) -> None:
    await client.status()
    agent[0].token = "rotated"
    token_file.write_text("rotated\n")
    assert (await client.app("shop"))["name"] == "shop"
    assert agent[0].requests[-2:] == ["GET /api/v1/apps/shop", "GET /api/v1/apps/shop"]


async def test_an_unknown_app_is_a_404_error(client: AgentClient) -> None:
    with pytest.raises(AgentError) as raised:
        await client.app("nope")
    assert raised.value.status == 404 and "nope" in str(raised.value)


async def test_actions_on_a_read_only_agent_carry_its_refusal(client: AgentClient) -> None:
    with pytest.raises(AgentRefused) as raised:
        await client.sync("shop", prune=True)
    assert raised.value.status == 403
    assert str(raised.value).startswith("the agent fake is read-only: set agent.allowWrites: true")
    with pytest.raises(AgentRefused):
        await client.set_policy("shop", self_heal=True)
    assert await client.refresh("shop") is None  # a refresh writes nothing: allowed


async def test_actions_send_the_contract_bodies(
    agent: tuple[FakeAgent, TestServer], client: AgentClient
) -> None:
    agent[0].read_only = False
    result = await client.sync("shop", prune=True, dry_run=True)
    assert result["ok"] is True and result["asked"] == {"prune": True, "dryRun": True}
    assert await client.set_policy("shop", automated=False) == {"automated": False}


async def test_resource_paths_name_the_core_group_and_cluster_scope() -> None:
    assert resource_path("shop", ResourceKey("", "ConfigMap", "", "x/y")) == (
        "/api/v1/apps/shop/resources/core/ConfigMap/_/x%2Fy"
    )
    namespaced = resource_path("shop", ResourceKey("apps", "Deployment", "web", "api"))
    assert namespaced.endswith("/resources/apps/Deployment/web/api")


async def test_resource_answers_the_agent_document(client: AgentClient) -> None:
    document = await client.resource("shop", ResourceKey("apps", "Deployment", "", "web"))
    asked = {"app": "shop", "group": "apps", "kind": "Deployment", "namespace": "_", "name": "web"}
    assert document["resource"] == asked


async def test_an_agent_that_is_not_there_is_unreachable(unused_tcp_port: int) -> None:
    endpoint = AgentEndpoint(name="gone", url=f"http://127.0.0.1:{unused_tcp_port}")
    async with AgentClient(endpoint) as gone:
        with pytest.raises(AgentUnreachable) as raised:
            await gone.status()
    assert str(raised.value).startswith("agent gone is unreachable: ")
    assert "check that it runs" in str(raised.value)


class Follower:
    """Reads a client's stream in the background, recording what it yields."""

    def __init__(self, client: AgentClient, since: int | None) -> None:
        self.events: list[StreamEvent] = []
        self.stop = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._read(client, since))

    async def _read(self, client: AgentClient, since: int | None) -> None:
        async for event in client.follow(since, self.stop):
            self.events.append(event)
            self._changed.set()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [event for event in self.events if isinstance(event, dict)]

    async def until(self, done: Any) -> None:
        async with asyncio.timeout(10):
            while not done(self):
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self.stop.set()
        async with asyncio.timeout(10):
            await self._task


def app_line(app: str, sync: str) -> dict[str, Any]:
    previous = {"sync": None, "health": None}
    return {"ts": "t", "app": app, "sync": sync, "health": "Healthy", "previous": previous}


async def test_follow_resumes_after_a_drop_with_nothing_lost_or_repeated(
    agent: tuple[FakeAgent, TestServer], client: AgentClient
) -> None:
    fake = agent[0]
    follower = Follower(client, since=0)
    await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events))
    fake.add_line(app_line("shop", "OutOfSync"))
    fake.add_line(app_line("blog", "Synced"))
    await follower.until(lambda f: len(f.lines) == 2)
    fake.drop_streams()
    await follower.until(lambda f: any(isinstance(e, Disconnected) for e in f.events))
    fake.add_line(app_line("shop", "Synced"))  # while no stream is open
    await follower.until(lambda f: len(f.lines) == 3)
    fake.add_line(app_line("blog", "OutOfSync"))
    await follower.until(lambda f: len(f.lines) == 4)
    await follower.close()
    assert [line["seq"] for line in follower.lines] == [1, 2, 3, 4]
    assert follower.lines == fake.lines
    assert fake.watch_sinces[:2] == ["0", "2"]
    assert not any(isinstance(event, Resynced) for event in follower.events)


async def test_follow_resyncs_from_the_status_when_since_is_no_longer_retained(
    agent: tuple[FakeAgent, TestServer], client: AgentClient
) -> None:
    fake = agent[0]
    for sync in ("OutOfSync", "Synced", "OutOfSync"):
        fake.add_line(app_line("shop", sync))
    fake.oldest = 3  # lines 1 and 2 are forgotten
    follower = Follower(client, since=1)
    await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events))
    fake.add_line(app_line("shop", "Synced"))
    await follower.until(lambda f: len(f.lines) == 1)
    await follower.close()
    resynced = [event for event in follower.events if isinstance(event, Resynced)]
    assert len(resynced) == 1 and resynced[0].status["sequence"] == 3
    assert [line["seq"] for line in follower.lines] == [4]
    assert fake.watch_sinces[:2] == ["1", "3"]


async def test_follow_resyncs_when_the_agent_restarted_and_counts_from_one_again(
    agent: tuple[FakeAgent, TestServer], client: AgentClient
) -> None:
    fake = agent[0]
    for sync in ("OutOfSync", "Synced", "OutOfSync"):
        fake.add_line(app_line("shop", sync))
    follower = Follower(client, since=3)
    await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events))
    fake.lines.clear()  # a new process: its stream starts again at 1
    fake.drop_streams()
    await follower.until(lambda f: any(isinstance(e, Resynced) for e in f.events))
    fake.add_line(app_line("blog", "OutOfSync"))
    await follower.until(lambda f: len(f.lines) == 1)
    await follower.close()
    assert follower.lines[0]["seq"] == 1 and follower.lines[0]["app"] == "blog"


async def test_follow_resyncs_when_a_restarted_agent_has_already_counted_past_where_it_was(
    agent: tuple[FakeAgent, TestServer], client: AgentClient
) -> None:
    # The new process's numbers reached the client's: only its stream id tells it is another one.
    fake = agent[0]
    for sync in ("OutOfSync", "Synced"):
        fake.add_line(app_line("shop", sync))
    follower = Follower(client, since=2)
    await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events))
    fake.lines.clear()
    for app in ("blog", "docs", "wiki"):  # the new process's first lines, 1 to 3, sent while away
        fake.add_line(app_line(app, "OutOfSync"))
    fake.stream_id = "second-process"
    fake.drop_streams()
    await follower.until(lambda f: any(isinstance(e, Resynced) for e in f.events))
    fake.add_line(app_line("shop", "OutOfSync"))
    await follower.until(lambda f: len(f.lines) == 1)
    await follower.close()
    assert [(line["seq"], line["app"]) for line in follower.lines] == [(4, "shop")]


async def test_follow_resyncs_on_a_skipped_sequence_number(
    agent: tuple[FakeAgent, TestServer], client: AgentClient
) -> None:
    fake = agent[0]
    follower = Follower(client, since=0)
    await follower.until(lambda f: any(isinstance(e, Connected) for e in f.events))
    fake.add_line(app_line("shop", "OutOfSync"))
    await follower.until(lambda f: len(f.lines) == 1)
    fake.base = 5  # seq 7 follows seq 1
    fake.add_line(app_line("shop", "Synced"))
    await follower.until(lambda f: any(isinstance(e, Resynced) for e in f.events))
    fake.add_line(app_line("blog", "Synced"))
    await follower.until(lambda f: f.lines[-1]["app"] == "blog")
    await follower.close()
    assert [line["seq"] for line in follower.lines] == [1, 8]


async def test_follow_keeps_trying_an_agent_that_is_down_and_stops_when_asked(unused_tcp_port: int) -> None:
    endpoint = AgentEndpoint(name="gone", url=f"http://127.0.0.1:{unused_tcp_port}")
    async with AgentClient(endpoint, retry_initial=0.01, retry_max=0.02) as gone:
        follower = Follower(gone, since=None)
        await follower.until(lambda f: sum(isinstance(e, Disconnected) for e in f.events) >= 3)
        await follower.close()
    reasons = {event.reason for event in follower.events if isinstance(event, Disconnected)}
    assert all(reason.startswith("agent gone is unreachable: ") for reason in reasons)


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    command = ["openssl", *request.split(), "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run([*command, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_tls_trusts_the_ca_file_or_skips_verification_only_when_told(
    self_signed: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = self_signed
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    server = TestServer(FakeAgent(token=None, apps={"shop": app_entry("shop")}).web_app(), scheme="https")
    await server.start_server(ssl=served)
    url = str(server.make_url("")).rstrip("/")
    try:
        for trusted in (
            AgentEndpoint(name="ca", url=url, ca_file=cert),
            AgentEndpoint(name="skip", url=url, insecure_skip_verify=True),
        ):
            async with AgentClient(trusted) as client:
                assert [app["name"] for app in (await client.status())["apps"]] == ["shop"]
        async with AgentClient(AgentEndpoint(name="system", url=url)) as untrusting:
            with pytest.raises(AgentUnreachable, match="agent system is unreachable: its TLS certificate"):
                await untrusting.status()
        missing = AgentEndpoint(
            name="eu-1", url=url, ca_file=tmp_path / "nope.pem", origin="kubedrift.yaml:3"
        )
        async with AgentClient(missing) as unreadable:
            with pytest.raises(ConfigError, match=r"cannot read the agent eu-1's CA file .*nope\.pem"):
                await unreadable.status()
    finally:
        await server.close()
