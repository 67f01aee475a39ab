"""Objects two apps declare: the cross-app index, the warnings, and what sync and automation leave alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.automation import Automation
from core.config import Config
from core.desired_state import DesiredState
from core.kubeconfig import Kubeconfig
from core.model import (
    TRACKING_ANNOTATION,
    App,
    AppStatus,
    AppSync,
    Destination,
    Health,
    HealthStatus,
    ResourceAction,
    ResourceKey,
    ResourceResult,
    Source,
    SyncPolicy,
    SyncStatus,
)
from core.prune import PruneRefused
from core.shared_resources import (
    HeldBack,
    ShareChange,
    SharedResources,
    app_names,
    change_message,
    hold_back_shared,
    shared_warning,
    with_neighbours,
    with_shared,
    without_shared,
)
from core.status_events import SharedResourceChange
from core.sync_options import OptionScope, parse_sync_options
from tui.commands.report import check_text
from tui.commands.terminal import Style
from tui.commands.watch import change_line, is_transition

READER = ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:aggregated-metrics-reader")
BINDING = ResourceKey(
    "rbac.authorization.k8s.io", "ClusterRoleBinding", "", "metrics-server:system:auth-delegator"
)
CONFIG = ResourceKey("", "ConfigMap", "monitoring", "grafana")
SERVERS = {
    "prod": "https://prod.example.com:6443",
    "prod-admin": "https://PROD.example.com:6443/",
    "dev": "https://dev.example.com:6443",
    "local": "http://127.0.0.1:8080",
    "local-name": "http://localhost:8080",
}
WARNING = (
    "ClusterRole system:aggregated-metrics-reader is also declared by app metrics-server: sync will not "
    "take it over without --force, and self-heal leaves it alone"
)


def index() -> SharedResources:
    return SharedResources(SERVERS)


# The index.


def test_two_apps_declaring_one_object_share_it_and_both_are_told() -> None:
    shared = index()
    assert shared.declare("kube-prometheus", "prod", [READER, CONFIG]) == [], "alone, it shares nothing"
    changes = shared.declare("metrics-server", "prod", [READER, BINDING])
    assert changes == [
        ShareChange("kube-prometheus", READER, ("metrics-server",), ()),
        ShareChange("metrics-server", READER, ("kube-prometheus",), ()),
    ]
    assert shared.shared_with("kube-prometheus") == {READER: ("metrics-server",)}
    assert shared.shared_with("metrics-server") == {READER: ("kube-prometheus",)}
    assert shared.others("kube-prometheus", CONFIG) == (), "its own alone"


def test_dropping_the_object_ends_the_sharing_for_both() -> None:
    shared = index()
    shared.declare("kube-prometheus", "prod", [READER, CONFIG])
    shared.declare("metrics-server", "prod", [READER])
    changes = shared.declare("metrics-server", "prod", [BINDING])
    assert changes == [
        ShareChange("kube-prometheus", READER, (), ("metrics-server",)),
        ShareChange("metrics-server", READER, (), ("kube-prometheus",)),
    ]
    assert shared.shared_with("kube-prometheus") == {}
    assert shared.shared_with("metrics-server") == {}
    assert shared.others("metrics-server", READER) == ("kube-prometheus",), "asked of a key it no longer has"


def test_an_object_moved_from_one_app_to_another_is_shared_only_while_both_declare_it() -> None:
    shared = index()
    shared.declare("old", "prod", [CONFIG])
    assert [c.app for c in shared.declare("new", "prod", [CONFIG])] == ["new", "old"]
    assert shared.shared_with("new") == {CONFIG: ("old",)}
    moved = shared.declare("old", "prod", [])
    assert moved == [ShareChange("new", CONFIG, (), ("old",)), ShareChange("old", CONFIG, (), ("new",))]
    assert shared.shared_with("new") == {} and shared.others("old", CONFIG) == ("new",)


def test_a_third_app_changes_the_company_of_the_other_two() -> None:
    shared = index()
    shared.declare("a", "prod", [READER])
    shared.declare("b", "prod", [READER])
    changes = shared.declare("c", "prod", [READER])
    assert {change.app: change.shared_with for change in changes} == {
        "a": ("b", "c"),
        "b": ("a", "c"),
        "c": ("a", "b"),
    }
    assert {change.app: change.previous for change in changes} == {"a": ("b",), "b": ("a",), "c": ()}
    shared.forget("a")
    assert shared.shared_with("b") == {READER: ("c",)} and shared.shared_with("a") == {}


def test_apps_on_different_clusters_never_share() -> None:
    shared = index()
    shared.declare("shop-prod", "prod", [READER, CONFIG])
    assert shared.declare("shop-dev", "dev", [READER, CONFIG]) == []
    assert shared.shared_with("shop-dev") == {} and shared.others("shop-dev", READER) == ()


@pytest.mark.parametrize(("first", "second"), [("prod", "prod-admin"), ("local", "local-name")])
def test_one_cluster_reached_through_two_contexts_is_one_cluster(first: str, second: str) -> None:
    shared = index()
    shared.declare("kube-prometheus", first, [READER])
    shared.declare("metrics-server", second, [READER])
    assert shared.shared_with("kube-prometheus") == {READER: ("metrics-server",)}


def test_a_context_without_a_server_url_is_its_own_cluster() -> None:
    shared = SharedResources({})
    shared.declare("a", "kind-a", [READER])
    assert shared.declare("b", "kind-b", [READER]) == []
    assert shared.declare("c", "kind-a", [READER]) != []


def test_an_app_that_moves_cluster_leaves_its_old_company() -> None:
    shared = index()
    shared.declare("a", "prod", [READER])
    shared.declare("b", "prod", [READER])
    changes = shared.declare("b", "dev", [READER])
    assert {change.app: change.shared_with for change in changes} == {"a": (), "b": ()}
    assert shared.declare("b", None, [READER]) == [], "no cluster: it declares nothing anywhere"
    assert shared.others("b", READER) == ()


def test_declaring_the_same_keys_again_changes_nothing_and_keeps_the_mappings() -> None:
    shared = index()
    shared.declare("a", "prod", [READER, CONFIG])
    shared.declare("b", "prod", [READER])
    before = shared.shared_with("a")
    assert shared.declare("a", "prod", {CONFIG, READER}) == []
    assert shared.shared_with("a") is before


def test_a_mapping_handed_out_is_never_changed_afterwards() -> None:
    shared = index()
    shared.declare("a", "prod", [READER, CONFIG])
    shared.declare("b", "prod", [READER])
    held = shared.shared_with("a")
    shared.declare("b", "prod", [READER, CONFIG])
    assert held == {READER: ("b",)}, "a reader on another thread sees one whole state"
    assert shared.shared_with("a") == {READER: ("b",), CONFIG: ("b",)}


# What people read.


def test_the_warning_names_the_object_the_other_apps_and_what_kubedrift_will_not_do() -> None:
    assert shared_warning(READER, ("metrics-server",)) == WARNING
    assert shared_warning(CONFIG, ("a", "b")).startswith(
        "ConfigMap monitoring/grafana is also declared by apps a and b:"
    )
    assert app_names(["a", "b", "c"]) == "apps a, b and c"
    change = ShareChange("kube-prometheus", READER, (), ("metrics-server",))
    assert change_message(change) == (
        "ClusterRole system:aggregated-metrics-reader is no longer declared by another app: "
        "sync and self-heal act on it again"
    )


def result(key: ResourceKey, status: SyncStatus = SyncStatus.SYNCED) -> ResourceResult:
    return ResourceResult(key, "v1", status, HealthStatus(Health.HEALTHY))


def status_of(*results: ResourceResult) -> AppStatus:
    return AppStatus("kube-prometheus", AppSync.SYNCED, Health.HEALTHY, "abc", resources=results)


def test_warnings_are_not_errors_and_json_gains_keys_only_when_shared() -> None:
    plain = status_of(result(READER), result(CONFIG))
    assert with_shared(plain, {}) is plain
    assert set(plain.to_json()) == {"name", "revision", "sync", "health", "errors", "resources"}
    shared = with_shared(plain, {READER: ("metrics-server",)})
    assert (shared.sync, shared.health, shared.errors) == (AppSync.SYNCED, Health.HEALTHY, ())
    document = json.loads(json.dumps(shared.to_json()))
    assert document["warnings"] == [WARNING]
    by_name = {resource["name"]: resource for resource in document["resources"]}
    assert by_name[READER.name]["sharedWith"] == ["metrics-server"]
    assert "sharedWith" not in by_name[CONFIG.name], "other resources keep DESIGN's exact shape"


def test_check_text_shows_the_warning_and_the_marked_resource_without_changing_the_exit() -> None:
    from tui.commands.report import exit_code

    shared = with_shared(status_of(result(READER), result(CONFIG)), {READER: ("metrics-server",)})
    text = check_text([shared], Style(colour=False))
    assert f"kube-prometheus: warning: {WARNING}" in text.splitlines()
    assert exit_code([shared]) == 0, "a warning is not drift"


def test_watch_says_when_an_object_becomes_shared_and_when_it_stops() -> None:
    became = ShareChange("kube-prometheus", READER, ("metrics-server",), ())
    change = SharedResourceChange(
        "2025-01-02T03:04:05.000Z", "kube-prometheus", READER, ("metrics-server",), (), change_message(became)
    )
    assert is_transition(change)
    assert change.to_json() == {
        "ts": "2025-01-02T03:04:05.000Z",
        "app": "kube-prometheus",
        "sharedResource": {
            "group": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "namespace": "",
            "name": "system:aggregated-metrics-reader",
            "sharedWith": ["metrics-server"],
            "previous": [],
            "message": WARNING,
        },
    }
    line = change_line(change, Style(colour=False))
    assert line.startswith(
        "2025-01-02T03:04:05.000Z  kube-prometheus: ClusterRole.rbac.authorization.k8s.io/"
    )
    assert WARNING in line


# Automation.


def automated_app(**options: Any) -> App:
    return App("kube-prometheus", Source("/repo"), sync_policy=SyncPolicy(True, False, True, **options))


def test_self_heal_never_picks_a_shared_object() -> None:
    automation = Automation()
    results = {READER: result(READER, SyncStatus.OUT_OF_SYNC), CONFIG: result(CONFIG)}
    automation.synced_revisions["kube-prometheus"] = "r1"
    shared = {READER: ("metrics-server",)}
    assert automation.next_action(automated_app(), "r1", True, without_shared(results, shared), 0.0) is None
    results[CONFIG] = result(CONFIG, SyncStatus.OUT_OF_SYNC)
    request = automation.next_action(automated_app(), "r1", True, without_shared(results, shared), 10.0)
    assert request is not None and request.keys == (CONFIG,)
    assert without_shared(results, {}) is results, "no copy when nothing is shared"


# Sync.


def manifest(key: ResourceKey, app: str | None = None) -> dict[str, Any]:
    group = f"{key.group}/v1" if key.group else "v1"
    metadata: dict[str, Any] = {"name": key.name}
    if key.namespace:
        metadata["namespace"] = key.namespace
    if app is not None:
        metadata["annotations"] = {TRACKING_ANNOTATION: key.tracking_id(app)}
    return {"apiVersion": group, "kind": key.kind, "metadata": metadata}


def desired(*keys: ResourceKey) -> DesiredState:
    return DesiredState("r1", {key: manifest(key) for key in keys}, render_ok=True)


def others_of(shared: dict[ResourceKey, tuple[str, ...]]) -> Any:
    return lambda key: shared.get(key, ())


METRICS = others_of({READER: ("metrics-server",)})


def hold(
    state: DesiredState,
    live: dict[ResourceKey, Any],
    *,
    keys: list[ResourceKey] | None = None,
    prune: bool = False,
    app: App | None = None,
) -> HeldBack | None:
    return hold_back_shared(app or automated_app(), state, live, METRICS, keys=keys, prune=prune)


def test_a_sync_leaves_an_object_another_app_applied_and_says_why() -> None:
    live = {READER: manifest(READER, "metrics-server"), CONFIG: manifest(CONFIG, "kube-prometheus")}
    held = hold(desired(READER, CONFIG), live)
    assert held is not None
    assert set(held.desired.objects) == {CONFIG} and set(held.live) == {CONFIG} and held.keys is None
    (outcome,) = held.outcomes
    assert (outcome.key, outcome.action) == (READER, ResourceAction.SKIPPED)
    assert outcome.message == "also declared by app metrics-server: not taken over without --force"


def test_a_missing_shared_object_is_created_and_one_this_app_applied_is_applied_again() -> None:
    assert hold(desired(READER), {}) is None
    assert hold(desired(READER), {READER: manifest(READER, "kube-prometheus")}) is None


def test_a_selective_sync_holds_back_only_within_its_keys() -> None:
    live = {READER: manifest(READER, "metrics-server"), CONFIG: manifest(CONFIG)}
    assert hold(desired(READER, CONFIG), live, keys=[CONFIG]) is None
    held = hold(desired(READER, CONFIG), live, keys=[READER, CONFIG])
    assert held is not None and held.keys == (CONFIG,)


def test_a_prune_never_deletes_what_another_app_declares_now() -> None:
    live = {CONFIG: manifest(CONFIG, "kube-prometheus"), READER: manifest(READER, "kube-prometheus")}
    assert hold(desired(CONFIG), live) is None
    held = hold(desired(CONFIG), live, prune=True)
    assert held is not None and READER not in held.live and set(held.desired.objects) == {CONFIG}
    assert [(o.key, o.message) for o in held.outcomes] == [
        (READER, "no longer in Git, but declared by app metrics-server: not pruned")
    ]


def test_with_fail_on_shared_resource_the_sync_is_left_to_fail_not_held_back() -> None:
    options = parse_sync_options(["FailOnSharedResource=true"], scope=OptionScope.APP)
    live = {READER: manifest(READER, "metrics-server")}
    assert hold(desired(READER, CONFIG), live, app=automated_app(sync_options=options)) is None


def test_a_prune_of_an_app_whose_every_object_is_held_is_refused_with_the_reason() -> None:
    with pytest.raises(PruneRefused, match="also declared by app metrics-server"):
        hold(desired(READER), {READER: manifest(READER, "metrics-server")}, prune=True)


# A command about one app.


def test_a_command_about_one_app_brings_the_apps_on_its_cluster_detect_only() -> None:
    kubeconfig = Kubeconfig("test", SERVERS, "prod", None)

    def on(name: str, context: str) -> App:
        return App(name, Source("/repo"), Destination(name=context), SyncPolicy(True, True, True))

    config = Config(
        apps=(on("kube-prometheus", "prod"), on("metrics-server", "prod-admin"), on("shop-dev", "dev"))
    )
    narrowed = with_neighbours(config, kubeconfig, "kube-prometheus", None)
    assert [app.name for app in narrowed.apps] == ["kube-prometheus", "metrics-server"]
    target, neighbour = narrowed.apps
    assert target is config.apps[0], "the app itself, as configured"
    assert neighbour.sync_policy == SyncPolicy(), "a neighbour is never acted on"
    assert [app.name for app in with_neighbours(config, None, "shop-dev", None).apps] == ["shop-dev"]
