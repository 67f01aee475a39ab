"""Lease names, times and expiry, and the coordinator's holding, over a store that answers from memory."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from core.app_leases import (
    LeaseClaim,
    LeaseError,
    LeaseRecord,
    app_lease_name,
    micro_time,
    parse_micro_time,
    shard_lease_name,
)
from core.shard_membership import ShardCoordinator
from core.sharding import Shard, app_shard

SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
NOW = datetime(2026, 12, 7, 16, 47, 39, 123456, tzinfo=UTC)


def test_an_app_lease_is_named_after_its_app() -> None:
    assert app_lease_name("shop") == "kubedrift-app-shop"
    assert app_lease_name("team.shop-1") == "kubedrift-app-team.shop-1"
    assert shard_lease_name(3) == "kubedrift-shard-3"


@pytest.mark.parametrize("app", ["Shop", "shop_api", "shop/api", "ünïcödé", "a" * 300, "-edge-", "x..y"])
def test_an_app_name_that_is_no_lease_name_is_made_one_with_a_hash(app: str) -> None:
    name = app_lease_name(app)
    assert SUBDOMAIN.fullmatch(name), name
    assert len(name) <= 253
    assert name.startswith("kubedrift-app-")
    assert re.search(r"-[0-9a-f]{8}$", name)


def test_apps_that_differ_only_in_what_was_replaced_get_different_leases() -> None:
    names = {app_lease_name(app) for app in ("shop_api", "shop/api", "shop-api", "Shop-Api")}
    assert len(names) == 4


def test_lease_times_are_micro_times() -> None:
    text = micro_time(NOW)
    assert text == "2026-12-07T16:47:39.123456Z"
    assert parse_micro_time(text) == NOW
    assert parse_micro_time("2026-12-07T16:47:39Z") == NOW.replace(microsecond=0)
    assert parse_micro_time(None) is None
    assert parse_micro_time("yesterday") is None


def lease(holder: str, renewed: datetime, duration: int = 15, transitions: int = 0) -> LeaseRecord:
    return LeaseRecord.of(
        {
            "metadata": {"name": "kubedrift-app-shop", "resourceVersion": "7"},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": duration,
                "renewTime": micro_time(renewed),
                "leaseTransitions": transitions,
            },
        }
    )


def test_a_lease_is_held_until_its_renew_time_plus_its_duration() -> None:
    record = lease("agent-a", NOW)
    assert record.live_holder(NOW + timedelta(seconds=14.9)) == "agent-a"
    assert record.live_holder(NOW + timedelta(seconds=15)) is None
    assert lease("", NOW).live_holder(NOW) is None  # released


# The coordinator, over a store kept in memory.


@dataclass
class MemoryLeases:
    """A LeaseStore's interface over a dict; `holders` says who holds what, `failing` makes it unreachable."""

    identity: str
    holders: dict[str, str] = field(default_factory=dict)
    live_shards: set[int] = field(default_factory=set)
    failing: bool = False
    released: list[str] = field(default_factory=list)
    namespace: str = "kubedrift"
    duration_seconds: int = 15

    def now(self) -> datetime:
        return NOW

    def claim(self, name: str, *, role: str, annotations: Mapping[str, str] | None = None) -> LeaseClaim:
        if self.failing:
            raise LeaseError("cannot renew the Lease: the cluster is out of reach")
        holder = self.holders.setdefault(name, self.identity)
        return LeaseClaim(holder == self.identity, lease(holder, NOW))

    def list(self, role: str) -> list[LeaseRecord]:
        if self.failing:
            raise LeaseError("cannot list the shard Leases: the cluster is out of reach")
        return [
            dataclass_replace_name(lease("other", NOW), shard_lease_name(index))
            for index in sorted(self.live_shards)
        ]

    def release(self, name: str) -> bool:
        self.released.append(name)
        return self.holders.pop(name, None) == self.identity


def dataclass_replace_name(record: LeaseRecord, name: str) -> LeaseRecord:
    from dataclasses import replace

    return replace(record, name=name)


@dataclass
class FakeFleet:
    roots: list[str]
    evaluated: list[str] = field(default_factory=list)

    def root_app_names(self) -> list[str]:
        return list(self.roots)

    def app_names(self) -> list[str]:
        return list(self.evaluated)

    def set_fleet(self, names: Iterable[str]) -> None:
        self.evaluated = list(names)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def coordinator(
    fleet: FakeFleet, leases: MemoryLeases, clock: Clock, shard: Shard | None = None
) -> tuple[ShardCoordinator, list[str]]:
    warnings: list[str] = []
    made = ShardCoordinator(
        fleet,
        leases,  # type: ignore[arg-type]
        shard=shard,
        hold_app_leases=True,
        renew_period=5.0,
        monotonic=clock,
        warn=warnings.append,
    )
    return made, warnings


def test_a_held_lease_lets_the_agent_act_until_one_renew_period_before_it_could_expire() -> None:
    fleet, leases, clock = (
        FakeFleet(["shop", "blog"]),
        MemoryLeases("agent-a", {"kubedrift-app-blog": "agent-b"}),
        Clock(),
    )
    made, _ = coordinator(fleet, leases, clock)
    made.prepare()
    asyncio.run(made.tick())
    assert made.held_apps() == {"shop"}
    assert made.may_act("shop") and not made.may_act("blog")
    assert made.holder_of("blog") == "agent-b"
    assert "held by agent-b" in made.refusal("blog")
    leases.failing = True  # renewals fail from now on: it stops acting, without another request
    clock.now += 5.0
    asyncio.run(made.tick())
    assert made.may_act("shop")
    clock.now += 4.9
    assert made.may_act("shop")
    clock.now += 0.2  # 15 s Lease - 5 s renew period after the last renewal
    assert not made.may_act("shop")
    assert made.held_apps() == set()
    assert "out of reach" in made.refusal("shop")


def test_a_renewal_problem_is_warned_once_not_every_period() -> None:
    fleet, leases, clock = FakeFleet(["shop"]), MemoryLeases("agent-a"), Clock()
    made, warnings = coordinator(fleet, leases, clock)
    made.prepare()
    leases.failing = True
    for _ in range(3):
        asyncio.run(made.tick())
    assert len(warnings) == 1
    assert made.last_error is not None


def test_an_app_no_longer_evaluated_is_let_go_at_once() -> None:
    fleet, leases, clock = FakeFleet(["shop", "blog"]), MemoryLeases("agent-a"), Clock()
    made, _ = coordinator(fleet, leases, clock)
    made.prepare()
    asyncio.run(made.tick())
    assert made.held_apps() == {"shop", "blog"}
    fleet.roots = ["shop"]  # blog left the config
    asyncio.run(made.tick())  # this look drops it from the fleet ...
    asyncio.run(made.tick())  # ... and the next gives its Lease up
    assert made.held_apps() == {"shop"}
    assert "kubedrift-app-blog" in leases.released


def test_a_shard_takes_on_the_apps_of_a_dead_shard_and_gives_them_back() -> None:
    names = [f"app-{n}" for n in range(30)]
    fleet, leases, clock = FakeFleet(names), MemoryLeases("agent-0", live_shards={0, 1}), Clock()
    made, _ = coordinator(fleet, leases, clock, Shard(0, 2))
    made.prepare()
    own = {name for name in names if app_shard(name, 2) == 0}
    assert set(fleet.evaluated) == own
    leases.live_shards = {0}  # shard 1's Lease expired
    asyncio.run(made.tick())
    assert set(fleet.evaluated) == set(names)
    assert made.live_shards == {0}
    leases.live_shards = {0, 1}
    asyncio.run(made.tick())
    assert set(fleet.evaluated) == own


def test_a_shard_that_cannot_see_the_others_keeps_the_apps_it_had() -> None:
    names = [f"app-{n}" for n in range(30)]
    fleet, leases, clock = FakeFleet(names), MemoryLeases("agent-0", live_shards={0, 1}), Clock()
    made, _ = coordinator(fleet, leases, clock, Shard(0, 2))
    made.prepare()
    before = list(fleet.evaluated)
    leases.failing = True
    asyncio.run(made.tick())
    assert fleet.evaluated == before


def test_a_lease_problem_at_start_is_one_sentence() -> None:
    fleet, leases, clock = FakeFleet(["shop"]), MemoryLeases("agent-a", failing=True), Clock()
    made, _ = coordinator(fleet, leases, clock, Shard(0, 2))
    with pytest.raises(LeaseError, match="out of reach"):
        made.prepare()
