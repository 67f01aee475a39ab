"""The agent's metrics over a real engine's state: every name of the agent contract, with its labels
and values, read at scrape time; the counters and the histogram moved by the engine's observer calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.metrics import CONTENT_TYPE, AgentMetrics
from core.api_resources import ApiResource, Discovery
from core.cluster import ApiError, ListPage
from core.config import Config
from core.engine import Engine
from core.engine_observer import NO_OBSERVER, SyncTrigger, report_sync
from core.kind_watch import KindState, Relisted
from core.kubeconfig import Kubeconfig
from core.model import App, AppSync, Destination, Health, ResourceKey, Source, SyncPolicy
from core.status_events import AppStatusChange

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch", "get"}))
THEME = ResourceKey("", "ConfigMap", "blog", "theme")
MENU = ResourceKey("", "ConfigMap", "blog", "menu")
CONTRACT_LABELS = {
    "kubedrift_app_info": {"app", "cluster", "namespace", "revision"},
    "kubedrift_app_sync_status": {"app", "cluster", "sync_status"},
    "kubedrift_app_health_status": {"app", "cluster", "health_status"},
    "kubedrift_app_resources": {"app", "cluster", "status"},
    "kubedrift_app_drift_age_seconds": {"app", "cluster"},
    "kubedrift_syncs_total": {"app", "cluster", "trigger", "result"},
    "kubedrift_self_heals_total": {"app", "cluster", "result"},
    "kubedrift_self_heal_retrying": {"app", "cluster"},
    "kubedrift_cluster_connected": {"cluster"},
    "kubedrift_watch_reconnects_total": {"cluster"},
    "kubedrift_event_to_status_seconds_bucket": {"le"},
    "kubedrift_agent_info": {"identity", "shard", "read_only"},
    "kubedrift_app_lease_held": {"app"},
}


def configmap(name: str, namespace: str, level: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "5"},
        "data": {"level": level},
    }


def manifest(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{level: info}}\n"


class StandInCluster:
    """Serves ConfigMaps: shop's `settings` as Git has it, blog's `theme` drifted, blog's `menu` absent."""

    read_only = True
    server = "https://dev.example"

    def server_version(self) -> Any:
        raise ApiError(403, "Forbidden", 'forbidden: User "dev" cannot get path "/version"')

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", f'forbidden: User "dev" cannot get path "{relative_url}"')

    def discover(self, *, refresh: bool = False) -> Discovery:
        return Discovery({("", "ConfigMap"): CONFIGMAPS})

    def resource_for(self, group: str, kind: str) -> ApiResource:
        return CONFIGMAPS

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        yield ListPage(*self.list(resource, namespace))  # one page: the engine lists page by page

    def holds_any(self, resource: Any, *, label_selector: str) -> bool:
        return bool(self.list(resource, label_selector=label_selector)[0])

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        if label_selector:
            return [], "9"
        return [configmap("settings", "shop", "info"), configmap("theme", "blog", "debug")], "9"


def folder_app(
    root: Path, name: str, namespace: str, files: dict[str, str], *, self_heal: bool = False
) -> App:
    folder = root / name
    folder.mkdir()
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    policy = SyncPolicy(automated=self_heal, self_heal=self_heal)
    source = Source(repo_url=str(folder), target_revision="", path=".")
    return App(name=name, source=source, destination=Destination(namespace=namespace), sync_policy=policy)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """shop: Synced; blog: OutOfSync (one drifted, one missing); both on context `dev`."""
    shop = folder_app(tmp_path, "shop", "shop", {"settings.yaml": manifest("settings")})
    blog = folder_app(
        tmp_path,
        "blog",
        "blog",
        {"theme.yaml": manifest("theme"), "menu.yaml": manifest("menu")},
        self_heal=True,
    )
    engine = Engine(
        Config(apps=(shop, blog)),
        Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None),
        adapter_factory=lambda context, read_only: StandInCluster(),  # type: ignore[arg-type,return-value]
        watch_tree=False,
    )
    engine.evaluate()
    return engine


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: AgentMetrics) -> Samples:
    body, content_type = metrics.exposition()
    assert content_type == CONTENT_TYPE
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def series(samples: Samples, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return {key: found for (metric, key), found in samples.items() if metric == name and wanted <= key}


def test_building_it_makes_it_the_engines_observer(engine: Engine) -> None:
    assert engine.observer is NO_OBSERVER
    metrics = AgentMetrics(engine, identity="kubedrift-0", shard=None, read_only=True)
    assert engine.observer is metrics


def test_every_contract_name_is_exported_with_its_labels(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="kubedrift-0", shard="0/2", read_only=False)
    metrics.held_apps = lambda: {"blog"}
    report_sync(metrics, "blog", "self-heal", True)
    metrics.events_handled([0.004])
    samples = scrape(metrics)
    names = {name for name, _ in samples}
    for name, labels in CONTRACT_LABELS.items():
        found = [dict(key) for metric, key in samples if metric == name]
        assert found, f"{name} is not exported"
        assert all(set(labels_of) == labels for labels_of in found), (name, found)
    assert {"kubedrift_event_to_status_seconds_sum", "kubedrift_event_to_status_seconds_count"} <= names


def test_app_gauges_are_what_the_engine_holds(engine: Engine) -> None:
    samples = scrape(AgentMetrics(engine, identity="kubedrift-0", shard=None, read_only=True))
    blog, shop = engine.apps["blog"], engine.apps["shop"]
    assert blog.reconciler.sync is AppSync.OUT_OF_SYNC and shop.reconciler.sync is AppSync.SYNCED
    info = series(samples, "kubedrift_app_info", app="blog")
    assert info == {
        frozenset(
            {
                "app": "blog",
                "cluster": "dev",
                "namespace": "blog",
                "revision": blog.desired.revision or "",
            }.items()
        ): 1.0
    }
    # One series per possible value, 1 for the current one: stable, so an alert's `for:` keeps counting.
    for app, current in (("blog", "OutOfSync"), ("shop", "Synced")):
        sync = {
            dict(key)["sync_status"]: found
            for key, found in series(samples, "kubedrift_app_sync_status", app=app).items()
        }
        assert sync == {status: float(status == current) for status in ("Synced", "OutOfSync", "Unknown")}
        health = {
            dict(key)["health_status"]: found
            for key, found in series(samples, "kubedrift_app_health_status", app=app).items()
        }
        current_health = str(engine.apps[app].reconciler.health)
        assert health == {str(status): float(str(status) == current_health) for status in Health}
    resources = {
        dict(key)["status"]: found
        for key, found in series(samples, "kubedrift_app_resources", app="blog").items()
    }
    assert resources == {"Synced": 0, "OutOfSync": 1, "Missing": 1, "Extraneous": 0, "Unknown": 0}
    assert value(samples, "kubedrift_cluster_connected", cluster="dev") == 1
    assert value(samples, "kubedrift_agent_info", identity="kubedrift-0", shard="", read_only="true") == 1
    assert value(samples, "kubedrift_watch_reconnects_total", cluster="dev") == 0
    assert not series(samples, "kubedrift_app_lease_held"), "a read-only agent holds no Leases"


def test_drift_age_counts_from_the_change_that_made_the_app_out_of_sync(engine: Engine) -> None:
    clock = Clock()
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=True, clock=clock)
    metrics.publish([AppStatusChange("t", "blog", AppSync.OUT_OF_SYNC, Health.MISSING, AppSync.SYNCED, None)])
    clock.now += 42
    samples = scrape(metrics)
    assert value(samples, "kubedrift_app_drift_age_seconds", app="blog", cluster="dev") == 42
    assert value(samples, "kubedrift_app_drift_age_seconds", app="shop", cluster="dev") == 0
    # A health change of an app still OutOfSync keeps the age.
    metrics.publish(
        [AppStatusChange("t", "blog", AppSync.OUT_OF_SYNC, Health.HEALTHY, AppSync.OUT_OF_SYNC, None)]
    )
    clock.now += 8
    assert value(scrape(metrics), "kubedrift_app_drift_age_seconds", app="blog", cluster="dev") == 50


def test_drift_age_without_a_change_starts_at_the_first_scrape_that_sees_it(engine: Engine) -> None:
    clock = Clock()
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=True, clock=clock)
    assert value(scrape(metrics), "kubedrift_app_drift_age_seconds", app="blog", cluster="dev") == 0
    clock.now += 15
    assert value(scrape(metrics), "kubedrift_app_drift_age_seconds", app="blog", cluster="dev") == 15
    reconciler = engine.apps["blog"].reconciler
    reconciler.live_changed(THEME, configmap("theme", "blog", "info"))  # repaired by hand
    reconciler.live_changed(MENU, configmap("menu", "blog", "info"))
    assert reconciler.sync is AppSync.SYNCED
    assert value(scrape(metrics), "kubedrift_app_drift_age_seconds", app="blog", cluster="dev") == 0
    reconciler.live_changed(THEME, configmap("theme", "blog", "debug"))
    clock.now += 5
    assert value(scrape(metrics), "kubedrift_app_drift_age_seconds", app="blog", cluster="dev") == 0, "anew"


def test_syncs_and_self_heals_are_counted_by_trigger_and_result(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=False)
    report_sync(metrics, "blog", "auto-sync", True)
    report_sync(metrics, "blog", "self-heal", False)
    report_sync(metrics, "blog", "self-heal", False)
    report_sync(metrics, "shop", "sync", True)
    report_sync(metrics, "shop", "rollback", False)
    samples = scrape(metrics)
    syncs = {
        (dict(key)["app"], dict(key)["trigger"], dict(key)["result"]): found
        for key, found in series(samples, "kubedrift_syncs_total", cluster="dev").items()
    }
    assert syncs == {
        ("blog", "auto", "succeeded"): 1,
        ("blog", "self-heal", "failed"): 2,
        ("shop", "manual", "succeeded"): 1,
        ("shop", "rollback", "failed"): 1,
    }
    heals = series(samples, "kubedrift_self_heals_total")
    assert heals == {frozenset({"app": "blog", "cluster": "dev", "result": "failed"}.items()): 2}


def test_a_sync_of_an_app_gone_from_the_engine_is_still_counted(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=False)
    metrics.sync_finished("moved-away", SyncTrigger.MANUAL, True)
    samples = scrape(metrics)
    assert (
        value(
            samples,
            "kubedrift_syncs_total",
            app="moved-away",
            cluster="",
            trigger="manual",
            result="succeeded",
        )
        == 1
    )


def test_self_heal_retrying_follows_the_backoff_calls(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=False)
    metrics.self_heal_backoff_started("blog")
    samples = scrape(metrics)
    assert value(samples, "kubedrift_self_heal_retrying", app="blog", cluster="dev") == 1
    assert value(samples, "kubedrift_self_heal_retrying", app="shop", cluster="dev") == 0
    metrics.self_heal_backoff_ended("blog")
    assert value(scrape(metrics), "kubedrift_self_heal_retrying", app="blog", cluster="dev") == 0


def test_watch_reconnects_and_connection_follow_the_calls(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=True)
    metrics.watch_reconnected("dev")
    metrics.watch_reconnected("dev")
    metrics.cluster_disconnected("dev")
    samples = scrape(metrics)
    assert value(samples, "kubedrift_watch_reconnects_total", cluster="dev") == 2
    assert value(samples, "kubedrift_cluster_connected", cluster="dev") == 0
    metrics.cluster_connected("dev")
    assert value(scrape(metrics), "kubedrift_cluster_connected", cluster="dev") == 1


def test_a_cluster_never_reached_is_not_connected(engine: Engine) -> None:
    engine.clusters["dev"].error = "cannot reach the cluster of context 'dev': connection refused"
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=True)
    assert value(scrape(metrics), "kubedrift_cluster_connected", cluster="dev") == 0


def test_event_latencies_fill_the_histogram(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=True)
    metrics.events_handled([0.003, 0.02, 0.3])
    samples = scrape(metrics)
    assert value(samples, "kubedrift_event_to_status_seconds_count") == 3
    assert value(samples, "kubedrift_event_to_status_seconds_sum") == pytest.approx(0.323)
    assert value(samples, "kubedrift_event_to_status_seconds_bucket", le="0.005") == 1
    assert value(samples, "kubedrift_event_to_status_seconds_bucket", le="0.05") == 2
    assert value(samples, "kubedrift_event_to_status_seconds_bucket", le="+Inf") == 3


def test_lease_held_is_exported_with_writes_allowed_and_a_lease_holder(engine: Engine) -> None:
    metrics = AgentMetrics(engine, identity="kubedrift-1", shard="1/3", read_only=False)
    assert not series(scrape(metrics), "kubedrift_app_lease_held"), "no coordinator yet: nothing to say"
    metrics.held_apps = lambda: {"shop"}
    samples = scrape(metrics)
    assert series(samples, "kubedrift_app_lease_held") == {
        frozenset({"app": "shop"}.items()): 1,
        frozenset({"app": "blog"}.items()): 0,
    }
    assert value(samples, "kubedrift_agent_info", identity="kubedrift-1", shard="1/3", read_only="false") == 1


def test_each_instance_has_its_own_registry(engine: Engine) -> None:
    first = AgentMetrics(engine, identity="a", shard=None, read_only=True)
    second = AgentMetrics(engine, identity="b", shard=None, read_only=True)
    first.watch_reconnected("dev")
    assert value(scrape(first), "kubedrift_watch_reconnects_total", cluster="dev") == 1
    assert value(scrape(second), "kubedrift_watch_reconnects_total", cluster="dev") == 0


def test_a_watch_that_cannot_reach_the_server_disconnects_its_cluster_until_it_relists(
    engine: Engine,
) -> None:
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=True)
    engine.connections.reachable(engine.observer, "dev", True)
    refused = "cannot reach the cluster of context 'dev': connection refused"
    engine._handle("dev", KindState("", "ConfigMap", None, refused, unreachable=True))
    assert value(scrape(metrics), "kubedrift_cluster_connected", cluster="dev") == 0
    engine._handle("dev", KindState("", "Secret", None, "secrets is not served", unreachable=False))
    assert value(scrape(metrics), "kubedrift_cluster_connected", cluster="dev") == 0, "still the ConfigMaps"
    engine._handle("dev", Relisted("", "ConfigMap", None, [configmap("settings", "shop", "info")]))
    assert value(scrape(metrics), "kubedrift_cluster_connected", cluster="dev") == 1


def test_the_engine_tells_when_an_apps_self_heal_starts_and_stops_backing_off(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the audit file automation checks
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=False)
    engine.clusters["dev"].adapter.read_only = False  # type: ignore[union-attr]
    backing_off = {"blog"}

    def next_action(app: App, *args: Any, **kwargs: Any) -> None:  # what core.automation decides
        if app.name in backing_off:
            engine.automation.backing_off.add(app.name)
        else:
            engine.automation.backing_off.discard(app.name)

    monkeypatch.setattr(engine.automation, "next_action", next_action)
    engine._automate()
    assert value(scrape(metrics), "kubedrift_self_heal_retrying", app="blog", cluster="dev") == 1
    backing_off.clear()
    engine._automate()
    assert value(scrape(metrics), "kubedrift_self_heal_retrying", app="blog", cluster="dev") == 0


class HeldElsewhere:
    """An act gate (core.engine_fleet) for an agent that holds no app's Lease."""

    def may_act(self, app: str) -> bool:
        return False

    def refusal(self, app: str) -> str:
        return f"the Lease of app {app} is held by kubedrift-1"


def test_an_app_whose_lease_is_lost_is_no_longer_retrying_here(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    metrics = AgentMetrics(engine, identity="a", shard=None, read_only=False)
    engine.clusters["dev"].adapter.read_only = False  # type: ignore[union-attr]
    engine.automation.backing_off.add("blog")
    metrics.self_heal_backoff_started("blog")
    engine.act_gate = HeldElsewhere()
    engine._automate()
    assert value(scrape(metrics), "kubedrift_self_heal_retrying", app="blog", cluster="dev") == 0
