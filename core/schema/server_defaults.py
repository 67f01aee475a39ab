"""What a real API server fills in when it decodes an object of a built-in kind.

The values come from the defaulting functions of k8s.io/kubernetes (pkg/apis/{core,apps,batch,
networking,rbac,autoscaling}/v*/defaults.go and their generated callers), plus the parts of create
that any client sees the same way: Secret `stringData` folded into `data`, the Service IP family
fields, the Job selector, and the zero-value structs Go always writes (`resources: {}`). Service
cluster IPs and node ports are left to the server, which keeps the allocations.

No OpenAPI document carries these (they are Go functions, not `+default` markers), so they are
written here once and shared: the sandbox defaults what it stores with them (`sandbox.defaults`,
which also encodes the result as Go would), and the drift engine predicts with them what a field
Git dropped becomes after a sync (`core.drift.redefault`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from core.schema.go_types import is_built_in, zero_status
from core.schema.pod_defaults import (
    QuantityError,
    canonical_resource_list,
    default_claim_spec,
    default_pod,
    default_pod_template,
)

__all__ = ["QuantityError", "default_object", "drop_nulls"]


def drop_nulls(value: Any) -> None:
    """Remove null members of objects, at any depth, in place."""
    if isinstance(value, dict):
        for key in [key for key, item in value.items() if item is None]:
            del value[key]
        for item in value.values():
            drop_nulls(item)
    elif isinstance(value, list):
        for item in value:
            drop_nulls(item)


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.setdefault("spec", {})
    return spec if isinstance(spec, dict) else {}


def _status(obj: dict[str, Any], zero: dict[str, Any]) -> None:
    """The status as decoding into the Go struct leaves it: what the client sent (or nothing), plus
    the members Go writes even when zero."""
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    for key, value in zero.items():
        status.setdefault(key, value)


def _version(obj: dict[str, Any], default: str) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rpartition("/")[2] if api_version else default


def _default_deployment(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))
    _status(obj, {})


def _default_replica_set(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    default_pod_template(spec.get("template"))
    _status(obj, zero_status("apps", "v1", "ReplicaSet"))


def _default_stateful_set(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            strategy.setdefault("rollingUpdate", {})
        rolling = strategy.get("rollingUpdate")
        if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
            rolling.setdefault("partition", 0)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    if isinstance(retention, dict):
        for name in ("whenDeleted", "whenScaled"):
            if not retention.get(name):
                retention[name] = "Retain"
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            # Claim templates are whole PersistentVolumeClaims: conversion writes their type meta.
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            _default_claim(claim)
    _status(obj, zero_status("apps", "v1", "StatefulSet"))


def _default_daemon_set(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))
    _status(obj, zero_status("apps", "v1", "DaemonSet"))


def _default_job_spec_template(spec: dict[str, Any]) -> None:
    default_pod_template(spec.get("template"))


def _default_job(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    metadata = obj.setdefault("metadata", {})
    template: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy",
        "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed",
    )
    _default_job_spec_template(spec)
    uid = metadata.get("uid")
    if uid and not spec.get("manualSelector"):
        # generateSelector, which the create strategy runs once the uid exists.
        template_meta = template.setdefault("metadata", {})
        labels = template_meta.setdefault("labels", {})
        for name in ("job-name", "batch.kubernetes.io/job-name"):
            labels.setdefault(name, metadata.get("name", ""))
        for name in ("controller-uid", "batch.kubernetes.io/controller-uid"):
            labels.setdefault(name, uid)
        selector = spec.setdefault("selector", {})
        selector.setdefault("matchLabels", {}).setdefault("batch.kubernetes.io/controller-uid", uid)
    template_labels = (template.get("metadata") or {}).get("labels")
    job_labels = metadata.get("labels")
    if isinstance(template_labels, dict) and (not job_labels or job_labels is template_labels):
        # SetDefaults_Job gives an unlabelled Job its template's label map itself, so the labels
        # the selector generation then adds to the template show up on the Job as well. The maps
        # stay shared until the defaulting that runs with the uid, which stores a copy.
        metadata["labels"] = dict(template_labels) if uid else template_labels
    _status(obj, {})


def _default_cron_job(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        _default_job_spec_template(job_template["spec"])
    _status(obj, {})


def _default_pod(obj: dict[str, Any]) -> None:
    default_pod(obj)


def _default_service(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {})
        config.setdefault("clientIP", {}).setdefault("timeoutSeconds", 10800)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    service_type = spec["type"]
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    externally_accessible = service_type in ("LoadBalancer", "NodePort") or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and service_type in (
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if service_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if service_type != "ExternalName":
        headless_without_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
        if spec.get("ipFamilyPolicy") is None:
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless_without_selector else "SingleStack"
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]
    _status(obj, zero_status("", "v1", "Service"))


def _default_secret(obj: dict[str, Any]) -> None:
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data: dict[str, Any] = obj["data"] if isinstance(obj.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _default_namespace(obj: dict[str, Any]) -> None:
    metadata = obj.setdefault("metadata", {})
    name = metadata.get("name")
    if name:
        labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
        labels["kubernetes.io/metadata.name"] = name
        metadata["labels"] = labels
    # The `kubernetes` finalizer is the create strategy's (strategies.prepare_for_create), not a default.
    _spec(obj)
    status = obj.setdefault("status", {})
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Active"


def _default_claim(obj: dict[str, Any]) -> None:
    default_claim_spec(obj.setdefault("spec", {}))
    spec = obj["spec"]
    if isinstance(spec, dict):
        spec.setdefault("resources", {})
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        if not status.get("phase"):
            status["phase"] = "Pending"
        canonical_resource_list(status.get("capacity"))
        canonical_resource_list(status.get("allocatedResources"))


def _default_persistent_volume(obj: dict[str, Any]) -> None:
    """SetDefaults_PersistentVolume, and the hostPath type every hostPath source gets."""
    spec = _spec(obj)
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    spec.setdefault("volumeMode", "Filesystem")
    if isinstance(spec.get("hostPath"), dict):
        spec["hostPath"].setdefault("type", "")
    canonical_resource_list(spec.get("capacity"))
    status = obj.setdefault("status", {})
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"


def _default_storage_class(obj: dict[str, Any]) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _default_endpoints(obj: dict[str, Any]) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _default_ingress(obj: dict[str, Any]) -> None:
    _spec(obj)
    _status(obj, zero_status("networking.k8s.io", "v1", "Ingress"))


def _default_network_policy(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _default_binding(obj: dict[str, Any]) -> None:
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in obj.get("subjects") or []:
        if not isinstance(subject, dict):
            continue
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"
        # Subject.apiGroup and namespace are omitempty: a ServiceAccount subject (whose default
        # apiGroup is "") comes back without the field.
        for name in ("apiGroup", "namespace"):
            if subject.get(name) == "":
                del subject[name]


_SCALE_UP_RULES: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_RULES: dict[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _scaling_rules(given: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    rules = {key: (list(value) if isinstance(value, list) else value) for key, value in defaults.items()}
    if isinstance(given, dict):
        for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
            if given.get(key) is not None:
                rules[key] = given[key]
    return rules


def _default_horizontal_pod_autoscaler(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("minReplicas", 1)
    version = _version(obj, "v2")
    if version == "v2":
        # autoscaling/v1 has no metrics: its conversion to v2 supplies the same CPU default.
        if not spec.get("metrics"):
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ]
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), _SCALE_UP_RULES)
            behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), _SCALE_DOWN_RULES)
    _status(obj, zero_status("autoscaling", version, "HorizontalPodAutoscaler"))


def _default_pod_disruption_budget(obj: dict[str, Any]) -> None:
    _spec(obj)
    _status(obj, zero_status("policy", "v1", "PodDisruptionBudget"))


def _default_resource_quota(obj: dict[str, Any]) -> None:
    canonical_resource_list(_spec(obj).get("hard"))
    status = obj.get("status")
    if isinstance(status, dict):
        canonical_resource_list(status.get("hard"))
        canonical_resource_list(status.get("used"))


def _default_limit_range(obj: dict[str, Any]) -> None:
    for item in _spec(obj).get("limits") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Container":
            defaults = item.setdefault("default", {})
            for name, value in (item.get("max") or {}).items():
                defaults.setdefault(name, value)
            requests = item.setdefault("defaultRequest", {})
            for name, value in defaults.items():
                requests.setdefault(name, value)
            for name, value in (item.get("min") or {}).items():
                requests.setdefault(name, value)
        for name in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_resource_list(item.get(name))


_DEFAULTERS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("apps", "Deployment"): _default_deployment,
    ("apps", "ReplicaSet"): _default_replica_set,
    ("apps", "StatefulSet"): _default_stateful_set,
    ("apps", "DaemonSet"): _default_daemon_set,
    ("batch", "Job"): _default_job,
    ("batch", "CronJob"): _default_cron_job,
    ("", "Pod"): _default_pod,
    ("", "PodTemplate"): lambda obj: default_pod_template(obj.get("template")),
    ("", "ReplicationController"): lambda obj: default_pod_template(_spec(obj).get("template")),
    ("", "Service"): _default_service,
    ("", "Secret"): _default_secret,
    ("", "Namespace"): _default_namespace,
    ("", "PersistentVolumeClaim"): _default_claim,
    ("", "PersistentVolume"): _default_persistent_volume,
    ("storage.k8s.io", "StorageClass"): _default_storage_class,
    ("", "Endpoints"): _default_endpoints,
    ("", "ResourceQuota"): _default_resource_quota,
    ("", "LimitRange"): _default_limit_range,
    ("networking.k8s.io", "Ingress"): _default_ingress,
    ("networking.k8s.io", "NetworkPolicy"): _default_network_policy,
    ("rbac.authorization.k8s.io", "RoleBinding"): _default_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _default_binding,
    ("autoscaling", "HorizontalPodAutoscaler"): _default_horizontal_pod_autoscaler,
    ("policy", "PodDisruptionBudget"): _default_pod_disruption_budget,
}


def default_object(obj: dict[str, Any], *, group: str, kind: str) -> None:
    """Fill in the server defaults of a built-in kind in place, nulls dropped first as decoding
    drops them; a custom resource is left alone. Raises QuantityError for a malformed quantity."""
    if not is_built_in(group):
        return
    drop_nulls(obj)
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is not None:
        defaulter(obj)
