"""Server defaulting and canonical quantities, as a real API server applies them to each kind."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.schema.pod_defaults import image_pull_policy
from core.schema.quantity import canonical_quantity
from sandbox.defaults import apply_defaults
from sandbox.errors import StatusError


def defaulted(obj: dict[str, Any]) -> dict[str, Any]:
    api_version = obj["apiVersion"]
    result = copy.deepcopy(obj)
    apply_defaults(result, group=api_version.rpartition("/")[0], kind=obj["kind"])
    return result


def template(*containers: dict[str, Any], **pod_spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {**pod_spec, "containers": list(containers)}}


def workload(kind: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    group = "batch" if kind == "Job" else "apps"
    return {
        "apiVersion": f"{group}/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec, "template": template(*containers)},
    }


WEB = {"name": "web", "image": "nginx:1.25"}


def test_deployment_defaults() -> None:
    spec = defaulted(workload("Deployment", WEB))["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }


def test_a_recreate_deployment_gets_no_rolling_update() -> None:
    spec = defaulted(workload("Deployment", WEB, strategy={"type": "Recreate"}))["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_pod_template_defaults() -> None:
    pod_spec = defaulted(workload("Deployment", WEB))["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["schedulerName"] == "default-scheduler"
    assert pod_spec["securityContext"] == {}


def test_container_defaults() -> None:
    web = {**WEB, "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}
    [container] = defaulted(workload("Deployment", web))["spec"]["template"]["spec"]["containers"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["resources"] == {}
    assert container["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 53, "protocol": "UDP"},
    ]


def test_init_containers_probes_env_and_volumes_are_defaulted() -> None:
    web = {
        **WEB,
        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "readinessProbe": {"httpGet": {"port": 80}},
    }
    deployment = workload("Deployment", web)
    pod_spec = deployment["spec"]["template"]["spec"]
    pod_spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    pod_spec["volumes"] = [{"name": "config", "configMap": {"name": "c"}}, {"name": "scratch"}]
    result = defaulted(deployment)["spec"]["template"]["spec"]
    assert result["initContainers"][0]["imagePullPolicy"] == "Always"
    container = result["containers"][0]
    assert container["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name", "apiVersion": "v1"}
    assert container["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert result["volumes"] == [
        {"name": "config", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "scratch", "emptyDir": {}},
    ]


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry.example.com:5000/team/app", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_an_explicit_image_pull_policy_is_kept() -> None:
    web = {"name": "web", "image": "nginx", "imagePullPolicy": "Never"}
    [container] = defaulted(workload("Deployment", web))["spec"]["template"]["spec"]["containers"]
    assert container["imagePullPolicy"] == "Never"


def service(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec}


def test_service_defaults() -> None:
    result = defaulted(
        service(selector={"app": "web"}, ports=[{"port": 80}, {"port": 443, "targetPort": "https"}])
    )
    spec = result["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80},
        {"port": 443, "targetPort": "https", "protocol": "TCP"},
    ]
    assert "clusterIP" not in spec
    assert result["status"] == {"loadBalancer": {}}


def test_node_port_and_load_balancer_services_get_external_policies() -> None:
    node_port = defaulted(service(type="NodePort", ports=[{"port": 80}]))["spec"]
    assert node_port["externalTrafficPolicy"] == "Cluster"
    balancer = defaulted(service(type="LoadBalancer", ports=[{"port": 80}]))["spec"]
    assert balancer["allocateLoadBalancerNodePorts"] is True


def test_external_name_and_headless_services() -> None:
    external = defaulted(service(type="ExternalName", externalName="example.com"))["spec"]
    assert "ipFamilies" not in external and "internalTrafficPolicy" not in external
    headless = defaulted(service(clusterIP="None"))["spec"]
    assert headless["ipFamilyPolicy"] == "RequireDualStack"


def test_stateful_set_defaults() -> None:
    stateful = workload("StatefulSet", WEB, serviceName="web")
    stateful["spec"]["volumeClaimTemplates"] = [
        {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1.5Gi"}}}}
    ]
    spec = defaulted(stateful)["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1536Mi"
    assert claim["status"] == {"phase": "Pending"}


def test_daemon_set_and_replica_set_defaults() -> None:
    daemon = defaulted(workload("DaemonSet", WEB))["spec"]
    assert daemon["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert daemon["revisionHistoryLimit"] == 10
    assert defaulted(workload("ReplicaSet", WEB))["spec"]["replicas"] == 1


def test_job_defaults_keep_the_template_restart_policy() -> None:
    job = workload("Job", WEB)
    del job["spec"]["selector"]
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    spec = defaulted(job)["spec"]
    assert (spec["backoffLimit"], spec["completions"], spec["parallelism"]) == (6, 1, 1)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_parallelism_alone_leaves_completions_unset() -> None:
    spec = defaulted(workload("Job", WEB, parallelism=3))["spec"]
    assert spec["parallelism"] == 3 and "completions" not in spec


def test_a_job_with_a_uid_gets_its_generated_selector_and_labels() -> None:
    job = workload("Job", WEB)
    del job["spec"]["selector"]
    job["metadata"]["uid"] = "0f3c"
    result = defaulted(job)
    labels = {
        "app": "web",
        "job-name": "web",
        "batch.kubernetes.io/job-name": "web",
        "controller-uid": "0f3c",
        "batch.kubernetes.io/controller-uid": "0f3c",
    }
    assert result["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "0f3c"}}
    assert result["spec"]["template"]["metadata"]["labels"] == labels
    assert result["metadata"]["labels"] == labels


def test_cron_job_defaults() -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template(WEB)}}},
    }
    spec = defaulted(cron)["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert (
        spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    )
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]


def test_pod_gets_admission_and_status_defaults() -> None:
    limited = {**WEB, "resources": {"limits": {"cpu": "0.5", "memory": "128Mi"}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [limited]}}
    result = defaulted(pod)
    spec = result["spec"]
    assert spec["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "128Mi"},
        "requests": {"cpu": "500m", "memory": "128Mi"},
    }
    assert spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert [t["key"] for t in spec["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    assert result["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ],
)
def test_pod_qos_class(resources: dict[str, Any], qos: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{**WEB, "resources": resources}]},
    }
    assert defaulted(pod)["status"]["qosClass"] == qos


def test_secret_string_data_is_folded_into_base64_data() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "eA=="},
        "stringData": {"b": "hello", "a": "y"},
    }
    result = defaulted(secret)
    assert result["data"] == {"a": "eQ==", "b": "aGVsbG8="}
    assert "stringData" not in result
    assert result["type"] == "Opaque"


def test_namespace_defaults() -> None:
    result = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    # The `kubernetes` finalizer is the create strategy's, not a default (see test_behaviour).
    assert result["spec"] == {}
    assert result["status"] == {"phase": "Active"}
    assert result["metadata"]["labels"] == {"kubernetes.io/metadata.name": "shop"}


def test_a_namespace_whose_finalizers_were_cleared_keeps_them_cleared() -> None:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop"},
        "spec": {"finalizers": []},
        "status": {"phase": "Terminating"},
    }
    result = defaulted(namespace)
    # An empty finalizers list is dropped (omitempty), and defaulting does not put one back.
    assert result["spec"] == {}
    assert result["status"] == {"phase": "Terminating"}


def test_persistent_volume_claim_defaults() -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0.5Gi"}}},
    }
    result = defaulted(claim)
    assert result["spec"]["volumeMode"] == "Filesystem"
    assert result["spec"]["resources"]["requests"]["storage"] == "512Mi"
    assert result["status"] == {"phase": "Pending"}


def test_network_policy_and_binding_defaults() -> None:
    policy = defaulted(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p"},
            "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]},
        }
    )
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "TCP"}]
    binding = defaulted(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "b"},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}],
        }
    )
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    # rbac/v1 SetDefaults_Subject leaves a ServiceAccount's apiGroup empty, and omitempty drops it.
    assert [s.get("apiGroup") for s in binding["subjects"]] == ["rbac.authorization.k8s.io", None]
    assert "apiGroup" not in binding["subjects"][1]


def test_horizontal_pod_autoscaler_defaults() -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {
            "maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        },
    }
    spec = defaulted(hpa)["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]
    assert "behavior" not in spec


def test_autoscaling_v1_defaults_have_no_metrics_and_both_counters() -> None:
    hpa = defaulted(
        {
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "web"}},
        }
    )
    assert hpa["spec"] == {
        "maxReplicas": 5,
        "scaleTargetRef": {"kind": "Deployment", "name": "web"},
        "minReplicas": 1,
    }
    assert hpa["status"] == {"currentReplicas": 0, "desiredReplicas": 0}


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("ReplicaSet", None, {"replicas": 0}),
        ("ReplicaSet", {"readyReplicas": 2}, {"readyReplicas": 2, "replicas": 0}),
        ("StatefulSet", {"replicas": 3}, {"replicas": 3, "availableReplicas": 0}),
        (
            "DaemonSet",
            {"numberReady": 1},
            {
                "numberReady": 1,
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
            },
        ),
        ("Deployment", None, {}),
    ],
)
def test_statuses_get_the_counters_go_writes_even_when_zero(
    kind: str, status: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    obj = workload(kind, WEB)
    if status is not None:
        obj["status"] = status
    assert defaulted(obj)["status"] == expected


# (input, canonical): the Quantity rules, resource lists rounded up to milli units.
QUANTITIES = [
    ("0.5", "500m"),
    (0.5, "500m"),
    (1.5, "1500m"),
    ("1000m", "1"),
    ("1.5Gi", "1536Mi"),
    ("0.1m", "1m"),
    ("2048Ki", "2Mi"),
    ("1Gi", "1Gi"),
    ("1024Mi", "1Gi"),
    ("1000Mi", "1000Mi"),
    ("1000", "1k"),
    (1000, "1k"),
    ("1500", "1500"),
    ("100Mi", "100Mi"),
    ("0.5Ki", "512"),
    ("1e3", "1e3"),
    ("12E6", "12E6"),
    ("0", "0"),
    ("-0.5", "-500m"),
]


@pytest.mark.parametrize(("value", "canonical"), QUANTITIES)
def test_canonical_quantity(value: str | int | float, canonical: str) -> None:
    assert canonical_quantity(value) == canonical


def test_quantities_outside_resource_lists_keep_sub_milli_precision() -> None:
    assert canonical_quantity("0.1m", round_to_milli=False) == "100u"


@pytest.mark.parametrize("value", ["", "abc", "1x", "1kk", "1.5.5"])
def test_a_malformed_quantity_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        canonical_quantity(value)


def test_container_resources_are_canonicalized() -> None:
    web = {**WEB, "resources": {"requests": {"cpu": "0.25", "memory": "0.5Gi"}, "limits": {"cpu": 2}}}
    [container] = defaulted(workload("Deployment", web))["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2"}}


def test_a_malformed_quantity_in_an_object_is_a_400() -> None:
    web = {**WEB, "resources": {"requests": {"cpu": "lots"}}}
    with pytest.raises(StatusError) as raised:
        defaulted(workload("Deployment", web))
    assert raised.value.code == 400
    assert raised.value.message.startswith(
        'Deployment in version "v1" cannot be handled as a Deployment: quantities'
    )


def test_defaulting_drops_nulls_and_is_idempotent() -> None:
    deployment = workload("Deployment", {**WEB, "args": None})
    deployment["spec"]["paused"] = None
    once = defaulted(deployment)
    assert "paused" not in once["spec"]
    assert "args" not in once["spec"]["template"]["spec"]["containers"][0]
    assert defaulted(once) == once


def test_custom_resources_are_left_alone() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"a": None},
    }
    assert defaulted(widget) == widget
