"""Sync, prune, self-heal pacing and the audit file, over a fake cluster adapter (no HTTP)."""

from __future__ import annotations

import base64
import copy
import json
import multiprocessing
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from core.actions import (
    PruneRefused,
    SelfHealBackoff,
    apply_order,
    prepare_for_apply,
    prune_app,
    prune_candidates,
    sync_app,
)
from core.api_resources import ApiResource
from core.audit import (
    AuditError,
    append_audit,
    audit_path,
    scrub_secret_values,
    secret_values,
)
from core.cluster import ApiError, ClusterError, ReadOnlyError
from core.desired_state import DesiredState
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    App,
    IgnoreDifference,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
    Source,
    SyncResult,
    TrackingMethod,
)

APP = App(name="shop", source=Source(repo_url="/repo"))
REVISION = "0123456789abcdef0123456789abcdef01234567"
PASSWORD = "correct-horse-battery"


def now() -> str:
    return "2025-01-02T03:04:05.000Z"


def configmap(name: str, namespace: str = "shop", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def deployment(name: str = "web", replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "proxy:1"},
                    ]
                }
            },
        },
    }


def secret(name: str = "db", **string_data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "shop"},
        "stringData": string_data or {"password": PASSWORD},
    }


def crd(group: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.{group}"},
        "spec": {"group": group, "names": {"kind": kind, "plural": f"{kind.lower()}s"}},
    }


def desired_state(
    *objs: dict[str, Any], render_ok: bool = True, errors: tuple[str, ...] = ()
) -> DesiredState:
    return DesiredState(REVISION, {ResourceKey.of(obj): obj for obj in objs}, errors, render_ok=render_ok)


def tracked(obj: dict[str, Any], app: str = "shop", uid: str = "uid-1", **annotations: str) -> dict[str, Any]:
    marked = copy.deepcopy(obj)
    metadata = marked["metadata"]
    metadata["uid"] = uid
    metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = ResourceKey.of(marked).tracking_id(app)
    metadata["annotations"].update(annotations)
    return marked


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeAdapter:
    """The part of ClusterAdapter that actions use, over a dict; `calls` records every method call."""

    _SERVER_FIELDS = ("uid", "resourceVersion", "managedFields")

    def __init__(
        self,
        store: Mapping[ResourceKey, dict[str, Any]] | None = None,
        *,
        read_only: bool = False,
        unserved: set[tuple[str, str]] | None = None,
        failures: Mapping[ResourceKey, Exception] | None = None,
    ) -> None:
        self.store = {key: copy.deepcopy(obj) for key, obj in (store or {}).items()}
        self.read_only = read_only
        self.context = "test"
        self.unserved = set(unserved or ())
        self.failures = dict(failures or {})
        self.calls: list[tuple[str, Any]] = []
        self.version = 100

    def resource_for(self, group: str, kind: str) -> ApiResource:
        self.calls.append(("resource_for", (group, kind)))
        if (group, kind) in self.unserved:
            raise ApiError(404, "NotFound", f"the cluster (test) serves no kind {kind}.{group}")
        return ApiResource(group, "v1", kind, kind.lower() + "s", True, frozenset({"patch", "delete"}))

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False, force: bool = True) -> dict[str, Any]:
        key = ResourceKey.of(obj)
        self.resource_for(key.group, key.kind)
        self.calls.append(("apply", (key, copy.deepcopy(dict(obj)), dry_run, force)))
        if key in self.failures:
            raise self.failures[key]
        old = self.store.get(key)
        new = copy.deepcopy(dict(obj))
        if old is not None and self._content(old) == self._content(new):
            return copy.deepcopy(old)
        self.version += 1
        new["metadata"]["uid"] = (old or {}).get("metadata", {}).get("uid") or f"uid-{key.name}"
        new["metadata"]["resourceVersion"] = str(self.version)
        if not dry_run:
            self.store[key] = new
        return copy.deepcopy(new)

    def delete(
        self,
        resource: ApiResource,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Foreground",
        dry_run: bool = False,
        precondition_uid: str | None = None,
    ) -> dict[str, Any] | None:
        key = ResourceKey(resource.group, resource.kind, namespace or "", name)
        self.calls.append(("delete", (key, propagation, dry_run, precondition_uid)))
        if key in self.failures:
            raise self.failures[key]
        found = self.store.get(key)
        if found is None:
            return None
        if precondition_uid and found["metadata"].get("uid") != precondition_uid:
            raise ApiError(409, "Conflict", "Precondition failed: UID in precondition")
        if not dry_run:
            del self.store[key]
        return found

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls if name != "resource_for"]

    def _content(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        content = copy.deepcopy(dict(obj))
        for name in self._SERVER_FIELDS:
            content.get("metadata", {}).pop(name, None)
        return content


def stored(adapter: FakeAdapter, app: App, *objs: dict[str, Any]) -> None:
    """Put `objs` in the fake cluster exactly as a sync of `app` would have left them."""
    for obj in objs:
        key = ResourceKey.of(obj)
        adapter.apply(prepare_for_apply(app, key, obj, None))
    adapter.calls.clear()


def actions_of(result: SyncResult | list[ResourceOutcome]) -> dict[str, ResourceAction]:
    outcomes = result.outcomes if isinstance(result, SyncResult) else result
    return {outcome.key.name: outcome.action for outcome in outcomes}


# Apply order.


def test_apply_order_puts_namespaces_and_crds_then_config_then_the_rest() -> None:
    keys = [
        ResourceKey("apps", "Deployment", "shop", "web"),
        ResourceKey("", "Secret", "shop", "db"),
        ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"),
        ResourceKey("", "Service", "shop", "web"),
        ResourceKey("", "ConfigMap", "shop", "b"),
        ResourceKey("", "ServiceAccount", "shop", "runner"),
        ResourceKey("", "Namespace", "", "shop"),
        ResourceKey("", "ConfigMap", "shop", "a"),
        ResourceKey("example.com", "Widget", "shop", "w"),
    ]
    assert [f"{key.kind}/{key.name}" for key in apply_order(keys)] == [
        "Namespace/shop",
        "CustomResourceDefinition/widgets.example.com",
        "ConfigMap/a",
        "ConfigMap/b",
        "Secret/db",
        "ServiceAccount/runner",
        "Service/web",
        "Deployment/web",
        "Widget/w",
    ]
    assert apply_order(reversed(keys)) == apply_order(keys)


# What is applied.


def test_prepare_adds_tracking_and_leaves_desired_untouched() -> None:
    desired = configmap("web", A="1")
    desired["metadata"]["labels"] = {"app": "web"}
    original = copy.deepcopy(desired)
    key = ResourceKey.of(desired)
    applied = prepare_for_apply(APP, key, desired, None)
    assert applied["metadata"]["labels"] == {"app": "web", TRACKING_LABEL: "kubedrift"}
    assert applied["metadata"]["annotations"] == {TRACKING_ANNOTATION: "shop:/ConfigMap:shop/web"}
    assert applied["data"] == {"A": "1"}
    assert desired == original


def test_prepare_drops_what_only_the_server_writes() -> None:
    exported = configmap("web", A="1")
    exported["metadata"].update(
        uid="u",
        resourceVersion="42",
        creationTimestamp="2024-01-01T00:00:00Z",
        managedFields=[{"manager": "x"}],
    )
    exported["status"] = {"phase": "whatever"}
    applied = prepare_for_apply(APP, ResourceKey.of(exported), exported, None)
    assert set(applied["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert "status" not in applied


def test_prepare_for_an_argocd_app_writes_only_argocds_annotation() -> None:
    app = App(name="shop", source=Source(repo_url="/repo"), tracking=TrackingMethod.ARGOCD)
    desired = configmap("web")
    key = ResourceKey.of(desired)
    fresh = prepare_for_apply(app, key, desired, None)
    assert fresh["metadata"]["annotations"] == {ARGOCD_TRACKING_ANNOTATION: key.tracking_id("shop")}
    assert "labels" not in fresh["metadata"]
    live = configmap("web")
    live["metadata"]["annotations"] = {ARGOCD_TRACKING_ANNOTATION: "shop:/ConfigMap:shop/web:installation-x"}
    kept = prepare_for_apply(app, key, desired, live)
    assert (
        kept["metadata"]["annotations"][ARGOCD_TRACKING_ANNOTATION]
        == "shop:/ConfigMap:shop/web:installation-x"
    )


def test_prepare_folds_string_data_into_data() -> None:
    desired = secret(password=PASSWORD, user="admin")
    desired["data"] = {"user": b64("root"), "cert": b64("PEM")}
    applied = prepare_for_apply(APP, ResourceKey.of(desired), desired, None)
    assert "stringData" not in applied
    assert applied["data"] == {"user": b64("admin"), "cert": b64("PEM"), "password": b64(PASSWORD)}


def with_ignore(*pointers: str, kind: str = "Deployment", group: str = "apps") -> App:
    return App(
        name="shop",
        source=Source(repo_url="/repo"),
        ignore_differences=(IgnoreDifference(kind=kind, group=group, json_pointers=pointers),),
    )


def test_prepare_gives_ignored_fields_their_live_value() -> None:
    app = with_ignore("/spec/replicas", "/metadata/annotations/note", "/spec/paused")
    desired = deployment(replicas=2)
    live = deployment(replicas=7)
    live["metadata"]["annotations"] = {"note": "set by hand"}
    applied = prepare_for_apply(app, ResourceKey.of(desired), desired, live)
    assert applied["spec"]["replicas"] == 7
    assert applied["metadata"]["annotations"]["note"] == "set by hand"
    assert "paused" not in applied["spec"]


def test_prepare_drops_an_ignored_field_live_does_not_have() -> None:
    app = with_ignore("/spec/replicas")
    desired = deployment(replicas=2)
    live = deployment()
    del live["spec"]["replicas"]
    applied = prepare_for_apply(app, ResourceKey.of(desired), desired, live)
    assert "replicas" not in applied["spec"]


def test_prepare_keeps_gits_value_for_an_ignored_field_on_create() -> None:
    app = with_ignore("/spec/replicas")
    applied = prepare_for_apply(
        app, ResourceKey("apps", "Deployment", "shop", "web"), deployment(replicas=2), None
    )
    assert applied["spec"]["replicas"] == 2


def test_prepare_finds_ignored_list_elements_by_merge_key() -> None:
    app = with_ignore("/spec/template/spec/containers/1/image")
    desired = deployment()
    live = deployment()
    containers = live["spec"]["template"]["spec"]["containers"]
    containers.reverse()  # the live list holds the same containers in another order
    containers[0]["image"] = "proxy:2"
    applied = prepare_for_apply(app, ResourceKey.of(desired), desired, live)
    images = {c["name"]: c["image"] for c in applied["spec"]["template"]["spec"]["containers"]}
    assert images == {"web": "web:1", "sidecar": "proxy:2"}


def test_prepare_maps_an_ignored_string_data_key_to_data() -> None:
    app = with_ignore("/stringData/password", kind="Secret", group="")
    desired = secret(password="from-git")
    live = {**secret(), "data": {"password": b64("rotated")}}
    del live["stringData"]
    applied = prepare_for_apply(app, ResourceKey.of(desired), desired, live)
    assert applied["data"] == {"password": b64("rotated")}


# Sync.


def test_sync_reports_created_configured_and_unchanged() -> None:
    adapter = FakeAdapter()
    stored(adapter, APP, configmap("same", A="1"), configmap("edited", A="1"))
    desired = desired_state(configmap("same", A="1"), configmap("edited", A="2"), configmap("new", A="1"))
    result = sync_app(adapter, APP, desired, adapter.store, now=now)
    assert actions_of(result) == {
        "edited": ResourceAction.CONFIGURED,
        "new": ResourceAction.CREATED,
        "same": ResourceAction.UNCHANGED,
    }
    assert [o.message for o in result.outcomes if o.key.name == "edited"] == ["changed /data/A"]
    assert (result.revision, result.started_at, result.dry_run) == (REVISION, now(), False)
    assert all(args[3] for name, args in adapter.calls if name == "apply")


def test_dry_run_applies_with_dry_run_and_changes_nothing() -> None:
    adapter = FakeAdapter()
    stored(adapter, APP, configmap("edited", A="1"))
    before = copy.deepcopy(adapter.store)
    result = sync_app(
        adapter, APP, desired_state(configmap("edited", A="2"), configmap("new")), adapter.store, dry_run=True
    )
    assert result.dry_run is True
    assert actions_of(result) == {"edited": ResourceAction.CONFIGURED, "new": ResourceAction.CREATED}
    assert [o.message for o in result.outcomes] == ["would change /data/A", "would be created"]
    applies = [args for name, args in adapter.calls if name == "apply"]
    assert len(applies) == 2 and all(args[2] for args in applies)
    assert adapter.store == before


def test_one_failure_does_not_stop_the_others() -> None:
    broken = ResourceKey("apps", "Deployment", "shop", "broken")
    adapter = FakeAdapter(
        unserved={("example.com", "Widget")},
        failures={
            broken: ApiError(422, "Invalid", 'Deployment.apps "broken" is invalid: spec.replicas: bad')
        },
    )
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
    }
    desired = desired_state(configmap("a"), deployment("broken"), widget, deployment("web"))
    result = sync_app(adapter, APP, desired, {})
    assert actions_of(result) == {
        "a": ResourceAction.CREATED,
        "broken": ResourceAction.FAILED,
        "web": ResourceAction.CREATED,
        "w": ResourceAction.SKIPPED,
    }
    messages = {o.key.name: o.message for o in result.outcomes}
    assert messages["broken"] == 'Deployment.apps "broken" is invalid: spec.replicas: bad'
    assert messages["w"] == "the cluster (test) serves no kind Widget.example.com"
    assert result.failed


def test_read_only_refuses_before_touching_the_cluster() -> None:
    adapter = FakeAdapter(read_only=True)
    with pytest.raises(ReadOnlyError, match="read-only for context 'test'"):
        sync_app(adapter, APP, desired_state(configmap("a")), {})
    with pytest.raises(ReadOnlyError):
        prune_app(adapter, APP, desired_state(configmap("a")), {})
    assert adapter.calls == []


def test_a_read_only_error_from_the_adapter_is_raised_not_recorded() -> None:
    key = ResourceKey("", "ConfigMap", "shop", "a")
    adapter = FakeAdapter(failures={key: ReadOnlyError("refused PATCH: kubedrift is read-only")})
    with pytest.raises(ReadOnlyError):
        sync_app(adapter, APP, desired_state(configmap("a")), {})


def test_an_unreachable_cluster_stops_the_sync_without_more_requests() -> None:
    down = ClusterError("cannot reach the cluster of context 'test' at http://x: refused")
    adapter = FakeAdapter(failures={ResourceKey("", "ConfigMap", "shop", "a"): down})
    result = sync_app(adapter, APP, desired_state(configmap("a"), configmap("b"), deployment()), {})
    assert set(actions_of(result).values()) == {ResourceAction.FAILED}
    assert [o.message.startswith("not attempted") for o in result.outcomes] == [False, True, True]
    assert adapter.methods() == ["apply"]


def test_self_heal_applies_only_the_given_keys() -> None:
    adapter = FakeAdapter()
    stored(adapter, APP, configmap("a", X="1"), configmap("b", X="1"))
    drifted = ResourceKey("", "ConfigMap", "shop", "b")
    gone = ResourceKey("", "ConfigMap", "shop", "not-in-git")
    desired = desired_state(configmap("a", X="2"), configmap("b", X="2"))
    result = sync_app(adapter, APP, desired, adapter.store, keys=[drifted, gone])
    assert actions_of(result) == {"b": ResourceAction.CONFIGURED, "not-in-git": ResourceAction.SKIPPED}
    assert [args[0] for name, args in adapter.calls if name == "apply"] == [drifted]
    assert adapter.store[ResourceKey("", "ConfigMap", "shop", "a")]["data"] == {"X": "1"}


def test_progress_counts_applies_and_prunes() -> None:
    adapter = FakeAdapter()
    leftover = tracked(configmap("old"))
    adapter.store[ResourceKey.of(leftover)] = leftover
    seen: list[tuple[int, int, str]] = []
    desired = desired_state(configmap("a"), deployment())
    sync_app(
        adapter,
        APP,
        desired,
        adapter.store,
        prune=True,
        progress=lambda step: seen.append((step.done, step.total, step.key.name if step.key else "")),
    )
    assert seen == [(1, 3, "a"), (2, 3, "web"), (3, 3, "old")]


def test_failure_messages_never_carry_a_secret_value() -> None:
    key = ResourceKey("", "Secret", "shop", "db")
    quoted = f'Secret "db" is invalid: data[password]: Invalid value: "{PASSWORD}": {b64(PASSWORD)} bad'
    adapter = FakeAdapter(failures={key: ApiError(422, "Invalid", quoted)})
    result = sync_app(adapter, APP, desired_state(secret()), {})
    message = result.outcomes[0].message
    assert PASSWORD not in message and b64(PASSWORD) not in message
    assert message == "the server's message was hidden because it quoted a Secret value (422 Invalid)"


def test_custom_resources_wait_for_the_crd_this_sync_applied() -> None:
    adapter = FakeAdapter(unserved={("example.com", "Widget")})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            adapter.unserved.clear()  # the server has established the CRD

    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
    }
    result = sync_app(adapter, APP, desired_state(widget, crd("example.com", "Widget")), {}, sleep=sleep)
    assert actions_of(result) == {"widgets.example.com": ResourceAction.CREATED, "w": ResourceAction.CREATED}
    assert len(waits) == 2


def test_dry_run_of_a_custom_resource_whose_crd_is_new_says_so() -> None:
    adapter = FakeAdapter(unserved={("example.com", "Widget")})
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
    }
    result = sync_app(adapter, APP, desired_state(widget, crd("example.com", "Widget")), {}, dry_run=True)
    outcome = next(o for o in result.outcomes if o.key.name == "w")
    assert outcome.action is ResourceAction.CREATED
    assert "once its CustomResourceDefinition is applied" in outcome.message


# Prune.


def test_prune_candidates_are_exactly_the_tracked_leftovers() -> None:
    leftover_cm = tracked(configmap("old"))
    leftover_deploy = tracked(deployment("old-web"))
    live = {
        ResourceKey.of(obj): obj
        for obj in [
            tracked(configmap("a")),  # still in Git
            leftover_cm,
            leftover_deploy,
            configmap("bystander"),
            tracked(configmap("billing"), app="billing"),
            tracked(configmap("pinned"), **{"kubedrift.io/prune": "false"}),
            tracked(
                configmap("argo-pinned"), **{"argocd.argoproj.io/sync-options": "Replace=true, Prune=false"}
            ),
        ]
    }
    # An annotation copied onto another object names that other object, not this one.
    pasted = configmap("copy")
    pasted["metadata"]["annotations"] = {TRACKING_ANNOTATION: "shop:/ConfigMap:shop/old"}
    live[ResourceKey.of(pasted)] = pasted
    doomed = tracked(configmap("doomed"))
    doomed["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    live[ResourceKey.of(doomed)] = doomed

    candidates, kept = prune_candidates(APP, desired_state(configmap("a")), live)
    assert candidates == [ResourceKey.of(leftover_deploy), ResourceKey.of(leftover_cm)]  # workloads first
    assert {o.key.name: o.action for o in kept} == {
        "argo-pinned": ResourceAction.SKIPPED,
        "doomed": ResourceAction.SKIPPED,
        "pinned": ResourceAction.SKIPPED,
    }
    assert "Prune=false" in next(o.message for o in kept if o.key.name == "argo-pinned")


def test_prune_deletes_in_the_foreground_with_a_uid_precondition() -> None:
    leftover = tracked(configmap("old"), uid="uid-old")
    adapter = FakeAdapter({ResourceKey.of(leftover): leftover})
    outcomes = prune_app(adapter, APP, desired_state(configmap("a")), adapter.store)
    assert actions_of(outcomes) == {"old": ResourceAction.PRUNED}
    assert [args for name, args in adapter.calls if name == "delete"] == [
        (ResourceKey.of(leftover), "Foreground", False, "uid-old")
    ]
    assert adapter.store == {}


def test_prune_leaves_an_object_recreated_meanwhile_and_reports_failures() -> None:
    seen = tracked(configmap("old"), uid="uid-before")
    broken = tracked(configmap("broken"))
    adapter = FakeAdapter(
        {ResourceKey.of(seen): tracked(configmap("old"), uid="uid-after"), ResourceKey.of(broken): broken},
        failures={ResourceKey.of(broken): ApiError(403, "Forbidden", 'configmaps "broken" is forbidden')},
    )
    live = {ResourceKey.of(seen): seen, ResourceKey.of(broken): broken}
    outcomes = prune_app(adapter, APP, desired_state(configmap("a")), live)
    assert actions_of(outcomes) == {"old": ResourceAction.SKIPPED, "broken": ResourceAction.FAILED}
    assert ResourceKey.of(seen) in adapter.store


def test_prune_of_an_object_already_gone_is_pruned() -> None:
    leftover = tracked(configmap("old"))
    adapter = FakeAdapter()
    outcomes = prune_app(adapter, APP, desired_state(configmap("a")), {ResourceKey.of(leftover): leftover})
    assert [(o.action, o.message) for o in outcomes] == [(ResourceAction.PRUNED, "already gone")]


def test_prune_refuses_after_a_failed_render_or_with_nothing_in_git() -> None:
    leftover = tracked(configmap("old"))
    adapter = FakeAdapter({ResourceKey.of(leftover): leftover})
    failed = desired_state(configmap("a"), render_ok=False, errors=("apps/shop/bad.yaml:3: could not parse",))
    with pytest.raises(PruneRefused, match=r"failed to render.*bad\.yaml:3"):
        prune_app(adapter, APP, failed, adapter.store)
    with pytest.raises(PruneRefused, match="failed to render"):
        sync_app(adapter, APP, failed, adapter.store, prune=True)
    with pytest.raises(PruneRefused, match="refusing to prune everything"):
        prune_app(adapter, APP, desired_state(), adapter.store)
    assert adapter.methods() == []


# Self-heal pacing.


def test_self_heal_backoff_schedule() -> None:
    backoff = SelfHealBackoff()
    key = ResourceKey("apps", "Deployment", "shop", "web")
    t = 1000.0
    waits = []
    for _ in range(7):
        assert backoff.due(key, t)
        waits.append(backoff.record_attempt(key, t))
        assert not backoff.due(key, t + waits[-1] - 0.001)
        t += waits[-1]
    assert waits == [2, 6, 18, 54, 162, 300, 300]
    assert backoff.due(key, t)


def test_self_heal_backoff_is_per_resource() -> None:
    backoff = SelfHealBackoff()
    web, db = (
        ResourceKey("apps", "Deployment", "shop", "web"),
        ResourceKey("apps", "StatefulSet", "shop", "db"),
    )
    backoff.record_attempt(web, 0.0)
    backoff.record_attempt(web, 2.0)
    assert not backoff.due(web, 3.0)
    assert backoff.due(db, 3.0)
    assert backoff.record_attempt(db, 3.0) == 2


def test_self_heal_backoff_resets_only_after_staying_synced() -> None:
    backoff = SelfHealBackoff(cooldown=330)
    key = ResourceKey("", "ConfigMap", "shop", "a")
    for t in (0.0, 2.0, 8.0):
        backoff.record_attempt(key, t)
    backoff.record_healthy(key, now=30.0)
    # Drifted again within the cool-down: someone is fighting the sync, the wait keeps growing.
    assert backoff.due(key, 100.0)
    assert backoff.record_attempt(key, 100.0) == 54
    backoff.record_healthy(key, now=160.0)
    backoff.record_healthy(key, now=400.0)  # still Synced: the spell started at 160
    assert backoff.due(key, 490.0)
    assert backoff.record_attempt(key, 490.0) == 2


def test_self_heal_backoff_resets_at_once_without_a_time() -> None:
    backoff = SelfHealBackoff()
    key = ResourceKey("", "ConfigMap", "shop", "a")
    backoff.record_attempt(key, 0.0)
    backoff.record_attempt(key, 2.0)
    backoff.record_healthy(key)
    assert backoff.attempts(key) == 0
    assert backoff.record_attempt(key, 3.0) == 2


# Audit.


def sync_result(*outcomes: ResourceOutcome, dry_run: bool = False) -> SyncResult:
    return SyncResult(REVISION, now(), outcomes, dry_run)


def test_audit_path_follows_xdg() -> None:
    assert audit_path({"XDG_STATE_HOME": "/state", "HOME": "/home/u"}) == Path("/state/kubedrift/audit.jsonl")
    assert audit_path({"HOME": "/home/u"}) == Path("/home/u/.local/state/kubedrift/audit.jsonl")
    assert audit_path({"XDG_STATE_HOME": "relative", "HOME": "/home/u"}) == Path(
        "/home/u/.local/state/kubedrift/audit.jsonl"
    )


def test_audit_line_shape_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kubedrift" / "audit.jsonl"
    result = sync_result(
        ResourceOutcome(
            ResourceKey("apps", "Deployment", "shop", "web"), ResourceAction.CONFIGURED, "changed /spec"
        ),
        ResourceOutcome(ResourceKey("", "Namespace", "", "shop"), ResourceAction.UNCHANGED),
        dry_run=True,
    )
    append_audit(result, app="shop", operation="sync", user="alice", path=path)
    append_audit(sync_result(), app="shop", operation="self-heal", user="alice", path=path)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == {
        "time": now(),
        "user": "alice",
        "app": "shop",
        "operation": "sync",
        "revision": REVISION,
        "dryRun": True,
        "results": [
            {
                "group": "apps",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "action": "configured",
                "message": "changed /spec",
            },
            {
                "group": "",
                "kind": "Namespace",
                "namespace": "",
                "name": "shop",
                "action": "unchanged",
                "message": "",
            },
        ],
    }
    assert json.loads(lines[1])["operation"] == "self-heal"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_audit_user_defaults_to_the_login_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "bob")
    path = tmp_path / "audit.jsonl"
    append_audit(sync_result(), app="shop", operation="prune", path=path)
    assert json.loads(path.read_text())["user"] == "bob"


def test_audit_goes_to_the_xdg_state_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    append_audit(sync_result(), app="shop", operation="auto-sync", user="ci")
    assert json.loads((tmp_path / "kubedrift" / "audit.jsonl").read_text())["operation"] == "auto-sync"


def test_audit_masks_secret_values_it_is_given(tmp_path: Path) -> None:
    values = secret_values(
        [secret(), {"apiVersion": "v1", "kind": "Secret", "data": {"token": b64("tok-en-42")}}]
    )
    assert {PASSWORD, b64(PASSWORD), "tok-en-42", b64("tok-en-42")} <= values
    leak = f"Invalid value: {PASSWORD} and {b64('tok-en-42')}"
    result = sync_result(
        ResourceOutcome(ResourceKey("", "Secret", "shop", "db"), ResourceAction.FAILED, leak)
    )
    path = tmp_path / "audit.jsonl"
    append_audit(result, app="shop", operation="sync", user="u", path=path, secret_values=values)
    text = path.read_text()
    assert PASSWORD not in text and "tok-en-42" not in text and b64("tok-en-42") not in text
    assert json.loads(text)["results"][0]["message"] == (
        "the server's message was hidden because it quoted a Secret value"
    )


def test_short_secret_values_count_only_where_quoted() -> None:
    hidden = "the server's message was hidden because it quoted a Secret value"
    assert scrub_secret_values('data[pin]: Invalid value: "42": bad', {"42"}) == hidden
    assert scrub_secret_values("data[pin]: Invalid value: 42", {"42"}) == hidden
    assert scrub_secret_values("see the 42nd rule", {"42"}) == "see the 42nd rule"


def test_audit_refuses_unknown_operations_and_explains_unwritable_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown audit operation"):
        append_audit(sync_result(), app="shop", operation="delete", user="u", path=tmp_path / "a.jsonl")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AuditError, match="cannot append to the audit file"):
        append_audit(sync_result(), app="shop", operation="sync", user="u", path=blocker / "audit.jsonl")


def _append_many(path: str, writer: int) -> None:
    outcomes = tuple(
        ResourceOutcome(ResourceKey("", "ConfigMap", "shop", f"cm-{i}"), ResourceAction.CREATED, "x" * 300)
        for i in range(20)
    )
    for _ in range(50):
        append_audit(sync_result(*outcomes), app=f"app-{writer}", operation="sync", user="u", path=Path(path))


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    writers = [context.Process(target=_append_many, args=(str(path), n)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert [writer.exitcode for writer in writers] == [0, 0, 0, 0]
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    records = [json.loads(line) for line in lines]  # a torn line would not parse
    assert {record["app"] for record in records} == {"app-0", "app-1", "app-2", "app-3"}


def test_keys_with_prune_report_each_resource_once() -> None:
    leftover, pinned = (
        tracked(configmap("old")),
        tracked(configmap("pinned"), **{"kubedrift.io/prune": "false"}),
    )
    adapter = FakeAdapter({ResourceKey.of(leftover): leftover, ResourceKey.of(pinned): pinned})
    keys = [ResourceKey.of(leftover), ResourceKey.of(pinned), ResourceKey("", "ConfigMap", "shop", "a")]
    result = sync_app(adapter, APP, desired_state(configmap("a")), adapter.store, keys=keys, prune=True)
    assert sorted((o.key.name, o.action) for o in result.outcomes) == [
        ("a", ResourceAction.CREATED),
        ("old", ResourceAction.PRUNED),
        ("pinned", ResourceAction.SKIPPED),
    ]
