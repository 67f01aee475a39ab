"""Automation in the live engine: auto-sync, self-heal and rollback, never writing to a read-only cluster.

A part of the Engine (see core.engine). What is due is core.automation's decision; this part acts
on it, each sync on a worker thread, and never on a cluster it cannot see.
"""

from __future__ import annotations

import asyncio
import time

from core.audit import AuditError, AuditWriteError
from core.automation import SyncRequest
from core.cluster import ClusterAdapter
from core.engine_observer import report_backoffs, report_sync
from core.engine_parts import EngineParts
from core.engine_rollback import EngineRollback
from core.errors import KubedriftError
from core.runtime import AppRuntime
from core.shared_resources import without_shared


class EngineAutomation(EngineRollback):
    """The Engine's auto-sync and self-heal, and (core.engine_rollback) automated rollback."""

    def _automate(self: EngineParts) -> None:
        now = time.monotonic()
        backing_off = frozenset(self.automation.backing_off)
        for runtime in self.apps.values():
            # What the last sync changed nothing for (drift rule 7) is marked on this thread, which
            # owns the reconcilers, before self-heal looks at the results.
            runtime.take_sync_verdicts()
            cluster = self.clusters.get(runtime.context or "")
            if cluster is not None and runtime.app.sync_policy.rollback is not None:
                self._watch_rollback(runtime, cluster)  # read-only too: it says what would happen
            if cluster is None or cluster.adapter is None or cluster.adapter.read_only:
                continue
            if cluster.automation_paused:  # unreachable, or back without its state: never act blind
                continue
            if not self.may_act(runtime.app.name):  # an agent that does not hold the app's Lease
                self.automation.backing_off.discard(runtime.app.name)  # self-heal is not this agent's
                continue
            # The audit line comes first: while the file cannot take one, automation sends nothing.
            paused, runtime.automation_error = self.automation.audit_pause(
                runtime.app, runtime.automation_error, now
            )
            # A working tree with objects pending, or read the same for less than its settle window
            # (a save may be in flight), is not a revision to act on yet; the tick comes back to it.
            settled = runtime.desired.revision_id  # a multi-source app: every source's revision
            if runtime.desired.pending or (runtime.loader and runtime.loader.settling(settled) > 0):
                settled = None
            if self._pinned(runtime):
                self.automation.backing_off.discard(runtime.app.name)
                continue  # rolled back: Git's bad revision is neither synced again nor healed towards
            request = self.automation.next_action(
                runtime.app,
                settled,
                runtime.desired.render_ok,
                # Neither self-heal nor auto-sync acts on an object another app declares too.
                without_shared(runtime.reconciler.results, runtime.shared_with),
                now,
                paused=paused,
                blind=runtime.reconciler.blind,
            )
            if request is not None:
                self.automation.started(request)
                action = asyncio.create_task(self._run_sync(runtime, cluster.adapter, request))
                self._actions.add(action)
                action.add_done_callback(self._actions.discard)
        if self.automation.backing_off != backing_off:
            report_backoffs(self.observer, backing_off, self.automation.backing_off)

    async def _run_sync(
        self: EngineParts, runtime: AppRuntime, adapter: ClusterAdapter, request: SyncRequest
    ) -> None:
        refused = False
        succeeded = False
        try:
            result = await asyncio.to_thread(
                runtime.sync,
                adapter,
                runtime.desired,
                operation=request.operation,
                keys=request.keys,
                prune=request.prune,
            )
            succeeded = not result.failed
            runtime.automation_error = None
        except AuditWriteError as error:  # it ran, unrecorded: say so, and pause
            succeeded = not error.result.failed
            note = self.automation.unaudited(request, runtime.app, error, time.monotonic())
            runtime.automation_error = note
        except AuditError as error:  # refused before any request: it stays due, and automation pauses
            refused = True
            note = self.automation.refused(request, runtime.app, error, time.monotonic())
            runtime.automation_error = note
        except KubedriftError as error:
            runtime.automation_error = f"{request.operation} failed: {error}"
        finally:
            if not refused:
                self.automation.finished(request)
            report_sync(self.observer, request.app, request.operation, succeeded)
