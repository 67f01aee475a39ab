"""Lifecycle against the sandbox's simulated control plane, through the official client and real kubectl:
graceful pod deletion, namespace deletion conditions, cordoning, and pods that finish by their command.

One sandbox with fast controllers serves the module; each test works in its own namespace. Nothing is
timed: every wait polls a condition with a deadline. A pod that must stay Terminating for a while
runs `trap '' TERM` (it ignores SIGTERM), so it lives out its grace period.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sandbox.controllers import ControllerSet, ControllerSettings, controller_set
from sandbox.controllers.processes import process_of
from sandbox.handle import SandboxThread
from sandbox.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Kubectl

T = TypeVar("T")
NODE = "sandbox-node"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
IGNORES_SIGTERM = ["sh", "-c", "trap '' TERM; sleep 3600"]
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


def condition(conditions: list[Any] | None, kind: str) -> Any:
    return next((c for c in conditions or [] if c.type == kind), None)


@pytest.fixture(scope="module")
def controllers() -> ControllerSet:
    return controller_set(
        ControllerSettings(
            pod_start_delay=0.01,
            pod_run_duration=0.02,
            pod_stop_delay=0.05,
            crashloop_backoff=0.05,
            job_backoff=0.0,
        )
    )


@pytest.fixture(scope="module")
def sandbox(controllers: ControllerSet) -> Iterator[SandboxThread]:
    """Overrides conftest's controller-less sandbox, so its client and kubectl fixtures use this one."""
    with SandboxThread(config=ServerConfig(bookmark_interval=0.2), controllers=controllers.all()) as running:
        yield running


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"life-{next(_namespaces)}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def pod(
    name: str, *, command: list[str] | None = None, restart_policy: str = "Always", **spec: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox:1.36"}
    if command is not None:
        container["command"] = command
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"restartPolicy": restart_policy, "containers": [container], **spec},
    }


def running(core: client.CoreV1Api, namespace: str, name: str) -> Any:
    return wait_for(
        lambda: (
            (p := core.read_namespaced_pod(name, namespace)).status.phase == "Running"
            and condition(p.status.conditions, "Ready").status == "True"
            and p
        ),
        f"pod {name} to run",
    )


def gone(core: client.CoreV1Api, namespace: str, name: str, timeout: float = 10.0) -> None:
    def absent() -> bool:
        try:
            core.read_namespaced_pod(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    wait_for(absent, f"pod {name} to be deleted", timeout=timeout)


# ---- graceful deletion ----


def events_until_deleted(
    core: client.CoreV1Api, namespace: str, name: str, since: str
) -> list[tuple[str, Any]]:
    """The watch events of one pod after resourceVersion `since`, up to and including its DELETED."""
    events: list[tuple[str, Any]] = []
    for event in watch.Watch().stream(
        core.list_namespaced_pod,
        namespace,
        field_selector=f"metadata.name={name}",
        resource_version=since,
        timeout_seconds=15,
    ):
        events.append((event["type"], event["object"]))
        if event["type"] == "DELETED":
            break
    return events


def test_a_deleted_pod_terminates_gracefully_then_goes(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("web", command=["sleep", "infinity"]))
    started = running(core, namespace, "web")
    assert started.spec.termination_grace_period_seconds == 30
    deleted = core.delete_namespaced_pod("web", namespace)
    # The DELETE answers with the pod, marked for deletion at the end of its grace period.
    assert deleted.metadata.deletion_timestamp is not None
    assert deleted.metadata.deletion_grace_period_seconds == 30
    assert deleted.metadata.deletion_timestamp > started.metadata.creation_timestamp
    events = events_until_deleted(core, namespace, "web", deleted.metadata.resource_version)
    assert [kind for kind, _ in events][-1] == "DELETED"
    # Before it goes, the kubelet reports it stopped: SIGTERM ended the container (143), Ready False.
    stopped = next(obj for _kind, obj in events if obj.status.phase in ("Succeeded", "Failed"))
    terminated = stopped.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (143, "Error")
    assert stopped.status.phase == "Failed"
    ready = condition(stopped.status.conditions, "Ready")
    assert (ready.status, ready.reason) == ("False", "PodFailed")
    # The kubelet's own delete was the last word: grace period 0.
    assert events[-1][1].metadata.deletion_grace_period_seconds == 0
    killing = core.list_namespaced_event(namespace, field_selector="reason=Killing").items
    assert [e.message for e in killing] == ["Stopping container main"]


def test_a_process_that_ignores_sigterm_is_killed_when_the_requested_grace_ends(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod("stubborn", command=IGNORES_SIGTERM))
    running(core, namespace, "stubborn")
    deleted = core.delete_namespaced_pod("stubborn", namespace, grace_period_seconds=1)
    assert deleted.metadata.deletion_grace_period_seconds == 1
    events = events_until_deleted(core, namespace, "stubborn", deleted.metadata.resource_version)
    assert events[-1][0] == "DELETED"
    stopped = next(obj for _kind, obj in events if obj.status.phase == "Failed")
    terminated = stopped.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (137, "Error")


def test_a_forced_delete_removes_a_terminating_pod_at_once(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("stuck", command=IGNORES_SIGTERM))
    running(core, namespace, "stuck")
    core.delete_namespaced_pod("stuck", namespace, grace_period_seconds=60)
    terminating = core.read_namespaced_pod("stuck", namespace)
    assert terminating.metadata.deletion_grace_period_seconds == 60
    # A longer grace period cannot lengthen the deletion; a shorter one shortens it.
    again = core.delete_namespaced_pod("stuck", namespace, grace_period_seconds=120)
    assert again.metadata.deletion_grace_period_seconds == 60
    core.delete_namespaced_pod("stuck", namespace, grace_period_seconds=0)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("stuck", namespace)
    assert missing.value.status == 404


def test_an_unscheduled_pod_is_deleted_at_once(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("nowhere", nodeSelector={"disk": "none"}))
    wait_for(
        lambda: condition(core.read_namespaced_pod("nowhere", namespace).status.conditions, "PodScheduled"),
        "the scheduler's verdict",
    )
    deleted = core.delete_namespaced_pod("nowhere", namespace)
    assert deleted.metadata.deletion_grace_period_seconds == 0
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("nowhere", namespace)
    assert missing.value.status == 404


def test_kubectl_delete_shows_terminating_then_the_pod_is_gone(
    kubectl: Kubectl, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(
        namespace, pod("slow", command=IGNORES_SIGTERM, terminationGracePeriodSeconds=3)
    )
    running(core, namespace, "slow")
    deleted = kubectl.run("delete", "pod", "slow", "-n", namespace, "--wait=false")
    assert 'pod "slow" deleted' in deleted.stdout
    listed = kubectl.run("get", "pod", "slow", "-n", namespace, "--no-headers").stdout.split()
    assert listed[0] == "slow" and listed[2] == "Terminating", listed
    kubectl.run("wait", "--for=delete", "pod/slow", "-n", namespace, "--timeout=20s")
    missing = kubectl.run("get", "pod", "slow", "-n", namespace, check=False)
    assert missing.returncode == 1
    assert 'pods "slow" not found' in missing.stderr


def test_kubectl_force_delete_removes_the_pod_at_once(
    kubectl: Kubectl, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod("now", command=IGNORES_SIGTERM))
    running(core, namespace, "now")
    deleted = kubectl.run("delete", "pod", "now", "-n", namespace, "--grace-period=0", "--force")
    assert "Immediate deletion does not wait for confirmation" in deleted.stderr
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("now", namespace)
    assert missing.value.status == 404


def test_a_terminating_pod_is_not_active_for_its_replicaset(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    template = pod("slow", command=IGNORES_SIGTERM, terminationGracePeriodSeconds=30)
    apps.create_namespaced_replica_set(
        namespace,
        {
            "metadata": {"name": "slow"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "slow"}},
                "template": {"metadata": {"labels": {"app": "slow"}}, "spec": template["spec"]},
            },
        },
    )
    ready = wait_for(
        lambda: (rs := apps.read_namespaced_replica_set("slow", namespace)).status.ready_replicas == 2 and rs,
        "two ready replicas",
    )
    victim = core.list_namespaced_pod(namespace, label_selector="app=slow").items[0].metadata.name
    core.delete_namespaced_pod(victim, namespace)
    # A replacement comes while the victim is still terminating; status counts only active pods.
    members = wait_for(
        lambda: (
            len(items := core.list_namespaced_pod(namespace, label_selector="app=slow").items) == 3 and items
        ),
        "a replacement pod",
    )
    assert sum(1 for p in members if p.metadata.deletion_timestamp) == 1
    status = wait_for(
        lambda: (
            (rs := apps.read_namespaced_replica_set("slow", namespace)).status.ready_replicas == 2
            and rs.status
        ),
        "the replacement to be ready",
    )
    assert status.replicas == 2
    assert ready.status.replicas == 2
    # Endpoints drop the terminating pod at once; its EndpointSlice entry says it is terminating.
    core.create_namespaced_service(
        namespace,
        {"metadata": {"name": "slow"}, "spec": {"selector": {"app": "slow"}, "ports": [{"port": 80}]}},
    )
    terminating = next(p for p in members if p.metadata.deletion_timestamp)

    def addresses() -> Any:
        endpoints = core.read_namespaced_endpoints("slow", namespace)
        found = {a.target_ref.name for s in endpoints.subsets or [] for a in s.addresses or []}
        return found if len(found) == 2 else None

    assert terminating.metadata.name not in wait_for(addresses, "two ready endpoints")
    discovery = client.DiscoveryV1Api(core.api_client)

    def sliced() -> Any:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=slow"
        )
        endpoints = [e for s in slices.items for e in s.endpoints or []]
        return endpoints if len(endpoints) == 3 else None

    endpoint = next(
        e for e in wait_for(sliced, "three slice endpoints") if e.target_ref.name == terminating.metadata.name
    )
    assert (endpoint.conditions.ready, endpoint.conditions.serving, endpoint.conditions.terminating) == (
        False,
        True,
        True,
    )


# ---- namespaces ----


def test_a_deleting_namespace_reports_what_holds_it(core: client.CoreV1Api) -> None:
    name = f"life-ns-{next(_namespaces)}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(
        name, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {"k": "v"}}
    )
    core.create_namespaced_pod(name, pod("slow", command=IGNORES_SIGTERM, terminationGracePeriodSeconds=30))
    running(core, name, "slow")
    core.delete_namespace(name)

    namespace = core.read_namespace(name)
    assert namespace.status.phase == "Terminating"
    conditions = {c.type: c for c in namespace.status.conditions}
    assert list(conditions) == [
        "NamespaceDeletionDiscoveryFailure",
        "NamespaceDeletionGroupVersionParsingFailure",
        "NamespaceDeletionContentFailure",
        "NamespaceContentRemaining",
        "NamespaceFinalizersRemaining",
    ]
    assert (
        conditions["NamespaceDeletionDiscoveryFailure"].status,
        conditions["NamespaceDeletionDiscoveryFailure"].reason,
    ) == (
        "False",
        "ResourcesDiscovered",
    )
    remaining = conditions["NamespaceContentRemaining"]
    assert (remaining.status, remaining.reason) == ("True", "SomeResourcesRemain")
    assert "configmaps. has 1 resource instances" in remaining.message
    assert "pods. has 1 resource instances" in remaining.message
    finalizers = conditions["NamespaceFinalizersRemaining"]
    assert (finalizers.status, finalizers.reason) == ("True", "SomeFinalizerRemain")
    assert finalizers.message == "Some finalizers are remaining: example.com/hold in 1 resource instances"

    # New content is refused while it terminates.
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map(name, {"metadata": {"name": "late"}})
    assert refused.value.status == 403

    core.delete_namespaced_pod("slow", name, grace_period_seconds=0)
    core.patch_namespaced_config_map("held", name, {"metadata": {"finalizers": None}})

    def namespace_gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(namespace_gone, "the namespace to be finalized")


# ---- nodes ----


def test_kubectl_cordon_taints_the_node_and_the_scheduler_skips_it(
    kubectl: Kubectl, core: client.CoreV1Api, namespace: str
) -> None:
    try:
        kubectl.run("cordon", NODE)

        def tainted() -> Any:
            node = core.read_node(NODE)
            return next((t for t in node.spec.taints or [] if t.key == UNSCHEDULABLE_TAINT), None)

        taint = wait_for(tainted, "the unschedulable taint")
        assert taint.effect == "NoSchedule" and taint.time_added is not None
        listed = kubectl.run("get", "node", NODE, "--no-headers").stdout.split()
        assert listed[1] == "Ready,SchedulingDisabled"

        core.create_namespaced_pod(namespace, pod("waits"))
        scheduled = wait_for(
            lambda: condition(core.read_namespaced_pod("waits", namespace).status.conditions, "PodScheduled"),
            "the scheduler's verdict",
        )
        assert (scheduled.status, scheduled.reason) == ("False", "Unschedulable")
        assert scheduled.message.startswith("0/1 nodes are available: 1 node(s) were unschedulable.")
        # A pod that tolerates the taint still goes there.
        tolerant = pod("tolerant", tolerations=[{"key": UNSCHEDULABLE_TAINT, "operator": "Exists"}])
        core.create_namespaced_pod(namespace, tolerant)
        running(core, namespace, "tolerant")
    finally:
        kubectl.run("uncordon", NODE)
    wait_for(lambda: not core.read_node(NODE).spec.taints, "the taint to go")
    assert core.read_node(NODE).spec.unschedulable is None
    running(core, namespace, "waits")


# ---- pods that run to completion by their command ----


def test_a_pod_finishes_by_its_command_not_by_a_timer(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("long", command=["sleep", "3600"], restart_policy="Never"))
    running(core, namespace, "long")
    core.create_namespaced_pod(
        namespace, pod("fails", command=["sh", "-c", "sleep 0.05; exit 3"], restart_policy="Never")
    )
    core.create_namespaced_pod(namespace, pod("works", command=["true"], restart_policy="Never"))
    failed = wait_for(
        lambda: (p := core.read_namespaced_pod("fails", namespace)).status.phase == "Failed" and p,
        "the failing pod",
    )
    terminated = failed.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    assert condition(failed.status.conditions, "Ready").reason == "PodFailed"
    succeeded = wait_for(
        lambda: (p := core.read_namespaced_pod("works", namespace)).status.phase == "Succeeded" and p,
        "the succeeding pod",
    )
    terminated = succeeded.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert condition(succeeded.status.conditions, "Ready").reason == "PodCompleted"
    # Started before both and still sleeping: no global timer ended it.
    assert core.read_namespaced_pod("long", namespace).status.phase == "Running"


def test_an_on_failure_pod_restarts_its_failing_container(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(
        namespace, pod("retry", command=["sh", "-c", "exit 2"], restart_policy="OnFailure")
    )

    def restarted() -> Any:
        found = core.read_namespaced_pod("retry", namespace)
        statuses = found.status.container_statuses or []
        return found if statuses and statuses[0].restart_count >= 2 else None

    found = wait_for(restarted, "restarts")
    assert found.status.phase == "Running"
    status = found.status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 2
    if status.state.waiting:
        assert status.state.waiting.reason == "CrashLoopBackOff"


def test_an_on_failure_job_fails_when_restarts_reach_its_backoff_limit(
    batch: client.BatchV1Api, namespace: str
) -> None:
    batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "flaky"},
            "spec": {
                "backoffLimit": 2,
                "template": {
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "containers": [{"name": "work", "image": "busybox", "command": ["false"]}],
                    }
                },
            },
        },
    )
    found = wait_for(
        lambda: (
            condition((j := batch.read_namespaced_job("flaky", namespace)).status.conditions, "Failed") and j
        ),
        "the job to fail",
    )
    failed = condition(found.status.conditions, "Failed")
    assert (failed.status, failed.reason) == ("True", "BackoffLimitExceeded")


@pytest.fixture
def batch(api_client: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api_client)


def test_the_process_conventions() -> None:
    def read(**container: Any) -> tuple[float | None, int, bool]:
        found = process_of({"name": "c", "image": "busybox", **container})
        return found.runs_for, found.exit_code, found.ignores_sigterm

    assert read(command=["sleep", "5"]) == (5.0, 0, False)
    assert read(command=["sleep", "2m"]) == (120.0, 0, False)
    assert read(command=["sleep", "infinity"]) == (None, 0, False)
    assert read(args=["sh", "-c", "sleep 1; exit 4"]) == (1.0, 4, False)
    assert read(command=["/bin/sh", "-c", "false && sleep 9 || exit 5"]) == (0.0, 5, False)
    assert read(command=["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]) == (None, 0, True)
    assert (
        process_of({"name": "c", "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 9"]}).sigterm_exit_code
        == 0
    )
    assert read(image="example/crashloop:1") == (0.0, 1, False)
    assert process_of({"name": "c", "image": "example/fail:1"}).exit_code == 1
    assert not process_of({"name": "c", "image": "nginx"}).timed
