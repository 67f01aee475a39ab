"""Which of the config's apps this engine evaluates, and which it may act on: set from outside, live.

A part of the Engine (see core.engine). `kubedrift agent` runs as shards (core.sharding): its
coordinator (core.shard_membership) tells the engine which top-level apps are its own now, and the
engine adds and drops them while it runs. An app comes and goes exactly as a child app does
(core.engine_children: loaded on a worker thread, judged on what the cache holds, watched and
followed; when it goes, its family goes with it and nothing of its is pruned), so a top-level app is
this part's concern only in choosing which ones.

`may_act(app)` is the gate every automatic write consults (auto-sync, self-heal, rollback in
core.engine_automation and core.engine_rollback; an agent's sync requests too). Without a gate, as
in the TUI, `watch` and `check`, it always answers yes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from core.engine_parts import EngineParts
from core.status_events import ChildAppChange, rfc3339_now

if TYPE_CHECKING:
    from core.cluster import ClusterAdapter
    from core.status_events import StatusChange


class ActGate(Protocol):
    """Decides whether the engine may write to an app's resources now (the agent's Lease holder)."""

    def may_act(self, app: str) -> bool: ...

    def refusal(self, app: str) -> str:
        """Why this engine may not act on the app: one sentence naming who may, when known."""
        ...


class EngineFleet:
    """The Engine's choice of top-level apps, and its gate on acting."""

    _adapter_factory: Callable[[str, bool], ClusterAdapter]
    """Set by core.engine; declared here, where it is replaced (`identify_requests`)."""
    act_gate: ActGate | None = None
    """Set by an agent's coordinator; None (the TUI, `watch`): every app may be acted on."""
    _fleet_wanted: frozenset[str] | None = None
    """The top-level apps asked for last; None: every app of the config."""
    _fleet_settled: frozenset[str] | None = None
    """The last choice carried out in full: asked again (every renew period), it costs nothing."""
    _fleet_task: asyncio.Task[None] | None = None
    _fleet_again: bool = False
    """Set when a new choice arrives while the last one is still being carried out."""

    def may_act(self: EngineParts, app: str) -> bool:
        """Whether automation (and an agent's sync requests) may write to the app's resources now."""
        return self.act_gate is None or self.act_gate.may_act(app)

    def act_refusal(self: EngineParts, app: str) -> str | None:
        """None when the app may be acted on, else why not, in one sentence."""
        if self.act_gate is None or self.act_gate.may_act(app):
            return None
        return self.act_gate.refusal(app)

    def root_app_names(self: EngineParts) -> list[str]:
        """The config's apps (the roots of every family), whether evaluated here or not."""
        return [app.name for app in self.config.apps]

    def app_names(self: EngineParts) -> list[str]:
        """Every app evaluated now, child apps included."""
        return list(self.apps)

    def identify_requests(self: EngineParts, user_agent: str) -> None:
        """Send `user_agent` with every request to the apps' clusters, so that an API server's audit
        log (and the sandbox's request log) tells agents apart. Before `run` or `evaluate`."""
        make_adapter = self._adapter_factory

        def identified(context: str, read_only: bool) -> ClusterAdapter:
            adapter = make_adapter(context, read_only)
            adapter.api_client.user_agent = user_agent
            return adapter

        self._adapter_factory = identified

    def set_fleet(self: EngineParts, names: Iterable[str]) -> None:
        """Evaluate the config's apps named (their child apps follow) and no other top-level app.

        Before `run` it only chooses which apps `run` loads. While `run` goes, apps are added and
        dropped on the loop, one choice after another; a call while the engine is still starting is
        remembered and carried out with the next call."""
        roots = {app.name for app in self.config.apps}
        wanted = frozenset(name for name in names if name in roots)
        self._fleet_wanted = wanted
        running = self._fleet_task is not None and not self._fleet_task.done()
        if wanted == self._fleet_settled and not running:
            return
        if self._loop is None:
            # Nothing is loaded yet: `connect` loads what is kept, in the config's order.
            kept = {name: runtime for name, runtime in self.apps.items() if name in wanted}
            self.apps.clear()
            for app in self.config.apps:
                if app.name in wanted:
                    self.apps[app.name] = kept.get(app.name) or self._new_runtime(app)
            self._fleet_settled = wanted
            return
        if self._files is None or self._publish is None:
            return
        if running:
            self._fleet_again = True
            return
        self._fleet_task = asyncio.create_task(self._settle_fleet())
        self._background.add(self._fleet_task)
        self._fleet_task.add_done_callback(self._background.discard)

    async def _settle_fleet(self: EngineParts) -> None:
        """Drop the top-level apps no longer wanted, then add the wanted ones missing, each published
        as it is done (a new app's first status has no previous one, as at start)."""
        while True:
            self._fleet_again = False
            wanted = self._fleet_wanted
            publish, stop = self._publish, self._stop
            if wanted is None or publish is None or stop is None or stop.is_set():
                return
            changes: list[StatusChange] = []
            for name in [name for name, runtime in self.apps.items() if not runtime.app.parent]:
                if name not in wanted:
                    changes += self._drop_child(name)
                    # Said on the stream, as a child app's going is: a client following several
                    # agents (core.agent_fleet) lets this one's claim go, or it keeps showing it.
                    changes.append(ChildAppChange(rfc3339_now(), name, "", "removed", _moved_message(name)))
            if changes:
                publish(changes)
            for app in self.config.apps:
                if app.name not in wanted or app.name in self.apps or self._fleet_again or stop.is_set():
                    continue
                runtime = self._new_runtime(app)
                fresh, state = await asyncio.to_thread(self._load_child, runtime)
                if app.name in self.apps or app.name not in (self._fleet_wanted or ()) or stop.is_set():
                    continue  # chosen otherwise while it loaded
                added, plan = self._admit_child(runtime, fresh, state)
                self._follow(runtime, fresh)
                if plan is not None and plan.moves:
                    added += await self._settle_children_live(plan)
                publish(added)
            if not self._fleet_again:
                self._fleet_settled = wanted
                return


def _moved_message(app: str) -> str:
    return f"app {app} left this agent's shard: another agent evaluates it now"
