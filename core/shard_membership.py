"""The agent's coordinator: which apps this `kubedrift agent` evaluates, and which it may act on.

Every renew period it
1. renews its shard Lease `kubedrift-shard-<I>` and reads the other shards' Leases: a shard whose
   Lease has expired has no agent, and its apps move to the live shards by rendezvous hashing
   (core.sharding) until it is back;
2. tells the engine which top-level apps are its own now (core.engine_fleet adds and drops them
   live; child apps follow their parents);
3. with writes allowed, claims the Lease `kubedrift-app-<app>` of every app it evaluates and
   releases those of apps it no longer does, so that of two agents evaluating one app (a hand-over,
   or two replicas started alike) exactly one acts on it.

Holding is judged on this process's monotonic clock: a Lease written at `t` is taken as held until
`t + duration - renew period`, one renew period before another agent may take it over, so two
agents never both act, and an agent whose renewals fail stops acting within that margin, with no
further request. The engine asks `may_act(app)` before every automatic write.

Without a shard (unsharded) every app is evaluated and only the per-app Leases are held. Without
writes allowed no app Lease is held: a read-only agent acts on nothing anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from core.app_leases import (
    LEASE_APP_ANNOTATION,
    LEASE_DURATION_SECONDS,
    RENEW_PERIOD_SECONDS,
    SHARD_LEASE_PREFIX,
    LeaseError,
    LeaseStore,
    app_lease_name,
    lease_adapter,
    shard_lease_name,
)
from core.sharding import Shard, serving_shard

if TYPE_CHECKING:
    from core.engine_fleet import ActGate
    from core.kubeconfig import Kubeconfig

SHARD_ROLE = "shard"
APP_ROLE = "app"


class Fleet(Protocol):
    """What the coordinator needs of the engine (core.engine_fleet)."""

    def root_app_names(self) -> list[str]: ...

    def app_names(self) -> list[str]: ...

    def set_fleet(self, names: Iterable[str]) -> None: ...


class CoordinatedEngine(Fleet, Protocol):
    """The engine of an agent, as `coordinate` sets it up (core.engine_fleet)."""

    kubeconfig: Kubeconfig | None
    act_gate: ActGate | None

    def identify_requests(self, user_agent: str) -> None: ...


def agent_user_agent(identity: str, version: str) -> str:
    """The User-Agent of an agent's requests: an API server's audit log tells agents apart by it."""
    return f"kubedrift-agent/{version} ({identity})"


def coordinate(
    engine: CoordinatedEngine,
    *,
    identity: str,
    version: str,
    shard: Shard | None,
    hold_app_leases: bool,
    lease_namespace: str,
    lease_context: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str],
    renew_period: float = RENEW_PERIOD_SECONDS,
    duration_seconds: int = LEASE_DURATION_SECONDS,
    warn: Callable[[str], None] | None = None,
) -> ShardCoordinator:
    """Set an agent's engine up for sharding, before it runs: its requests name the agent, its
    acting waits on the app Leases (with writes allowed), and it starts with this agent's apps.
    Blocking (the first look at the Leases); a LeaseError when they cannot be used."""
    user_agent = agent_user_agent(identity, version)
    engine.identify_requests(user_agent)
    adapter = lease_adapter(
        engine.kubeconfig, lease_context, context=context, environ=environ, user_agent=user_agent
    )
    leases = LeaseStore(adapter, lease_namespace, identity, duration_seconds=duration_seconds)
    coordinator = ShardCoordinator(
        engine, leases, shard=shard, hold_app_leases=hold_app_leases, renew_period=renew_period, warn=warn
    )
    coordinator.prepare()
    if hold_app_leases:
        engine.act_gate = coordinator
    return coordinator


def served_apps(root_app_names: Iterable[str], shard: Shard | None, live_shards: Iterable[int]) -> list[str]:
    """The top-level apps the shard serves while `live_shards` are up (it counts itself live)."""
    names = list(root_app_names)
    if shard is None:
        return names
    live = {*live_shards, shard.index}
    return [name for name in names if serving_shard(name, shard.count, live) == shard.index]


@dataclass
class _Holding:
    """This agent's view of one app's Lease."""

    valid_until: float | None = None
    """Monotonic time until which it may act; None when it does not hold the Lease."""
    holder: str | None = None
    """Who held it at the last look (this agent's identity when held)."""


@dataclass
class _Look:
    """What one renew period found, gathered on the worker thread and applied on the loop."""

    live_shards: set[int] | None = None
    """None when the shard Leases could not be read (or the agent is unsharded)."""
    claims: dict[str, _Holding] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    """Leases that could not be read or written: the API refused, or the cluster is out of reach."""
    warnings: list[str] = field(default_factory=list)
    """What is wrong in how the agents are set up, though every request went through."""


class ShardCoordinator:
    """Holds this agent's shard Lease and its apps' Leases, and keeps the engine's apps to its share."""

    def __init__(
        self,
        fleet: Fleet,
        leases: LeaseStore,
        *,
        shard: Shard | None,
        hold_app_leases: bool,
        renew_period: float = RENEW_PERIOD_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if not 0 < renew_period < leases.duration_seconds:
            raise ValueError("the renew period must be shorter than the Lease duration")
        self.fleet = fleet
        self.leases = leases
        self.shard = shard
        self.hold_app_leases = hold_app_leases
        self.renew_period = renew_period
        self._monotonic = monotonic
        self._warn = warn
        self._holdings: dict[str, _Holding] = {}
        self.release_on_stop = True
        """Give every Lease up when `run` ends (client-go's ReleaseOnCancel), so that other agents take
        over at once; False leaves them to expire, as a crash would."""
        self.live_shards: frozenset[int] = frozenset({shard.index} if shard is not None else ())
        """The shards seen live at the last look, this one included."""
        self.last_error: str | None = None
        """The last look's problem (a Lease not writable, the cluster out of reach), None when fine."""

    @property
    def identity(self) -> str:
        return self.leases.identity

    # Asked by the engine, the agent's API and its metrics.

    def may_act(self, app: str) -> bool:
        """Whether this agent holds the app's Lease now (see the module docstring for how long)."""
        holding = self._holdings.get(app)
        return (
            holding is not None
            and holding.valid_until is not None
            and self._monotonic() < holding.valid_until
        )

    def held_apps(self) -> set[str]:
        """The apps whose Lease this agent holds now."""
        now = self._monotonic()
        return {
            app
            # A copy: the metrics may ask from another thread while the loop changes the holdings.
            for app, holding in list(self._holdings.items())
            if holding.valid_until is not None and now < holding.valid_until
        }

    def holder_of(self, app: str) -> str | None:
        """Who held the app's Lease at the last look; None when nobody did or it could not be read."""
        holding = self._holdings.get(app)
        return None if holding is None else holding.holder

    def refusal(self, app: str) -> str:
        """Why this agent may not act on the app, in one sentence."""
        lease = f"{self.leases.namespace}/{app_lease_name(app)}"
        if not self.hold_app_leases:
            return f"the agent {self.identity} is read-only: it holds no app Lease and does not act on {app}"
        holder = self.holder_of(app)
        if holder is not None and holder != self.identity:
            return (
                f"the app {app} is held by {holder} (Lease {lease}): that agent acts on it;"
                " send the request there, or wait for its Lease to expire"
            )
        reason = f" ({self.last_error})" if self.last_error else ""
        return (
            f"the agent {self.identity} does not hold the Lease {lease} of app {app} now{reason}:"
            " it acts on the app again once it holds the Lease"
        )

    # Running.

    def prepare(self) -> None:
        """The first look, before the engine runs: the engine starts with this agent's apps only.
        Blocking. A Lease this agent cannot write is a LeaseError here, for the start to report."""
        look = self._look(set(), [])
        if look.errors:
            raise LeaseError(look.errors[0])
        self._apply(look)
        self.fleet.set_fleet(served_apps(self.fleet.root_app_names(), self.shard, self.live_shards))
        if self.hold_app_leases:
            # Claimed before the engine runs, so that a ready agent acts on its apps from the start.
            look = self._look(set(self.fleet.app_names()), [], shards=False)
            if look.errors:
                raise LeaseError(look.errors[0])
            self._apply(look)

    async def run(self, stop: asyncio.Event) -> None:
        """Look every renew period until `stop` is set; then give every Lease up."""
        try:
            while not stop.is_set():
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.renew_period)
        finally:
            if self.release_on_stop:
                await asyncio.to_thread(self.release_all)

    async def tick(self) -> None:
        """One renew period: the shards, the engine's apps, the app Leases."""
        # The apps are read on the loop, which owns them; the requests go on a worker thread.
        evaluated = set(self.fleet.app_names()) if self.hold_app_leases else set()
        dropped = []
        for app in [app for app in self._holdings if app not in evaluated]:
            # Not acting on it any more, before its Lease is given up (if it was ours).
            if self._holdings.pop(app).holder == self.identity:
                dropped.append(app)
        look = await asyncio.to_thread(self._look, evaluated, dropped)
        self._apply(look)
        self.fleet.set_fleet(served_apps(self.fleet.root_app_names(), self.shard, self.live_shards))

    def release_all(self) -> None:
        """Give up every Lease held (a clean stop), so other agents take over at once. Blocking."""
        held = list(self._holdings)
        self._holdings.clear()
        names = [app_lease_name(app) for app in held]
        if self.shard is not None:
            names.append(shard_lease_name(self.shard.index))
        for name in names:
            with contextlib.suppress(LeaseError):
                self.leases.release(name)

    # The look, on a worker thread.

    def _look(self, evaluated: set[str], dropped: list[str], *, shards: bool = True) -> _Look:
        look = _Look()
        if self.shard is not None and shards:
            self._look_at_shards(self.shard, look)
        for app in dropped:
            try:
                self.leases.release(app_lease_name(app))
            except LeaseError as error:
                look.errors.append(str(error))
        for app in sorted(evaluated):
            started = self._monotonic()
            try:
                claim = self.leases.claim(
                    app_lease_name(app), role=APP_ROLE, annotations={LEASE_APP_ANNOTATION: app}
                )
            except LeaseError as error:
                look.errors.append(str(error))
                continue
            valid_until = started + self.leases.duration_seconds - self.renew_period if claim.held else None
            look.claims[app] = _Holding(valid_until, claim.holder)
        return look

    def _look_at_shards(self, shard: Shard, look: _Look) -> None:
        live = {shard.index}
        try:
            claim = self.leases.claim(shard_lease_name(shard.index), role=SHARD_ROLE)
            if not claim.held:
                look.warnings.append(
                    f"the Lease {shard_lease_name(shard.index)} of shard {shard} is held by {claim.holder}:"
                    f" two agents are configured as shard {shard}; give each its own --shard"
                )
            now = self.leases.now()
            for record in self.leases.list(SHARD_ROLE):
                index_text = record.name.removeprefix(SHARD_LEASE_PREFIX)
                if (
                    index_text.isdigit()
                    and int(index_text) < shard.count
                    and record.live_holder(now) is not None
                ):
                    live.add(int(index_text))
        except LeaseError as error:
            look.errors.append(str(error))
            return  # the shards as last seen stay: an agent that cannot see them takes on nothing new
        look.live_shards = live

    # Back on the loop.

    def _apply(self, look: _Look) -> None:
        if look.live_shards is not None:
            self.live_shards = frozenset(look.live_shards)
        self._holdings.update(look.claims)
        problem = next(iter(look.errors + look.warnings), None)
        if problem is not None and problem != self.last_error and self._warn is not None:
            self._warn(problem)  # once per problem, not every renew period
        self.last_error = problem
