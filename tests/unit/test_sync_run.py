"""Running a sync's phases and waves, hooks and sync options, over a fake cluster (no HTTP, no sleep).

The fake plays the controllers' part: a Job a test names completes or fails when created, and an
object a test names turns Healthy or Degraded when applied, so each path is decided by the test.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from core.actions import sync_app
from core.api_resources import ApiResource
from core.audit import audit_record
from core.cluster import ApiError, ReadOnlyError
from core.desired_state import DesiredState
from core.hook_run import HOOK_FINALIZER
from core.model import (
    TRACKING_ANNOTATION,
    App,
    Destination,
    Health,
    HealthStatus,
    ResourceAction,
    ResourceKey,
    Source,
    SyncPolicy,
    SyncResult,
)
from core.sync_options import ManagedNamespaceMetadata, RetryPolicy, SyncOptions
from core.sync_wait import SyncWaiter
from core.sync_waves import SyncProgress

REVISION = "4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e"
STARTED = "2023-11-14T22:13:20Z"  # 1700000000
COMPLETE = {"conditions": [{"type": "Complete", "status": "True", "message": "done"}]}
FAILED = {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}
RUNNING: dict[str, Any] = {"active": 1}


class FakeCluster:
    """The adapter calls a sync makes, over a dict; `calls` records each write as (verb, key, extra)."""

    def __init__(self) -> None:
        self.store: dict[ResourceKey, dict[str, Any]] = {}
        self.read_only = False
        self.context = "test"
        self.calls: list[tuple[str, ResourceKey, Any]] = []
        self.status_on_write: dict[str, dict[str, Any]] = {}
        """Status a created or applied object gets, by name prefix (a controller's doing)."""
        self.refuse: dict[tuple[str, str], ApiError] = {}
        """An error for (verb, name), once."""
        self.uids = itertools.count(1)

    def resource_for(self, group: str, kind: str) -> ApiResource:
        return ApiResource(group, "v1", kind, kind.lower() + "s", kind != "Namespace", frozenset({"get"}))

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        found = self.store.get(ResourceKey(resource.group, resource.kind, namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    def apply(
        self,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        force: bool = True,
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        return self._write("apply", obj, dry_run, field_validation)

    def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_validation: str | None = None
    ) -> dict[str, Any]:
        key = ResourceKey.of(obj)
        if key in self.store:
            raise ApiError(409, "AlreadyExists", f"{key.kind.lower()}s {key.name!r} already exists")
        return self._write("create", obj, dry_run, field_validation)

    def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_validation: str | None = None
    ) -> dict[str, Any]:
        return self._write("replace", obj, dry_run, field_validation)

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
        self.calls.append(("delete", key, propagation))
        found = self.store.get(key)
        if found is None or dry_run:
            return found
        if found["metadata"].get("finalizers"):
            found["metadata"]["deletionTimestamp"] = STARTED  # stays until its finalizers are gone
        else:
            del self.store[key]
        return found

    def json_patch(
        self, resource: ApiResource, namespace: str | None, name: str, operations: list[Mapping[str, Any]]
    ) -> dict[str, Any]:
        key = ResourceKey(resource.group, resource.kind, namespace or "", name)
        self.calls.append(("patch", key, operations))
        found = self.store[key]
        found["metadata"]["finalizers"] = [f for f in found["metadata"]["finalizers"] if f != HOOK_FINALIZER]
        if found["metadata"].get("deletionTimestamp") and not found["metadata"]["finalizers"]:
            del self.store[key]
        return found

    def _write(
        self, verb: str, obj: Mapping[str, Any], dry_run: bool, validation: str | None
    ) -> dict[str, Any]:
        key = ResourceKey.of(obj)
        self.calls.append((verb, key, {"dry_run": dry_run, "validation": validation}))
        refused = self.refuse.pop((verb, key.name), None)
        if refused is not None:
            raise refused
        stored = copy.deepcopy(dict(obj))
        old = self.store.get(key)
        stored["metadata"]["uid"] = (old or {}).get("metadata", {}).get("uid") or f"uid-{next(self.uids)}"
        stored["metadata"]["resourceVersion"] = str(next(self.uids))
        for prefix, status in self.status_on_write.items():
            if key.name.startswith(prefix):
                stored["status"] = copy.deepcopy(status)
        if not dry_run:
            self.store[key] = stored
        return copy.deepcopy(stored)

    def writes(self, verb: str | None = None) -> list[str]:
        return [f"{v} {key.kind}/{key.name}" for v, key, _ in self.calls if verb in (None, v)]


class FakeClock:
    """A waiter's clock that moves only when the waiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def waiter(clock: FakeClock, timeout: float = 30.0) -> SyncWaiter:
    return SyncWaiter(timeout=timeout, clock=lambda: clock.now, sleep=clock.sleep)


def manifest(kind: str, name: str, *, group: str = "", **annotations: str) -> dict[str, Any]:
    api_version = f"{group}/v1" if group else "v1"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
    }


def deployment(name: str, wave: int = 0) -> dict[str, Any]:
    obj = manifest("Deployment", name, group="apps", **{"argocd.argoproj.io/sync-wave": str(wave)})
    return obj | {"spec": {"replicas": 1}}


def job_hook(name: str, phase: str, **annotations: str) -> dict[str, Any]:
    return manifest("Job", name, group="batch", **{"argocd.argoproj.io/hook": phase, **annotations})


def healthy_deployment() -> dict[str, Any]:
    return {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}


def state(*objs: dict[str, Any], hooks: tuple[dict[str, Any], ...] = ()) -> DesiredState:
    return DesiredState(REVISION, {ResourceKey.of(o): o for o in objs}, render_ok=True, hooks=hooks)


def app(*options: str, **policy: Any) -> App:
    sync_options = SyncOptions(tuple(tuple(option.split("=", 1)) for option in options))  # type: ignore[misc]
    return App(
        "shop",
        Source("/repo"),
        Destination(namespace="shop"),
        SyncPolicy(sync_options=sync_options, **policy),
    )


def run(
    cluster: FakeCluster,
    desired: DesiredState,
    *,
    the_app: App | None = None,
    clock: FakeClock | None = None,
    live: Mapping[ResourceKey, Mapping[str, Any]] | None = None,
    events: list[str] | None = None,
    **options: Any,
) -> SyncResult:
    clock = clock or FakeClock()

    def progress(step: SyncProgress) -> None:
        if events is not None and step.event:
            events.append(step.event)

    return sync_app(
        cluster,  # type: ignore[arg-type]
        the_app or app(),
        desired,
        dict(live if live is not None else cluster.store),
        now=lambda: STARTED,
        waiter=waiter(clock),
        progress=progress,
        **options,
    )


def actions(result: SyncResult) -> list[tuple[str, str]]:
    return [(outcome.key.name, str(outcome.action)) for outcome in result.outcomes]


# --- phases, waves and hooks -------------------------------------------------------------------------


def test_a_sync_runs_presync_hooks_then_waves_then_postsync_and_prints_each() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {
        "migrate": COMPLETE,
        "smoke": COMPLETE,
        "db": healthy_deployment(),
        "web": healthy_deployment(),
    }
    events: list[str] = []
    desired = state(
        deployment("db", wave=0),
        deployment("web", wave=1),
        hooks=(job_hook("migrate", "PreSync"), job_hook("smoke", "PostSync")),
    )
    result = run(cluster, desired, events=events)
    assert not result.failed, result.outcomes
    assert actions(result) == [
        ("migrate", "created"),
        ("db", "created"),
        ("web", "created"),
        ("smoke", "created"),
    ]
    assert cluster.writes() == [
        "create Job/migrate",
        "patch Job/migrate",  # its finalizer off, once its result is read
        "apply Deployment/db",
        "apply Deployment/web",
        "create Job/smoke",
        "patch Job/smoke",
    ]
    assert events == [
        "PreSync: Job.batch/shop/migrate created",
        "PreSync: waiting for 1 hook to complete",
        "PreSync: Job.batch/shop/migrate Succeeded",
        "Sync wave 0: 1 created",
        "Sync wave 0: waiting for 1 resource to be Healthy",
        "Sync wave 0: Healthy",
        "Sync wave 1: 1 created",
        "Sync wave 1: waiting for 1 resource to be Healthy",  # PostSync waits for the last wave too
        "Sync wave 1: Healthy",
        "PostSync: Job.batch/shop/smoke created",
        "PostSync: waiting for 1 hook to complete",
        "PostSync: Job.batch/shop/smoke Succeeded",
    ]
    assert [(run.hook, run.phase) for run in result.hooks] == [
        ("PreSync", "Succeeded"),
        ("PostSync", "Succeeded"),
    ]
    assert [result.outcomes[run.position].key.name for run in result.hooks] == ["migrate", "smoke"]


def test_hooks_are_created_with_tracking_and_a_finalizer_never_applied() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {"migrate": RUNNING}
    clock = FakeClock()
    result = run(cluster, state(hooks=(job_hook("migrate", "PreSync"),)), clock=clock)
    (outcome,) = result.outcomes
    assert (
        outcome.action is ResourceAction.FAILED
        and outcome.message == "PreSync hook Failed: still running after 30 s"
    )
    created = cluster.store[ResourceKey("batch", "Job", "shop", "migrate")]
    assert created["metadata"]["annotations"][TRACKING_ANNOTATION] == "shop:batch/Job:shop/migrate"
    assert created["metadata"].get("finalizers") == []  # taken off even when the wait gave up
    assert sum(clock.slept) >= 30


def test_a_failing_presync_hook_stops_the_sync_and_runs_syncfail_hooks() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {"migrate": FAILED, "notify": COMPLETE}
    events: list[str] = []
    desired = state(deployment("web"), hooks=(job_hook("migrate", "PreSync"), job_hook("notify", "SyncFail")))
    result = run(cluster, desired, events=events)
    assert result.failed
    assert actions(result) == [("migrate", "failed"), ("web", "skipped"), ("notify", "created")]
    assert result.outcomes[0].message == "PreSync hook Failed: BackoffLimitExceeded"
    assert result.outcomes[1].message.startswith(
        "not reached: the sync stopped at PreSync: hook Job.batch/shop/migrate"
    )
    assert result.message == "PreSync: hook Job.batch/shop/migrate failed: BackoffLimitExceeded"
    assert "apply Deployment/web" not in cluster.writes()
    assert events[-3:] == [
        "SyncFail: Job.batch/shop/notify created",
        "SyncFail: waiting for 1 hook to complete",
        "SyncFail: Job.batch/shop/notify Succeeded",
    ]


def test_a_degraded_wave_stops_the_next_wave() -> None:
    cluster = FakeCluster()
    degraded = {
        "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    }
    cluster.status_on_write = {"db": degraded}
    result = run(cluster, state(deployment("db", 0), deployment("web", 1)))
    assert actions(result) == [("db", "failed"), ("web", "skipped")]
    assert (
        result.outcomes[0].message == 'created, then Degraded: Deployment "db" exceeded its progress deadline'
    )
    assert cluster.writes("apply") == ["apply Deployment/db"]


def test_a_wave_not_healthy_within_the_timeout_fails_and_the_wait_is_the_waiters() -> None:
    cluster = FakeCluster()
    clock = FakeClock()
    result = run(cluster, state(deployment("db", 0), deployment("web", 1)), clock=clock)
    assert actions(result) == [("db", "failed"), ("web", "skipped")]
    assert result.outcomes[0].message.startswith("created, then not Healthy after 30 s (Progressing")
    assert 30 <= sum(clock.slept) <= 32 and max(clock.slept) <= 2.0


class DegradedKinds:
    """A user's health checks (Argo CD Lua scripts, in kubedrift): these kinds are always Degraded."""

    def __init__(self, *kinds: str) -> None:
        self.kinds = kinds

    def check_for(self, group: str, kind: str) -> Callable[[Mapping[str, Any]], HealthStatus] | None:
        if kind not in self.kinds:
            return None
        return lambda obj: HealthStatus(Health.DEGRADED, "the user's check says no")


def test_a_wave_is_judged_by_the_users_health_checks_as_the_app_is() -> None:
    cluster = FakeCluster()
    settings = manifest("ConfigMap", "settings", **{"argocd.argoproj.io/sync-wave": "0"})
    desired = state(settings, deployment("web", 1))
    assert actions(run(FakeCluster(), desired)) == [("settings", "created"), ("web", "created")]
    result = run(cluster, desired, health_overrides=DegradedKinds("ConfigMap"))
    assert actions(result) == [("settings", "failed"), ("web", "skipped")]
    assert "the user's check says no" in result.outcomes[0].message


def test_the_last_wave_is_not_waited_for() -> None:
    cluster = FakeCluster()
    clock = FakeClock()
    result = run(cluster, state(deployment("db", 0), deployment("web", 0)), clock=clock)
    assert not result.failed and clock.slept == []


def test_hook_delete_policies_are_honoured_after_the_sync() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {"ok": COMPLETE, "bad": FAILED, "kept": COMPLETE}
    hooks = (
        job_hook("ok", "PreSync", **{"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
        job_hook("bad", "PreSync", **{"argocd.argoproj.io/hook-delete-policy": "HookFailed"}),
        job_hook("kept", "PreSync"),
    )
    result = run(cluster, state(hooks=hooks))
    assert {key.name for key in cluster.store} == {"kept"}
    messages = {outcome.key.name: outcome.message for outcome in result.outcomes}
    assert messages["ok"] == "PreSync hook Succeeded: done; deleted (HookSucceeded)"
    assert messages["bad"] == "PreSync hook Failed: BackoffLimitExceeded; deleted (HookFailed)"
    assert messages["kept"] == "PreSync hook Succeeded: done"


def test_before_hook_creation_deletes_the_earlier_run_and_creates_it_fresh() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {"migrate": COMPLETE}
    first = run(cluster, state(hooks=(job_hook("migrate", "PreSync"),)))
    old_uid = cluster.store[ResourceKey("batch", "Job", "shop", "migrate")]["metadata"]["uid"]
    cluster.calls.clear()
    changed = job_hook("migrate", "PreSync")
    changed["spec"] = {"template": {"spec": {"containers": [{"name": "m", "image": "migrate:2"}]}}}
    second = run(cluster, state(hooks=(changed,)))
    assert not first.failed and not second.failed
    assert cluster.writes() == ["delete Job/migrate", "create Job/migrate", "patch Job/migrate"]
    fresh = cluster.store[ResourceKey("batch", "Job", "shop", "migrate")]
    assert (
        fresh["metadata"]["uid"] != old_uid
        and fresh["spec"]["template"]["spec"]["containers"][0]["image"] == "migrate:2"
    )


def test_an_object_of_the_hooks_name_that_is_not_the_apps_is_left_alone() -> None:
    cluster = FakeCluster()
    bystander = manifest("Job", "migrate", group="batch")
    cluster.store[ResourceKey.of(bystander)] = bystander
    result = run(cluster, state(hooks=(job_hook("migrate", "PreSync"),)), live={})
    (outcome,) = result.outcomes
    assert outcome.action is ResourceAction.FAILED
    assert "already exists and is not this app's: left alone" in outcome.message
    assert cluster.writes() == []


def test_a_generate_name_hook_gets_argo_cds_name() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {"upgrade-": COMPLETE}
    generated = job_hook("", "PreSync")
    del generated["metadata"]["name"]
    generated["metadata"]["generateName"] = "upgrade-"
    result = run(cluster, state(hooks=(generated,)))
    assert actions(result) == [("upgrade-4f1c2a9-presync-1700000000", "created")]


def test_a_dry_run_creates_hooks_only_as_a_dry_run_and_waits_for_nothing() -> None:
    cluster = FakeCluster()
    clock = FakeClock()
    result = run(
        cluster,
        state(deployment("db", 0), deployment("web", 1), hooks=(job_hook("m", "PreSync"),)),
        clock=clock,
        dry_run=True,
    )
    assert not result.failed and cluster.store == {} and clock.slept == []
    assert all(extra["dry_run"] for verb, _, extra in cluster.calls if verb in ("create", "apply"))
    assert result.outcomes[0].message == "PreSync hook Succeeded: would be created"


def test_selective_sync_runs_no_hooks() -> None:
    cluster = FakeCluster()
    desired = state(deployment("web"), hooks=(job_hook("migrate", "PreSync"),))
    result = run(cluster, desired, keys=[ResourceKey("apps", "Deployment", "shop", "web")])
    assert actions(result) == [("web", "created")] and cluster.writes("create") == []


# --- sync options ------------------------------------------------------------------------------------


def test_create_namespace_applies_the_destination_first_untracked_with_its_metadata() -> None:
    cluster = FakeCluster()
    metadata = ManagedNamespaceMetadata(labels=(("team", "shop"),), annotations=(("owner", "ops"),))
    the_app = app("CreateNamespace=true", managed_namespace_metadata=metadata)
    result = run(cluster, state(deployment("web")), the_app=the_app)
    assert cluster.writes() == ["apply Namespace/shop", "apply Deployment/web"]
    namespace = cluster.store[ResourceKey("", "Namespace", "", "shop")]
    assert namespace["metadata"] == {
        "name": "shop",
        "labels": {"team": "shop"},
        "annotations": {"owner": "ops"},
        "uid": namespace["metadata"]["uid"],
        "resourceVersion": namespace["metadata"]["resourceVersion"],
    }
    assert actions(result)[0] == ("shop", "created")
    assert result.outcomes[0].message == "CreateNamespace=true, with managedNamespaceMetadata"


def test_create_namespace_leaves_an_existing_namespace_without_metadata_and_a_declared_one_to_git() -> None:
    cluster = FakeCluster()
    cluster.store[ResourceKey("", "Namespace", "", "shop")] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop"},
    }
    run(cluster, state(deployment("web")), the_app=app("CreateNamespace=true"), live={})
    assert cluster.writes() == ["apply Deployment/web"]
    declared = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    cluster.calls.clear()
    run(cluster, state(declared, deployment("web")), the_app=app("CreateNamespace=true"), live={})
    assert cluster.writes() == ["apply Namespace/shop", "apply Deployment/web"]


def test_apply_out_of_sync_only_leaves_synced_resources_alone() -> None:
    cluster = FakeCluster()
    web, db = deployment("web"), deployment("db")
    for obj in (web, db):
        cluster.store[ResourceKey.of(obj)] = copy.deepcopy(obj)
    result = run(cluster, state(web, db), the_app=app("ApplyOutOfSyncOnly=true"), synced=[ResourceKey.of(db)])
    assert cluster.writes() == ["apply Deployment/web"]
    assert dict(actions(result))["db"] == "unchanged"
    assert result.outcomes[0].message == "in sync: not applied (ApplyOutOfSyncOnly=true)"


def test_replace_creates_or_puts_the_whole_object() -> None:
    cluster = FakeCluster()
    web = deployment("web")
    cluster.store[ResourceKey.of(web)] = {**copy.deepcopy(web), "spec": {"replicas": 9}}
    run(cluster, state(web, deployment("db")), the_app=app("Replace=true"))
    assert sorted(cluster.writes()) == ["create Deployment/db", "replace Deployment/web"]


def test_replace_force_deletes_and_creates_again() -> None:
    cluster = FakeCluster()
    web = deployment("web")
    cluster.store[ResourceKey.of(web)] = copy.deepcopy(web) | {"status": {}}
    cluster.store[ResourceKey.of(web)]["metadata"]["uid"] = "old"
    result = run(cluster, state(web), the_app=app("Replace=true", "Force=true"))
    assert cluster.writes() == ["delete Deployment/web", "create Deployment/web"]
    assert result.outcomes[0].message.startswith("deleted and created again (Force=true)")


def test_force_recreates_when_the_server_refuses_a_change_as_invalid() -> None:
    cluster = FakeCluster()
    job = manifest("Job", "once", group="batch", **{"argocd.argoproj.io/sync-options": "Force=true"})
    cluster.store[ResourceKey.of(job)] = copy.deepcopy(job)
    cluster.refuse[("apply", "once")] = ApiError(
        422, "Invalid", 'Job.batch "once" is invalid: spec.template: field is immutable'
    )
    result = run(cluster, state(job))
    assert cluster.writes() == ["apply Job/once", "delete Job/once", "apply Job/once"]
    (outcome,) = result.outcomes
    assert outcome.action is ResourceAction.CREATED
    assert outcome.message == (
        "deleted and created again (Force=true): the server refused the change: "
        'Job.batch "once" is invalid: spec.template: field is immutable'
    )


def test_without_force_an_immutable_field_is_a_failure() -> None:
    cluster = FakeCluster()
    job = manifest("Job", "once", group="batch")
    cluster.store[ResourceKey.of(job)] = copy.deepcopy(job)
    cluster.refuse[("apply", "once")] = ApiError(422, "Invalid", "field is immutable")
    (outcome,) = run(cluster, state(job)).outcomes
    assert outcome.action is ResourceAction.FAILED and cluster.writes() == ["apply Job/once"]


def test_validate_false_sends_field_validation_ignore_for_that_resource_only() -> None:
    cluster = FakeCluster()
    loose = manifest("ConfigMap", "loose", **{"argocd.argoproj.io/sync-options": "Validate=false"})
    run(cluster, state(loose, manifest("ConfigMap", "strict")))
    validation = {key.name: extra["validation"] for verb, key, extra in cluster.calls if verb == "apply"}
    assert validation == {"loose": "Ignore", "strict": None}


def test_fail_on_shared_resource_writes_nothing_when_another_app_tracks_an_object() -> None:
    cluster = FakeCluster()
    web = deployment("web")
    theirs = copy.deepcopy(web)
    theirs["metadata"]["annotations"][TRACKING_ANNOTATION] = "other:apps/Deployment:shop/web"
    cluster.store[ResourceKey.of(web)] = theirs
    result = run(cluster, state(web, deployment("db")), the_app=app("FailOnSharedResource=true"))
    assert cluster.writes() == [] and result.failed
    assert dict(actions(result)) == {"web": "failed", "db": "skipped"}
    assert result.message == (
        "FailOnSharedResource=true: Deployment.apps/shop/web is tracked by app 'other', "
        "so nothing was applied"
    )


def test_prune_false_from_the_app_keeps_leftovers_unless_a_resource_says_prune_true() -> None:
    cluster = FakeCluster()
    leftovers = [
        manifest("ConfigMap", "old"),
        manifest("ConfigMap", "gone", **{"argocd.argoproj.io/sync-options": "Prune=true"}),
    ]
    for obj in leftovers:
        obj["metadata"]["annotations"][TRACKING_ANNOTATION] = (
            f"shop:/ConfigMap:shop/{obj['metadata']['name']}"
        )
        cluster.store[ResourceKey.of(obj)] = obj
    result = run(cluster, state(deployment("web")), the_app=app("Prune=false"), prune=True)
    assert dict(actions(result)) == {"web": "created", "gone": "pruned", "old": "skipped"}
    assert (
        dict((o.key.name, o.message) for o in result.outcomes)["old"]
        == "kept by the app's syncOptions: Prune=false"
    )


def test_prune_propagation_policy_is_the_apps() -> None:
    cluster = FakeCluster()
    old = manifest("ConfigMap", "old", **{TRACKING_ANNOTATION: "shop:/ConfigMap:shop/old"})
    cluster.store[ResourceKey.of(old)] = old
    run(cluster, state(deployment("web")), the_app=app("PrunePropagationPolicy=orphan"), prune=True)
    assert [extra for verb, _, extra in cluster.calls if verb == "delete"] == ["Orphan"]


def test_a_leftover_hook_is_never_pruned() -> None:
    cluster = FakeCluster()
    hook = job_hook("migrate", "PreSync", **{TRACKING_ANNOTATION: "shop:batch/Job:shop/migrate"})
    cluster.store[ResourceKey.of(hook)] = hook
    result = run(cluster, state(deployment("web")), prune=True)
    assert actions(result) == [("web", "created")] and "delete Job/migrate" not in cluster.writes()


# --- retry -------------------------------------------------------------------------------------------


def test_retry_tries_a_failed_sync_again_with_its_backoff() -> None:
    cluster = FakeCluster()
    cluster.refuse[("apply", "web")] = ApiError(409, "Conflict", "the object has been modified")
    clock = FakeClock()
    events: list[str] = []
    retry = RetryPolicy(limit=3, duration=5.0, factor=2, max_duration=60.0)
    result = run(cluster, state(deployment("web")), the_app=app(retry=retry), clock=clock, events=events)
    assert not result.failed and result.retries == 1
    assert clock.slept == [5.0]
    assert events == ["retry 1 of 3 in 5 s, after: Deployment.apps/shop/web: the object has been modified"]


def test_retry_gives_up_after_its_limit_with_growing_waits() -> None:
    cluster = FakeCluster()
    clock = FakeClock()
    retry = RetryPolicy(limit=2, duration=5.0, factor=3, max_duration=60.0)

    def refuse_always() -> None:
        cluster.refuse[("apply", "web")] = ApiError(409, "Conflict", "still busy")

    original = cluster._write

    def write(verb: str, obj: Mapping[str, Any], dry_run: bool, validation: str | None) -> dict[str, Any]:
        refuse_always()
        return original(verb, obj, dry_run, validation)

    cluster._write = write  # type: ignore[method-assign]
    result = run(cluster, state(deployment("web")), the_app=app(retry=retry), clock=clock)
    assert result.failed and result.retries == 2 and clock.slept == [5.0, 15.0]


def test_a_dry_run_is_never_retried() -> None:
    cluster = FakeCluster()
    cluster.refuse[("apply", "web")] = ApiError(409, "Conflict", "busy")
    clock = FakeClock()
    result = run(
        cluster, state(deployment("web")), the_app=app(retry=RetryPolicy(limit=3)), clock=clock, dry_run=True
    )
    assert result.failed and result.retries == 0 and clock.slept == []


def test_read_only_refuses_before_any_request() -> None:
    cluster = FakeCluster()
    cluster.read_only = True
    desired = state(deployment("web"), hooks=(job_hook("m", "PreSync"),))
    with pytest.raises(ReadOnlyError):
        run(cluster, desired, the_app=app("CreateNamespace=true"))
    assert cluster.calls == []


def test_the_audit_line_says_which_results_are_hooks_and_how_they_ended() -> None:
    cluster = FakeCluster()
    cluster.status_on_write = {"migrate": FAILED}
    result = run(cluster, state(deployment("web"), hooks=(job_hook("migrate", "PreSync"),)))
    record = audit_record(result, app="shop", operation="sync", user="me")
    hook, web = record["results"]
    assert (hook["name"], hook["action"], hook["hook"], hook["hookPhase"]) == (
        "migrate",
        "failed",
        "PreSync",
        "Failed",
    )
    assert set(web) == {
        "group",
        "kind",
        "namespace",
        "name",
        "action",
        "message",
    }  # DESIGN's shape, unchanged
