"""Child apps in the engine (app of apps, core.app_of_apps): found in each new desired state of an app,
then added, replaced or removed while the engine runs.

A part of the Engine (see core.engine). Every desired state goes through `_take_desired`: the app's
child apps are read from it, the objects kubedrift stands in for (child kinds its cluster does not
serve) are left out of its resources, and the change of children is planned. A plan is carried out
on the loop that owns the reconcilers; only loading a child (Git, rendering, a cluster not met yet)
runs on a worker thread. A child is built, loaded, listed and watched exactly as an app of the config
is (core.engine: `_new_runtime`, `_load_runtime`; core.engine_watches), and followed by its own source
watch; a child removed stops being watched, and nothing of its is pruned.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.app_of_apps import (
    Child,
    ChildPlan,
    added_message,
    changed_message,
    find_children,
    plan_children,
    removed_message,
    stood_in,
)
from core.desired_state import DesiredState
from core.engine_messages import declare_shared
from core.engine_parts import EngineParts
from core.event_routing import EventRouting
from core.model import ResourceKey
from core.runtime import AppRuntime, resource_change
from core.status_events import AppStatusChange, ChildAppChange, StatusChange, rfc3339_now

if TYPE_CHECKING:
    from core.runtime import ClusterRuntime


class EngineChildren:
    """The Engine's child apps."""

    def _take_desired(
        self: EngineParts, runtime: AppRuntime, state: DesiredState
    ) -> tuple[list[StatusChange], ChildPlan | None]:
        """Apply a new desired state of `runtime`'s app: without the objects kubedrift stands in for,
        with the errors its children's objects have; returns the status changes, and the plan of its
        children (None for an app that renders none and had none)."""
        app = runtime.app
        self.rendered[app.name] = state
        rendered = runtime.loader.last_render.objects if runtime.loader is not None else {}

        def file_of(key: ResourceKey) -> str:
            found = rendered.get(key)
            return found.file if found is not None else ""

        found = find_children(
            app, state.objects, context=runtime.context, base=self.child_base, file_of=file_of
        )
        previous = self.children.get(app.name, {})
        if not found.keys and not previous:
            return self._set_desired(runtime, state), None  # not a parent: the common case
        taken = self._names_taken(app.name)
        plan = plan_children(
            app.name,
            previous,
            found,
            taken,
            complete=state.render_ok,
            pending=state.pending.keys(),
        )
        self.children[app.name] = dict(plan.children)  # names held at once: no other parent takes them
        left_out = stood_in(found, self._serves(runtime.context))
        if left_out or plan.errors:
            objects = {key: obj for key, obj in state.objects.items() if key not in left_out}
            state = replace(state, objects=objects, errors=state.errors + plan.errors)
        return self._set_desired(runtime, state), plan

    def without_stood_in(self: EngineParts, app: str, state: DesiredState) -> DesiredState:
        """`state` (the app rendered at another revision, for a sync to it) without the objects
        kubedrift stands in for on the app's cluster, as its current desired state is."""
        runtime = self.apps[app]
        found = find_children(runtime.app, state.objects, context=runtime.context, base=self.child_base)
        left_out = stood_in(found, self._serves(runtime.context))
        if not left_out:
            return state
        return replace(state, objects={key: obj for key, obj in state.objects.items() if key not in left_out})

    def _serves(self: EngineParts, context: str | None) -> Callable[[str, str], bool]:
        """Whether `context`'s cluster serves a kind, from the discovery the engine holds. A cluster
        that cannot be used serves nothing: its parents' Applications are child apps only until a new
        desired state finds it usable."""
        cluster = self.clusters.get(context or "")
        if cluster is None or cluster.adapter is None or cluster.error is not None:
            return _serves_nothing
        served = cluster.adapter.discover().by_kind
        return lambda group, kind: (group, kind) in served

    def _names_taken(self: EngineParts, parent: str) -> dict[str, str]:
        """Every app's name but `parent`'s children's, with who holds it, for a clash to name both."""
        taken = {
            name: f"the app {name} of {runtime.app.origin or 'the config'}"
            for name, runtime in self.apps.items()
            if not runtime.app.parent
        }
        for holder, children in self.children.items():
            if holder != parent:
                for name, child in children.items():
                    taken[name] = f"the child app {name} of app {holder} ({child.where})"
        return taken

    # Carrying plans out.

    def _settle_children(self: EngineParts, plans: Iterable[ChildPlan]) -> list[StatusChange]:
        """Carry `plans` out at once, with their children's own (the one-shot form, and the start)."""
        changes: list[StatusChange] = []
        queue, rerouted = deque(plans), set[str]()
        while queue:
            plan = queue.popleft()
            changes += self._drop_moved(plan)
            for child, change in _arriving(plan):
                runtime = self._new_runtime(child.app)
                fresh, state = self._load_child(runtime)
                more, nested = self._admit_child(runtime, fresh, state, rerouted)
                changes += [*more, _event(change, child)]
                if nested is not None:
                    queue.append(nested)
        for context in rerouted:
            self._reroute(context)
        return changes

    async def _settle_children_live(self: EngineParts, plan: ChildPlan) -> list[StatusChange]:
        """Carry `plan` out in the live form: each child loaded on a worker thread, then watched and
        followed like any app; its own children next."""
        changes: list[StatusChange] = []
        queue = deque([plan])
        # Before the watches start no event is routed: the index is made once, at the end.
        rerouted = set[str]() if self._files is None else None
        while queue:
            plan = queue.popleft()
            changes += self._drop_moved(plan)
            for child, change in _arriving(plan):
                if plan.parent not in self.apps:
                    break  # its parent went while it loaded: so does it
                runtime = self._new_runtime(child.app)
                fresh, state = await asyncio.to_thread(self._load_child, runtime)
                if (
                    plan.parent not in self.apps
                    or self.children.get(plan.parent, {}).get(child.app.name) != child
                ):
                    continue  # the parent moved on while this one loaded
                more, nested = self._admit_child(runtime, fresh, state, rerouted)
                changes += [*more, _event(change, child)]
                self._follow(runtime, fresh)
                if nested is not None:
                    queue.append(nested)
        for context in rerouted or ():
            self._reroute(context)
        return changes

    def _drop_moved(self: EngineParts, plan: ChildPlan) -> list[StatusChange]:
        """Remove the children `plan` removes, and the old apps of those it changes."""
        changes: list[StatusChange] = []
        for child in plan.removed:
            changes += self._drop_child(child.app.name)
            changes.append(_event("removed", child))
        for child in plan.changed:
            changes += self._drop_child(child.app.name)
        return changes

    def _load_child(self: EngineParts, runtime: AppRuntime) -> tuple[ClusterRuntime | None, DesiredState]:
        """Connect the child's cluster if no app used it yet (not registered: the loop does that),
        and load the child. Blocking: it may run on a worker thread."""
        cluster = self.clusters.get(runtime.context or "")
        fresh = None
        if runtime.context is not None and cluster is None:
            cluster = fresh = self._connect(runtime.context)
        return fresh, self._load_runtime(runtime, cluster)

    def _admit_child(
        self: EngineParts,
        runtime: AppRuntime,
        fresh: ClusterRuntime | None,
        state: DesiredState,
        rerouted: set[str] | None = None,
    ) -> tuple[list[StatusChange], ChildPlan | None]:
        """Register a loaded child (and its cluster, when new) and judge it on what the cache holds.
        Its cluster's routing index is made again now, or, when `rerouted` collects the contexts, by
        the caller once every child is in (a fleet of children at start would otherwise cost
        children x objects)."""
        context = runtime.context
        if fresh is not None and context is not None and context not in self.clusters:
            self.clusters[context] = fresh
        self.apps[runtime.app.name] = runtime
        if context is not None and context in self.clusters:
            if rerouted is None:
                self._reroute(context)
            else:
                rerouted.add(context)
                self._routing.setdefault(context, EventRouting(()))  # noted into until then
        changes, plan = self._take_desired(runtime, state)
        cluster = self.clusters.get(context or "")
        if cluster is not None:
            # What it applied before and no longer declares is already in the cache: its Extraneous.
            now, reconciler = rfc3339_now(), runtime.reconciler
            tracked = [  # one pass over the cache, for a child that comes while the engine runs
                key
                for key, obj in cluster.cache
                if key not in reconciler.desired and runtime.app.owns(key, obj)
            ]
            for key in tracked:
                cut_down = cluster.cache.is_cut_down(key)
                updated = reconciler.live_changed(key, cluster.cache.get(key), cut_down=cut_down)
                if updated is not None:
                    changes.append(resource_change(now, runtime.app.name, key, None, updated))
            if rerouted is None:
                self._routing[cluster.context].note(runtime, tracked)
        self._ticking_changed()
        # A new app, as at start: its first status has no previous one (not the empty reconciler's).
        name, reconciler = runtime.app.name, runtime.reconciler
        changes = [c for c in changes if not (isinstance(c, AppStatusChange) and c.app == name)]
        changes.append(AppStatusChange(rfc3339_now(), name, reconciler.sync, reconciler.health, None, None))
        return changes, plan

    def _follow(self: EngineParts, runtime: AppRuntime, fresh: ClusterRuntime | None) -> None:
        """Live form: watch what a new child needs, and follow its source (at start, `run` does both
        for every app once the lists are done)."""
        if self._files is None:
            return
        context = runtime.context
        cluster = self.clusters.get(context or "")
        if cluster is not None and context is not None:
            if fresh is not None and cluster is fresh:
                self._ensure_watches(context)
                if cluster.error is not None and self._publish is not None and self._stop is not None:
                    self._spawn(self._keep_connecting(context, self._publish, self._stop))
            else:
                self._ensure_watches(context, {(key.group, key.kind) for key in runtime.desired.objects})
        self._follow_source_of(runtime)

    def _drop_child(self: EngineParts, name: str) -> list[StatusChange]:
        """Stop watching a child app, and its own children: its source, its share of objects, its
        automation. Its resources are left as they are."""
        changes: list[StatusChange] = []
        for grandchild in list(self.children.pop(name, {}).values()):
            changes += self._drop_child(grandchild.app.name)
            changes.append(_event("removed", grandchild))
        runtime = self.apps.pop(name, None)
        self.rendered.pop(name, None)
        if runtime is None:
            return changes
        self._stop_following(name)
        if runtime.server_side_worker is not None:
            runtime.server_side_worker.stop()
        changes += declare_shared(self, runtime, DesiredState(None), rfc3339_now())  # it declares nothing now
        self.automation.synced_revisions.pop(name, None)
        self.automation.backoffs.pop(name, None)
        if runtime.context is not None and runtime.context in self._routing:
            self._reroute(runtime.context)
        self._ticking_changed()
        return changes

    def _stop_following(self: EngineParts, name: str) -> None:
        """Live form: stop following a removed child's source."""
        self.sources.pop(name, None)
        task = self._source_tasks.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            self._background.add(task)  # awaited on the way out, like the engine's other tasks
            task.add_done_callback(self._background.discard)

    def _spawn(self: EngineParts, work: Coroutine[Any, Any, None]) -> None:
        """Live form: run `work` beside the loop until the engine stops."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _ticking_changed(self: EngineParts) -> None:
        """The live loop ticks while an app needs it: self-heal waits out its backoff even when nothing
        happens, and rollback windows and their measurements run out; apps come and go."""
        policies = [runtime.app.sync_policy for runtime in self.apps.values()]
        self._tick = 1.0 if any(p.automated or p.rollback is not None for p in policies) else None

    def _reroute(self: EngineParts, context: str) -> None:
        """Index the apps of `context` again, after one came or went (rare: a commit of a parent)."""
        runtimes = self._apps_on(context)
        routing = EventRouting(runtimes)
        for runtime in runtimes:
            routing.note(runtime, runtime.reconciler.desired.keys() | runtime.reconciler.live.keys())
        self._routing[context] = routing

    def children_at_start(self: EngineParts) -> list[StatusChange]:
        """`added` for every child found while starting: told once, as it would be had it come later."""
        now = rfc3339_now()
        return [
            ChildAppChange(now, child.app.name, parent, "added", added_message(child))
            for parent, children in self.children.items()
            for child in children.values()
            if child.app.name in self.apps
        ]


def _serves_nothing(_group: str, _kind: str) -> bool:
    return False


def _arriving(plan: ChildPlan) -> list[tuple[Child, str]]:
    """The children a plan brings, each with how: `added`, or `changed` (its old app was dropped)."""
    return [*((child, "added") for child in plan.added), *((child, "changed") for child in plan.changed)]


_MESSAGES: dict[str, Callable[[Child], str]] = {
    "added": added_message,
    "changed": changed_message,
    "removed": removed_message,
}


def _event(change: str, child: Child) -> ChildAppChange:
    """The event stream's line for a child that came, changed or went."""
    return ChildAppChange(rfc3339_now(), child.app.name, child.app.parent, change, _MESSAGES[change](child))
