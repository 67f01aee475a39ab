"""Unknown, never Missing, when the cluster cannot tell; lost state pauses automation until a person syncs.

The reconciler, automation and the engine's message handling, with a stand-in cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.api_resources import ApiResource, Discovery
from core.automation import Automation
from core.cluster import ApiError, ClusterError, ListPage
from core.cluster_liveness import backoff, went_back
from core.config import zero_config
from core.engine import Engine
from core.kind_watch import KindState, Relisted, StateLost
from core.kubeconfig import Kubeconfig
from core.model import (
    App,
    AppSync,
    Health,
    HealthStatus,
    ResourceKey,
    ResourceResult,
    Source,
    SyncPolicy,
    SyncStatus,
)
from core.reconcile import AppReconciler

CONFIGMAPS = ApiResource(
    "", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch", "get", "patch"})
)
SETTINGS = ResourceKey("", "ConfigMap", "default", "settings")


def configmap(name: str, version: str = "3", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": version},
        "data": data or {"a": "1"},
    }


# The reconciler.


def test_an_unreachable_cluster_makes_every_resource_unknown_and_back() -> None:
    reconciler = AppReconciler(App("shop", Source("/repo")))
    reconciler.set_desired({SETTINGS: configmap("settings")}, render_ok=True)
    assert reconciler.results[SETTINGS].status is SyncStatus.MISSING
    assert reconciler.set_cluster_unknown("not judged: the cluster cannot be used") == {SETTINGS}
    result = reconciler.results[SETTINGS]
    assert (result.status, result.health.status, result.reason) == (
        SyncStatus.UNKNOWN,
        Health.UNKNOWN,
        "not judged: the cluster cannot be used",
    )
    assert (reconciler.sync, reconciler.health) == (AppSync.UNKNOWN, Health.UNKNOWN)
    reconciler.live_changed(SETTINGS, configmap("settings"))
    assert reconciler.results[SETTINGS].status is SyncStatus.UNKNOWN, "still nothing to judge by"
    assert reconciler.set_cluster_unknown(None) == {SETTINGS}
    assert reconciler.results[SETTINGS].status is SyncStatus.SYNCED


def test_failing_kinds_are_kept_apart_from_forbidden_ones() -> None:
    reconciler = AppReconciler(App("shop", Source("/repo")))
    reconciler.set_desired({SETTINGS: configmap("settings")}, render_ok=True)
    reconciler.set_kind_unknown("", "ConfigMap", "the server failed (500)", forbidden=False)
    assert reconciler.failing_kinds == {("", "ConfigMap"): "the server failed (500)"}
    assert reconciler.unknown_kinds == {}, "the status line lists unknown_kinds as forbidden"
    assert reconciler.results[SETTINGS].status is SyncStatus.UNKNOWN
    assert reconciler.kind_unknown("", "ConfigMap")
    reconciler.set_kind_unknown("", "ConfigMap", "forbidden (403)", forbidden=True)
    assert (reconciler.failing_kinds, reconciler.unknown_kinds) == (
        {},
        {("", "ConfigMap"): "forbidden (403)"},
    )
    reconciler.set_kind_unknown("", "ConfigMap", None)
    assert not reconciler.kind_unknown("", "ConfigMap")
    assert reconciler.results[SETTINGS].status is SyncStatus.MISSING


# Automation.


def test_auto_sync_waits_while_the_cluster_is_blind_and_counts_nothing_as_synced() -> None:
    app = App("shop", Source("/repo"), sync_policy=SyncPolicy(automated=True, prune=True, self_heal=True))
    unknown = {
        SETTINGS: ResourceResult(
            SETTINGS, "v1", SyncStatus.UNKNOWN, HealthStatus(Health.UNKNOWN), (), "unreachable"
        )
    }
    automation = Automation(check_audit=lambda: None)
    assert automation.next_action(app, "r1", True, unknown, 0.0, blind=True) is None
    assert automation.synced_revisions == {}, "an unseen cluster is not 'already in sync'"
    missing = {SETTINGS: ResourceResult(SETTINGS, "v1", SyncStatus.MISSING, HealthStatus(Health.MISSING))}
    request = automation.next_action(app, "r1", True, missing, 1.0)
    assert request is not None and request.operation == "auto-sync"


def test_a_kind_forbidden_for_good_does_not_blind_the_app() -> None:
    app = App("shop", Source("/repo"))
    reconciler = AppReconciler(app)
    reconciler.set_desired({SETTINGS: {"apiVersion": "v1", "kind": "ConfigMap"}}, render_ok=True)
    reconciler.set_kind_unknown("", "ConfigMap", "configmaps is forbidden (403 Forbidden)", forbidden=True)
    assert reconciler.results[SETTINGS].status is SyncStatus.UNKNOWN and not reconciler.blind
    reconciler.set_kind_unknown("", "ConfigMap", "listing configmaps failed (500)", forbidden=False)
    assert reconciler.blind
    reconciler.set_cluster_unknown("cannot reach the cluster")
    assert reconciler.blind


# Liveness helpers.


def test_connection_backoff_doubles_to_its_cap_with_jitter() -> None:
    waits = [backoff(failures, 1.0, 30.0) for failures in range(1, 12)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 4.0 <= waits[3] <= 8.0
    assert all(15.0 <= wait <= 30.0 for wait in waits[6:])


def test_went_back_compares_numbers_only() -> None:
    assert went_back(1234, "5") and not went_back(5, "1234") and not went_back(5, "5")
    assert not went_back(None, "5") and not went_back(1234, "opaque-v5")


# The engine, with a stand-in cluster.


class StandInCluster:
    """Serves ConfigMaps from `objects`; `down` makes every request fail as an unreachable one."""

    read_only = False

    def __init__(self, objects: list[dict[str, Any]], *, down: bool = False) -> None:
        self.objects = objects
        self.down = down

    server = "https://dev.example"

    def server_version(self) -> Any:
        raise ApiError(403, "Forbidden", 'forbidden: User "dev" cannot get path "/version"')

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", f'forbidden: User "dev" cannot get path "{relative_url}"')

    def discover(self, *, refresh: bool = False) -> Discovery:
        if self.down:
            raise ClusterError(
                "cannot reach the cluster of context 'dev' at https://dev.example: connection refused"
            )
        return Discovery({("", "ConfigMap"): CONFIGMAPS})

    def resource_for(self, group: str, kind: str) -> ApiResource:
        found = self.discover().by_kind.get((group, kind))
        if found is None:
            raise ApiError(
                404, "NotFound", f"the cluster (dev) serves no kind {kind}.{group}: install its CRD"
            )
        return found

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        yield ListPage(*self.list(resource, namespace))  # one page: the engine lists page by page

    def holds_any(self, resource: Any, *, label_selector: str) -> bool:
        return bool(self.list(resource, label_selector=label_selector)[0])

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        if label_selector:
            return [], "9"
        return list(self.objects), "9"


def engine_on(tmp_path: Path, cluster: StandInCluster, manifests: str) -> Engine:
    (tmp_path / "app.yaml").write_text(manifests)
    kubeconfig = Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None)
    return Engine(
        zero_config(tmp_path),
        kubeconfig,
        adapter_factory=lambda context, read_only: cluster,  # type: ignore[arg-type,return-value]
        watch_tree=False,
    )


SETTINGS_YAML = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"


def test_a_cluster_down_is_unknown_with_the_reason_in_one_shot(tmp_path: Path) -> None:
    engine = engine_on(tmp_path, StandInCluster([], down=True), SETTINGS_YAML)
    (status,) = engine.evaluate()
    (result,) = status.resources
    assert result.status is SyncStatus.UNKNOWN and "cannot be used" in result.reason
    assert (status.sync, status.health) == (AppSync.UNKNOWN, Health.UNKNOWN)
    assert status.errors == (
        "cannot reach the cluster of context 'dev' at https://dev.example: connection refused",
    )
    assert engine.clusters["dev"].automation_paused


def test_a_kind_not_served_is_unknown_with_the_reason(tmp_path: Path) -> None:
    manifests = SETTINGS_YAML + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: blue}\n"
    engine = engine_on(tmp_path, StandInCluster([configmap("settings")]), manifests)
    (status,) = engine.evaluate()
    results = {r.key: r for r in status.resources}
    widget = results[ResourceKey("example.com", "Widget", "default", "blue")]
    assert widget.status is SyncStatus.UNKNOWN and "serves no kind Widget.example.com" in widget.reason
    assert results[SETTINGS].status is SyncStatus.SYNCED


@pytest.fixture
def listed(tmp_path: Path) -> Engine:
    """An engine that listed three tracked-for-nothing ConfigMaps and the app's one, all Synced."""
    objects = [configmap("settings"), configmap("x"), configmap("y"), configmap("z")]
    engine = engine_on(tmp_path, StandInCluster(objects), SETTINGS_YAML)
    engine.evaluate()
    return engine


def test_a_server_gone_back_pauses_automation_until_a_person_confirms(listed: Engine) -> None:
    listed._handle("dev", StateLost("", "ConfigMap", None, 1234, "5"))
    cluster = listed.clusters["dev"]
    assert cluster.automation_paused
    (error,) = listed.apps[next(iter(listed.apps))].status().errors
    assert error == (
        "cluster dev restarted and lost its state (resourceVersion went back from 1234 to 5); "
        "automation is paused on it until a person syncs an app there"
    )
    listed.confirm_cluster("dev")
    assert not cluster.automation_paused
    assert listed.apps[next(iter(listed.apps))].status().errors == ()


def test_a_relist_after_an_error_that_finds_everything_gone_means_lost_state(listed: Engine) -> None:
    changes = listed._handle("dev", Relisted("", "ConfigMap", None, [], recovering=True))
    assert listed.clusters["dev"].state_lost is not None
    assert (
        "a relist after an error found none of the 4 ConfigMap objects" in listed.clusters["dev"].state_lost
    )
    assert any(getattr(c, "status", None) is SyncStatus.MISSING for c in changes), "Missing is the truth now"


def test_an_ordinary_relist_or_a_few_objects_gone_is_no_lost_state(listed: Engine) -> None:
    listed._handle("dev", Relisted("", "ConfigMap", None, [], recovering=False))
    assert listed.clusters["dev"].state_lost is None, (
        "a person's refresh that finds them gone is news, not loss"
    )


def test_a_failing_list_then_a_relist_never_shows_missing_in_between(listed: Engine) -> None:
    failing = KindState("", "ConfigMap", None, "Internal error occurred: etcd (500 InternalError)")
    listed._handle("dev", failing)
    (runtime,) = listed.apps.values()
    assert runtime.reconciler.results[SETTINGS].status is SyncStatus.UNKNOWN
    assert listed.clusters["dev"].watch_errors
    changes = listed._handle("dev", Relisted("", "ConfigMap", None, [configmap("settings", "11")]))
    assert [getattr(c, "status", None) for c in changes if getattr(c, "key", None) == SETTINGS] == [
        SyncStatus.SYNCED
    ]
    assert listed.clusters["dev"].watch_errors == {}


def test_a_lost_state_on_a_read_only_cluster_promises_no_automation(tmp_path: Path) -> None:
    cluster = StandInCluster([configmap("settings")])
    cluster.read_only = True
    engine = engine_on(tmp_path, cluster, SETTINGS_YAML)
    engine.evaluate()
    engine._handle("dev", StateLost("", "ConfigMap", None, 1234, "5"))
    (error,) = engine.apps[next(iter(engine.apps))].status().errors
    assert error.endswith(
        "kubedrift is read-only there, so it shows what the cluster holds now and changes nothing"
    )
    assert "until a person syncs" not in error
