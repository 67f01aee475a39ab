"""Analysis of a newly synced revision: measurements of Prometheus queries, judged as Argo Rollouts does.

An AnalysisRun holds one MetricRun per query of `syncPolicy.rollback.analysis`. Its semantics are
Argo Rollouts' AnalysisRun (analysis/analysis.go, utils/evaluate):
- A measurement is judged by the conditions: with both, success true is Successful, failure true
  is Failed, neither is Inconclusive; with only `successCondition`, false is Failed; with only
  `failureCondition`, false is Successful; with none, any answer is Successful. A condition that
  cannot be evaluated (an empty vector indexed), or a query that fails, is an Error.
- The first measurement is taken `initialDelay` after the start, then one every `interval`, and
  after an Error the next one `interval` later (10 s without an interval).
- A metric is Failed once more than `failureLimit` measurements failed, Inconclusive once more than
  `inconclusiveLimit` were inconclusive, Error once more than `consecutiveErrorLimit` errored in a
  row, and Successful once `count` measurements completed (errors do not count). Without `count`,
  one measurement completes it, or with an `interval` it runs until the window ends.
- The first metric to end Failed, Error or Inconclusive ends the whole run with that phase (Argo
  Rollouts terminates the others); otherwise it runs until every metric completed, Successful.

kubedrift adds the window: when it ends (`end`), a metric still running is Successful if what it
measured stayed within its limits, as Argo Rollouts assesses a terminated run, except that a metric
that never completed a measurement is Inconclusive, since nothing vouched for the revision.

Pure: times are numbers the caller passes in, and queries are the caller's (core.rollback_watch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from core.analysis_expr import ExprEvalError
from core.rollback_config import AnalysisMetric


class Phase(StrEnum):
    """Argo Rollouts' AnalysisPhase, for a measurement, a metric, and a whole run."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAILED = "Failed"

    @property
    def completed(self) -> bool:
        return self in _COMPLETED

    @property
    def bad(self) -> bool:
        """A completed phase that is not Successful: it ends the run."""
        return self in _BAD


_COMPLETED = frozenset({Phase.SUCCESSFUL, Phase.INCONCLUSIVE, Phase.ERROR, Phase.FAILED})
_BAD = frozenset({Phase.INCONCLUSIVE, Phase.ERROR, Phase.FAILED})
_WORSE_ORDER = (Phase.SUCCESSFUL, Phase.INCONCLUSIVE, Phase.ERROR, Phase.FAILED)
"""Argo Rollouts' order, best to worst, for the phase of a run whose metrics ended differently."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """One query's answer and its verdict."""

    phase: Phase
    at: float
    value: str = ""
    """The answer as Argo Rollouts shows it: `0.5` for a scalar, `[0.5,0.2]` for a vector."""
    message: str = ""


def judge(metric: AnalysisMetric, result: float | Sequence[float], at: float) -> Measurement:
    """The measurement of one answer of `metric`'s query (utils/evaluate's EvaluateResult)."""
    value = format_result(result)
    success = failure = False
    try:
        if metric.success_condition is not None:
            success = metric.success_condition.evaluate(result)
        if metric.failure_condition is not None:
            failure = metric.failure_condition.evaluate(result)
    except ExprEvalError as error:
        return Measurement(Phase.ERROR, at, value, f"{metric.name}: {error}")
    if metric.success_condition is None and metric.failure_condition is None:
        return Measurement(Phase.SUCCESSFUL, at, value)
    if metric.failure_condition is None:
        failure = not success
    elif metric.success_condition is None:
        success = not failure
    if failure:
        condition = metric.failure_condition or metric.success_condition
        assert condition is not None
        said = "is true" if metric.failure_condition is not None else "is false"
        return Measurement(Phase.FAILED, at, value, f"{metric.name} = {value}: {condition.text!r} {said}")
    if not success:
        return Measurement(Phase.INCONCLUSIVE, at, value, f"{metric.name} = {value}: neither condition holds")
    return Measurement(Phase.SUCCESSFUL, at, value)


def query_error(metric: AnalysisMetric, message: str, at: float) -> Measurement:
    """The measurement of a query that gave no answer."""
    return Measurement(Phase.ERROR, at, "", f"{metric.name}: {message}")


def format_result(result: float | Sequence[float]) -> str:
    if isinstance(result, int | float):
        return _number(float(result))
    return "[" + ",".join(_number(float(value)) for value in result) + "]"


def _many(count: int) -> str:
    return f"{count} measurement{'' if count == 1 else 's'}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class MetricRun:
    """One metric's measurements so far, counted as Argo Rollouts' MetricResult counts them."""

    metric: AnalysisMetric
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    last: Measurement | None = None
    phase: Phase = Phase.PENDING
    message: str = ""
    """Why the metric ended as it did, once it ended."""

    @property
    def count(self) -> int:
        """Completed measurements; errors are not counted, as in Argo Rollouts."""
        return self.successful + self.failed + self.inconclusive

    def next_at(self, started_at: float) -> float | None:
        """When the next measurement is due; None once the metric has completed."""
        if self.phase.completed:
            return None
        if self.last is None:
            return started_at + self.metric.initial_delay
        if self.last.phase is Phase.ERROR:
            return self.last.at + self.metric.retry_seconds
        wanted = self.metric.effective_count
        if (wanted is not None and self.count >= wanted) or self.metric.interval is None:
            return None
        return self.last.at + self.metric.interval

    def record(self, measurement: Measurement) -> MetricRun:
        counts = {
            Phase.SUCCESSFUL: "successful",
            Phase.FAILED: "failed",
            Phase.INCONCLUSIVE: "inconclusive",
            Phase.ERROR: "errors",
        }
        name = counts[measurement.phase]
        updated = replace(
            self,
            **{name: getattr(self, name) + 1},
            consecutive_errors=self.consecutive_errors + 1 if measurement.phase is Phase.ERROR else 0,
            last=measurement,
        )
        return updated.assessed(terminating=False)

    def assessed(self, *, terminating: bool) -> MetricRun:
        """This metric with its phase judged now (Argo Rollouts' assessMetricStatus)."""
        if self.phase.completed:
            return self
        metric = self.metric
        if self.failed > metric.failure_limit:
            return self._ended(
                Phase.FAILED,
                f"{_many(self.failed)} failed, more than failureLimit {metric.failure_limit}",
            )
        if self.inconclusive > metric.inconclusive_limit:
            return self._ended(
                Phase.INCONCLUSIVE,
                f"{_many(self.inconclusive)} inconclusive, more than inconclusiveLimit "
                f"{metric.inconclusive_limit}",
            )
        if self.consecutive_errors > metric.consecutive_error_limit:
            return self._ended(
                Phase.ERROR,
                f"{_many(self.consecutive_errors)} in a row errored, more than consecutiveErrorLimit "
                f"{metric.consecutive_error_limit}",
            )
        wanted = metric.effective_count
        if wanted is not None and self.count >= wanted:
            return self._ended(Phase.SUCCESSFUL, f"{self.count} of {_many(wanted)} within limits")
        if terminating:
            if self.count == 0:
                return self._ended(Phase.INCONCLUSIVE, "no measurement completed within the window")
            return self._ended(Phase.SUCCESSFUL, f"{_many(self.count)} within limits until the window ended")
        return replace(self, phase=Phase.RUNNING if self.last is not None else Phase.PENDING)

    def _ended(self, phase: Phase, why: str) -> MetricRun:
        last = self.last
        detail = ""
        if last is not None and phase is not Phase.SUCCESSFUL and last.message:
            detail = f"; last: {last.message.removeprefix(self.metric.name + ': ')}"
        return replace(self, phase=phase, message=f"{self.metric.name}: {why}{detail}")


@dataclass(frozen=True, slots=True)
class AnalysisRun:
    """The analysis of one revision: every metric's run, from the start of its window."""

    revision: str
    started_at: float
    metrics: tuple[MetricRun, ...]
    ended: bool = False
    """The window ended: no measurement is due any more, and running metrics were judged as they stood."""

    @classmethod
    def start(cls, metrics: Sequence[AnalysisMetric], revision: str, now: float) -> AnalysisRun:
        return cls(revision, now, tuple(MetricRun(metric) for metric in metrics))

    @property
    def phase(self) -> Phase:
        """Running until every metric completed, or one ended badly: then the worst of them."""
        phases = [run.phase for run in self.metrics]
        if any(phase.bad for phase in phases):
            return max((phase for phase in phases if phase.completed), key=_WORSE_ORDER.index)
        if all(phase.completed for phase in phases):
            return Phase.SUCCESSFUL
        return Phase.RUNNING

    @property
    def message(self) -> str:
        """Why the run stands as it does: the worst metric's reason once it ended."""
        phase = self.phase
        if phase is Phase.RUNNING:
            done = sum(1 for run in self.metrics if run.phase.completed)
            measured = sum(run.count for run in self.metrics)
            return f"analysis running: {_many(measured)}, {done} of {len(self.metrics)} queries done"
        reasons = [run.message for run in self.metrics if run.phase is phase and run.message]
        return "; ".join(reasons) if reasons else f"analysis {phase.lower()}"

    def due(self, now: float) -> tuple[AnalysisMetric, ...]:
        """The metrics whose next measurement is due at `now`; none once the run ended."""
        if self.ended or self.phase.completed:
            return ()
        return tuple(
            run.metric
            for run in self.metrics
            if (at := run.next_at(self.started_at)) is not None and at <= now
        )

    def next_at(self) -> float | None:
        """When the next measurement is due; None when none will be."""
        if self.ended or self.phase.completed:
            return None
        times = [at for run in self.metrics if (at := run.next_at(self.started_at)) is not None]
        return min(times, default=None)

    def record(self, name: str, measurement: Measurement) -> AnalysisRun:
        """The run with `measurement` counted for the metric `name` (ignored once the run ended)."""
        if self.ended or self.phase.completed:
            return self
        runs = tuple(run.record(measurement) if run.metric.name == name else run for run in self.metrics)
        return replace(self, metrics=runs)

    def end(self) -> AnalysisRun:
        """The window is over: every metric still running is judged on what it measured."""
        if self.ended:
            return self
        runs = tuple(run.assessed(terminating=True) for run in self.metrics)
        return replace(self, metrics=runs, ended=True)
