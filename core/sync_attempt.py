"""One try of a sync (`core.actions.sync_app` tries again as `syncPolicy.retry` says).

A try checks for shared resources (`FailOnSharedResource=true`) before writing anything, creates the
destination namespace (`CreateNamespace=true`), plans the phases and waves (`core.sync_waves`) and
runs them (`core.sync_run`). Writing one resource is the caller's: `ResourceWriter` is what
`core.actions` hands in for each try, over that try's view of the live objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from core.cluster import ApiError, ClusterAdapter
from core.desired_state import DesiredState
from core.health import HealthOverrides
from core.hook_run import HookRunner
from core.model import (
    ARGOCD_SYNC_OPTIONS_ANNOTATION,
    App,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
    SyncResult,
    revision_label,
)
from core.prune import prune_candidates
from core.sync_hooks import Hook
from core.sync_plan import apply_order
from core.sync_run import Progress, StepRunner
from core.sync_wait import SyncWaiter
from core.sync_waves import plan_steps
from core.sync_writes import other_owner


class ResourceWriter(Protocol):
    """Writes one resource at a time for a try of a sync (`core.resource_apply.ApplyRun`)."""

    unserved: dict[tuple[str, str], str]
    not_applied: set[ResourceKey]
    health_overrides: HealthOverrides | None

    def apply(self, key: ResourceKey) -> ResourceOutcome: ...

    def prune(
        self, keys: Sequence[ResourceKey], each: Callable[[ResourceKey], None]
    ) -> list[ResourceOutcome]: ...

    def create_namespace(self, name: str) -> ResourceOutcome | None: ...

    def hook_runner(self, started_unix: int) -> HookRunner: ...


class SyncAttempt:
    """One try of a sync: the shared-resource check, the namespace, then the plan's steps."""

    def __init__(
        self,
        app: App,
        desired: DesiredState,
        *,
        adapter: ClusterAdapter,
        writer_for: Callable[[Mapping[ResourceKey, Mapping[str, Any]]], ResourceWriter],
        wanted: frozenset[ResourceKey] | None,
        prune: bool,
        dry_run: bool,
        progress: Progress | None,
        started_at: str,
        waiter: SyncWaiter,
    ) -> None:
        self.app, self.desired, self.adapter, self.writer_for = app, desired, adapter, writer_for
        self.wanted, self.prune, self.dry_run = wanted, prune, dry_run
        self.progress, self.started_at, self.waiter = progress, started_at, waiter
        self.options = app.sync_policy.sync_options

    def run(self, live: Mapping[ResourceKey, Mapping[str, Any]]) -> SyncResult:
        desired, wanted = self.desired, self.wanted
        revision = desired.revision or ""
        result = SyncResult(revision=revision, started_at=self.started_at, dry_run=self.dry_run)
        apply_keys = [key for key in desired.objects if wanted is None or key in wanted]
        shared, stop = self._shared(apply_keys, live)
        if shared:
            return replace(result, outcomes=tuple(shared), message=stop)
        writer = self.writer_for(live)
        before: list[ResourceOutcome] = []
        if self.options.create_namespace and wanted is None:
            created = writer.create_namespace(self.app.destination.namespace)
            if created is not None:
                before.append(created)
                if created.action is ResourceAction.FAILED:
                    stop = f"CreateNamespace: {created.message}"
                    note = f"not reached: the sync stopped at {stop}"
                    skipped = [ResourceOutcome(key, ResourceAction.SKIPPED, note) for key in apply_keys]
                    return replace(result, outcomes=(created, *skipped), message=stop)

        to_prune: dict[ResourceKey, Mapping[str, Any]] = {}
        kept: list[ResourceOutcome] = []
        pruning: set[ResourceKey] = set()
        if self.prune:
            candidates, kept = prune_candidates(self.app, desired, live)
            pruning = set(candidates) | {outcome.key for outcome in kept}
            to_prune = {key: live[key] for key in candidates if wanted is None or key in wanted}
            kept = [outcome for outcome in kept if wanted is None or outcome.key in wanted]
        hooks = [] if wanted is not None else [Hook.of(obj) for obj in desired.hooks]
        plan = plan_steps(
            desired.objects,
            apply_keys,
            hooks,
            to_prune,
            prune_last=lambda key: self.options.prune_last or prune_last_annotated(to_prune[key]),
        )
        runner = StepRunner(
            self.adapter,
            plan,
            apply_one=writer.apply,
            prune=writer.prune,
            hooks=writer.hook_runner(self._started_unix()),
            waiter=self.waiter,
            dry_run=self.dry_run,
            progress=self.progress,
            before_step=lambda step: writer.unserved.clear(),
            not_applied=writer.not_applied,
            health_overrides=writer.health_overrides,
        )
        report = runner.run()
        stray_note = f"not in Git at revision {revision_label(revision) if revision else '?'}"
        strays = sorted((wanted or set()) - desired.objects.keys() - pruning)
        outcomes = before + report.outcomes + kept
        outcomes += [ResourceOutcome(key, ResourceAction.SKIPPED, stray_note) for key in strays]
        shift = len(before)
        hook_runs = tuple(replace(hook, position=hook.position + shift) for hook in report.hooks)
        return replace(result, outcomes=tuple(outcomes), hooks=hook_runs, message=report.message)

    def _shared(
        self, keys: Iterable[ResourceKey], live: Mapping[ResourceKey, Mapping[str, Any]]
    ) -> tuple[list[ResourceOutcome], str]:
        """With `FailOnSharedResource=true`: the whole sync's outcomes, failed before any write, and
        why, when an object Git declares is tracked in the cluster by another app; else nothing."""
        if not self.options.fail_on_shared_resource:
            return [], ""
        keys = list(keys)
        owners = {key: owner for key in keys if (owner := other_owner(self.app, key, live.get(key)))}
        if not owners:
            return [], ""
        first = min(owners)
        stop = (
            f"FailOnSharedResource=true: {first} is tracked by app {owners[first]!r}"
            + (f" (and {len(owners) - 1} more by other apps)" if len(owners) > 1 else "")
            + ", so nothing was applied"
        )
        outcomes = [
            ResourceOutcome(
                key, ResourceAction.FAILED, f"tracked by app {owners[key]!r} (FailOnSharedResource=true)"
            )
            if key in owners
            else ResourceOutcome(key, ResourceAction.SKIPPED, f"not applied: {stop}")
            for key in apply_order(keys)
        ]
        return outcomes, stop

    def _started_unix(self) -> int:
        """The sync's start in Unix seconds, for the names of `generateName` hooks."""
        try:
            return int(datetime.fromisoformat(self.started_at.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return int(time.time())


def prune_last_annotated(live: Mapping[str, Any]) -> bool:
    """Whether a live object's sync-options annotation says `PruneLast=true` (read leniently: it is
    the cluster's copy, which Git may no longer have)."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    options = str(annotations.get(ARGOCD_SYNC_OPTIONS_ANNOTATION, "")).split(",")
    return any(option.replace(" ", "") == "PruneLast=true" for option in options)


def read_back(adapter: ClusterAdapter, keys: Iterable[ResourceKey]) -> dict[ResourceKey, Mapping[str, Any]]:
    """The live objects of `keys` read again, for a retry: the failed try changed some of them."""
    found: dict[ResourceKey, Mapping[str, Any]] = {}
    for key in dict.fromkeys(keys):
        try:
            resource = adapter.resource_for(key.group, key.kind)
            obj = adapter.get(resource, key.namespace or None, key.name)
        except ApiError:
            continue
        if obj is not None:
            obj.setdefault("apiVersion", resource.api_version)
            obj.setdefault("kind", key.kind)
            found[key] = obj
    return found
