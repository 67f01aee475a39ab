"""Running a sync's steps (`core.sync_waves`): phase by phase, wave by wave, hooks followed to the end.

Within a step every resource is attempted, so one bad resource never stops the others of its
wave; then its hooks are created and followed to completion. In a multi-step sync a step must end
well before the next begins, as in Argo CD: a failed apply, a failed hook, or (before a later step)
an applied resource that turns Degraded or is not Healthy within the waiter's timeout stops the
sync. What was not reached is `skipped`, with the reason; the SyncFail hooks then run, and the
result is failed. A plain sync (one step, no hook) never waits: applying is all there is to it.

After the last step, hooks are deleted as their delete policy says (`core.hook_run`).

Every step is reported through `progress` with its phase and wave (`SyncProgress`), and in a
multi-step sync each thing worth a line (a hook created, a hook done, a wave Healthy) as an event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.health import HealthOverrides, health_of
from core.hook_run import HookResult, HookRunner, HookState
from core.model import Health, HealthStatus, HookRun, ResourceAction, ResourceKey, ResourceOutcome
from core.sync_hooks import SyncPhase
from core.sync_wait import SyncWaiter
from core.sync_waves import SyncPlan, SyncProgress, SyncStep

Progress = Callable[[SyncProgress], None]
_APPLIED = (ResourceAction.CREATED, ResourceAction.CONFIGURED, ResourceAction.UNCHANGED)


@dataclass
class RunReport:
    """What running a plan did: the outcomes in order, which of them are hooks, and how it ended."""

    outcomes: list[ResourceOutcome] = field(default_factory=list)
    hooks: list[HookRun] = field(default_factory=list)
    message: str = ""


class StepRunner:
    """Runs one sync's plan against the cluster; the apply and the prune of one resource are the
    caller's (`core.actions`), as are the hooks' creation and clean-up (`core.hook_run`)."""

    def __init__(
        self,
        adapter: ClusterAdapter,
        plan: SyncPlan,
        *,
        apply_one: Callable[[ResourceKey], ResourceOutcome],
        prune: Callable[[Sequence[ResourceKey], Callable[[ResourceKey], None]], list[ResourceOutcome]],
        hooks: HookRunner,
        waiter: SyncWaiter,
        dry_run: bool,
        progress: Progress | None = None,
        before_step: Callable[[SyncStep], None] = lambda step: None,
        not_applied: Collection[ResourceKey] = (),
        health_overrides: HealthOverrides | None = None,
    ) -> None:
        self.adapter = adapter
        self.plan = plan
        self.apply_one = apply_one
        self.prune = prune
        self.hooks = hooks
        self.waiter = waiter
        self.dry_run = dry_run
        self.progress = progress
        self.before_step = before_step
        self.not_applied = not_applied
        """Resources left alone as in sync (`ApplyOutOfSyncOnly=true`): a wave does not wait for them."""
        self.health_overrides = health_overrides
        """The user's health checks: a wave is Healthy by the same rules as the app."""
        self.report = RunReport()
        self._hook_results: list[tuple[int, HookResult]] = []
        self._done = 0
        self._phases = plan.phases
        self._waves_in_phase: dict[SyncPhase, int] = {}
        for step in (*plan.steps, *plan.on_failure):
            self._waves_in_phase[step.phase] = self._waves_in_phase.get(step.phase, 0) + 1

    def run(self) -> RunReport:
        stopped: str | None = None
        steps = self.plan.steps
        for number, step in enumerate(steps):
            if stopped is not None:
                self._skip(step, stopped)
                continue
            stopped = self._run_step(step, last=number == len(steps) - 1)
            if stopped is not None and (self.plan.multi_step or self.plan.on_failure):
                self.report.message = stopped  # a plain sync's failures speak for themselves
        if stopped is not None and not self.dry_run:
            for step in self.plan.on_failure:
                self._run_hooks(step)
        self._clean_up_hooks()
        return self.report

    # One step.

    def _run_step(self, step: SyncStep, *, last: bool) -> str | None:
        """Run `step`; why the sync stops here, or None when the next step may begin."""
        self.before_step(step)
        label = self.label(step)
        first = len(self.report.outcomes)
        for done, key in enumerate(step.applies, start=1):
            self.report.outcomes.append(self.apply_one(key))
            self._tick(step, key, done)
        applied = {
            outcome.key: first + index
            for index, outcome in enumerate(self.report.outcomes[first:])
            if outcome.action in _APPLIED and outcome.key not in self.not_applied
        }
        failed = [
            outcome for outcome in self.report.outcomes[first:] if outcome.action is ResourceAction.FAILED
        ]
        if step.applies and self.plan.multi_step:
            self._event(step, f"{label}: {_applied_summary(self.report.outcomes[first:], self.dry_run)}")
        hook_failure = self._run_hooks(step)
        if step.prunes:
            before_prunes = len(step.applies) + len(step.hooks)
            counted = iter(range(before_prunes + 1, step.size + 1))
            pruned = self.prune(step.prunes, lambda key: self._tick(step, key, next(counted, step.size)))
            self.report.outcomes.extend(pruned)
            failed += [outcome for outcome in pruned if outcome.action is ResourceAction.FAILED]
        if failed:
            first_failure = failed[0]
            more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
            return f"{label}: {first_failure.key} failed{more}: {first_failure.message}"
        if hook_failure is not None:
            return hook_failure
        if last or not self.plan.multi_step or self.dry_run:
            return None
        return self._wait_healthy(step, applied)

    def _run_hooks(self, step: SyncStep) -> str | None:
        """Create the step's hooks, follow them to the end; why the sync stops, or None."""
        if not step.hooks:
            return None
        label = self.label(step)
        started: list[HookResult] = []
        for hook in step.hooks:
            result = self.hooks.start(hook, step.phase)
            verb = "would be created" if self.dry_run else "created"
            if result.state is HookState.FAILED:
                self._event(step, f"{label}: {result.key} failed: {result.message}")
            else:
                self._event(step, f"{label}: {result.key} {verb}")
            started.append(result)
        running = [result for result in started if result.state is HookState.RUNNING]
        if running:
            self._event(step, f"{label}: waiting for {_count(len(running), 'hook')} to complete")
            finished = iter(self.hooks.follow(running))
            started = [next(finished) if result.state is HookState.RUNNING else result for result in started]
            for result in started:
                if result.created:
                    ending = (
                        f" ({result.message})" if result.state is HookState.FAILED and result.message else ""
                    )
                    self._event(step, f"{label}: {result.key} {result.state}{ending}")
        for result in started:
            self._hook_results.append((len(self.report.outcomes), result))
            self.report.outcomes.append(result.outcome)
            self._done += 1
        self._emit(step, started[-1].key, len(step.applies) + len(step.hooks))
        failures = [result for result in started if result.state is HookState.FAILED]
        if not failures:
            return None
        first = failures[0]
        return f"{label}: hook {first.key} failed: {first.message or first.state}"

    def _wait_healthy(self, step: SyncStep, applied: Mapping[ResourceKey, int]) -> str | None:
        """Wait until what `step` applied is Healthy and what it pruned is gone; why not, or None."""
        label = self.label(step)
        waiting = dict(applied)
        gone_pending = [
            outcome.key
            for outcome in self.report.outcomes
            if outcome.action is ResourceAction.PRUNED and outcome.key in step.prunes
        ]
        if not waiting and not gone_pending:
            return None
        wait_for = [f"{_count(len(waiting), 'resource')} to be Healthy"] if waiting else []
        wait_for += [f"{_count(len(gone_pending), 'pruned resource')} to be gone"] if gone_pending else []
        self._event(step, f"{label}: waiting for {' and '.join(wait_for)}")
        last_seen: dict[ResourceKey, HealthStatus] = {}
        degraded: list[tuple[ResourceKey, HealthStatus]] = []

        def settled() -> bool | None:
            for key in list(waiting):
                health = self._health(key)
                last_seen[key] = health
                if health.status is Health.HEALTHY:
                    del waiting[key]
                elif health.status is Health.DEGRADED:
                    degraded.append((key, health))
                    return True
            for key in list(gone_pending):
                if self._read(key) is None:
                    gone_pending.remove(key)
            return True if not waiting and not gone_pending else None

        try:
            settled_in_time = self.waiter.until(settled) is not None
        except ReadOnlyError:
            raise
        except ClusterError as error:
            return f"{label}: could not read the resources' health: {error}"
        if degraded:
            key, health = degraded[0]
            self._fail(
                key, waiting[key], f"{health.status}" + (f": {health.message}" if health.message else "")
            )
            return f"{label}: {key} is Degraded" + (f": {health.message}" if health.message else "")
        if not settled_in_time:
            for key, position in waiting.items():
                seen = last_seen.get(key)
                state = (
                    f"{seen.status}" + (f": {seen.message}" if seen and seen.message else "")
                    if seen
                    else "unknown"
                )
                self._fail(key, position, f"not Healthy after {self.waiter.timeout_text} ({state})")
            names = ", ".join(str(key) for key in [*waiting, *gone_pending][:3])
            return f"{label}: not Healthy after {self.waiter.timeout_text}: {names}"
        self._event(step, f"{label}: Healthy")
        return None

    # Reading the cluster.

    def _read(self, key: ResourceKey) -> Mapping[str, Any] | None:
        resource = self.adapter.resource_for(key.group, key.kind)
        return self.adapter.get(resource, key.namespace or None, key.name)

    def _health(self, key: ResourceKey) -> HealthStatus:
        try:
            return health_of(self._read(key), self.health_overrides)
        except ApiError as error:
            return HealthStatus(Health.UNKNOWN, error.message)

    # Results.

    def _fail(self, key: ResourceKey, position: int, why: str) -> None:
        """Turn an applied resource's outcome into a failure: it was written, then did not become Healthy."""
        outcome = self.report.outcomes[position]
        done = str(outcome.action) + (f" ({outcome.message})" if outcome.message else "")
        self.report.outcomes[position] = ResourceOutcome(key, ResourceAction.FAILED, f"{done}, then {why}")

    def _skip(self, step: SyncStep, why: str) -> None:
        note = f"not reached: the sync stopped at {why}"
        self.report.outcomes.extend(
            ResourceOutcome(key, ResourceAction.SKIPPED, note) for key in step.applies
        )
        self.report.outcomes.extend(ResourceOutcome(key, ResourceAction.SKIPPED, note) for key in step.prunes)

    def _clean_up_hooks(self) -> None:
        if not self._hook_results or self.dry_run:
            self.report.hooks = [
                HookRun(position, result.phase.value, result.state.value)
                for position, result in self._hook_results
            ]
            return
        cleaned = self.hooks.clean_up([result for _, result in self._hook_results])
        for (position, _), result in zip(self._hook_results, cleaned, strict=True):
            self.report.outcomes[position] = result.outcome
            self.report.hooks.append(HookRun(position, result.phase.value, result.state.value))

    # Progress.

    def label(self, step: SyncStep) -> str:
        """`PreSync`, or `Sync wave 2` when the phase has more than one wave."""
        if self._waves_in_phase.get(step.phase, 1) > 1:
            return f"{step.phase} wave {step.wave}"
        return str(step.phase)

    def _tick(self, step: SyncStep, key: ResourceKey, done_in_step: int) -> None:
        self._done += 1
        self._emit(step, key, done_in_step)

    def _emit(self, step: SyncStep, key: ResourceKey | None, done_in_step: int, event: str = "") -> None:
        if self.progress is None:
            return
        phase_number = self._phases.index(step.phase) + 1 if step.phase in self._phases else 1
        self.progress(
            SyncProgress(
                done=self._done,
                total=self.plan.total,
                key=key,
                phase=step.phase,
                phase_number=phase_number,
                phases=max(len(self._phases), 1),
                wave=step.wave,
                wave_done=done_in_step,
                wave_total=step.size,
                multi_step=self.plan.multi_step,
                event=event,
            )
        )

    def _event(self, step: SyncStep, text: str) -> None:
        if self.plan.multi_step or step.phase is SyncPhase.SYNC_FAIL:
            self._emit(step, None, 0, event=text)


def _applied_summary(outcomes: Sequence[ResourceOutcome], dry_run: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[str(outcome.action)] = counts.get(str(outcome.action), 0) + 1
    summary = ", ".join(f"{count} {action}" for action, count in counts.items())
    return f"dry run: {summary}" if dry_run else summary


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
