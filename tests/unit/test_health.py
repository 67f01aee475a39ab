"""Health per kind, after Argo CD's rules, over live objects shaped as a real cluster returns them."""

from __future__ import annotations

from typing import Any

import pytest

from core.health import HEALTH_CHECKS, health_of, roll_up
from core.health.apiservice import apiservice_health
from core.health.certificate import certificate_health
from core.health.daemonset import daemonset_health
from core.health.deployment import deployment_health
from core.health.flagger_canary import flagger_canary_health
from core.health.hpa import hpa_health
from core.health.ingress import ingress_health
from core.health.job import job_health
from core.health.pdb import pdb_health
from core.health.pod import pod_health
from core.health.pvc import pvc_health
from core.health.replicaset import replicaset_health
from core.health.rollout import rollout_health
from core.health.service import service_health
from core.health.statefulset import statefulset_health
from core.model import Health, HealthStatus

Obj = dict[str, Any]


def _metadata(name: str, generation: int | None = None, **extra: Any) -> Obj:
    metadata: Obj = {
        "name": name,
        "namespace": "shop",
        "uid": "3f6c1a52-9a0e-4d8e-b1c4-5e2f7d8a9b10",
        "resourceVersion": "48213",
        "creationTimestamp": "2024-05-02T09:14:03Z",
        "labels": {"app": name},
    }
    if generation is not None:
        metadata["generation"] = generation
    return metadata | extra


def _pod_template(name: str, restart_policy: str = "Always") -> Obj:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": "ghcr.io/acme/web:1.4.2",
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "restartPolicy": restart_policy,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        },
    }


def _condition(type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    condition: Obj = {"type": type_, "status": status, "lastTransitionTime": "2024-05-02T09:15:41Z"}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


# --- Deployment ------------------------------------------------------------------------------------


def deployment(**status: Any) -> Obj:
    """A 3-replica Deployment at generation 2, rolled out and available unless `status` says otherwise."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata("web", 2, annotations={"deployment.kubernetes.io/revision": "2"}),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": _pod_template("web"),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                _condition(
                    "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
                ),
                _condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    'ReplicaSet "web-7c9f8d6b5" has successfully progressed.',
                ),
            ],
        }
        | status,
    }


def test_deployment_rolled_out_is_healthy() -> None:
    assert deployment_health(deployment()) == HealthStatus(Health.HEALTHY)


def test_paused_deployment_is_suspended_even_mid_rollout() -> None:
    paused = deployment(updatedReplicas=1)
    paused["spec"]["paused"] = True
    assert deployment_health(paused) == HealthStatus(Health.SUSPENDED, "Deployment is paused")


def test_deployment_past_its_progress_deadline_is_degraded() -> None:
    stuck = deployment(
        replicas=4,
        updatedReplicas=1,
        availableReplicas=3,
        conditions=[
            _condition(
                "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
            ),
            _condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                'ReplicaSet "web-5d8f9c7b44" has timed out progressing.',
            ),
        ],
    )
    assert deployment_health(stuck) == HealthStatus(
        Health.DEGRADED, 'Deployment "web" exceeded its progress deadline'
    )


def test_deployment_with_replicas_not_yet_updated_is_progressing() -> None:
    assert deployment_health(deployment(replicas=4, updatedReplicas=1)) == HealthStatus(
        Health.PROGRESSING, "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."
    )


def test_deployment_with_old_replicas_left_is_progressing() -> None:
    assert deployment_health(deployment(replicas=4)) == HealthStatus(
        Health.PROGRESSING, "Waiting for rollout to finish: 1 old replicas are pending termination..."
    )


def test_deployment_with_updated_replicas_not_available_is_progressing() -> None:
    assert deployment_health(deployment(availableReplicas=2, readyReplicas=2)) == HealthStatus(
        Health.PROGRESSING, "Waiting for rollout to finish: 2 of 3 updated replicas are available..."
    )


@pytest.mark.parametrize("observed", [1, None], ids=["behind", "absent"])
def test_deployment_whose_generation_is_not_observed_is_progressing(observed: int | None) -> None:
    obj = deployment(observedGeneration=observed)
    if observed is None:
        del obj["status"]["observedGeneration"]
    expected = "Waiting for rollout to finish: observed deployment generation less than desired generation"
    assert deployment_health(obj) == HealthStatus(Health.PROGRESSING, expected)


def test_deployment_generation_check_comes_before_the_deadline() -> None:
    # The deadline condition belongs to the previous generation until the controller catches up.
    obj = deployment(
        observedGeneration=1, conditions=[_condition("Progressing", "False", "ProgressDeadlineExceeded")]
    )
    assert deployment_health(obj).status is Health.PROGRESSING


# --- StatefulSet -----------------------------------------------------------------------------------


def statefulset(update_strategy: Obj | None = None, **status: Any) -> Obj:
    """A 3-replica StatefulSet, fully rolled out to one revision unless told otherwise."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata("db", 3),
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": _pod_template("db"),
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": update_strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "currentReplicas": 3,
            "updatedReplicas": 3,
            "currentRevision": "db-6b8d5f7c9",
            "updateRevision": "db-6b8d5f7c9",
            "collisionCount": 0,
        }
        | status,
    }


def test_statefulset_rolled_out_is_healthy() -> None:
    assert statefulset_health(statefulset()) == HealthStatus(
        Health.HEALTHY, "partitioned roll out complete: 3 new pods have been updated..."
    )


@pytest.mark.parametrize("observed", [2, 0], ids=["behind", "never-observed"])
def test_statefulset_whose_generation_is_not_observed_is_progressing(observed: int) -> None:
    obj = statefulset(observedGeneration=observed)
    if observed == 0:
        # Argo CD waits for a first observation even when there is no generation to compare with.
        del obj["metadata"]["generation"]
    assert statefulset_health(obj) == HealthStatus(
        Health.PROGRESSING, "Waiting for statefulset spec update to be observed..."
    )


def test_statefulset_with_pods_not_ready_is_progressing() -> None:
    assert statefulset_health(statefulset(readyReplicas=1)) == HealthStatus(
        Health.PROGRESSING, "Waiting for 2 pods to be ready..."
    )


def test_statefulset_partition_rollout_is_healthy_once_the_partitioned_pods_are_updated() -> None:
    # A canary: only ordinal 2 (at or above the partition) takes the new revision.
    canary = statefulset(
        {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        currentReplicas=2,
        updatedReplicas=1,
        updateRevision="db-7f9c6d8b4",
    )
    assert statefulset_health(canary) == HealthStatus(
        Health.HEALTHY, "partitioned roll out complete: 1 new pods have been updated..."
    )


def test_statefulset_partition_rollout_in_progress_is_progressing() -> None:
    rolling = statefulset(
        {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        currentReplicas=2,
        updatedReplicas=1,
        updateRevision="db-7f9c6d8b4",
    )
    assert statefulset_health(rolling) == HealthStatus(
        Health.PROGRESSING,
        "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
    )


def test_statefulset_on_delete_is_healthy_with_old_pods() -> None:
    on_delete = statefulset({"type": "OnDelete"}, updatedReplicas=0, updateRevision="db-7f9c6d8b4")
    assert statefulset_health(on_delete) == HealthStatus(Health.HEALTHY, "statefulset has 3 ready pods")


def test_statefulset_without_rolling_update_settings_compares_revisions() -> None:
    rolling = statefulset({"type": "RollingUpdate"}, updatedReplicas=1, updateRevision="db-7f9c6d8b4")
    assert statefulset_health(rolling) == HealthStatus(
        Health.PROGRESSING,
        "waiting for statefulset rolling update to complete 1 pods at revision db-7f9c6d8b4...",
    )
    done = statefulset({"type": "RollingUpdate"})
    assert statefulset_health(done) == HealthStatus(
        Health.HEALTHY, "statefulset rolling update complete 3 pods at revision db-6b8d5f7c9..."
    )


# --- DaemonSet -------------------------------------------------------------------------------------


def daemonset(update_type: str = "RollingUpdate", **status: Any) -> Obj:
    """A DaemonSet on 3 nodes, rolled out unless `status` says otherwise."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _metadata("node-exporter", 4),
        "spec": {
            "selector": {"matchLabels": {"app": "node-exporter"}},
            "template": _pod_template("node-exporter"),
            "updateStrategy": {"type": update_type}
            | (
                {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
                if update_type == "RollingUpdate"
                else {}
            ),
            "revisionHistoryLimit": 10,
        },
        "status": {
            "observedGeneration": 4,
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberMisscheduled": 0,
            "numberReady": 3,
            "numberAvailable": 3,
            "updatedNumberScheduled": 3,
        }
        | status,
    }


def test_daemonset_rolled_out_is_healthy() -> None:
    assert daemonset_health(daemonset()) == HealthStatus(Health.HEALTHY)


def test_daemonset_whose_generation_is_not_observed_is_progressing() -> None:
    assert daemonset_health(daemonset(observedGeneration=3)) == HealthStatus(
        Health.PROGRESSING,
        "Waiting for rollout to finish: observed daemon set generation less than desired generation",
    )


def test_daemonset_on_delete_is_healthy_with_old_pods() -> None:
    assert daemonset_health(daemonset("OnDelete", updatedNumberScheduled=1)) == HealthStatus(
        Health.HEALTHY, "daemon set 1 out of 3 new pods have been updated"
    )


def test_daemonset_with_pods_not_updated_is_progressing() -> None:
    assert daemonset_health(daemonset(updatedNumberScheduled=1)) == HealthStatus(
        Health.PROGRESSING,
        'Waiting for daemon set "node-exporter" rollout to finish: 1 out of 3 new pods have been updated...',
    )


def test_daemonset_with_pods_not_available_is_progressing() -> None:
    assert daemonset_health(daemonset(numberAvailable=2, numberReady=2, numberUnavailable=1)) == HealthStatus(
        Health.PROGRESSING,
        'Waiting for daemon set "node-exporter" rollout to finish: 2 of 3 updated pods are available...',
    )


# --- ReplicaSet ------------------------------------------------------------------------------------


def replicaset(**status: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _metadata("web-7c9f8d6b5", 1, annotations={"deployment.kubernetes.io/revision": "2"}),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7c9f8d6b5"}},
            "template": _pod_template("web"),
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 3,
            "fullyLabeledReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
        }
        | status,
    }


def test_replicaset_available_is_healthy() -> None:
    assert replicaset_health(replicaset()) == HealthStatus(Health.HEALTHY)


def test_replicaset_whose_generation_is_not_observed_is_progressing() -> None:
    assert replicaset_health(replicaset(observedGeneration=0)) == HealthStatus(
        Health.PROGRESSING,
        "Waiting for rollout to finish: observed replica set generation less than desired generation",
    )


def test_replicaset_that_cannot_create_pods_is_degraded() -> None:
    quota = (
        'pods "web-7c9f8d6b5-k2x9p" is forbidden: exceeded quota: compute, '
        "requested: limits.cpu=500m, used: limits.cpu=2, limited: limits.cpu=2"
    )
    obj = replicaset(
        availableReplicas=2, conditions=[_condition("ReplicaFailure", "True", "FailedCreate", quota)]
    )
    assert replicaset_health(obj) == HealthStatus(Health.DEGRADED, quota)


def test_replicaset_failure_condition_that_cleared_is_not_degraded() -> None:
    obj = replicaset(conditions=[_condition("ReplicaFailure", "False", "FailedCreate")])
    assert replicaset_health(obj) == HealthStatus(Health.HEALTHY)


def test_replicaset_with_pods_not_available_is_progressing() -> None:
    assert replicaset_health(replicaset(availableReplicas=1)) == HealthStatus(
        Health.PROGRESSING, "Waiting for rollout to finish: 1 out of 3 new replicas are available..."
    )


# --- Pod -------------------------------------------------------------------------------------------

CRASH_LOOP_MESSAGE = (
    "back-off 1m20s restarting failed container=web "
    "pod=web-7c9f8d6b5-x2x7q_shop(0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6)"
)


def pod(
    phase: str,
    *containers: Obj,
    ready: bool = False,
    restart_policy: str = "Always",
    init_containers: tuple[Obj, ...] = (),
    **status: Any,
) -> Obj:
    """A one-node pod of `web` in `phase`, with these container statuses."""
    template = _pod_template("web", restart_policy)
    flag = "True" if ready else "False"
    conditions = [
        _condition("PodReadyToStartContainers", "True"),
        _condition("Initialized", "True"),
        _condition("Ready", flag, "" if ready else "ContainersNotReady"),
        _condition("ContainersReady", flag, "" if ready else "ContainersNotReady"),
        _condition("PodScheduled", "True"),
    ]
    pod_status: Obj = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": "10.0.1.17",
        "podIP": "10.244.1.23",
        "startTime": "2024-05-02T09:15:02Z",
        "qosClass": "BestEffort",
        "containerStatuses": list(containers),
    }
    if init_containers:
        pod_status["initContainerStatuses"] = list(init_containers)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata("web-7c9f8d6b5-x2x7q"),
        "spec": template["spec"] | {"nodeName": "worker-1", "serviceAccountName": "default"},
        "status": pod_status | status,
    }


def container(state: Obj, *, name: str = "web", ready: bool = False, last_state: Obj | None = None) -> Obj:
    return {
        "name": name,
        "image": "ghcr.io/acme/web:1.4.2",
        "imageID": "ghcr.io/acme/web@sha256:9b2a7c4e1f0d",
        "containerID": "containerd://5e1f0a9c2b7d",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 4 if last_state else 0,
        "state": state,
        "lastState": last_state or {},
    }


RUNNING = {"running": {"startedAt": "2024-05-02T09:15:05Z"}}
LAST_EXIT_1 = {
    "terminated": {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": "2024-05-02T09:16:40Z",
        "finishedAt": "2024-05-02T09:16:41Z",
    }
}


def test_running_ready_pod_is_healthy() -> None:
    assert pod_health(pod("Running", container(RUNNING, ready=True), ready=True)) == HealthStatus(
        Health.HEALTHY
    )


def test_pending_pod_is_progressing_with_its_message() -> None:
    unscheduled = pod("Pending", message="0/3 nodes are available: 3 Insufficient cpu.")
    assert pod_health(unscheduled) == HealthStatus(
        Health.PROGRESSING, "0/3 nodes are available: 3 Insufficient cpu."
    )


def test_pod_still_creating_its_container_is_progressing() -> None:
    creating = pod("Pending", container({"waiting": {"reason": "ContainerCreating"}}))
    assert pod_health(creating) == HealthStatus(Health.PROGRESSING)


def test_crash_looping_pod_is_degraded_with_the_waiting_message() -> None:
    crashing = container(
        {"waiting": {"reason": "CrashLoopBackOff", "message": CRASH_LOOP_MESSAGE}}, last_state=LAST_EXIT_1
    )
    assert pod_health(pod("Running", crashing)) == HealthStatus(Health.DEGRADED, CRASH_LOOP_MESSAGE)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ImagePullBackOff", 'Back-off pulling image "ghcr.io/acme/web:1.4.3"'),
        ("ErrImagePull", 'failed to pull and unpack image "ghcr.io/acme/web:1.4.3": not found'),
        ("CreateContainerConfigError", 'secret "web-env" not found'),
    ],
)
def test_pod_with_a_container_waiting_on_an_error_is_degraded(reason: str, message: str) -> None:
    waiting = pod("Pending", container({"waiting": {"reason": reason, "message": message}}))
    assert pod_health(waiting) == HealthStatus(Health.DEGRADED, message)


def test_pod_with_several_failing_containers_names_them_all() -> None:
    first = container({"waiting": {"reason": "ImagePullBackOff", "message": "pull failed"}})
    second = container({"waiting": {"reason": "CrashLoopBackOff"}}, name="sidecar", last_state=LAST_EXIT_1)
    assert pod_health(pod("Pending", first, second)).message == "pull failed, CrashLoopBackOff"


def test_run_to_completion_pod_with_a_waiting_error_is_not_degraded_yet() -> None:
    # Argo CD keeps these Progressing: a hook pod failed early would never be retried.
    waiting = container({"waiting": {"reason": "ImagePullBackOff", "message": "pull failed"}})
    assert pod_health(pod("Pending", waiting, restart_policy="Never")).status is Health.PROGRESSING


def test_succeeded_pod_is_healthy() -> None:
    done = container({"terminated": {"exitCode": 0, "reason": "Completed"}})
    assert pod_health(pod("Succeeded", done, restart_policy="OnFailure")) == HealthStatus(Health.HEALTHY)


def test_failed_pod_reports_its_own_message_first() -> None:
    evicted = pod("Failed", reason="Evicted", message="The node was low on resource: memory.")
    assert pod_health(evicted) == HealthStatus(Health.DEGRADED, "The node was low on resource: memory.")


@pytest.mark.parametrize(
    ("terminated", "expected"),
    [
        ({"exitCode": 2, "reason": "Error", "message": "migration 42 failed"}, "migration 42 failed"),
        ({"exitCode": 137, "reason": "OOMKilled"}, "OOMKilled"),
        ({"exitCode": 3, "reason": "Error"}, 'container "web" failed with exit code 3'),
        ({"exitCode": 0, "reason": "Completed"}, ""),
    ],
    ids=["termination-message", "oom-killed", "exit-code", "nothing-to-say"],
)
def test_failed_pod_reports_why_its_container_failed(terminated: Obj, expected: str) -> None:
    failed = pod("Failed", container({"terminated": terminated}), restart_policy="Never")
    assert pod_health(failed) == HealthStatus(Health.DEGRADED, expected)


def test_failed_pod_reports_its_init_container_first() -> None:
    init = container({"terminated": {"exitCode": 1, "reason": "Error"}}, name="migrate")
    main = container({"terminated": {"exitCode": 5, "reason": "Error"}})
    failed = pod("Failed", main, init_containers=(init,), restart_policy="Never")
    assert pod_health(failed).message == 'container "migrate" failed with exit code 1'


def test_running_pod_not_ready_after_a_container_died_is_degraded() -> None:
    restarted = container(RUNNING, last_state=LAST_EXIT_1)
    assert pod_health(pod("Running", restarted)).status is Health.DEGRADED


def test_running_pod_not_ready_yet_is_progressing() -> None:
    assert pod_health(pod("Running", container(RUNNING))).status is Health.PROGRESSING


@pytest.mark.parametrize("restart_policy", ["OnFailure", "Never"])
def test_running_run_to_completion_pod_is_progressing(restart_policy: str) -> None:
    running = pod("Running", container(RUNNING, ready=True), ready=True, restart_policy=restart_policy)
    assert pod_health(running).status is Health.PROGRESSING


def test_pod_on_a_lost_node_is_unknown() -> None:
    lost = pod("Unknown", message="Node worker-1 which was running pod web-7c9f8d6b5-x2x7q is unresponsive")
    assert pod_health(lost) == HealthStatus(
        Health.UNKNOWN, "Node worker-1 which was running pod web-7c9f8d6b5-x2x7q is unresponsive"
    )


# --- Service and Ingress ---------------------------------------------------------------------------


def service(type_: str, load_balancer: Obj) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata("web"),
        "spec": {
            "type": type_,
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "clusterIP": "10.96.14.201",
            "clusterIPs": ["10.96.14.201"],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": load_balancer},
    }


def test_cluster_ip_service_is_healthy() -> None:
    assert service_health(service("ClusterIP", {})) == HealthStatus(Health.HEALTHY)


def test_load_balancer_without_an_address_is_progressing() -> None:
    assert service_health(service("LoadBalancer", {})) == HealthStatus(Health.PROGRESSING)


def test_load_balancer_with_an_address_is_healthy() -> None:
    assigned = {"ingress": [{"ip": "203.0.113.10", "ipMode": "VIP"}]}
    assert service_health(service("LoadBalancer", assigned)) == HealthStatus(Health.HEALTHY)


def ingress(load_balancer: Obj, api_version: str = "networking.k8s.io/v1") -> Obj:
    return {
        "apiVersion": api_version,
        "kind": "Ingress",
        "metadata": _metadata("web", 1),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "shop.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
        "status": {"loadBalancer": load_balancer},
    }


def test_ingress_without_an_address_is_progressing() -> None:
    assert ingress_health(ingress({})) == HealthStatus(Health.PROGRESSING)


def test_ingress_with_an_address_is_healthy() -> None:
    assert ingress_health(ingress({"ingress": [{"hostname": "lb-1.example.com"}]})) == HealthStatus(
        Health.HEALTHY
    )


# --- PersistentVolumeClaim -------------------------------------------------------------------------


def pvc(phase: str) -> Obj:
    status: Obj = {"phase": phase}
    if phase == "Bound":
        status |= {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata("data-db-0"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
        "status": status,
    }


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Pending", Health.PROGRESSING),
        ("Bound", Health.HEALTHY),
        ("Lost", Health.DEGRADED),
        ("Resizing", Health.UNKNOWN),
    ],
)
def test_pvc_health_follows_its_phase(phase: str, expected: Health) -> None:
    assert pvc_health(pvc(phase)) == HealthStatus(expected)


# --- Job -------------------------------------------------------------------------------------------


def job(*conditions: Obj, suspend: bool = False, **status: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata("migrate", 1),
        "spec": {
            "backoffLimit": 6,
            "completions": 1,
            "parallelism": 1,
            "completionMode": "NonIndexed",
            "suspend": suspend,
            "template": _pod_template("migrate", "Never"),
        },
        "status": ({"conditions": list(conditions)} if conditions else {}) | status,
    }


def test_running_job_is_progressing() -> None:
    running = job(active=1, ready=1, startTime="2024-05-02T09:15:02Z")
    assert job_health(running) == HealthStatus(Health.PROGRESSING)


def test_complete_job_is_healthy() -> None:
    done = job(
        _condition(
            "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"
        ),
        _condition("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
        succeeded=1,
    )
    assert job_health(done) == HealthStatus(Health.HEALTHY, "Reached expected number of succeeded pods")


def test_failed_job_is_degraded_with_the_condition_message() -> None:
    failed = job(
        _condition(
            "FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        ),
        _condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        failed=7,
    )
    assert job_health(failed) == HealthStatus(Health.DEGRADED, "Job has reached the specified backoff limit")


def test_suspended_job_is_suspended() -> None:
    suspended = job(_condition("Suspended", "True", "JobSuspended", "Job suspended"), suspend=True)
    assert job_health(suspended) == HealthStatus(Health.SUSPENDED, "Job suspended")


def test_resumed_job_still_running_is_progressing() -> None:
    # The controller leaves a False Suspended condition behind on resume; the Job is still running.
    resumed = job(_condition("Suspended", "False", "JobResumed", "Job resumed"), active=1)
    assert job_health(resumed).status is Health.PROGRESSING


# --- Dispatch, deletion, unknown kinds -------------------------------------------------------------


def test_dispatch_table_covers_argo_cds_kinds() -> None:
    expected = {
        ("apps", "Deployment"): deployment_health,
        ("apps", "StatefulSet"): statefulset_health,
        ("apps", "DaemonSet"): daemonset_health,
        ("apps", "ReplicaSet"): replicaset_health,
        ("", "Pod"): pod_health,
        ("", "Service"): service_health,
        ("", "PersistentVolumeClaim"): pvc_health,
        ("networking.k8s.io", "Ingress"): ingress_health,
        ("extensions", "Ingress"): ingress_health,
        ("batch", "Job"): job_health,
        ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
        ("apiregistration.k8s.io", "APIService"): apiservice_health,
        ("policy", "PodDisruptionBudget"): pdb_health,
        ("argoproj.io", "Rollout"): rollout_health,
        ("flagger.app", "Canary"): flagger_canary_health,
        ("cert-manager.io", "Certificate"): certificate_health,
    }
    assert dict(HEALTH_CHECKS) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            job(_condition("Suspended", "True", "JobSuspended", "Job suspended"), suspend=True),
            Health.SUSPENDED,
        ),
        (pvc("Lost"), Health.DEGRADED),
        (ingress({}, api_version="extensions/v1beta1"), Health.PROGRESSING),
        (service("LoadBalancer", {}), Health.PROGRESSING),
    ],
    ids=["batch-Job", "core-PVC", "extensions-Ingress", "core-Service"],
)
def test_health_of_picks_the_rule_by_group_and_kind(obj: Obj, expected: Health) -> None:
    assert health_of(obj).status is expected


def test_missing_object_is_missing() -> None:
    assert health_of(None).status is Health.MISSING


@pytest.mark.parametrize(
    "obj",
    [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata("web-config"),
            "data": {"LOG": "info"},
        },
        {
            "apiVersion": "acme.io/v1",
            "kind": "Widget",
            "metadata": _metadata("w"),
            "status": {"phase": "Failed"},
        },
        # A Deployment in a group Argo CD has no rule for is just a kind without a rule.
        {
            "apiVersion": "example.com/v1",
            "kind": "Deployment",
            "metadata": _metadata("x"),
            "spec": {"paused": True},
        },
    ],
    ids=["ConfigMap", "custom-resource", "other-group"],
)
def test_kind_without_a_rule_is_healthy_once_it_exists(obj: Obj) -> None:
    assert health_of(obj) == HealthStatus(Health.HEALTHY)


def test_object_being_deleted_is_progressing_whatever_its_rule_says() -> None:
    crashing = pod(
        "Running", container({"waiting": {"reason": "CrashLoopBackOff", "message": CRASH_LOOP_MESSAGE}})
    )
    crashing["metadata"] |= {"deletionTimestamp": "2024-05-02T10:00:00Z", "deletionGracePeriodSeconds": 30}
    assert health_of(crashing) == HealthStatus(Health.PROGRESSING, "Pending deletion")


# --- Malformed objects -----------------------------------------------------------------------------

MALFORMED: list[Obj] = [
    {},
    {"metadata": None, "spec": None, "status": None},
    {"metadata": [], "spec": "x", "status": []},
    {
        "metadata": {"generation": "2", "name": 7},
        "spec": {"replicas": "3", "paused": "yes", "updateStrategy": "OnDelete", "type": 5},
        "status": {
            "observedGeneration": True,
            "replicas": 3.5,
            "conditions": {"type": "Progressing"},
            "containerStatuses": [
                None,
                3,
                {"state": "waiting", "lastState": []},
                {"state": {"waiting": "x"}},
            ],
            "initContainerStatuses": "none",
            "loadBalancer": {"ingress": "203.0.113.10"},
            "phase": ["Running"],
        },
    },
    {
        "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": "x"}},
        "status": {"conditions": [1, "x"]},
    },
]


@pytest.mark.parametrize("obj", MALFORMED, ids=lambda obj: str(len(str(obj))))
@pytest.mark.parametrize("kind", sorted(HEALTH_CHECKS), ids="/".join)
def test_malformed_fields_never_raise(kind: tuple[str, str], obj: Obj) -> None:
    health = HEALTH_CHECKS[kind](obj)
    assert isinstance(health, HealthStatus)
    assert isinstance(health.status, Health)
    assert isinstance(health.message, str)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1}}, Health.PROGRESSING),
        ({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1}}, Health.PROGRESSING),
        ({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1}}, Health.PROGRESSING),
        ({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1}}, Health.PROGRESSING),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}}, Health.PROGRESSING),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {}}, Health.PROGRESSING),
        ({"apiVersion": "batch/v1", "kind": "Job", "spec": {}}, Health.PROGRESSING),
        ({"apiVersion": 1, "kind": None, "metadata": "x"}, Health.HEALTHY),
    ],
    ids=["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "PVC", "Job", "garbage"],
)
def test_object_without_status_waits_for_its_controller(obj: Obj, expected: Health) -> None:
    assert health_of(obj).status is expected


# --- Roll-up ---------------------------------------------------------------------------------------


def test_roll_up_of_nothing_is_healthy() -> None:
    assert roll_up([]) is Health.HEALTHY


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        (Health.HEALTHY, Health.SUSPENDED),
        (Health.SUSPENDED, Health.PROGRESSING),
        (Health.PROGRESSING, Health.MISSING),
        (Health.MISSING, Health.DEGRADED),
        (Health.DEGRADED, Health.UNKNOWN),
    ],
)
def test_roll_up_is_the_worst_in_argo_cds_order(better: Health, worse: Health) -> None:
    assert roll_up([better, worse]) is worse
    assert roll_up([worse, better, better]) is worse


def test_roll_up_takes_any_iterable() -> None:
    results = [
        HealthStatus(Health.HEALTHY),
        HealthStatus(Health.DEGRADED, "x"),
        HealthStatus(Health.PROGRESSING),
    ]
    assert roll_up(result.status for result in results) is Health.DEGRADED
