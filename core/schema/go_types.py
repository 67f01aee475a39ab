"""What the served kinds' Go types say that their OpenAPI schema does not.

The field schemas themselves (list types and keys, atomic structs and maps, merge keys) come from
the official definitions (sandbox.schemas). Kept here is only what those definitions cannot tell:
which groups are Kubernetes' own (strategic merge patch needs Go struct tags), which kinds have a
status subresource (a property of the registry, not of the type), and what the zero value of a Go
struct serializes to (the schema knows neither pointers nor `omitempty`).
"""

from __future__ import annotations

import copy
from typing import Any

# The API groups of Kubernetes itself. Strategic merge patch works for their kinds and for no other:
# custom resources have no Go struct tags to merge by.
BUILT_IN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
    }
)

# Kinds whose status is written through the /status subresource, so that writes to the main
# resource never touch it (the strategies' GetResetFields).
STATUS_SUBRESOURCE_KINDS = frozenset(
    {
        ("", "Pod"),
        ("", "Service"),
        ("", "Namespace"),
        ("", "PersistentVolumeClaim"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("networking.k8s.io", "Ingress"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("", "ReplicationController"),
        ("", "ResourceQuota"),
        ("apiregistration.k8s.io", "APIService"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
    }
)

_EMPTY_TEMPLATE: dict[str, Any] = {"metadata": {}, "spec": {"containers": None}}

# What the zero value of each Go type serializes to, kept only where it matters: structs that are
# always present (no pointer) and lists written as null. A create is tracked as the change from this
# zero object, so fields inside these structs are recorded without marking the struct itself.
_ZERO_OBJECTS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Pod"): {"spec": {"containers": None}, "status": {}},
    ("", "Service"): {"spec": {}, "status": {"loadBalancer": {}}},
    ("", "Namespace"): {"spec": {}, "status": {}},
    ("", "PersistentVolumeClaim"): {"spec": {"resources": {}}, "status": {}},
    ("", "Event"): {"involvedObject": {}, "source": {}},
    ("apps", "Deployment"): {
        "spec": {"selector": None, "template": _EMPTY_TEMPLATE, "strategy": {}},
        "status": {},
    },
    ("apps", "ReplicaSet"): {"spec": {"selector": None, "template": _EMPTY_TEMPLATE}, "status": {}},
    ("apps", "StatefulSet"): {
        "spec": {"selector": None, "template": _EMPTY_TEMPLATE, "updateStrategy": {}},
        "status": {},
    },
    ("apps", "DaemonSet"): {
        "spec": {"selector": None, "template": _EMPTY_TEMPLATE, "updateStrategy": {}},
        "status": {},
    },
    ("batch", "Job"): {"spec": {"template": _EMPTY_TEMPLATE}, "status": {}},
    ("batch", "CronJob"): {
        "spec": {"jobTemplate": {"metadata": {}, "spec": {"template": _EMPTY_TEMPLATE}}},
        "status": {},
    },
    ("networking.k8s.io", "Ingress"): {"spec": {}, "status": {"loadBalancer": {}}},
    ("networking.k8s.io", "NetworkPolicy"): {"spec": {"podSelector": {}}},
    ("rbac.authorization.k8s.io", "Role"): {"rules": None},
    ("rbac.authorization.k8s.io", "ClusterRole"): {"rules": None},
    ("rbac.authorization.k8s.io", "RoleBinding"): {"roleRef": {}},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {"roleRef": {}},
    ("autoscaling", "HorizontalPodAutoscaler"): {"spec": {"scaleTargetRef": {}}, "status": {}},
    ("policy", "PodDisruptionBudget"): {"spec": {}, "status": {}},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): {
        "spec": {"names": {}, "versions": None},
        "status": {"acceptedNames": {}, "storedVersions": None},
    },
}


# The status of a kind as Go serializes its zero value: the int32 counters and structs declared
# without `omitempty` are written even when zero (a new ReplicaSet shows `status: {replicas: 0}`).
# Typed clients rely on it: their models make these fields required. Kinds not listed have an
# all-omitempty status, `{}` when zero.
_ZERO_STATUS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("apps", "v1", "ReplicaSet"): {"replicas": 0},
    ("", "v1", "ReplicationController"): {"replicas": 0},
    ("apps", "v1", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "v1", "DaemonSet"): {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): {"currentReplicas": 0, "desiredReplicas": 0},
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): {"desiredReplicas": 0},
    ("policy", "v1", "PodDisruptionBudget"): {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    ("", "v1", "Service"): {"loadBalancer": {}},
    ("networking.k8s.io", "v1", "Ingress"): {"loadBalancer": {}},
}


def zero_status(group: str, version: str, kind: str) -> dict[str, Any]:
    """A fresh copy of what the kind's zero status serializes to."""
    return copy.deepcopy(_ZERO_STATUS.get((group, version, kind), {}))


def is_built_in(group: str) -> bool:
    return group in BUILT_IN_GROUPS


def zero_object(group: str, kind: str) -> dict[str, Any]:
    """A fresh copy of the kind's zero value ({} for a custom resource, which is unstructured)."""
    if is_built_in(group):
        return {"metadata": {}, **copy.deepcopy(_ZERO_OBJECTS.get((group, kind), {}))}
    return {}


def has_status_subresource(group: str, kind: str) -> bool:
    return (group, kind) in STATUS_SUBRESOURCE_KINDS
