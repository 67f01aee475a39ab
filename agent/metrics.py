"""The agent's Prometheus metrics: the `kubedrift_*` names of the agent contract, on a registry of
their own (never prometheus-client's global one, so that tests can build as many as they like).

- What each app and cluster is now (`kubedrift_app_*`, `kubedrift_cluster_connected`,
  `kubedrift_self_heal_retrying`, `kubedrift_agent_info`, `kubedrift_app_lease_held`) is read from
  the engine at scrape time by `EngineCollector`: it is always what the engine holds, and costs
  nothing between scrapes. A status-like gauge has one series per possible value, 1 for the current
  one and 0 for the others, so a series never vanishes and an alert's `for:` keeps counting.
- What happened (`kubedrift_syncs_total`, `kubedrift_self_heals_total`,
  `kubedrift_watch_reconnects_total`, `kubedrift_event_to_status_seconds`) is counted as the engine
  tells its observer (core.engine_observer): building `AgentMetrics` makes it the engine's observer.
- `kubedrift_app_drift_age_seconds`: since when an app is OutOfSync, noted from the published
  AppStatusChange that made it so, or by the first scrape that sees it OutOfSync.

`exposition()` reads the engine's state: call it on the engine's loop (the agent's /metrics handler
runs there). The counters may be moved from other threads; prometheus-client locks them.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from core.engine_observer import SyncTrigger
from core.model import AppSync, Health, SyncStatus
from core.status_events import AppStatusChange, StatusChange

if TYPE_CHECKING:
    from core.engine import Engine

CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""Prometheus's text format 0.0.4, which every Prometheus 2 and 3 reads."""
SYNC_STATUSES: Final = tuple(str(value) for value in AppSync)
HEALTH_STATUSES: Final = tuple(str(value) for value in Health)
RESOURCE_STATUSES: Final = tuple(str(value) for value in SyncStatus)
EVENT_SECONDS_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Around the budget of a cluster change reaching the model (DESIGN "Budgets": p95 <= 50 ms)."""


def _result(succeeded: bool) -> str:
    return "succeeded" if succeeded else "failed"


class AgentMetrics:
    """The agent's metrics over one engine; it becomes that engine's observer."""

    def __init__(
        self,
        engine: Engine,
        *,
        identity: str,
        shard: str | None,
        read_only: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.shard = "" if shard is None else str(shard)
        self.read_only = read_only
        self.held_apps: Callable[[], Collection[str]] | None = None
        """The apps whose Lease this agent holds (the sharding coordinator's `held_apps`); with it and
        writes allowed, `kubedrift_app_lease_held` is exported."""
        self._clock = clock
        self._out_of_sync_since: dict[str, float] = {}
        self._retrying: set[str] = set()
        self._connected: dict[str, bool] = {}
        self.registry = CollectorRegistry()
        self._syncs = Counter(
            "kubedrift_syncs",
            "Syncs that ran, by what started them (manual, auto, self-heal, rollback) and how they ended.",
            ("app", "cluster", "trigger", "result"),
            registry=self.registry,
        )
        self._self_heals = Counter(
            "kubedrift_self_heals",
            "Self-heal attempts: drifted resources re-applied without a person, by how they ended.",
            ("app", "cluster", "result"),
            registry=self.registry,
        )
        self._reconnects = Counter(
            "kubedrift_watch_reconnects",
            "Watch streams opened again after one broke or failed (a quiet stream renewed is not counted).",
            ("cluster",),
            registry=self.registry,
        )
        self._event_seconds = Histogram(
            "kubedrift_event_to_status_seconds",
            "Seconds from a cluster watch event's arrival at the engine to the statuses it changed computed.",
            buckets=EVENT_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(EngineCollector(self))
        engine.observer = self

    # What the engine publishes (the agent calls this with every batch).

    def publish(self, changes: list[StatusChange]) -> None:
        """Note when each app became OutOfSync, for its drift age."""
        for change in changes:
            if not isinstance(change, AppStatusChange):
                continue
            if change.sync is AppSync.OUT_OF_SYNC:
                self._out_of_sync_since.setdefault(change.app, self._clock())
            else:
                self._out_of_sync_since.pop(change.app, None)

    # The engine's observer (core.engine_observer.EngineObserver).

    def sync_finished(self, app: str, trigger: SyncTrigger, succeeded: bool) -> None:
        self._syncs.labels(app, self._cluster_of(app), str(trigger), _result(succeeded)).inc()

    def self_heal_finished(self, app: str, succeeded: bool) -> None:
        self._self_heals.labels(app, self._cluster_of(app), _result(succeeded)).inc()

    def self_heal_backoff_started(self, app: str) -> None:
        self._retrying.add(app)

    def self_heal_backoff_ended(self, app: str) -> None:
        self._retrying.discard(app)

    def watch_reconnected(self, context: str) -> None:
        self._reconnects.labels(context).inc()

    def cluster_connected(self, context: str) -> None:
        self._connected[context] = True

    def cluster_disconnected(self, context: str) -> None:
        self._connected[context] = False

    def events_handled(self, seconds: Sequence[float]) -> None:
        for value in seconds:
            self._event_seconds.observe(value)

    # The exposition.

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type; on the engine's loop."""
        for context in self.engine.clusters:
            self._reconnects.labels(context)  # 0 from the start, so that increase() sees the first one
        return generate_latest(self.registry), CONTENT_TYPE

    def _cluster_of(self, app: str) -> str:
        runtime = self.engine.apps.get(app)
        return "" if runtime is None or runtime.context is None else runtime.context

    def drift_age(self, app: str, out_of_sync: bool, now: float) -> float:
        """Seconds `app` has been OutOfSync at `now`; 0 when it is not."""
        if not out_of_sync:
            self._out_of_sync_since.pop(app, None)
            return 0.0
        return max(0.0, now - self._out_of_sync_since.setdefault(app, now))

    def connected(self, context: str) -> bool:
        """What the engine last said of the cluster's watches; before it said anything, whether the
        cluster could be reached at all."""
        known = self._connected.get(context)
        if known is not None:
            return known
        cluster = self.engine.clusters.get(context)
        return cluster is not None and cluster.adapter is not None and cluster.error is None

    def retrying(self, app: str) -> bool:
        return app in self._retrying

    def forget_apps_except(self, apps: Collection[str]) -> None:
        """Drop what is remembered of apps the engine no longer has (they moved to another shard)."""
        for app in [app for app in self._out_of_sync_since if app not in apps]:
            del self._out_of_sync_since[app]
        self._retrying.intersection_update(apps)


class EngineCollector:
    """The gauges read from the engine at scrape time."""

    def __init__(self, metrics: AgentMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        """The names, so that the registry refuses a second collector of them."""
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        metrics, engine = self._metrics, self._metrics.engine
        info, sync, health, resources, drift_age, retrying, connected, agent, lease = families
        now = self._metrics._clock()
        for name, runtime in engine.apps.items():
            cluster = runtime.context or ""
            revision = runtime.desired.revision or ""
            info.add_metric([name, cluster, runtime.app.destination.namespace, revision], 1)
            app_sync, app_health = str(runtime.reconciler.sync), str(runtime.reconciler.health)
            for value in SYNC_STATUSES:
                sync.add_metric([name, cluster, value], 1 if value == app_sync else 0)
            for value in HEALTH_STATUSES:
                health.add_metric([name, cluster, value], 1 if value == app_health else 0)
            counts = Tally(str(result.status) for result in runtime.reconciler.results.values())
            for value in RESOURCE_STATUSES:
                resources.add_metric([name, cluster, value], counts[value])
            out_of_sync = runtime.reconciler.sync is AppSync.OUT_OF_SYNC
            drift_age.add_metric([name, cluster], metrics.drift_age(name, out_of_sync, now))
            retrying.add_metric([name, cluster], 1 if metrics.retrying(name) else 0)
        metrics.forget_apps_except(engine.apps.keys())
        for context in engine.clusters:
            connected.add_metric([context], 1 if metrics.connected(context) else 0)
        agent.add_metric([metrics.identity, metrics.shard, str(metrics.read_only).lower()], 1)
        held_apps = metrics.held_apps
        if not metrics.read_only and held_apps is not None:
            held = set(held_apps())
            for name in engine.apps:
                lease.add_metric([name], 1 if name in held else 0)
        yield from families

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        app, cluster = "app", "cluster"
        return (
            GaugeMetricFamily(
                "kubedrift_app_info",
                "One series per app, 1: its cluster (kubeconfig context), namespace and Git revision.",
                labels=[app, cluster, "namespace", "revision"],
            ),
            GaugeMetricFamily(
                "kubedrift_app_sync_status",
                "The app's sync status: 1 for the current one of Synced/OutOfSync/Unknown, 0 for the others.",
                labels=[app, cluster, "sync_status"],
            ),
            GaugeMetricFamily(
                "kubedrift_app_health_status",
                "The app's health: 1 for the current one, 0 for the others.",
                labels=[app, cluster, "health_status"],
            ),
            GaugeMetricFamily(
                "kubedrift_app_resources",
                "The app's resources per sync status.",
                labels=[app, cluster, "status"],
            ),
            GaugeMetricFamily(
                "kubedrift_app_drift_age_seconds",
                "Seconds since the app became OutOfSync; 0 when it is not.",
                labels=[app, cluster],
            ),
            GaugeMetricFamily(
                "kubedrift_self_heal_retrying",
                "1 while self-heal waits out its backoff after an attempt that did not hold, else 0.",
                labels=[app, cluster],
            ),
            GaugeMetricFamily(
                "kubedrift_cluster_connected",
                "1 while the cluster's watches are up, else 0 (unreachable, or the server failing them).",
                labels=[cluster],
            ),
            GaugeMetricFamily(
                "kubedrift_agent_info",
                "1: this agent's Lease identity, shard (I/N, empty without one) and whether it is read-only.",
                labels=["identity", "shard", "read_only"],
            ),
            GaugeMetricFamily(
                "kubedrift_app_lease_held",
                "1 while this agent holds the app's Lease (only with writes allowed), else 0.",
                labels=[app],
            ),
        )
