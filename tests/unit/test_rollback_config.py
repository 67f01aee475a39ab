"""`syncPolicy.rollback` read from kubedrift.yaml (strict) and Argo CD Applications (lenient)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.rollback_config import DEFAULT_WINDOW_SECONDS, parse_go_duration
from core.rollback_config import RollbackPolicy as Policy


def config_with(tmp_path: Path, rollback: str) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    path = tmp_path / "kubedrift.yaml"
    path.write_text(
        "apps:\n"
        "  - name: web\n"
        "    source: {repoURL: ./app, targetRevision: ''}\n"
        "    syncPolicy:\n"
        "      automated: {}\n"
        "      rollback:\n" + "".join(f"        {line}\n" for line in rollback.strip("\n").splitlines())
    )
    return path


def policy_of(path: Path) -> Policy:
    policy = load_config(path).apps[0].sync_policy.rollback
    assert policy is not None
    return policy


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("90", 90.0),  # a plain number is seconds, as Argo Rollouts reads it
        ("0", 0.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h 30m", "five minutes"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration; write it as Go does"):
        parse_go_duration(text)


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="is negative"):
        parse_go_duration("-5s")


def test_a_full_policy_reads_as_argo_rollouts_metrics(tmp_path: Path) -> None:
    policy = policy_of(
        config_with(
            tmp_path,
            """
onDegraded: true
window: 15m
prometheus: {address: "http://prometheus.monitoring:9090/"}
analysis:
  - name: error-rate
    query: sum(rate(errors[1m]))
    successCondition: result[0] < 0.01
    interval: 30s
    count: 5
    failureLimit: 1
    initialDelay: 1m
  - name: latency
    prometheus: {address: "http://other:9090", timeout: 3}
    query: histogram_quantile(0.99, x)
    failureCondition: result[0] > 0.5
    inconclusiveLimit: "2"
    consecutiveErrorLimit: 0
  - name: from-a-template
    provider: {prometheus: {query: up, timeout: 2s}}
""",
        )
    )
    assert policy.on_degraded and policy.window == 900.0
    errors, latency, template = policy.analysis
    assert errors.prometheus.address == "http://prometheus.monitoring:9090"
    assert (errors.interval, errors.count, errors.failure_limit, errors.initial_delay) == (30.0, 5, 1, 60.0)
    assert errors.success_condition is not None and errors.success_condition.evaluate([0.001])
    assert (latency.prometheus.address, latency.prometheus.timeout) == ("http://other:9090", 3.0)
    assert (latency.inconclusive_limit, latency.consecutive_error_limit) == (2, 0)
    assert latency.success_condition is None and latency.failure_condition is not None
    assert (template.query, template.prometheus.address, template.prometheus.timeout) == (
        "up",
        "http://prometheus.monitoring:9090",
        2.0,
    )
    assert template.effective_count == 1, "no interval, no count: one measurement"
    assert errors.effective_count == 5 and latency.effective_count == 1


def test_defaults(tmp_path: Path) -> None:
    policy = policy_of(config_with(tmp_path, "onDegraded: true"))
    assert policy == Policy(on_degraded=True, window=DEFAULT_WINDOW_SECONDS, analysis=())


@pytest.mark.parametrize(
    ("rollback", "line", "field", "said"),
    [
        ("onDegraded: true\nwindw: 5m", 8, "rollback", "unknown key 'windw'; allowed keys are onDegraded"),
        ("onDegraded: true\nwindow: soon", 8, "rollback.window", "'soon' is not a duration"),
        ("onDegraded: true\nwindow: 0s", 8, "rollback.window", "must be longer than zero"),
        ("window: 5m", 7, "rollback", "a rollback needs something to watch"),
        (
            "analysis:\n  - {name: e, query: x, successCondition: 'result[0] <> 1', prometheus: {address: 'http://p'}}",
            8,
            "rollback.analysis[0].successCondition",
            "at `>` (position 12) in 'result[0] <> 1'",
        ),
        ("analysis:\n  - {name: e, query: x}", 8, "rollback.analysis[0]", "has no Prometheus to ask"),
        (
            "prometheus: {address: 'prometheus:9090'}\nanalysis: [{name: e, query: x}]",
            7,
            "rollback.prometheus.address",
            "is not an http(s) URL",
        ),
        (
            "prometheus: {address: 'http://p'}\nanalysis: [{name: e}]",
            8,
            "rollback.analysis[0]",
            "has no query",
        ),
        (
            "prometheus: {address: 'http://p'}\nanalysis: [{name: e, query: x, count: 3}]",
            8,
            "rollback.analysis[0].count",
            "count 3 needs an interval",
        ),
        (
            "prometheus: {address: 'http://p'}\nanalysis: [{name: e, query: x, failureLimit: -1}]",
            8,
            "rollback.analysis[0].failureLimit",
            "expected a whole number of at least 0",
        ),
        (
            "prometheus: {address: 'http://p'}\nanalysis: [{name: e, query: x}, {name: e, query: z}]",
            8,
            "rollback.analysis[1].name",
            "duplicate analysis name 'e'",
        ),
        (
            "prometheus: {address: 'http://p'}\n"
            "analysis: [{name: e, query: x, provider: {prometheus: {query: z}}}]",
            8,
            "rollback.analysis[0].provider",
            "not both",
        ),
    ],
)
def test_each_mistake_is_one_error_naming_file_line_and_field(
    tmp_path: Path, rollback: str, line: int, field: str, said: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(config_with(tmp_path, rollback))
    error = raised.value
    assert (error.line, error.field) == (line, f"apps[0].syncPolicy.{field}")
    assert said in error.message and "\n" not in str(error)


def test_an_argo_cd_application_is_read_leniently(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "web.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\n"
        "kind: Application\n"
        "metadata: {name: web}\n"
        "spec:\n"
        "  source: {repoURL: ../repo, path: web}\n"
        "  syncPolicy:\n"
        "    automated: {}\n"
        "    rollback:\n"
        "      onDegraded: true\n"
        "      note: kept by another tool\n"
        "      window: 2m\n"
    )
    (tmp_path / "repo").mkdir()
    (tmp_path / "kubedrift.yaml").write_text("apps:\n  - include: apps/\n")
    policy = load_config(tmp_path / "kubedrift.yaml").apps[0].sync_policy.rollback
    assert policy == Policy(on_degraded=True, window=120.0)
