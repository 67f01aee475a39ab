"""Leases against the sandbox: who may act on an app, and which agent evaluates which apps.

The Leases are short here (DURATION s, renewed every RENEW s) so that hand-overs take seconds; the
agents run in-process (tests.agent.agent_thread) with their coordinator built before they start, and
one test runs two real `kubedrift agent` processes with the contract's 15 s / 5 s. Every agent names
itself in its requests' User-Agent, which the sandbox's request log records: that is how a test
tells which agent wrote.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.service import AgentService
from core.app_leases import LeaseError, LeaseStore, app_lease_name, lease_adapter, shard_lease_name
from core.cluster import ClusterAdapter
from core.config import load_config
from core.kubeconfig import load_kubeconfig
from core.shard_membership import agent_user_agent, coordinate
from core.sharding import Shard, app_shard
from sandbox.faults import RequestRecord
from tests.agent.agent_thread import WAIT_SECONDS, AgentThread, wait_for
from tests.agent.conftest import ShopCluster

DURATION = 2
RENEW = 0.4
NAMESPACE = "kubedrift"
SELF_HEAL = "    syncPolicy: {automated: {selfHeal: true}}\nagent: {allowWrites: true}\n"


def leases_of(shop: ShopCluster, identity: str, **options: object) -> LeaseStore:
    adapter = lease_adapter(load_kubeconfig(str(shop.kubeconfig), environ={}), None, environ={})
    return LeaseStore(adapter, NAMESPACE, identity, **options)  # type: ignore[arg-type]


# The Lease store on its own.


def test_a_lease_is_held_by_one_agent_until_it_expires_or_is_released(fresh_shop: ShopCluster) -> None:
    a, b = leases_of(fresh_shop, "agent-a", duration_seconds=DURATION), leases_of(fresh_shop, "agent-b")
    name = app_lease_name("shop")
    first = a.claim(name, role="app", annotations={"kubedrift.io/app": "shop"})
    assert first.held and first.record is not None
    assert (first.record.holder, first.record.transitions, first.record.duration_seconds) == (
        "agent-a",
        0,
        DURATION,
    )
    refused = b.claim(name, role="app")
    assert (refused.held, refused.holder) == (False, "agent-a")

    renewed = a.claim(name, role="app")
    assert renewed.held and renewed.record is not None
    assert renewed.record.resource_version != first.record.resource_version
    assert renewed.record.acquire_time == first.record.acquire_time, "a renewal is no new acquisition"

    later = leases_of(fresh_shop, "agent-b")
    later._clock = lambda: a.now() + timedelta(seconds=DURATION + 1)  # b's clock: a's Lease has run out
    taken = later.claim(name, role="app")
    assert taken.held and taken.record is not None
    assert (taken.record.holder, taken.record.transitions) == ("agent-b", 1)
    assert not a.claim(name, role="app").held, "a's view: b holds it now"

    assert later.release(name)
    assert a.claim(name, role="app").held, "released: taken at once, without waiting for expiry"

    stored = fresh_shop.sandbox.run(
        lambda api: api.get(api.resource("coordination.k8s.io/v1", "Lease"), NAMESPACE, name).obj
    )
    assert stored["spec"]["holderIdentity"] == "agent-a"
    assert stored["spec"]["leaseTransitions"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stored["spec"]["renewTime"])
    assert stored["metadata"]["labels"] == {"kubedrift.io/lease": "app"}
    assert stored["metadata"]["annotations"] == {"kubedrift.io/app": "shop"}


class RacingAdapter(ClusterAdapter):
    """An adapter whose first read of a Lease lets `rival` write it before the read is answered."""

    rival: Callable[[], object] | None = None

    def get(self, resource, namespace, name):  # type: ignore[no-untyped-def]
        found = super().get(resource, namespace, name)
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        return found


def test_of_two_agents_racing_for_a_free_lease_exactly_one_wins(fresh_shop: ShopCluster) -> None:
    name = app_lease_name("shop")
    a = leases_of(fresh_shop, "agent-a", duration_seconds=DURATION)
    assert a.claim(name, role="app").held and a.release(name)  # free, with a resourceVersion to race on
    client = load_kubeconfig(str(fresh_shop.kubeconfig), environ={}).api_client("sandbox")
    racing = RacingAdapter(client, context="sandbox")
    b = LeaseStore(racing, NAMESPACE, "agent-b", duration_seconds=DURATION)
    won_by_a = []
    racing.rival = lambda: won_by_a.append(a.claim(name, role="app").held)
    fresh_shop.sandbox.faults.clear_request_log()
    lost = b.claim(name, role="app")
    assert won_by_a == [True]
    assert (lost.held, lost.holder) == (False, "agent-a")
    conflicts = [r for r in fresh_shop.sandbox.request_log if r.method == "PUT" and r.status == 409]
    assert len(conflicts) == 1, "b's write carried the resourceVersion it read, and lost"


def test_a_missing_lease_namespace_is_one_sentence(fresh_shop: ShopCluster) -> None:
    adapter = lease_adapter(load_kubeconfig(str(fresh_shop.kubeconfig), environ={}), None, environ={})
    with pytest.raises(LeaseError) as raised:
        LeaseStore(adapter, "nowhere", "agent-a").claim(shard_lease_name(0), role="shard")
    message = str(raised.value)
    assert "the namespace nowhere does not exist" in message
    assert "--lease-namespace" in message
    assert "\n" not in message


def test_an_unknown_lease_context_is_one_sentence(fresh_shop: ShopCluster) -> None:
    kubeconfig = load_kubeconfig(str(fresh_shop.kubeconfig), environ={})
    with pytest.raises(LeaseError, match="--lease-context 'elsewhere' is not a context of"):
        lease_adapter(kubeconfig, "elsewhere", environ={})


# Agents in-process.


def quick_leases(identity: str, shard: Shard | None = None) -> Callable[[AgentService], None]:
    """Build the agent's coordinator with short Leases (the service builds one with the defaults)."""

    def build(service: AgentService) -> None:
        service.coordinator = coordinate(
            service.engine,
            identity=identity,
            version="test",
            shard=shard,
            hold_app_leases=not service.identity.read_only,
            lease_namespace=NAMESPACE,
            environ={},
            renew_period=RENEW,
            duration_seconds=DURATION,
        )

    return build


def held(agent: AgentThread) -> set[str]:
    assert agent.service.coordinator is not None
    return agent.service.coordinator.held_apps()


def evaluated(agent: AgentThread) -> set[str]:
    return agent.on_loop(lambda: set(agent.service.engine.apps))


def app_writes(log: list[RequestRecord]) -> list[RequestRecord]:
    """The writes to the apps' objects (not to the Leases)."""
    return [r for r in log if r.is_write and "/leases" not in r.path]


def scale_web(shop: ShopCluster, replicas: int) -> None:
    shop.apps_api().patch_namespaced_deployment("web", "shop", {"spec": {"replicas": replicas}})


def web_replicas(shop: ShopCluster) -> int:
    return int(shop.apps_api().read_namespaced_deployment("web", "shop").spec.replicas)


@pytest.fixture
def self_healing(fresh_shop: ShopCluster, state_home: Path) -> Path:
    """The shop app with self-heal, served by agents allowed to write."""
    return fresh_shop.with_config(SELF_HEAL, "self-heal")


def test_only_the_lease_holder_heals_and_the_other_takes_over_when_it_stops_renewing(
    fresh_shop: ShopCluster, self_healing: Path
) -> None:
    config = load_config(self_healing)
    with (
        AgentThread(
            config, fresh_shop.kubeconfig, identity="agent-a", before_run=quick_leases("agent-a")
        ) as a,
        AgentThread(
            config, fresh_shop.kubeconfig, identity="agent-b", before_run=quick_leases("agent-b")
        ) as b,
    ):
        a.wait_ready()
        b.wait_ready()
        assert evaluated(a) == evaluated(b) == {"shop"}, "unsharded: both evaluate every app"
        wait_for(lambda: len(held(a)) + len(held(b)) == 1, "one agent to hold the shop Lease")
        holder, other = (a, b) if held(a) else (b, a)
        assert held(holder) == {"shop"} and held(other) == set()

        fresh_shop.sandbox.faults.clear_request_log()
        scale_web(fresh_shop, 7)
        wait_for(lambda: web_replicas(fresh_shop) == 2, "the holder to heal the drift")
        writers = {r.user_agent for r in app_writes(fresh_shop.sandbox.request_log)}
        holder_agent = agent_user_agent(holder.service.identity.name, "test")
        assert holder_agent in writers
        assert not any(other.service.identity.name in w for w in writers), writers

        assert 'kubedrift_app_lease_held{app="shop"} 1.0' in holder.request("/metrics").body.decode()
        assert 'kubedrift_app_lease_held{app="shop"} 0.0' in other.request("/metrics").body.decode()
        refused = other.request("/api/v1/apps/shop/sync", method="POST", body={})
        assert refused.status == 409
        assert f"held by {holder.service.identity.name}" in refused.json()["error"]

        # The holder stops renewing without letting go (as a crash would): the other waits out the Lease.
        assert holder.service.coordinator is not None
        holder.service.coordinator.release_on_stop = False
        holder.stop()
        wait_for(lambda: held(other) == {"shop"}, "the other agent to take the Lease over")
        fresh_shop.sandbox.faults.clear_request_log()
        scale_web(fresh_shop, 5)
        wait_for(lambda: web_replicas(fresh_shop) == 2, "the new holder to heal the drift")
        writers = {r.user_agent for r in app_writes(fresh_shop.sandbox.request_log)}
        assert agent_user_agent(other.service.identity.name, "test") in writers
        assert holder_agent not in writers


def agent_lines_apps(agent: AgentThread) -> set[str]:
    """The apps the agent's stream has lines about."""
    return agent.on_loop(lambda: {line.app for line in agent.service.stream.after(0)})


def six_apps(shards: int) -> list[str]:
    """Six app names, at least two on each of `shards` shards."""
    names: list[str] = []
    per_shard = {index: 0 for index in range(shards)}
    for number in range(100):
        name = f"app-{number}"
        if per_shard[app_shard(name, shards)] < 6 // shards:
            per_shard[app_shard(name, shards)] += 1
            names.append(name)
    return names


@pytest.fixture
def fleet_config(fresh_shop: ShopCluster, state_home: Path) -> Path:
    """Six copies of the shop app, each in a namespace of its own, served by agents allowed to write."""
    apps = "".join(
        f"  - name: {name}\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        f"    destination: {{namespace: {name}}}\n"
        for name in six_apps(2)
    )
    path = fresh_shop.root / "fleet.yaml"
    path.write_text(f"apps:\n{apps}agent: {{allowWrites: true}}\n")
    return path


def test_two_shards_split_the_apps_and_a_stopped_shards_apps_move_and_come_back(
    fresh_shop: ShopCluster, fleet_config: Path
) -> None:
    config = load_config(fleet_config)
    names = {app.name for app in config.apps}
    own = [{name for name in names if app_shard(name, 2) == index} for index in range(2)]

    def shard_agent(index: int) -> AgentThread:
        identity = f"kubedrift-{index}"
        build = quick_leases(identity, Shard(index, 2))
        return AgentThread(config, fresh_shop.kubeconfig, identity=identity, before_run=build)

    with shard_agent(0) as first:
        second = shard_agent(1)
        try:
            first.wait_ready()
            second.wait_ready()
            wait_for(lambda: evaluated(first) == own[0], "shard 0 to give shard 1 its apps")
            assert evaluated(second) == own[1]
            wait_for(lambda: held(first) == own[0] and held(second) == own[1], "each shard to hold its apps")

            assert second.service.coordinator is not None
            second.service.coordinator.release_on_stop = False  # its shard Lease must expire
            second.stop()
            wait_for(lambda: evaluated(first) == names, "shard 0 to take on shard 1's apps")
            wait_for(lambda: held(first) == names, "shard 0 to hold every app's Lease")
            moved = sorted(own[1])[0]
            document = first.request(f"/api/v1/apps/{moved}").json()
            assert {r["status"] for r in document["resources"]} == {"Missing"}, "judged like any app"
            published = agent_lines_apps(first)
            assert published >= own[1], "each one published"
        finally:
            second.stop()

        with shard_agent(1) as back:
            back.wait_ready()
            wait_for(lambda: evaluated(first) == own[0], "shard 0 to give the apps back")
            wait_for(lambda: held(back) == own[1], "shard 1 to hold its apps again")
            assert held(first) == own[0]
            assert evaluated(back) == own[1]
            assert first.request(f"/api/v1/apps/{moved}").status == 404
            assert back.request(f"/api/v1/apps/{moved}").status == 200


# Real processes, with the contract's Lease duration and renew period.


@pytest.fixture
def agent_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """The agent processes a test starts, killed at its end if still running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT_SECONDS)


def start_agent(shop: ShopCluster, config: Path, identity: str, state: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "tui.cli", "agent",
        "--config", str(config), "--kubeconfig", str(shop.kubeconfig),
        "--listen", "127.0.0.1:0", "--insecure-no-auth", "--identity", identity,
    ]  # fmt: skip
    env = {**os.environ, "XDG_STATE_HOME": str(state), "HOSTNAME": identity}
    return subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)


def test_two_agent_processes_one_heals_and_the_other_takes_over_on_sigterm(
    fresh_shop: ShopCluster, self_healing: Path, tmp_path: Path, agent_processes: list[subprocess.Popen[str]]
) -> None:
    for identity in ("kubedrift-a", "kubedrift-b"):
        agent_processes.append(start_agent(fresh_shop, self_healing, identity, tmp_path / identity))
    reader = leases_of(fresh_shop, "reader")

    def holder() -> str | None:
        record = reader.read(app_lease_name("shop"))
        return None if record is None else record.live_holder(reader.now())

    wait_for(lambda: holder() is not None, "an agent to hold the shop Lease")
    first = holder()
    assert first in ("kubedrift-a", "kubedrift-b")
    first_process, other_process = (
        agent_processes if first == "kubedrift-a" else list(reversed(agent_processes))
    )
    fresh_shop.sandbox.faults.clear_request_log()
    scale_web(fresh_shop, 7)
    wait_for(lambda: web_replicas(fresh_shop) == 2, "the holder to heal the drift")
    writers = {r.user_agent for r in app_writes(fresh_shop.sandbox.request_log)}
    assert any(f"({first})" in w for w in writers), writers
    assert not any("kubedrift-agent/" in w and f"({first})" not in w for w in writers), writers

    first_process.send_signal(signal.SIGTERM)
    assert first_process.wait(WAIT_SECONDS) == 0
    wait_for(lambda: holder() not in (None, first), "the other agent to take the Lease over")
    fresh_shop.sandbox.faults.clear_request_log()
    scale_web(fresh_shop, 5)
    wait_for(lambda: web_replicas(fresh_shop) == 2, "the new holder to heal the drift")
    writers = {r.user_agent for r in app_writes(fresh_shop.sandbox.request_log)}
    assert not any(f"({first})" in w for w in writers), writers
    assert other_process.poll() is None


def test_an_agent_that_cannot_use_its_lease_namespace_says_so_and_exits_2(fresh_shop: ShopCluster) -> None:
    config = fresh_shop.with_config("agent: {allowWrites: true, leaseNamespace: nowhere}\n", "nowhere")
    command = [
        sys.executable, "-m", "tui.cli", "agent", "--config", str(config),
        "--kubeconfig", str(fresh_shop.kubeconfig), "--listen", "127.0.0.1:0", "--insecure-no-auth",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("kubedrift: ")
    assert "the namespace nowhere does not exist" in done.stderr
    assert "--lease-namespace" in done.stderr
