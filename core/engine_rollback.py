"""Automated rollback in the live engine: watch each new revision, measure it, roll it back once.

A part of the Engine (see core.engine), called by core.engine_automation on every batch and tick.
What is decided is core.rollback's (`advance`, through the RollbackBook on `engine.automation`);
this part feeds it what the engine sees, sends the Prometheus queries on worker threads, runs the
rollback sync (on a worker thread, through `AppRuntime.sync`: audit line first, as every sync), and
reports every step: an audit line (operation `analysis` or `rollback`) and a RollbackEvent published
beside the status changes, for `watch -o jsonl` and the TUI's event log.

A read-only cluster is watched the same way, so that its apps say what would happen, but nothing
is synced, audited or written to kubedrift's state there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

from core.analysis import judge, query_error
from core.audit import AuditError, AuditWriteError, append_audit_record, current_user
from core.cluster import ClusterAdapter
from core.engine_observer import report_sync
from core.engine_parts import EngineParts
from core.errors import KubedriftError
from core.model import FOLDER_REVISION_PREFIX, Health
from core.rollback import Decision, Observation, RollbackView, short, step_record
from core.rollback_config import AnalysisMetric
from core.runtime import AppRuntime, ClusterRuntime
from core.status_events import RollbackEvent


class EngineRollback:
    """The Engine's automated rollback."""

    def _watch_rollback(self: EngineParts, runtime: AppRuntime, cluster: ClusterRuntime) -> None:
        """Look at one app with `syncPolicy.rollback` now: report, measure, and roll back if decided."""
        policy = runtime.app.sync_policy.rollback
        adapter = cluster.adapter
        if policy is None or adapter is None or runtime.app.name in self.automation.running:
            return  # a sync under way changes what is seen: look again once it is done
        book = self.automation.rollbacks
        desired = runtime.desired
        revision = desired.revision if desired.render_ok and not desired.pending else None
        if revision is not None and revision.startswith(FOLDER_REVISION_PREFIX):
            revision = None  # a working tree has no earlier revision to go back to
        last_sync = runtime.last_sync
        content = book.content_of(runtime.app.name, desired) if revision is not None else ""
        seen = Observation(
            revision=revision,
            sync=runtime.reconciler.sync,
            health=runtime.reconciler.health,
            health_message=_degraded_reason(runtime),
            synced=last_sync.revision if last_sync is not None and not last_sync.dry_run else None,
            visible=not cluster.automation_paused and not runtime.reconciler.blind,
            content=content,
        )
        # Without the app's Lease (core.engine_fleet) it only says what would happen, as read-only.
        read_only = adapter.read_only or not self.may_act(runtime.app.name)
        advanced = book.observe(runtime.app.name, policy, seen, read_only=read_only)
        runtime.rollback = book.view(runtime.app.name, policy)
        self._report_rollback(runtime, advanced.steps, read_only=read_only)
        if advanced.decision is not None:
            self._start_action(self._roll_back(runtime, adapter, advanced.decision))
        if advanced.run is not None:
            for metric in book.due(runtime.app.name):
                self._start_action(self._measure(runtime, metric, advanced.run.revision))

    def _show_saved_rollbacks(self: EngineParts) -> None:
        """For a one-shot run (`check`): each app's rollback as the saved state has it. A pin shows
        while Git is still at the bad revision; nothing is observed, measured or acted on."""
        book = self.automation.rollbacks
        for runtime in self.apps.values():
            name = runtime.app.name
            pinned = book.pinned(name, runtime.desired.revision, book.content_of(name, runtime.desired))
            if pinned is not None:
                runtime.rollback = RollbackView(pinned, f"{pinned.label} ({pinned.reason})")

    def _pinned(self: EngineParts, runtime: AppRuntime) -> bool:
        """Whether a rollback pins the app: Git is still at the bad revision, or at another commit
        rendering the very same objects."""
        book, name = self.automation.rollbacks, runtime.app.name
        rolled_back = book.state(name).rolled_back  # `kubedrift rollback` pins apps without a policy too
        if rolled_back is None or not rolled_back.done:
            return False
        return book.pinned(name, runtime.desired.revision, book.content_of(name, runtime.desired)) is not None

    def _start_action(self: EngineParts, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` as one of the engine's actions, which a stopping engine waits for."""
        action = asyncio.create_task(work)
        self._actions.add(action)
        action.add_done_callback(self._actions.discard)

    async def _measure(self: EngineParts, runtime: AppRuntime, metric: AnalysisMetric, revision: str) -> None:
        """One measurement of `metric` for `revision`; then the app is looked at again, so that a
        failed analysis is rolled back at once rather than on the next tick."""
        from core.prometheus_query import PrometheusError, query_prometheus

        book = self.automation.rollbacks
        provider = metric.prometheus
        try:
            result = await asyncio.to_thread(
                query_prometheus, provider.address, metric.query, timeout=provider.timeout
            )
            measurement = judge(metric, result, book.clock())
        except PrometheusError as error:
            measurement = query_error(metric, str(error), book.clock())
        except Exception as error:  # a measurement must end, or the metric would never be asked again
            problem = f"the query failed unexpectedly ({type(error).__name__})"
            measurement = query_error(metric, problem, book.clock())
        steps = book.measured(runtime.app.name, revision, metric.name, measurement)
        cluster = self.clusters.get(runtime.context or "")
        read_only = cluster is None or cluster.adapter is None or cluster.adapter.read_only
        read_only = read_only or not self.may_act(runtime.app.name)
        self._report_rollback(runtime, steps, read_only=read_only)
        if cluster is not None:
            self._watch_rollback(runtime, cluster)

    async def _roll_back(
        self: EngineParts, runtime: AppRuntime, adapter: ClusterAdapter, decision: Decision
    ) -> None:
        """Sync the app to the good revision of `decision`, as one audited `rollback` sync."""
        book = self.automation.rollbacks
        self.automation.running.add(runtime.app.name)  # no auto-sync or self-heal meanwhile
        error: str | None = None
        try:
            loader = runtime.loader
            if loader is None:
                raise KubedriftError(f"app {runtime.app.name} is not loaded")
            desired = await asyncio.to_thread(loader.load, decision.good)
            if desired.revision is None or not desired.render_ok:
                problems = "; ".join(desired.errors) or "it rendered nothing"
                raise KubedriftError(f"revision {short(decision.good)} cannot be rendered: {problems}")
            result = await asyncio.to_thread(
                runtime.sync,
                adapter,
                desired,
                operation="rollback",
                prune=runtime.app.sync_policy.prune,
            )
            failures = [outcome for outcome in result.outcomes if outcome.action.value == "failed"]
            if failures:
                error = f"{len(failures)} resources failed, first {failures[0].key}: {failures[0].message}"
        except AuditWriteError as failure:  # it ran, unrecorded: the step says so
            error = str(failure)
        except AuditError as failure:  # refused before any request
            error = str(failure)
        except KubedriftError as failure:
            error = str(failure)
        finally:
            self.automation.running.discard(runtime.app.name)
        report_sync(self.observer, runtime.app.name, "rollback", error is None)
        policy = runtime.app.sync_policy.rollback
        if policy is not None:
            runtime.rollback = book.view(runtime.app.name, policy)
        self._report_rollback(runtime, [book.finished(decision, error)], read_only=False)

    def _report_rollback(
        self: EngineParts, runtime: AppRuntime, steps: Iterable[RollbackEvent], *, read_only: bool
    ) -> None:
        """Audit each step (never on a read-only cluster), then publish them."""
        steps = list(steps)
        if not steps:
            return
        if not read_only:
            user = current_user()
            try:
                for step in steps:
                    append_audit_record(step_record(step, user))
                if runtime.automation_error and runtime.automation_error.startswith(_UNAUDITED):
                    runtime.automation_error = None
            except AuditError as error:
                runtime.automation_error = f"{_UNAUDITED}: {error}"
        if self._publish is not None:
            self._publish(list(steps))


_UNAUDITED = "a rollback step could not be audited"


def _degraded_reason(runtime: AppRuntime) -> str:
    """`Deployment/shop/web: <its health message>` for the first Degraded resource, for the reason."""
    for key, result in sorted(runtime.reconciler.results.items()):
        if result.health.status is Health.DEGRADED:
            return f"{key}: {result.health.message}" if result.health.message else str(key)
    return ""
