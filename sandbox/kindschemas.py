"""The field schemas of the kinds the sandbox serves, from the Go types in k8s.io/api.

Each entry lists the fields whose patch or apply behaviour is not the default (see fieldschema):
merge keys, list-map keys, sets, and atomic structs and maps. Kinds the table does not know (custom
resources) get an open schema, which is what their structural schema amounts to for these purposes.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.fieldschema import (
    OPEN_STRUCT,
    SCALAR,
    FieldType,
    atomic_list,
    list_map,
    list_set,
    map_of,
    struct,
)

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

ATOMIC_STRUCT = struct(atomic=True)  # LabelSelector, ObjectReference, LocalObjectReference, RoleRef, ...

OBJECT_META = struct(
    {
        "labels": map_of(SCALAR),
        "annotations": map_of(SCALAR),
        "finalizers": list_set(),
        "ownerReferences": list_map(("uid",), ATOMIC_STRUCT, merge_key="uid"),
    }
)

CONDITIONS = list_map(("type",), merge_key="type")
RESOURCE_LIST = map_of(SCALAR)

_ENV_VAR = struct(
    {
        "valueFrom": struct(
            {
                "configMapKeyRef": ATOMIC_STRUCT,
                "secretKeyRef": ATOMIC_STRUCT,
                "fieldRef": ATOMIC_STRUCT,
                "resourceFieldRef": ATOMIC_STRUCT,
                "fileKeyRef": ATOMIC_STRUCT,
            }
        )
    }
)

RESOURCE_REQUIREMENTS = struct(
    {"limits": RESOURCE_LIST, "requests": RESOURCE_LIST, "claims": list_map(("name",))}
)

CONTAINER = struct(
    {
        "ports": list_map(
            ("containerPort", "protocol"), merge_key="containerPort", key_defaults={"protocol": "TCP"}
        ),
        "env": list_map(("name",), _ENV_VAR, merge_key="name"),
        "volumeMounts": list_map(("mountPath",), merge_key="mountPath"),
        "volumeDevices": list_map(("devicePath",), merge_key="devicePath"),
        "resources": RESOURCE_REQUIREMENTS,
    }
)

_CONTAINERS = list_map(("name",), CONTAINER, merge_key="name")

POD_SPEC = struct(
    {
        "containers": _CONTAINERS,
        "initContainers": _CONTAINERS,
        "ephemeralContainers": _CONTAINERS,
        "volumes": list_map(("name",), merge_key="name"),
        "imagePullSecrets": list_map(("name",), ATOMIC_STRUCT, merge_key="name"),
        "hostAliases": list_map(("ip",), merge_key="ip"),
        "topologySpreadConstraints": list_map(
            ("topologyKey", "whenUnsatisfiable"),
            struct({"labelSelector": ATOMIC_STRUCT}),
            merge_key="topologyKey",
        ),
        "schedulingGates": list_map(("name",), merge_key="name"),
        "resourceClaims": list_map(("name",), merge_key="name"),
        "nodeSelector": map_of(SCALAR, atomic=True),
        "overhead": RESOURCE_LIST,
        "resources": RESOURCE_REQUIREMENTS,
    }
)

POD_TEMPLATE = struct({"metadata": OBJECT_META, "spec": POD_SPEC})

_WORKLOAD_STATUS = struct({"conditions": CONDITIONS})


def _kind(spec: FieldType | None = None, status: FieldType | None = None, **fields: FieldType) -> FieldType:
    all_fields: dict[str, FieldType] = {"metadata": OBJECT_META}
    if spec is not None:
        all_fields["spec"] = spec
    if status is not None:
        all_fields["status"] = status
    all_fields.update(fields)
    return struct(all_fields)


_JOB_SPEC = struct({"selector": ATOMIC_STRUCT, "template": POD_TEMPLATE})

_PVC_SPEC = struct(
    {
        "resources": struct({"limits": RESOURCE_LIST, "requests": RESOURCE_LIST}),
        "selector": ATOMIC_STRUCT,
        "dataSource": ATOMIC_STRUCT,
    }
)

_SERVICE_BACKEND = struct({"service": struct({"port": ATOMIC_STRUCT})})

KIND_SCHEMAS: dict[tuple[str, str], FieldType] = {
    ("", "Pod"): _kind(
        POD_SPEC,
        struct(
            {
                "conditions": CONDITIONS,
                "podIPs": list_map(("ip",), merge_key="ip"),
                "hostIPs": atomic_list(merge_key="ip"),
            }
        ),
    ),
    ("", "Service"): _kind(
        struct(
            {
                "ports": list_map(("port", "protocol"), merge_key="port", key_defaults={"protocol": "TCP"}),
                "selector": map_of(SCALAR, atomic=True),
            }
        ),
        struct({"conditions": CONDITIONS}),
    ),
    ("", "ConfigMap"): _kind(data=map_of(SCALAR), binaryData=map_of(SCALAR)),
    ("", "Secret"): _kind(data=map_of(SCALAR), stringData=map_of(SCALAR)),
    ("", "ServiceAccount"): _kind(secrets=list_map(("name",), ATOMIC_STRUCT, merge_key="name")),
    ("", "Namespace"): _kind(struct(), struct({"conditions": CONDITIONS})),
    ("", "PersistentVolumeClaim"): _kind(
        _PVC_SPEC,
        struct({"conditions": CONDITIONS, "capacity": RESOURCE_LIST, "allocatedResources": RESOURCE_LIST}),
    ),
    ("", "Endpoints"): _kind(),
    ("", "Event"): _kind(involvedObject=ATOMIC_STRUCT, related=ATOMIC_STRUCT),
    ("apps", "Deployment"): _kind(
        struct(
            {
                "selector": ATOMIC_STRUCT,
                "template": POD_TEMPLATE,
                "strategy": struct(patch_strategy="retainKeys"),
            }
        ),
        _WORKLOAD_STATUS,
    ),
    ("apps", "ReplicaSet"): _kind(
        struct({"selector": ATOMIC_STRUCT, "template": POD_TEMPLATE}), _WORKLOAD_STATUS
    ),
    ("apps", "StatefulSet"): _kind(
        struct({"selector": ATOMIC_STRUCT, "template": POD_TEMPLATE}), _WORKLOAD_STATUS
    ),
    ("apps", "DaemonSet"): _kind(
        struct({"selector": ATOMIC_STRUCT, "template": POD_TEMPLATE}), _WORKLOAD_STATUS
    ),
    ("batch", "Job"): _kind(
        _JOB_SPEC,
        struct(
            {
                "conditions": CONDITIONS,
                "uncountedTerminatedPods": struct(
                    {"succeeded": list_set(merge=False), "failed": list_set(merge=False)}
                ),
            }
        ),
    ),
    ("batch", "CronJob"): _kind(
        struct({"jobTemplate": struct({"metadata": OBJECT_META, "spec": _JOB_SPEC})}), struct()
    ),
    ("networking.k8s.io", "Ingress"): _kind(
        struct({"defaultBackend": _SERVICE_BACKEND}), struct({"loadBalancer": OPEN_STRUCT})
    ),
    ("networking.k8s.io", "NetworkPolicy"): _kind(struct({"podSelector": ATOMIC_STRUCT})),
    ("rbac.authorization.k8s.io", "Role"): _kind(),
    ("rbac.authorization.k8s.io", "ClusterRole"): _kind(
        aggregationRule=struct({"clusterRoleSelectors": atomic_list()})
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): _kind(roleRef=ATOMIC_STRUCT),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _kind(roleRef=ATOMIC_STRUCT),
    ("autoscaling", "HorizontalPodAutoscaler"): _kind(struct(), struct({"conditions": CONDITIONS})),
    ("policy", "PodDisruptionBudget"): _kind(
        struct({"selector": struct(atomic=True, patch_strategy="replace")}),
        struct({"conditions": CONDITIONS, "disruptedPods": map_of(SCALAR)}),
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _kind(
        struct(), struct({"conditions": list_map(("type",))})
    ),
}

_CUSTOM_RESOURCE = _kind()

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


def schema_for(group: str, kind: str) -> FieldType:
    """The schema of a kind; custom resources get an open one."""
    return KIND_SCHEMAS.get((group, kind), _CUSTOM_RESOURCE)


def is_built_in(group: str) -> bool:
    return group in BUILT_IN_GROUPS


def zero_object(group: str, kind: str) -> dict[str, Any]:
    """A fresh copy of the kind's zero value ({} for a custom resource, which is unstructured)."""
    if (group, kind) in KIND_SCHEMAS:
        return {"metadata": {}, **copy.deepcopy(_ZERO_OBJECTS.get((group, kind), {}))}
    return {}


def has_status_subresource(group: str, kind: str) -> bool:
    return (group, kind) in STATUS_SUBRESOURCE_KINDS
