"""Routing live events to the apps they concern: desired keys, live holders and tracking annotations."""

from __future__ import annotations

from typing import Any

from core.event_routing import EventRouting
from core.live_cache import LiveEvent
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    TRACKING_ANNOTATION,
    App,
    Destination,
    ResourceKey,
    Source,
    TrackingMethod,
)
from core.reconcile import AppReconciler
from core.runtime import AppRuntime

CM = ResourceKey("", "ConfigMap", "shop", "settings")
OTHER = ResourceKey("", "ConfigMap", "shop", "other")


def runtime(name: str, tracking: TrackingMethod = TrackingMethod.KUBEDRIFT) -> AppRuntime:
    app = App(name, Source("./gitops", "main", name), Destination(namespace="shop"), tracking=tracking)
    return AppRuntime(app, "dev", AppReconciler(app))


def configmap(key: ResourceKey, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": key.name, "namespace": key.namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"a": "1"}}


def names(runtimes: list[AppRuntime]) -> list[str]:
    return [r.app.name for r in runtimes]


def test_an_event_reaches_the_apps_that_desire_its_key_in_config_order() -> None:
    shop, cart, web = runtime("shop"), runtime("cart"), runtime("web")
    routing = EventRouting([shop, cart, web])
    for app in (web, shop):
        app.reconciler.set_desired({CM: configmap(CM)}, render_ok=True)
        routing.note(app, [CM])

    assert names(routing.concerned(CM, configmap(CM))) == ["shop", "web"]
    assert names(routing.concerned(CM, None)) == ["shop", "web"]
    assert routing.concerned(OTHER, configmap(OTHER)) == []


def test_an_object_reaches_the_app_its_tracking_id_names() -> None:
    shop, cart = runtime("shop"), runtime("cart", TrackingMethod.ARGOCD)
    routing = EventRouting([shop, cart])
    ours = configmap(OTHER, {TRACKING_ANNOTATION: OTHER.tracking_id("shop")})
    argos = configmap(OTHER, {ARGOCD_TRACKING_ANNOTATION: OTHER.tracking_id("cart")})
    wrong_method = configmap(OTHER, {TRACKING_ANNOTATION: OTHER.tracking_id("cart")})

    assert names(routing.concerned(OTHER, ours)) == ["shop"]
    assert names(routing.concerned(OTHER, argos)) == ["cart"]
    assert routing.concerned(OTHER, wrong_method) == []


def test_an_app_holding_an_object_live_hears_it_change_and_go() -> None:
    shop = runtime("shop")
    routing = EventRouting([shop])
    tracked = configmap(OTHER, {TRACKING_ANNOTATION: OTHER.tracking_id("shop")})
    shop.reconciler.live_changed(OTHER, tracked)
    routing.note(shop, [OTHER])

    # The annotation was removed by hand: the app still hears of it, and lets go of it.
    untracked = configmap(OTHER)
    assert names(routing.concerned(OTHER, untracked)) == ["shop"]
    shop.reconciler.live_changed(OTHER, untracked)
    routing.note(shop, [OTHER])
    assert OTHER not in shop.reconciler.live
    assert routing.concerned(OTHER, untracked) == []
    assert routing.concerned(OTHER, None) == []


def test_route_groups_the_events_per_app_in_config_order() -> None:
    shop, cart = runtime("shop"), runtime("cart")
    routing = EventRouting([shop, cart])
    cart.reconciler.set_desired({CM: configmap(CM), OTHER: configmap(OTHER)}, render_ok=True)
    routing.note(cart, [CM, OTHER])
    shop.reconciler.set_desired({CM: configmap(CM)}, render_ok=True)
    routing.note(shop, [CM])
    events = [LiveEvent(OTHER, configmap(OTHER)), LiveEvent(CM, configmap(CM)), LiveEvent(OTHER, None)]

    routed = routing.route(events)

    assert [(r.app.name, [(e.key.name, e.obj is None) for e in es]) for r, es in routed] == [
        ("shop", [("settings", False)]),
        ("cart", [("other", False), ("settings", False), ("other", True)]),
    ]
