"""`syncPolicy.rollback`: when kubedrift syncs an app back to its last good revision, read from YAML.

```yaml
syncPolicy:
  automated: {}
  rollback:
    onDegraded: true              # a new revision that leaves the app Degraded is rolled back
    window: 10m                   # how long after a sync of a new revision to watch it (default 10m)
    prometheus: {address: http://prometheus.monitoring:9090}   # for every query below
    analysis:                     # Argo Rollouts' AnalysisTemplate `metrics`, Prometheus provider
      - name: error-rate
        query: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))
        successCondition: result[0] < 0.01
        interval: 30s
        failureLimit: 1
```

Each analysis entry takes the metric fields of an Argo Rollouts AnalysisTemplate, with their
meaning (core.analysis): `name`, `successCondition`, `failureCondition`, `interval`, `initialDelay`,
`count`, `failureLimit`, `inconclusiveLimit`, `consecutiveErrorLimit`. The query is `query` with an
optional `prometheus: {address, timeout}` of its own, or Argo Rollouts' own
`provider: {prometheus: {address, query, timeout}}`, so a metric copied from a template reads as is.
Durations are Go durations (`30s`, `5m`, `1h30m`), or a plain number of seconds as Argo Rollouts
reads them. Conditions are parsed here (core.analysis_expr), so a bad one is a config error naming
its file and line, never a surprise at the first measurement.

The values are plain frozen dataclasses; the reader is given a YamlField and imports nothing else
for it, so `core.model` can hold a RollbackPolicy without loading any YAML machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from core.analysis_expr import Condition, ExprSyntaxError

if TYPE_CHECKING:
    from core.config_yaml import YamlField

DEFAULT_WINDOW_SECONDS: Final = 600.0
DEFAULT_QUERY_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_CONSECUTIVE_ERROR_LIMIT: Final = 4
"""Argo Rollouts' default: the fifth error in a row makes the metric an Error."""
ERROR_RETRY_SECONDS: Final = 10.0
"""Argo Rollouts' wait before retrying a measurement that errored, for a metric without an interval."""

_ROLLBACK_KEYS = ("onDegraded", "window", "prometheus", "analysis")
_METRIC_KEYS = (
    "name",
    "query",
    "prometheus",
    "provider",
    "successCondition",
    "failureCondition",
    "interval",
    "initialDelay",
    "count",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
)
_PROMETHEUS_KEYS = ("address", "timeout")
_PROVIDER_PROMETHEUS_KEYS = ("address", "query", "timeout")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


@dataclass(frozen=True, slots=True)
class PrometheusProvider:
    """Where a query is sent: Argo Rollouts' `provider.prometheus.address` and `timeout` (seconds)."""

    address: str
    timeout: float = DEFAULT_QUERY_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class AnalysisMetric:
    """One query and how its measurements are judged, as an Argo Rollouts AnalysisTemplate metric."""

    name: str
    query: str
    prometheus: PrometheusProvider
    success_condition: Condition | None = None
    failure_condition: Condition | None = None
    interval: float | None = None
    """Seconds between measurements; None: one measurement (unless `count` says more)."""
    initial_delay: float = 0.0
    count: int | None = None
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT

    @property
    def effective_count(self) -> int | None:
        """How many measurements complete the metric; None: it runs until the window ends (an
        interval without a count). Without either, one measurement, as in Argo Rollouts."""
        if self.count is not None:
            return self.count
        return None if self.interval is not None else 1

    @property
    def retry_seconds(self) -> float:
        """The wait before the next measurement after one that errored."""
        return self.interval if self.interval is not None else ERROR_RETRY_SECONDS


@dataclass(frozen=True, slots=True)
class RollbackPolicy:
    """`syncPolicy.rollback`: what makes a newly synced revision bad, and for how long to watch it."""

    on_degraded: bool = False
    window: float = DEFAULT_WINDOW_SECONDS
    """Seconds after a sync of a new revision during which it may be rolled back."""
    analysis: tuple[AnalysisMetric, ...] = ()


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (`30s`, `1m30s`, `1.5h`, `250ms`), or a plain whole number of seconds
    as Argo Rollouts reads one; raises ValueError for anything else, or a negative duration."""
    value = text.strip()
    if value.isdigit():
        return float(value)
    if value in ("0", "+0"):
        return 0.0
    if value.startswith("-"):
        raise ValueError(f"{text!r} is negative; a duration here must be positive")
    body = value.removeprefix("+")
    position, total = 0, 0.0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not body or position != len(body):
        raise ValueError(
            f"{text!r} is not a duration; write it as Go does, a number and a unit (ms, s, m, h), "
            "for example 30s, 5m or 1h30m"
        )
    return total


def read_rollback_policy(rollback: YamlField, *, strict: bool) -> RollbackPolicy:
    """`syncPolicy.rollback`; `strict` (kubedrift.yaml) refuses unknown keys, as for every app key.

    A bad value is one ConfigError naming the file, the line and the field."""
    rollback.mapping(_ROLLBACK_KEYS if strict else None)
    window_field = rollback.optional("window")
    window = _duration(window_field) if window_field is not None else DEFAULT_WINDOW_SECONDS
    if window_field is not None and window <= 0:
        raise window_field.fail("the window must be longer than zero, for example 10m")
    shared = _read_prometheus(rollback.optional("prometheus"), strict=strict, keys=_PROMETHEUS_KEYS)
    metrics: list[AnalysisMetric] = []
    analysis = rollback.optional("analysis")
    for entry in analysis.items() if analysis is not None else ():
        metric = _read_metric(entry, shared, strict=strict)
        if any(known.name == metric.name for known in metrics):
            raise entry.required("name").fail(
                f"duplicate analysis name {metric.name!r}: give each query its own name"
            )
        metrics.append(metric)
    on_degraded = rollback.optional_boolean("onDegraded", default=False)
    if not on_degraded and not metrics:
        raise rollback.fail(
            "a rollback needs something to watch: set onDegraded: true, or list Prometheus queries under "
            "analysis"
        )
    return RollbackPolicy(on_degraded=on_degraded, window=window, analysis=tuple(metrics))


def _read_metric(entry: YamlField, shared: PrometheusProvider | None, *, strict: bool) -> AnalysisMetric:
    entry.mapping(_METRIC_KEYS if strict else None)
    name = entry.required("name").string()
    own = _read_prometheus(entry.optional("prometheus"), strict=strict, keys=_PROMETHEUS_KEYS)
    query_field = entry.optional("query")
    provider = entry.optional("provider")
    if provider is not None:
        # Argo Rollouts' own shape: provider.prometheus.{address, query, timeout}.
        provider.mapping(("prometheus",) if strict else None)
        from_template = provider.required("prometheus")
        if query_field is not None or own is not None:
            raise provider.fail(
                "give the query either as query/prometheus or as provider.prometheus, not both"
            )
        own = _read_prometheus(from_template, strict=strict, keys=_PROVIDER_PROMETHEUS_KEYS, shared=shared)
        query_field = from_template.required("query")
    if query_field is None:
        raise entry.fail(f"analysis {name!r} has no query: add query: <PromQL>")
    query = query_field.string()
    prometheus = own or shared
    if prometheus is None:
        raise entry.fail(
            f"analysis {name!r} has no Prometheus to ask: add prometheus: {{address: http://HOST:9090}} "
            "to it, or once beside analysis"
        )
    interval = _optional_duration(entry, "interval")
    if interval is not None and interval <= 0:
        raise entry.required("interval").fail("the interval must be longer than zero, for example 30s")
    count = _optional_count(entry, "count", minimum=1)
    if count is not None and count > 1 and interval is None:
        raise entry.required("count").fail(
            f"count {count} needs an interval between measurements, for example 30s"
        )
    return AnalysisMetric(
        name=name,
        query=query,
        prometheus=prometheus,
        success_condition=_condition(entry, "successCondition"),
        failure_condition=_condition(entry, "failureCondition"),
        interval=interval,
        initial_delay=_optional_duration(entry, "initialDelay") or 0.0,
        count=count,
        failure_limit=_optional_count(entry, "failureLimit", minimum=0) or 0,
        inconclusive_limit=_optional_count(entry, "inconclusiveLimit", minimum=0) or 0,
        consecutive_error_limit=_count_or(entry, "consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT),
    )


def _read_prometheus(
    field: YamlField | None,
    *,
    strict: bool,
    keys: tuple[str, ...],
    shared: PrometheusProvider | None = None,
) -> PrometheusProvider | None:
    if field is None:
        return None
    field.mapping(keys if strict else None)
    address_field = field.optional("address")
    if address_field is None:
        if shared is None:
            raise field.fail("missing required key 'address' (the Prometheus URL, http://HOST:9090)")
        address = shared.address
    else:
        address = address_field.string().rstrip("/")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise address_field.fail(f"{address!r} is not an http(s) URL; write it as http://HOST:9090")
    timeout = shared.timeout if shared is not None else DEFAULT_QUERY_TIMEOUT_SECONDS
    timeout_field = field.optional("timeout")
    if timeout_field is not None:
        # Argo Rollouts gives the timeout in whole seconds; a Go duration reads too.
        timeout = _duration(timeout_field)
        if timeout <= 0:
            raise timeout_field.fail("the timeout must be longer than zero, for example 10 (seconds)")
    return PrometheusProvider(address=address, timeout=timeout)


def _condition(entry: YamlField, key: str) -> Condition | None:
    field = entry.optional(key)
    if field is None:
        return None
    try:
        return Condition.parse(field.string())
    except ExprSyntaxError as error:
        raise field.fail(str(error)) from None


def _duration(field: YamlField) -> float:
    value = field.value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise field.fail(f"{value} is negative; a duration here must be positive")
        return float(value)
    try:
        return parse_go_duration(field.string())
    except ValueError as error:
        raise field.fail(str(error)) from None


def _optional_duration(entry: YamlField, key: str) -> float | None:
    field = entry.optional(key)
    return None if field is None else _duration(field)


def _optional_count(entry: YamlField, key: str, *, minimum: int) -> int | None:
    field = entry.optional(key)
    if field is None:
        return None
    value = field.value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # Argo Rollouts' IntOrString: "3" reads as 3
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise field.fail(f"expected a whole number of at least {minimum}, got {value!r}")
    return value


def _count_or(entry: YamlField, key: str, default: int) -> int:
    found = _optional_count(entry, key, minimum=0)
    return default if found is None else found


def read_rollback(sync_policy: YamlField, *, strict: bool) -> RollbackPolicy | None:
    """`syncPolicy.rollback`, or None when the app has none (core.argocd_apps reads the rest)."""
    rollback = sync_policy.optional("rollback")
    return None if rollback is None else read_rollback_policy(rollback, strict=strict)
