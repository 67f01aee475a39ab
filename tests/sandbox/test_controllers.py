"""The sandbox's simulated controllers, driven through the official kubernetes client (and real kubectl).

One sandbox with fast controllers serves the module; each test works in its own namespace, which is
deleted afterwards. Nothing is timed: every wait polls a condition for at most ten seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.controllers import ControllerSet, ControllerSettings, controller_set
from sandbox.controllers.cron import Schedule, ScheduleError
from sandbox.controllers.cronjob import job_name
from sandbox.controllers.job import format_indexes
from sandbox.controllers.loop import ReconcileLoop, Source, split_key
from sandbox.controllers.namespacedefaults import ROOT_CA_CONFIGMAP
from sandbox.controllers.ownership import own_key
from sandbox.controllers.podstatus import image_reference
from sandbox.controllers.revisions import POD_TEMPLATE_HASH
from sandbox.controllers.rollout import new_rs_replicas, old_rs_scale_down, resolve_fenceposts
from sandbox.handle import Sandbox, SandboxThread
from sandbox.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Kubectl

T = TypeVar("T")
NODE = "sandbox-node"
# CronJobs read this clock; frozen in the past so only `tick` fires them.
FROZEN_CLOCK = datetime(2000, 1, 1, tzinfo=UTC)
_namespaces = itertools.count()


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Poll until `probe` returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except ApiException as error:
            if error.status != 404:
                raise
            last = None
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


# ---- fixtures: one sandbox with controllers for the module ----


@pytest.fixture(scope="module")
def controllers() -> ControllerSet:
    return controller_set(
        ControllerSettings(
            pod_start_delay=0.01,
            pod_run_duration=0.02,
            pod_stop_delay=0.01,
            crashloop_backoff=0.05,
            job_backoff=0.0,
            clock=lambda: FROZEN_CLOCK,
        )
    )


@pytest.fixture(scope="module")
def sandbox(controllers: ControllerSet) -> Iterator[SandboxThread]:
    """Overrides conftest's controller-less sandbox, so its client and kubectl fixtures use this one."""
    with SandboxThread(config=ServerConfig(bookmark_interval=0.2), controllers=controllers.all()) as running:
        yield running


@pytest.fixture
def batch(api_client: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"test-{next(_namespaces)}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def deployment(name: str, *, replicas: int = 3, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
                    ]
                },
            },
            **spec,
        },
    }


def job(name: str, *, image: str = "busybox:1.36", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": image}]}
            },
            **spec,
        },
    }


def available(apps: client.AppsV1Api, namespace: str, name: str, replicas: int) -> Any:
    found = apps.read_namespaced_deployment(name, namespace)
    status = found.status
    done = (
        status.available_replicas == replicas
        and status.updated_replicas == replicas
        and status.replicas == replicas
        and status.observed_generation == found.metadata.generation
    )
    return found if done else None


def condition(conditions: list[Any] | None, kind: str) -> Any:
    return next((c for c in conditions or [] if c.type == kind), None)


def replica_sets(apps: client.AppsV1Api, namespace: str) -> list[Any]:
    return list(apps.list_namespaced_replica_set(namespace).items)


def pods(core: client.CoreV1Api, namespace: str, selector: str = "") -> list[Any]:
    return list(core.list_namespaced_pod(namespace, label_selector=selector).items)


def store_events(
    sandbox: SandboxThread, key: tuple[str, str], since: int
) -> list[tuple[str, str, str, dict]]:
    """(type, namespace, name, object) of every store event of one resource after `since`."""
    return sandbox.run(
        lambda api: [(e.type, e.namespace, e.new.name, e.new.obj) for e in api.store.events_since(key, since)]
    )


def current_rv(sandbox: SandboxThread) -> int:
    return sandbox.run(lambda api: api.store.resource_version)


# ---- the node, the scheduler and the kubelet ----


def test_the_kubelet_registers_one_ready_node(core: client.CoreV1Api) -> None:
    node = core.read_node(NODE)
    assert node.metadata.labels["kubernetes.io/hostname"] == NODE
    assert condition(node.status.conditions, "Ready").status == "True"
    assert node.status.node_info.kubelet_version.startswith("v1.")
    assert node.status.addresses[0].type == "InternalIP"


def test_a_bare_pod_is_bound_and_becomes_ready(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(
        namespace, {"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "redis"}]}}
    )
    pod = wait_for(
        lambda: (p := core.read_namespaced_pod("solo", namespace)).status.phase == "Running" and p,
        "the pod to run",
    )
    assert pod.spec.node_name == NODE
    assert pod.status.pod_ip.startswith("10.244.")
    assert pod.status.host_ip == "172.18.0.2"
    assert pod.status.start_time is not None
    assert pod.status.qos_class == "BestEffort"
    kinds = [c.type for c in pod.status.conditions]
    assert kinds == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c.status == "True" for c in pod.status.conditions)
    container = pod.status.container_statuses[0]
    assert container.ready and container.started and container.restart_count == 0
    assert container.state.running.started_at is not None
    assert container.image == "docker.io/library/redis:latest"
    # Status is the kubelet's, written through the status subresource; binding leaves no entry.
    managers = {(m.manager, m.subresource) for m in pod.metadata.managed_fields}
    assert ("kubelet", "status") in managers
    assert not any(manager == "kube-scheduler" for manager, _ in managers)


def test_a_pod_the_node_cannot_take_stays_pending(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "picky"},
            "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "redis"}]},
        },
    )
    scheduled = wait_for(
        lambda: condition(core.read_namespaced_pod("picky", namespace).status.conditions, "PodScheduled"),
        "the scheduler's verdict",
    )
    assert scheduled.status == "False"
    assert scheduled.reason == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in scheduled.message
    assert core.read_namespaced_pod("picky", namespace).spec.node_name is None


# ---- Deployments and ReplicaSets ----


def test_a_deployment_becomes_available_with_ready_pods(
    sandbox: SandboxThread, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    since = current_rv(sandbox)
    apps.create_namespaced_deployment(namespace, deployment("web"))
    found = wait_for(lambda: available(apps, namespace, "web", 3), "the deployment to be available")
    status = found.status
    assert status.ready_replicas == 3
    assert status.unavailable_replicas is None
    available_condition = condition(status.conditions, "Available")
    assert (available_condition.status, available_condition.reason) == ("True", "MinimumReplicasAvailable")
    assert available_condition.message == "Deployment has minimum availability."
    (rs,) = replica_sets(apps, namespace)
    progressing = condition(status.conditions, "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "NewReplicaSetAvailable")
    assert progressing.message == f'ReplicaSet "{rs.metadata.name}" has successfully progressed.'

    # On the way, the controller reported the ReplicaSet it created.
    progress_reasons = [
        (c["reason"], c["message"])
        for event_type, _ns, _name, obj in store_events(sandbox, ("apps", "deployments"), since)
        for c in obj.get("status", {}).get("conditions", [])
        if c["type"] == "Progressing"
    ]
    assert ("NewReplicaSetCreated", f'Created new replica set "{rs.metadata.name}"') in progress_reasons

    pod_hash = rs.metadata.labels[POD_TEMPLATE_HASH]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.spec.selector.match_labels == {"app": "web", POD_TEMPLATE_HASH: pod_hash}
    assert rs.spec.template.metadata.labels[POD_TEMPLATE_HASH] == pod_hash
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "4"
    (owner,) = rs.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == ("Deployment", "web", found.metadata.uid)
    assert owner.controller and owner.block_owner_deletion
    assert (rs.status.replicas, rs.status.ready_replicas, rs.status.available_replicas) == (3, 3, 3)
    assert rs.status.fully_labeled_replicas == 3
    assert rs.status.observed_generation == rs.metadata.generation

    running = pods(core, namespace, "app=web")
    assert len(running) == 3
    for pod in running:
        assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
        assert len(pod.metadata.name) == len(rs.metadata.name) + 6
        assert pod.metadata.labels[POD_TEMPLATE_HASH] == pod_hash
        assert pod.metadata.owner_references[0].uid == rs.metadata.uid
        assert pod.status.phase == "Running"
        assert condition(pod.status.conditions, "Ready").status == "True"
    assert len({p.status.pod_ip for p in running}) == 3
    # The controllers' status writes are theirs, on the status subresource.
    deployment_managers = {(m.manager, m.operation, m.subresource) for m in found.metadata.managed_fields}
    assert ("kube-controller-manager", "Update", "status") in deployment_managers


def test_scaling_events_are_recorded(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment("evented", replicas=2))
    wait_for(lambda: available(apps, namespace, "evented", 2), "the deployment to be available")
    events = wait_for(
        lambda: [e for e in core.list_namespaced_event(namespace).items if e.reason == "ScalingReplicaSet"],
        "a ScalingReplicaSet event",
    )
    (rs,) = replica_sets(apps, namespace)
    assert events[0].message == f"Scaled up replica set {rs.metadata.name} to 2 from 0"
    assert events[0].involved_object.kind == "Deployment"
    assert events[0].source.component == "deployment-controller"


def test_a_rolling_update_creates_a_new_replicaset_and_scales_the_old_to_zero(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("roll", replicas=4))
    wait_for(lambda: available(apps, namespace, "roll", 4), "the first rollout")
    (first,) = replica_sets(apps, namespace)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}
    apps.patch_namespaced_deployment("roll", namespace, patch)

    def rolled() -> Any:
        found = available(apps, namespace, "roll", 4)
        sets = replica_sets(apps, namespace)
        old = [rs for rs in sets if rs.metadata.name == first.metadata.name]
        return found if found and len(sets) == 2 and old and old[0].spec.replicas == 0 else None

    found = wait_for(rolled, "the rollout to finish")
    (new,) = [rs for rs in replica_sets(apps, namespace) if rs.metadata.name != first.metadata.name]
    assert new.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert new.spec.replicas == 4
    assert new.metadata.labels[POD_TEMPLATE_HASH] != first.metadata.labels[POD_TEMPLATE_HASH]
    images = wait_for(
        lambda: (
            (found_images := {p.spec.containers[0].image for p in pods(core, namespace, "app=roll")})
            == {"nginx:1.27"}
            and found_images
        ),
        "only new pods",
    )
    assert images == {"nginx:1.27"}
    assert len(pods(core, namespace, "app=roll")) == 4
    assert found.status.updated_replicas == 4
    progressing = condition(found.status.conditions, "Progressing")
    assert progressing.reason == "NewReplicaSetAvailable"
    assert new.metadata.name in progressing.message


def test_the_deployment_records_its_revision_through_the_status_subresource(
    apps: client.AppsV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("rev", replicas=1))
    first = wait_for(lambda: available(apps, namespace, "rev", 1), "the first rollout")
    assert first.metadata.annotations == {"deployment.kubernetes.io/revision": "1"}
    assert first.metadata.generation == 1, "an annotation written through status moves no generation"
    (status_entry,) = [m for m in first.metadata.managed_fields if m.subresource == "status"]
    assert status_entry.manager == "kube-controller-manager"
    assert status_entry.fields_v1["f:metadata"] == {
        "f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}
    }
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}
    apps.patch_namespaced_deployment("rev", namespace, patch)
    second = wait_for(
        lambda: (
            (found := available(apps, namespace, "rev", 1))
            and found.metadata.annotations.get("deployment.kubernetes.io/revision") == "2"
            and found
        ),
        "the second revision",
    )
    assert second.metadata.generation == 2


def test_scaling_through_the_scale_subresource(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("scaled", replicas=2))
    wait_for(lambda: available(apps, namespace, "scaled", 2), "two replicas")
    scale = apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    wait_for(lambda: available(apps, namespace, "scaled", 5), "five replicas")
    assert len(pods(core, namespace, "app=scaled")) == 5
    apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 1}})
    wait_for(lambda: available(apps, namespace, "scaled", 1), "one replica")
    wait_for(lambda: len(pods(core, namespace, "app=scaled")) == 1, "the extra pods to go")
    read_back = apps.read_namespaced_deployment_scale("scaled", namespace)
    assert (read_back.spec.replicas, read_back.status.replicas) == (1, 1)
    assert len(replica_sets(apps, namespace)) == 1


def test_a_paused_deployment_does_not_roll_out(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("held", replicas=2))
    wait_for(lambda: available(apps, namespace, "held", 2), "the first rollout")
    apps.patch_namespaced_deployment("held", namespace, {"spec": {"paused": True}})
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}
    changed = apps.patch_namespaced_deployment("held", namespace, patch)

    def observed_paused() -> Any:
        found = apps.read_namespaced_deployment("held", namespace)
        progressing = condition(found.status.conditions, "Progressing")
        seen = found.status.observed_generation == changed.metadata.generation
        return found if seen and progressing.reason == "DeploymentPaused" else None

    found = wait_for(observed_paused, "the controller to observe the paused change")
    assert condition(found.status.conditions, "Progressing").status == "Unknown"
    assert len(replica_sets(apps, namespace)) == 1
    assert {p.spec.containers[0].image for p in pods(core, namespace, "app=held")} == {"nginx:1.25"}

    apps.patch_namespaced_deployment("held", namespace, {"spec": {"paused": False}})
    wait_for(
        lambda: {p.spec.containers[0].image for p in pods(core, namespace, "app=held")} == {"nginx:1.27"},
        "the rollout to resume",
    )
    assert len(replica_sets(apps, namespace)) == 2


def test_a_crashlooping_image_leaves_the_deployment_unavailable(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("broken", replicas=1, image="example/crashloop:1")
    )

    def crash_looping() -> Any:
        for pod in pods(core, namespace, "app=broken"):
            state = pod.status.container_statuses and pod.status.container_statuses[0].state
            if state and state.waiting and state.waiting.reason == "CrashLoopBackOff":
                return pod
        return None

    pod = wait_for(crash_looping, "a CrashLoopBackOff pod")
    container = pod.status.container_statuses[0]
    assert pod.status.phase == "Running"
    assert container.restart_count >= 1
    assert not container.ready
    assert container.state.waiting.message.startswith("back-off ")
    assert f"restarting failed container=main pod={pod.metadata.name}_{namespace}(" in (
        container.state.waiting.message
    )
    assert container.last_state.terminated.exit_code == 1
    ready = condition(pod.status.conditions, "Ready")
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")
    assert ready.message == "containers with unready status: [main]"
    # The restart count keeps growing on the kubelet's back-off.
    wait_for(
        lambda: (
            core.read_namespaced_pod(pod.metadata.name, namespace).status.container_statuses[0].restart_count
            > container.restart_count
        ),
        "another restart",
    )

    found = wait_for(
        lambda: (d := apps.read_namespaced_deployment("broken", namespace)).status.observed_generation and d,
        "deployment status",
    )
    available_condition = condition(found.status.conditions, "Available")
    assert (available_condition.status, available_condition.reason) == ("False", "MinimumReplicasUnavailable")
    assert found.status.unavailable_replicas == 1
    assert found.status.available_replicas is None


def test_a_stuck_rollout_passes_its_progress_deadline(apps: client.AppsV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("stuck", replicas=1, image="example/crashloop:1", progressDeadlineSeconds=1)
    )

    def timed_out() -> Any:
        found = apps.read_namespaced_deployment("stuck", namespace)
        progressing = condition(found.status.conditions, "Progressing")
        return progressing if progressing and progressing.reason == "ProgressDeadlineExceeded" else None

    progressing = wait_for(timed_out, "ProgressDeadlineExceeded")
    assert progressing.status == "False"
    assert progressing.message.endswith("has timed out progressing.")


def test_a_recreate_deployment_replaces_all_pods(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(
        namespace, deployment("again", replicas=2, strategy={"type": "Recreate"})
    )
    wait_for(lambda: available(apps, namespace, "again", 2), "the first rollout")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}
    apps.patch_namespaced_deployment("again", namespace, patch)
    wait_for(
        lambda: (
            available(apps, namespace, "again", 2)
            and {p.spec.containers[0].image for p in pods(core, namespace, "app=again")} == {"nginx:1.27"}
        ),
        "the recreate rollout",
    )
    assert sorted(rs.spec.replicas for rs in replica_sets(apps, namespace)) == [0, 2]


def test_an_orphan_replicaset_is_adopted(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "loose"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "loose"}},
            "template": {
                "metadata": {"labels": {"app": "loose"}},
                "spec": {"containers": [{"name": "c", "image": "redis:7"}]},
            },
        },
    }
    apps.create_namespaced_replica_set(namespace, rs)
    found = wait_for(
        lambda: (r := apps.read_namespaced_replica_set("loose", namespace)).status.ready_replicas == 2 and r,
        "the ReplicaSet's pods",
    )
    assert found.metadata.owner_references is None
    assert all(p.metadata.owner_references[0].name == "loose" for p in pods(core, namespace, "app=loose"))


# ---- StatefulSets, DaemonSets, volumes ----


def test_a_statefulset_creates_ordered_pods_and_bound_claims(
    sandbox: SandboxThread, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    since = current_rv(sandbox)
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 3,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
    )
    found = wait_for(
        lambda: (s := apps.read_namespaced_stateful_set("db", namespace)).status.ready_replicas == 3 and s,
        "three ready members",
    )
    assert sorted(p.metadata.name for p in pods(core, namespace, "app=db")) == ["db-0", "db-1", "db-2"]
    status = found.status
    assert (status.replicas, status.current_replicas, status.updated_replicas) == (3, 3, 3)
    assert status.available_replicas == 3
    assert status.current_revision == status.update_revision
    assert status.update_revision.startswith("db-")
    assert status.collision_count == 0
    assert status.observed_generation == found.metadata.generation

    # OrderedReady: each pod is created only after the one before it became Ready.
    ready_order: list[str] = []
    for event_type, _ns, name, obj in store_events(sandbox, ("", "pods"), since):
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in obj.get("status", {}).get("conditions", [])
        )
        if event_type == "ADDED":
            ready_order.append(f"+{name}")
        elif ready and f"ready {name}" not in ready_order:
            ready_order.append(f"ready {name}")
    assert ready_order.index("ready db-0") < ready_order.index("+db-1")
    assert ready_order.index("ready db-1") < ready_order.index("+db-2")

    pod = core.read_namespaced_pod("db-1", namespace)
    assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == "db-1"
    assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == "1"
    assert pod.metadata.labels["controller-revision-hash"] == status.update_revision
    assert (pod.spec.hostname, pod.spec.subdomain) == ("db-1", "db")
    claim_volume = next(v for v in pod.spec.volumes if v.name == "data")
    assert claim_volume.persistent_volume_claim.claim_name == "data-db-1"

    claims = wait_for(
        lambda: (
            (c := core.list_namespaced_persistent_volume_claim(namespace).items)
            and all(x.status.phase == "Bound" for x in c)
            and c
        ),
        "bound claims",
    )
    assert sorted(c.metadata.name for c in claims) == ["data-db-0", "data-db-1", "data-db-2"]
    claim = next(c for c in claims if c.metadata.name == "data-db-0")
    assert claim.spec.volume_name == f"pvc-{claim.metadata.uid}"
    assert claim.status.capacity == {"storage": "1Gi"}
    assert claim.metadata.annotations["pv.kubernetes.io/bind-completed"] == "yes"
    volume = core.read_persistent_volume(claim.spec.volume_name)
    assert volume.spec.claim_ref.uid == claim.metadata.uid
    assert volume.status.phase == "Bound"
    revisions = apps.list_namespaced_controller_revision(namespace).items
    assert [r.metadata.name for r in revisions] == [status.update_revision]


def test_a_statefulset_scales_down_from_the_highest_ordinal(
    sandbox: SandboxThread, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "kv"},
        "spec": {
            "replicas": 3,
            "serviceName": "kv",
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "kv"}},
            "template": {
                "metadata": {"labels": {"app": "kv"}},
                "spec": {"containers": [{"name": "kv", "image": "redis:7"}]},
            },
        },
    }
    apps.create_namespaced_stateful_set(namespace, body)
    wait_for(
        lambda: apps.read_namespaced_stateful_set("kv", namespace).status.ready_replicas == 3, "three members"
    )
    apps.patch_namespaced_stateful_set_scale("kv", namespace, {"spec": {"replicas": 1}})
    remaining = wait_for(
        lambda: (names := [p.metadata.name for p in pods(core, namespace, "app=kv")]) == ["kv-0"] and names,
        "scale down to kv-0",
    )
    assert remaining == ["kv-0"]


def test_a_statefulset_rolls_its_pods_from_the_highest_ordinal(
    sandbox: SandboxThread, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "zk"},
        "spec": {
            "replicas": 3,
            "serviceName": "zk",
            "selector": {"matchLabels": {"app": "zk"}},
            "template": {
                "metadata": {"labels": {"app": "zk"}},
                "spec": {"containers": [{"name": "zk", "image": "zookeeper:3.8"}]},
            },
        },
    }
    apps.create_namespaced_stateful_set(namespace, body)
    first = wait_for(
        lambda: (s := apps.read_namespaced_stateful_set("zk", namespace)).status.ready_replicas == 3 and s,
        "three members",
    )
    since = current_rv(sandbox)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "zk", "image": "zookeeper:3.9"}]}}}}
    apps.patch_namespaced_stateful_set("zk", namespace, patch)

    def rolled() -> Any:
        found = apps.read_namespaced_stateful_set("zk", namespace)
        status = found.status
        done = (
            status.update_revision != first.status.update_revision
            and status.current_revision == status.update_revision
            and status.ready_replicas == 3
            and status.updated_replicas == 3
        )
        return found if done else None

    found = wait_for(rolled, "the rolling update")
    members = pods(core, namespace, "app=zk")
    assert {p.spec.containers[0].image for p in members} == {"zookeeper:3.9"}
    assert {p.metadata.labels["controller-revision-hash"] for p in members} == {found.status.update_revision}
    deleted = [
        name
        for kind, pod_namespace, name, _obj in store_events(sandbox, ("", "pods"), since)
        if kind == "DELETED" and pod_namespace == namespace
    ]
    assert deleted == ["zk-2", "zk-1", "zk-0"]
    revisions = sorted(r.revision for r in apps.list_namespaced_controller_revision(namespace).items)
    assert revisions == [1, 2]


def test_a_daemonset_runs_one_pod_on_the_node(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_daemon_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": "fluent-bit:3"}]},
                },
            },
        },
    )
    found = wait_for(
        lambda: (d := apps.read_namespaced_daemon_set("agent", namespace)).status.number_available == 1 and d,
        "the daemon pod",
    )
    status = found.status
    assert (status.desired_number_scheduled, status.current_number_scheduled, status.number_ready) == (
        1,
        1,
        1,
    )
    assert status.updated_number_scheduled == 1
    assert status.number_misscheduled == 0
    assert status.observed_generation == found.metadata.generation
    (pod,) = pods(core, namespace, "app=agent")
    assert pod.spec.node_name == NODE
    required = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    terms = required.node_selector_terms
    assert terms[0].match_fields[0].values == [NODE]
    assert any(t.key == "node.kubernetes.io/not-ready" for t in pod.spec.tolerations)
    assert pod.metadata.labels["pod-template-generation"] == "1"

    apps.patch_namespaced_daemon_set(
        "agent",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "fluent-bit:4"}]}}}},
    )
    replaced = wait_for(
        lambda: (
            (p := pods(core, namespace, "app=agent"))
            and len(p) == 1
            and p[0].spec.containers[0].image == "fluent-bit:4"
            and p[0].status.phase == "Running"
            and p[0]
        ),
        "the updated daemon pod",
    )
    assert replaced.metadata.name != pod.metadata.name


# ---- Jobs and CronJobs ----


def test_a_job_completes(batch: client.BatchV1Api, core: client.CoreV1Api, namespace: str) -> None:
    batch.create_namespaced_job(namespace, job("once", completions=2))
    found = wait_for(
        lambda: (
            condition((j := batch.read_namespaced_job("once", namespace)).status.conditions, "Complete") and j
        ),
        "the job to complete",
    )
    status = found.status
    assert status.succeeded == 2
    assert status.active is None
    assert status.start_time is not None and status.completion_time is not None
    complete = condition(status.conditions, "Complete")
    assert (complete.status, complete.reason) == ("True", "CompletionsReached")
    assert complete.message == "Reached expected number of succeeded pods"
    assert condition(status.conditions, "SuccessCriteriaMet").status == "True"
    finished = pods(core, namespace, "job-name=once")
    assert len(finished) == 2
    assert {p.status.phase for p in finished} == {"Succeeded"}
    terminated = finished[0].status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")


def test_a_failing_job_fails_after_its_backoff_limit(
    batch: client.BatchV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    batch.create_namespaced_job(namespace, job("doomed", image="example/fail:1", backoffLimit=1))
    found = wait_for(
        lambda: (
            condition((j := batch.read_namespaced_job("doomed", namespace)).status.conditions, "Failed") and j
        ),
        "the job to fail",
    )
    failed = condition(found.status.conditions, "Failed")
    assert (failed.status, failed.reason) == ("True", "BackoffLimitExceeded")
    assert failed.message == "Job has reached the specified backoff limit"
    assert condition(found.status.conditions, "FailureTarget").status == "True"
    assert found.status.failed == 2
    assert condition(found.status.conditions, "Complete") is None
    assert {p.status.phase for p in pods(core, namespace, "job-name=doomed")} == {"Failed"}


def test_a_suspended_job_waits_until_resumed(
    sandbox: SandboxThread, batch: client.BatchV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    batch.create_namespaced_job(namespace, job("later", suspend=True))
    suspended = wait_for(
        lambda: condition(batch.read_namespaced_job("later", namespace).status.conditions, "Suspended"),
        "the Suspended condition",
    )
    assert (suspended.status, suspended.reason, suspended.message) == (
        "True",
        "JobSuspended",
        "Job suspended",
    )
    found = batch.read_namespaced_job("later", namespace)
    assert found.status.start_time is None
    assert pods(core, namespace, "job-name=later") == []

    batch.patch_namespaced_job("later", namespace, {"spec": {"suspend": False}})
    done = wait_for(
        lambda: (
            condition((j := batch.read_namespaced_job("later", namespace)).status.conditions, "Complete")
            and j
        ),
        "the resumed job to complete",
    )
    resumed = condition(done.status.conditions, "Suspended")
    assert (resumed.status, resumed.reason) == ("False", "JobResumed")
    assert done.status.start_time is not None


def test_an_indexed_job_gives_each_pod_its_index(
    batch: client.BatchV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    batch.create_namespaced_job(
        namespace, job("shards", completions=3, parallelism=3, completionMode="Indexed")
    )
    found = wait_for(
        lambda: (
            condition((j := batch.read_namespaced_job("shards", namespace)).status.conditions, "Complete")
            and j
        ),
        "the indexed job",
    )
    assert found.status.completed_indexes == "0-2"
    indexes = sorted(
        p.metadata.annotations["batch.kubernetes.io/job-completion-index"]
        for p in pods(core, namespace, "job-name=shards")
    )
    assert indexes == ["0", "1", "2"]


def test_a_cronjob_tick_creates_its_job(
    sandbox: SandboxThread, controllers: ControllerSet, batch: client.BatchV1Api, namespace: str
) -> None:
    created = batch.create_namespaced_cron_job(
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {
                    "metadata": {"labels": {"team": "data"}},
                    "spec": job("unused")["spec"],
                },
            },
        },
    )
    assert batch.list_namespaced_job(namespace).items == []  # the frozen clock never fires it
    now = created.metadata.creation_timestamp + timedelta(minutes=2, seconds=30)
    sandbox.run(lambda api: controllers.cronjob.tick(now))
    scheduled = now.replace(second=0, microsecond=0)
    (spawned,) = batch.list_namespaced_job(namespace).items
    assert spawned.metadata.name == job_name("nightly", scheduled)
    assert spawned.metadata.name == f"nightly-{int(scheduled.timestamp()) // 60}"
    assert spawned.metadata.labels["team"] == "data"
    assert spawned.metadata.owner_references[0].uid == created.metadata.uid
    assert spawned.metadata.annotations[
        "batch.kubernetes.io/cronjob-scheduled-timestamp"
    ] == scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")
    cronjob = batch.read_namespaced_cron_job("nightly", namespace)
    assert cronjob.status.last_schedule_time == scheduled
    assert [ref.name for ref in cronjob.status.active or []] in ([spawned.metadata.name], [])

    # The same time again makes no second Job; once the Job is done, it is no longer active.
    sandbox.run(lambda api: controllers.cronjob.tick(now))
    assert len(batch.list_namespaced_job(namespace).items) == 1
    wait_for(
        lambda: condition(
            batch.read_namespaced_job(spawned.metadata.name, namespace).status.conditions, "Complete"
        ),
        "the spawned job to complete",
    )
    sandbox.run(lambda api: controllers.cronjob.tick(now))
    cronjob = batch.read_namespaced_cron_job("nightly", namespace)
    assert not cronjob.status.active
    assert cronjob.status.last_successful_time is not None


def test_a_suspended_cronjob_does_not_fire(
    sandbox: SandboxThread, controllers: ControllerSet, batch: client.BatchV1Api, namespace: str
) -> None:
    created = batch.create_namespaced_cron_job(
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "off"},
            "spec": {
                "schedule": "*/5 * * * *",
                "suspend": True,
                "jobTemplate": {"spec": job("unused")["spec"]},
            },
        },
    )
    sandbox.run(
        lambda api: controllers.cronjob.tick(created.metadata.creation_timestamp + timedelta(hours=1))
    )
    assert batch.list_namespaced_job(namespace).items == []


# ---- Services and Endpoints ----


def test_endpoints_track_the_ready_pods_of_a_service(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("api", replicas=2))
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "api", "labels": {"tier": "backend"}},
            "spec": {
                "selector": {"app": "api"},
                "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
            },
        },
    )

    def addresses(count: int) -> Any:
        endpoints = core.read_namespaced_endpoints("api", namespace)
        subsets = endpoints.subsets or []
        ready = [a for s in subsets for a in s.addresses or []]
        return endpoints if len(ready) == count else None

    endpoints = wait_for(lambda: addresses(2), "two ready addresses")
    (subset,) = endpoints.subsets
    assert [(p.name, p.port, p.protocol) for p in subset.ports] == [("web", 8080, "TCP")]
    pod_ips = {p.status.pod_ip for p in pods(core, namespace, "app=api")}
    assert {a.ip for a in subset.addresses} == pod_ips
    assert all(a.target_ref.kind == "Pod" and a.node_name == NODE for a in subset.addresses)
    assert endpoints.metadata.labels == {"tier": "backend"}

    apps.patch_namespaced_deployment_scale("api", namespace, {"spec": {"replicas": 3}})
    wait_for(lambda: addresses(3), "a third address")

    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "sick", "labels": {"app": "api"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "example/crashloop:1",
                        "ports": [{"name": "http", "containerPort": 9090}],
                    }
                ]
            },
        },
    )

    def not_ready() -> Any:
        subsets = core.read_namespaced_endpoints("api", namespace).subsets or []
        return [a for s in subsets for a in s.not_ready_addresses or []]

    (sick,) = wait_for(not_ready, "the unready pod in notReadyAddresses")
    assert sick.target_ref.name == "sick"

    core.delete_namespaced_service("api", namespace)
    wait_for(
        lambda: not core.list_namespaced_endpoints(namespace).items, "the endpoints to go with the service"
    )


# ---- garbage collection ----


def test_background_deletion_collects_replicasets_and_pods(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("gone", replicas=2))
    wait_for(lambda: available(apps, namespace, "gone", 2), "the deployment")
    apps.delete_namespaced_deployment("gone", namespace, propagation_policy="Background")
    wait_for(lambda: not replica_sets(apps, namespace), "the ReplicaSet to be collected")
    wait_for(lambda: not pods(core, namespace), "the pods to be collected")


def test_foreground_deletion_waits_for_dependents(
    sandbox: SandboxThread, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("fg", replicas=2))
    wait_for(lambda: available(apps, namespace, "fg", 2), "the deployment")
    since = current_rv(sandbox)
    apps.delete_namespaced_deployment("fg", namespace, propagation_policy="Foreground")

    def deployment_gone() -> bool:
        try:
            apps.read_namespaced_deployment("fg", namespace)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(deployment_gone, "the deployment to go")
    assert replica_sets(apps, namespace) == []
    assert pods(core, namespace) == []
    # In storage order: every pod, then the ReplicaSet, then the Deployment.
    deleted = {}
    for key in (("", "pods"), ("apps", "replicasets"), ("apps", "deployments")):
        for event_type, _ns, name, obj in store_events(sandbox, key, since):
            if event_type == "DELETED":
                deleted[(key[1], name)] = int(obj["metadata"]["resourceVersion"])
    last_pod = max(rv for (kind, _), rv in deleted.items() if kind == "pods")
    (rs_rv,) = [rv for (kind, _), rv in deleted.items() if kind == "replicasets"]
    assert last_pod < rs_rv < deleted[("deployments", "fg")]
    marked = [
        obj
        for event_type, _ns, _name, obj in store_events(sandbox, ("apps", "deployments"), since)
        if event_type == "MODIFIED" and obj["metadata"].get("deletionTimestamp")
    ]
    assert "foregroundDeletion" in marked[0]["metadata"]["finalizers"]


def test_orphan_deletion_keeps_the_replicaset_and_its_pods(
    sandbox: SandboxThread,
    controllers: ControllerSet,
    apps: client.AppsV1Api,
    core: client.CoreV1Api,
    namespace: str,
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("left", replicas=2))
    wait_for(lambda: available(apps, namespace, "left", 2), "the deployment")
    apps.delete_namespaced_deployment("left", namespace, propagation_policy="Orphan")
    (rs,) = wait_for(
        lambda: (sets := replica_sets(apps, namespace)) and not sets[0].metadata.owner_references and sets,
        "the orphaned ReplicaSet",
    )
    # Give the collector every chance to act wrongly before looking.
    wait_for(
        lambda: sandbox.run(lambda api: len(controllers.garbage_collector.queue) == 0), "an idle collector"
    )
    time.sleep(0.2)
    assert [r.metadata.name for r in replica_sets(apps, namespace)] == [rs.metadata.name]
    assert len([p for p in pods(core, namespace) if p.status.phase == "Running"]) == 2


def test_every_namespace_gets_a_default_service_account_and_the_root_ca(
    core: client.CoreV1Api, namespace: str
) -> None:
    for name in ("default", "kube-system", namespace):
        wait_for(lambda name=name: core.read_namespaced_service_account("default", name), f"{name}'s account")
        bundle = wait_for(lambda name=name: core.read_namespaced_config_map(ROOT_CA_CONFIGMAP, name), name)
        assert bundle.data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----\n")
        assert bundle.metadata.annotations["kubernetes.io/description"].startswith("Contains a CA bundle")
        assert [m.manager for m in bundle.metadata.managed_fields] == ["kube-controller-manager"]
    account = core.read_namespaced_service_account("default", namespace)
    assert account.secrets is None and account.metadata.managed_fields is None

    core.delete_namespaced_service_account("default", namespace)
    recreated = wait_for(
        lambda: (
            (found := core.read_namespaced_service_account("default", namespace)).metadata.uid
            != account.metadata.uid
            and found
        ),
        "the default account to come back",
    )
    assert recreated.metadata.name == "default"
    core.patch_namespaced_config_map(ROOT_CA_CONFIGMAP, namespace, {"data": {"ca.crt": "tampered"}})
    wait_for(
        lambda: (
            core.read_namespaced_config_map(ROOT_CA_CONFIGMAP, namespace).data["ca.crt"].startswith("-----")
        ),
        "the CA bundle to be restored",
    )
    core.delete_namespaced_config_map(ROOT_CA_CONFIGMAP, namespace)
    wait_for(lambda: core.read_namespaced_config_map(ROOT_CA_CONFIGMAP, namespace), "the bundle to come back")


def test_a_dependent_of_a_missing_owner_is_collected(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "dependent",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
                ],
            }
        },
    )
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "stray",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "nobody", "uid": "0000-gone"}
                ],
            }
        },
    )
    wait_for(
        lambda: (
            {c.metadata.name for c in core.list_namespaced_config_map(namespace).items} - {ROOT_CA_CONFIGMAP}
            == {"owner", "dependent"}
        ),
        "the stray dependent to be collected",
    )
    core.delete_namespaced_config_map("owner", namespace)
    wait_for(
        lambda: (
            [c.metadata.name for c in core.list_namespaced_config_map(namespace).items] == [ROOT_CA_CONFIGMAP]
        ),
        "the dependent to follow its owner",
    )


# ---- real kubectl ----


def test_kubectl_waits_for_a_deployment_to_become_available(kubectl: Kubectl, namespace: str) -> None:
    manifest = deployment("waited", replicas=2)
    manifest["metadata"]["namespace"] = namespace
    kubectl.run("apply", "-f", "-", input=json.dumps(manifest))
    done = kubectl.run(
        "wait", "--for=condition=available", "deployment/waited", "-n", namespace, "--timeout=20s"
    )
    assert "deployment.apps/waited condition met" in done.stdout
    rollout = kubectl.run("rollout", "status", "deployment/waited", "-n", namespace, "--timeout=20s")
    assert "successfully rolled out" in rollout.stdout
    listed = kubectl.run("get", "pods", "-n", namespace, "-l", "app=waited")
    assert listed.stdout.count("Running") == 2


# ---- the loop itself ----


class _Flaky(ReconcileLoop):
    """Fails its first two reconciles of each ConfigMap, then records it."""

    name = "flaky"

    def __init__(self) -> None:
        super().__init__()
        self.attempts: dict[tuple[str, str], int] = {}
        self.done: list[tuple[str, str]] = []

    def sources(self) -> list[Source]:
        return [Source("v1", "ConfigMap", own_key)]

    def resync(self) -> list[tuple[str, str]]:
        return []

    def reconcile(self, key: Any) -> float | None:
        namespace, name = split_key(key)
        count = self.attempts.get((namespace, name), 0) + 1
        self.attempts[(namespace, name)] = count
        if count <= 2:
            raise RuntimeError("simulated reconcile failure")
        self.done.append((namespace, name))
        return None


async def _until(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_failing_reconcile_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    flaky = _Flaky()
    async with Sandbox(controllers=[flaky]) as running:
        configmaps = running.api.resource("v1", "ConfigMap")
        with caplog.at_level(logging.ERROR, logger="sandbox.controllers"):
            running.api.create(configmaps, "default", {"metadata": {"name": "x"}}, manager="test")
            await _until(lambda: flaky.done == [("default", "x")], "the third attempt")
        assert flaky.attempts[("default", "x")] == 3
        failures = [r for r in caplog.records if r.exc_info and "simulated" in str(r.exc_info[1])]
        assert len(failures) == 2
        assert "flaky: reconciling ('default', 'x') failed" in failures[0].getMessage()
        # The server still answers after the failures.
        assert running.api.get(configmaps, "default", "x").name == "x"


class _BadStart(_Flaky):
    """Fails to start once, then reconciles normally."""

    name = "bad-start"

    def started(self) -> None:
        self.starts = getattr(self, "starts", 0) + 1
        if self.starts == 1:
            raise RuntimeError("simulated start failure")

    def reconcile(self, key: Any) -> float | None:
        self.done.append(split_key(key))
        return None


async def test_a_controller_that_fails_to_start_is_restarted(caplog: pytest.LogCaptureFixture) -> None:
    controller = _BadStart()
    async with Sandbox(controllers=[controller]) as running:
        with caplog.at_level(logging.ERROR, logger="sandbox.controllers"):
            await _until(lambda: getattr(controller, "starts", 0) == 2, "the restart")
        configmaps = running.api.resource("v1", "ConfigMap")
        running.api.create(configmaps, "default", {"metadata": {"name": "y"}}, manager="test")
        await _until(lambda: ("default", "y") in controller.done, "a reconcile after the restart")
    assert any("bad-start stopped with an error" in r.getMessage() for r in caplog.records)


async def test_controllers_survive_dropped_watches_and_stop_cleanly() -> None:
    controllers = controller_set(ControllerSettings(pod_start_delay=0.0, record_events=False))
    async with Sandbox(controllers=controllers.all()) as running:
        await _until(lambda: all(c.running for c in controllers.all()), "the controllers to start")
        running.faults.drop_watches()
        pods_type = running.api.resource("v1", "Pod")
        running.api.create(
            pods_type,
            "default",
            {"metadata": {"name": "after-drop"}, "spec": {"containers": [{"name": "c", "image": "redis"}]}},
            manager="test",
        )

        def pod_running() -> bool:
            found = running.api.find(pods_type, "default", "after-drop")
            return found is not None and found.obj.get("status", {}).get("phase") == "Running"

        await _until(pod_running, "the pod to run after the watches were dropped")
    assert not any(c.running for c in controllers.all())
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


# ---- pure parts ----


def test_cron_schedules() -> None:
    every_five = Schedule.parse("*/5 * * * *")
    start = datetime(2024, 5, 1, 12, 3, 30, tzinfo=UTC)
    assert every_five.next_after(start) == datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    weekdays = Schedule.parse("30 9 * * MON-FRI")
    saturday = datetime(2024, 5, 4, 10, 0, tzinfo=UTC)
    assert weekdays.next_after(saturday) == datetime(2024, 5, 6, 9, 30, tzinfo=UTC)
    assert Schedule.parse("@daily").next_after(start) == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    # Day of month and day of week restricted together: either matches.
    either = Schedule.parse("0 0 13 * FRI")
    assert either.next_after(datetime(2024, 9, 1, tzinfo=UTC)) == datetime(2024, 9, 6, tzinfo=UTC)
    latest, count = every_five.most_recent(start - timedelta(hours=1), start)
    assert latest == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert count == 12
    with pytest.raises(ScheduleError):
        Schedule.parse("61 * * * *")
    with pytest.raises(ScheduleError):
        Schedule.parse("* * *")


def test_rollout_arithmetic() -> None:
    d = deployment("x", replicas=4)
    assert resolve_fenceposts(d) == (1, 1)
    old = {
        "metadata": {"name": "old", "creationTimestamp": "1"},
        "spec": {"replicas": 4},
        "status": {"availableReplicas": 4},
    }
    assert new_rs_replicas(d, [old], None) == 1  # maxSurge allows one extra pod
    new = {"metadata": {"name": "new", "creationTimestamp": "2"}, "spec": {"replicas": 1}, "status": {}}
    # One new pod not yet available: only maxUnavailable (1) old pod may go.
    assert old_rs_scale_down(d, [old, new], [old], new) == {"old": 3}
    zero = deployment("z", replicas=1, strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    assert resolve_fenceposts(zero) == (0, 1)


def test_status_helpers() -> None:
    assert format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert format_indexes(set()) == ""
    assert image_reference("nginx") == "docker.io/library/nginx:latest"
    assert image_reference("bitnami/redis:7") == "docker.io/bitnami/redis:7"
    assert image_reference("ghcr.io/org/app:1") == "ghcr.io/org/app:1"
    assert image_reference("localhost:5000/app") == "localhost:5000/app:latest"
