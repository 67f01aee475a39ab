"""Phases and waves against the sandbox, its controllers running: argocd-example-apps' sync-waves and
helm-hooks shapes apply in Argo CD's order, each wave Healthy before the next; a Degraded wave stops
the sync there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.actions import sync_app
from core.cluster import ClusterAdapter
from core.model import App, Destination, ResourceAction, Source, SyncPolicy
from core.sync_options import SyncOptions
from core.sync_wait import SyncWaiter
from core.sync_waves import SyncProgress
from sandbox.handle import SandboxThread
from tests.integration.sync_sandbox import (
    fixture_files,
    fresh_namespace,
    live_of,
    rendered,
    running_sandbox,
    writes,
)

CREATE_NAMESPACE = SyncPolicy(sync_options=SyncOptions((("CreateNamespace", "true"),)))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxThread]:
    """Overrides the integration tier's controller-less sandbox: Jobs must run and pods get ready."""
    yield from running_sandbox()


def app_in(namespace: str) -> App:
    return App(namespace, Source("/unused"), Destination(namespace=namespace), CREATE_NAMESPACE)


def test_the_sync_waves_example_applies_phase_by_phase_and_wave_by_wave(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    namespace = fresh_namespace("waves")
    desired = rendered(fixture_files("sync-waves"), namespace)
    sandbox.faults.clear_request_log()
    events: list[str] = []
    result = sync_app(
        adapter,
        app_in(namespace),
        desired,
        {},
        progress=lambda step: events.append(step.event) if step.event else None,
    )
    assert not result.failed, result.outcomes
    presync = result.outcomes[1].key.name
    assert presync.startswith("upgrade-sql-schema4f1c2a9-presync-")
    assert writes(sandbox.request_log, namespace) == [
        "PATCH namespace",  # CreateNamespace=true, before anything
        "POST jobs",  # PreSync: the generateName hook, created fresh
        f"PATCH jobs/{presync}",  # its finalizer off once it has succeeded
        "PATCH services/backend",  # wave 0
        "PATCH replicasets/backend",
        "POST jobs",  # wave 1: maint-page-up
        "PATCH jobs/maint-page-up",
        "PATCH services/frontend",  # wave 2
        "PATCH replicasets/frontend",
        "POST jobs",  # wave 3: maint-page-down
        "PATCH jobs/maint-page-down",
    ]
    assert [event for event in events if event.endswith(": Healthy")] == [
        "Sync wave 0: Healthy",
        "Sync wave 2: Healthy",
    ]
    backend = adapter.get(adapter.resource_for("apps", "ReplicaSet"), namespace, "backend")
    assert backend is not None and backend["status"].get("readyReplicas") == 1
    assert [(run.hook, run.phase) for run in result.hooks] == [
        ("PreSync", "Succeeded"),
        ("Sync", "Succeeded"),
        ("Sync", "Succeeded"),
    ]


def test_a_sync_again_recreates_the_hooks_and_applies_nothing_new(adapter: ClusterAdapter) -> None:
    namespace = fresh_namespace("again")
    desired = rendered(fixture_files("sync-waves"), namespace)
    first = sync_app(adapter, app_in(namespace), desired, {})
    jobs = adapter.resource_for("batch", "Job")
    before = adapter.get(jobs, namespace, "maint-page-up")
    second = sync_app(adapter, app_in(namespace), desired, live_of(adapter, desired))
    after = adapter.get(jobs, namespace, "maint-page-up")
    assert not first.failed and not second.failed, second.outcomes
    assert before is not None and after is not None
    assert before["metadata"]["uid"] != after["metadata"]["uid"]  # BeforeHookCreation: deleted, created fresh
    applied = {o.key.name: o.action for o in second.outcomes if o.key.kind in ("ReplicaSet", "Service")}
    assert set(applied.values()) == {ResourceAction.UNCHANGED}


def test_the_helm_hooks_example_runs_helms_hooks_as_argo_cd_maps_them(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    namespace = fresh_namespace("helm-hooks")
    desired = rendered(fixture_files("helm-hooks"), namespace)
    sandbox.faults.clear_request_log()
    result = sync_app(adapter, app_in(namespace), desired, {})
    assert not result.failed, result.outcomes
    order = [(outcome.key.kind, outcome.key.name.partition("4f1c2a9")[0]) for outcome in result.outcomes]
    assert order == [
        ("Namespace", namespace),
        ("Job", "upgrade-sql-schema"),  # pre-install, hook-weight -2
        ("Job", "maint-page-up"),  # pre-install, hook-weight -1
        ("ReplicaSet", "frontend"),  # Sync wave 0
        ("Service", "frontend"),  # no hook, but hook-weight 2: Sync wave 2
        ("Job", "maint-page-down"),  # post-install
    ]
    assert [(run.hook, run.phase) for run in result.hooks] == [
        ("PreSync", "Succeeded"),
        ("PreSync", "Succeeded"),
        ("PostSync", "Succeeded"),
    ]


def test_a_degraded_wave_stops_the_next_wave(adapter: ClusterAdapter, sandbox: SandboxThread) -> None:
    namespace = fresh_namespace("degraded")
    files = {
        "crashing.yaml": b"""\
apiVersion: v1
kind: Pod
metadata: {name: crashing}
spec:
  containers: [{name: main, image: example/crashloop:1}]
""",
        "later.yaml": b"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: later
  annotations: {argocd.argoproj.io/sync-wave: "1"}
data: {a: b}
""",
    }
    desired = rendered(files, namespace)
    sandbox.faults.clear_request_log()
    progress: list[SyncProgress] = []
    result = sync_app(
        adapter, app_in(namespace), desired, {}, progress=progress.append, waiter=SyncWaiter(timeout=30)
    )
    assert result.failed
    outcomes = {outcome.key.name: outcome for outcome in result.outcomes}
    assert outcomes["crashing"].action is ResourceAction.FAILED
    assert outcomes["crashing"].message.startswith("created, then Degraded")
    assert outcomes["later"].action is ResourceAction.SKIPPED
    assert result.message.startswith("Sync wave 0: Pod/") and "is Degraded" in result.message
    assert "PATCH configmaps/later" not in writes(sandbox.request_log, namespace)
    assert adapter.get(adapter.resource_for("", "ConfigMap"), namespace, "later") is None
    lines = [step.line for step in progress if step.key is not None]
    assert lines[0] == "Sync 1/1 · wave 0 1/1"
