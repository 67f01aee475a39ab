"""The analysis state machine: measurements judged and counted as Argo Rollouts' AnalysisRun does."""

from __future__ import annotations

import math

from core.analysis import AnalysisRun, Measurement, MetricRun, Phase, judge, query_error
from core.analysis_expr import Condition
from core.rollback_config import AnalysisMetric, PrometheusProvider

PROMETHEUS = PrometheusProvider("http://prometheus:9090")


def metric(
    name: str = "errors",
    *,
    success: str | None = "result[0] < 0.05",
    failure: str | None = None,
    **fields: object,
) -> AnalysisMetric:
    return AnalysisMetric(
        name=name,
        query="ratio",
        prometheus=PROMETHEUS,
        success_condition=Condition.parse(success) if success else None,
        failure_condition=Condition.parse(failure) if failure else None,
        **fields,  # type: ignore[arg-type]
    )


def test_judging_follows_evaluate_result() -> None:
    only_success = metric()
    assert judge(only_success, [0.01], 0).phase is Phase.SUCCESSFUL
    failed = judge(only_success, [0.5], 0)
    assert failed.phase is Phase.FAILED and failed.value == "[0.5]"
    assert failed.message == "errors = [0.5]: 'result[0] < 0.05' is false"

    only_failure = metric(success=None, failure="result[0] > 0.1")
    assert judge(only_failure, [0.05], 0).phase is Phase.SUCCESSFUL
    assert judge(only_failure, [0.5], 0).phase is Phase.FAILED

    both = metric(success="result[0] < 0.05", failure="result[0] > 0.1")
    assert judge(both, [0.01], 0).phase is Phase.SUCCESSFUL
    assert judge(both, [0.5], 0).phase is Phase.FAILED
    between = judge(both, [0.07], 0)
    assert between.phase is Phase.INCONCLUSIVE and "neither condition holds" in between.message

    assert judge(metric(success=None), [123.0], 0).phase is Phase.SUCCESSFUL, "no condition: any answer"


def test_a_condition_that_cannot_be_evaluated_is_an_error_measurement() -> None:
    measured = judge(metric(), [], 3.0)
    assert (measured.phase, measured.value, measured.at) == (Phase.ERROR, "[]", 3.0)
    assert "index 0 out of range" in measured.message
    assert judge(metric(success="result < 1"), 0.5, 0).value == "0.5"
    assert judge(metric(success="isNaN(result[0])"), [math.nan, math.inf], 0).value == "[NaN,+Inf]"


def record(run: MetricRun, *phases: Phase, start: float = 0.0) -> MetricRun:
    for offset, phase in enumerate(phases):
        run = run.record(Measurement(phase, start + offset))
    return run


def test_failure_limit_is_exceeded_not_reached() -> None:
    run = record(MetricRun(metric(interval=1.0, failure_limit=1)), Phase.FAILED)
    assert run.phase is Phase.RUNNING and run.failed == 1
    run = record(run, Phase.SUCCESSFUL, Phase.FAILED, start=1)
    assert run.phase is Phase.FAILED
    assert run.message == "errors: 2 measurements failed, more than failureLimit 1"


def test_failure_limit_zero_fails_on_the_first_failure() -> None:
    run = record(MetricRun(metric(interval=1.0)), Phase.SUCCESSFUL, Phase.FAILED)
    assert run.phase is Phase.FAILED


def test_inconclusive_measurements_count_against_their_own_limit() -> None:
    run = record(MetricRun(metric(interval=1.0, inconclusive_limit=1)), Phase.INCONCLUSIVE)
    assert run.phase is Phase.RUNNING
    run = record(run, Phase.INCONCLUSIVE, start=1)
    assert run.phase is Phase.INCONCLUSIVE and "more than inconclusiveLimit 1" in run.message


def test_errors_in_a_row_beyond_the_limit_make_an_error_and_a_completed_measurement_resets_them() -> None:
    run = record(MetricRun(metric(interval=1.0, consecutive_error_limit=2)), Phase.ERROR, Phase.ERROR)
    run = record(run, Phase.SUCCESSFUL, Phase.ERROR, Phase.ERROR, start=2)
    assert run.phase is Phase.RUNNING and run.consecutive_errors == 2 and run.errors == 4
    run = record(run, Phase.ERROR, start=5)
    assert run.phase is Phase.ERROR and "3 measurements in a row errored" in run.message
    assert run.count == 1, "errors are not counted as measurements"


def test_count_completes_the_metric_and_errors_do_not_count() -> None:
    run = record(MetricRun(metric(interval=1.0, count=2, failure_limit=1)), Phase.FAILED, Phase.ERROR)
    assert run.phase is Phase.RUNNING
    run = record(run, Phase.SUCCESSFUL, start=2)
    assert run.phase is Phase.SUCCESSFUL, "one failure is within failureLimit 1"


def test_without_interval_or_count_one_measurement_completes_it() -> None:
    run = MetricRun(metric())
    assert run.next_at(10.0) == 10.0
    run = record(run, Phase.SUCCESSFUL, start=10)
    assert run.phase is Phase.SUCCESSFUL and run.next_at(10.0) is None


def test_scheduling_initial_delay_interval_and_error_retry() -> None:
    run = MetricRun(metric(interval=30.0, initial_delay=5.0))
    assert run.next_at(100.0) == 105.0
    run = run.record(Measurement(Phase.SUCCESSFUL, 105.0))
    assert run.next_at(100.0) == 135.0
    run = run.record(Measurement(Phase.ERROR, 135.0))
    assert run.next_at(100.0) == 165.0, "retried one interval later"
    once = MetricRun(metric()).record(Measurement(Phase.ERROR, 7.0))
    assert once.next_at(0.0) == 17.0, "without an interval, Argo Rollouts retries after 10 s"


def test_a_run_is_running_until_every_metric_completes_then_successful() -> None:
    run = AnalysisRun.start([metric("a"), metric("b")], "sha", 0.0)
    assert run.phase is Phase.RUNNING
    assert [m.name for m in run.due(0.0)] == ["a", "b"]
    run = run.record("a", Measurement(Phase.SUCCESSFUL, 0.5))
    assert run.phase is Phase.RUNNING and [m.name for m in run.due(1.0)] == ["b"]
    run = run.record("b", Measurement(Phase.SUCCESSFUL, 0.6))
    assert run.phase is Phase.SUCCESSFUL and run.due(100.0) == () and run.next_at() is None


def test_the_first_metric_to_fail_ends_the_run_with_the_worst_phase() -> None:
    run = AnalysisRun.start([metric("a", interval=1.0), metric("b", interval=1.0)], "sha", 0.0)
    run = run.record("a", Measurement(Phase.FAILED, 0.1, "[0.5]", "a = [0.5]: 'result[0] < 0.05' is false"))
    assert run.phase is Phase.FAILED
    assert run.message == (
        "a: 1 measurement failed, more than failureLimit 0; last: a = [0.5]: 'result[0] < 0.05' is false"
    )
    assert run.due(5.0) == (), "no more measurements once it ended"
    assert run.record("b", Measurement(Phase.SUCCESSFUL, 1.0)) is run


def test_the_window_ending_judges_running_metrics_on_what_they_measured() -> None:
    metrics = [metric("a", interval=1.0, failure_limit=2), metric("b", interval=60.0)]
    run = AnalysisRun.start(metrics, "sha", 0.0)
    run = run.record("a", Measurement(Phase.FAILED, 0.0)).record("a", Measurement(Phase.SUCCESSFUL, 1.0))
    run = run.record("b", Measurement(Phase.SUCCESSFUL, 0.0))
    ended = run.end()
    assert ended.ended and ended.phase is Phase.SUCCESSFUL and ended.due(99.0) == ()


def test_a_metric_that_never_completed_a_measurement_is_inconclusive_at_the_window_end() -> None:
    run = AnalysisRun.start([metric("slow", interval=1.0, initial_delay=600.0)], "sha", 0.0)
    ended = run.end()
    assert ended.phase is Phase.INCONCLUSIVE
    assert ended.message == "slow: no measurement completed within the window"
    errored = AnalysisRun.start([metric("down", interval=1.0)], "sha", 0.0)
    errored = errored.record("down", query_error(metric("down"), "cannot reach Prometheus", 0.0))
    assert errored.end().phase is Phase.INCONCLUSIVE


def test_a_run_without_metrics_is_successful() -> None:
    assert AnalysisRun.start([], "sha", 0.0).phase is Phase.SUCCESSFUL
