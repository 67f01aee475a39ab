"""The registry of served resources: what discovery lists and what the handlers route to.

Built-in kinds are fixed at start; a CustomResourceDefinition adds (and on deletion removes) entries.
Storage is keyed by group and plural, not by version, so the versions of one custom resource share
their objects as a real server does with conversion strategy None.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


class Generation(StrEnum):
    """When `metadata.generation` moves, as each kind's registry strategy decides."""

    NONE = "none"  # the kind has no generation (ConfigMap, Service, ...)
    SPEC = "spec"  # bumped when `spec` changes
    SPEC_OR_ANNOTATIONS = "spec-or-annotations"  # Deployment: annotations are copied to ReplicaSets
    NOT_METADATA = "not-metadata"  # custom resources: anything but metadata and status


@dataclass(frozen=True)
class ScalePaths:
    """Where a custom resource keeps the fields its `scale` subresource reads and writes."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = None


@dataclass(frozen=True)
class ResourceType:
    """One served resource: the URL segment, the kind it holds, and what it supports."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[str, ...] = ()
    generation: Generation = Generation.NONE
    returns_deleted_object: bool = False
    custom: bool = False
    scale_paths: ScalePaths | None = None
    # A custom resource's structural schema (openAPIV3Schema), used for pruning and defaulting.
    schema: dict[str, object] | None = field(default=None, compare=False, hash=False)
    # Extra printer columns of a custom resource version, as the CRD declares them.
    printer_columns: tuple[dict[str, object], ...] = field(default=(), compare=False, hash=False)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `pods` for the core group: how Status messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Deployment.apps`, or `Pod`: how Invalid messages name a kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def storage_version_hash(self) -> str:
        digest = hashlib.sha256(f"{self.group}/{self.version}/{self.kind}".encode()).digest()
        return digest[:8].hex()

    def collection_path(self, namespace: str | None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


def _core(kind: str, plural: str, namespaced: bool = True, **options: Any) -> ResourceType:
    return ResourceType(group="", version="v1", kind=kind, plural=plural, namespaced=namespaced, **options)


def _typed(
    group: str, version: str, kind: str, plural: str, namespaced: bool = True, **options: Any
) -> ResourceType:
    return ResourceType(
        group=group, version=version, kind=kind, plural=plural, namespaced=namespaced, **options
    )


_WORKLOAD = ("all",)
_STATUS = ("status",)
_STATUS_SCALE = ("scale", "status")
_API_EXTENSIONS = ("api-extensions",)
CREATE_ONLY_VERBS = ("create",)
# The container endpoints of a pod, which need a running container: the sandbox runs none.
CONTAINER_SUBRESOURCES = ("attach", "exec", "log", "portforward")
POD_SUBRESOURCES = ("attach", "binding", "eviction", "exec", "log", "portforward", "status")


@dataclass(frozen=True)
class SubresourceKind:
    """What discovery says a subresource takes and answers, when that is not its parent's kind."""

    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


# Real discovery (kube-apiserver 1.31) for the subresources whose kind or verbs are not the default.
SUBRESOURCE_KINDS: dict[str, SubresourceKind] = {
    "scale": SubresourceKind("autoscaling", "v1", "Scale", SUBRESOURCE_VERBS),
    "eviction": SubresourceKind("policy", "v1", "Eviction", CREATE_ONLY_VERBS),
    "token": SubresourceKind("authentication.k8s.io", "v1", "TokenRequest", CREATE_ONLY_VERBS),
    "binding": SubresourceKind("", "v1", "Binding", CREATE_ONLY_VERBS),
    "attach": SubresourceKind("", "v1", "PodAttachOptions", ("create", "get")),
    "exec": SubresourceKind("", "v1", "PodExecOptions", ("create", "get")),
    "portforward": SubresourceKind("", "v1", "PodPortForwardOptions", ("create", "get")),
    "log": SubresourceKind("", "v1", "Pod", ("get",)),
    "finalize": SubresourceKind("", "v1", "Namespace", ("update",)),
}


def subresource_kind(resource_type: ResourceType, subresource: str) -> SubresourceKind:
    """The group, version, kind and verbs discovery lists for `resource_type`'s `subresource`."""
    found = SUBRESOURCE_KINDS.get(subresource)
    if found is not None:
        return found
    return SubresourceKind(resource_type.group, resource_type.version, resource_type.kind, SUBRESOURCE_VERBS)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core(
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        subresources=("finalize", "status"),
        verbs=NO_COLLECTION_DELETE_VERBS,
        returns_deleted_object=True,
    ),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Secret", "secrets"),
    _core(
        "Service",
        "services",
        short_names=("svc",),
        categories=_WORKLOAD,
        subresources=_STATUS,
        verbs=NO_COLLECTION_DELETE_VERBS,
        returns_deleted_object=True,
    ),
    _core(
        "ServiceAccount",
        "serviceaccounts",
        short_names=("sa",),
        subresources=("token",),
        returns_deleted_object=True,
    ),
    _core(
        "Pod",
        "pods",
        short_names=("po",),
        categories=_WORKLOAD,
        subresources=POD_SUBRESOURCES,
        returns_deleted_object=True,
    ),
    _core("PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=_STATUS),
    _core("PersistentVolume", "persistentvolumes", False, short_names=("pv",), subresources=_STATUS),
    _core("Endpoints", "endpoints", short_names=("ep",)),
    _core(
        "ReplicationController",
        "replicationcontrollers",
        short_names=("rc",),
        categories=_WORKLOAD,
        subresources=_STATUS_SCALE,
        generation=Generation.SPEC,
    ),
    _core("LimitRange", "limitranges", short_names=("limits",)),
    _core("ResourceQuota", "resourcequotas", short_names=("quota",), subresources=_STATUS),
    _core("Event", "events", short_names=("ev",)),
    _core("Node", "nodes", False, short_names=("no",), subresources=_STATUS),
    _typed(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=_WORKLOAD,
        subresources=_STATUS_SCALE,
        generation=Generation.SPEC_OR_ANNOTATIONS,
    ),
    _typed(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=_WORKLOAD,
        subresources=_STATUS_SCALE,
        generation=Generation.SPEC,
    ),
    _typed(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        categories=_WORKLOAD,
        subresources=_STATUS_SCALE,
        generation=Generation.SPEC,
    ),
    _typed(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short_names=("ds",),
        categories=_WORKLOAD,
        subresources=_STATUS,
        generation=Generation.SPEC,
    ),
    _typed("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _typed(
        "batch", "v1", "Job", "jobs", categories=_WORKLOAD, subresources=_STATUS, generation=Generation.SPEC
    ),
    _typed(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short_names=("cj",),
        categories=_WORKLOAD,
        subresources=_STATUS,
        generation=Generation.SPEC,
    ),
    _typed(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short_names=("ing",),
        subresources=_STATUS,
        generation=Generation.SPEC,
    ),
    _typed(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short_names=("netpol",),
        generation=Generation.SPEC,
    ),
    _typed("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _typed("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _typed("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _typed("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _typed("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _typed(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short_names=("hpa",),
        categories=_WORKLOAD,
        subresources=_STATUS,
        generation=Generation.SPEC,
    ),
    # Stored as v2; v1 (what `kubectl autoscale` before 1.33 writes) is converted (sandbox/conversion.py).
    _typed(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short_names=("hpa",),
        categories=_WORKLOAD,
        subresources=_STATUS,
        generation=Generation.SPEC,
    ),
    _typed(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short_names=("pdb",),
        subresources=_STATUS,
        generation=Generation.SPEC,
    ),
    _typed("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",)),
    _typed(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        namespaced=False,
        categories=_API_EXTENSIONS,
        subresources=_STATUS,
    ),
    _typed(
        "scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short_names=("pc",)
    ),
    _typed("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _typed("coordination.k8s.io", "v1", "Lease", "leases"),
    _typed(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        namespaced=False,
        short_names=("csr",),
        subresources=("approval", "status"),
    ),
    _typed(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        categories=_API_EXTENSIONS,
        generation=Generation.NOT_METADATA,
    ),
    _typed(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        categories=_API_EXTENSIONS,
        generation=Generation.NOT_METADATA,
    ),
    # Reviews are procedures, not stored objects: a create answers with the filled-in status.
    _typed(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=CREATE_ONLY_VERBS,
    ),
    _typed(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        namespaced=False,
        verbs=CREATE_ONLY_VERBS,
    ),
    _typed(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        namespaced=False,
        verbs=CREATE_ONLY_VERBS,
    ),
    _typed(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        verbs=CREATE_ONLY_VERBS,
    ),
    _typed(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        namespaced=False,
        verbs=CREATE_ONLY_VERBS,
    ),
    _typed(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        namespaced=False,
        verbs=CREATE_ONLY_VERBS,
    ),
    _typed(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=_STATUS,
        generation=Generation.SPEC,
        returns_deleted_object=True,
    ),
)

# Discovery lists groups in priority order; a real server puts the core and workload groups first.
_GROUP_ORDER = (
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
)


class KindRegistry:
    """Every served resource, looked up by URL segments or by kind."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        # Preferred version first for each group, in the order versions were added.
        self._versions: dict[str, list[str]] = {}
        self.generation = 0
        for resource_type in types:
            self.add(resource_type)

    def add(self, resource_type: ResourceType, *, preferred: bool = False) -> None:
        key = (resource_type.group, resource_type.version, resource_type.plural)
        self._by_path[key] = resource_type
        versions = self._versions.setdefault(resource_type.group, [])
        if resource_type.version not in versions:
            if preferred:
                versions.insert(0, resource_type.version)
            else:
                versions.append(resource_type.version)
        self.generation += 1

    def remove_resource(self, group: str, plural: str) -> None:
        """Forget every version of one resource (a deleted CRD), and the group when it empties."""
        for key in [k for k in self._by_path if k[0] == group and k[2] == plural]:
            del self._by_path[key]
        remaining = {v for (g, v, _p) in self._by_path if g == group}
        if group in self._versions:
            self._versions[group] = [v for v in self._versions[group] if v in remaining]
            if not self._versions[group]:
                del self._versions[group]
        self.generation += 1

    def set_version_order(self, group: str, versions: list[str]) -> None:
        self._versions[group] = list(versions)
        self.generation += 1

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def for_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        for resource_type in self._by_path.values():
            if (resource_type.group, resource_type.version, resource_type.kind) == (group, version, kind):
                return resource_type
        return None

    def for_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return self.for_kind(group, version, kind)

    def preferred(self, group: str, plural: str) -> ResourceType | None:
        for version in self._versions.get(group, []):
            found = self.lookup(group, version, plural)
            if found is not None:
                return found
        return None

    def groups(self) -> list[str]:
        rank = {name: i for i, name in enumerate(_GROUP_ORDER)}
        return sorted(self._versions, key=lambda g: (rank.get(g, len(rank)), g))

    def versions(self, group: str) -> list[str]:
        return list(self._versions.get(group, []))

    def has_group_version(self, group: str, version: str) -> bool:
        return version in self._versions.get(group, [])

    def resources(self, group: str, version: str) -> list[ResourceType]:
        found = [rt for (g, v, _p), rt in self._by_path.items() if g == group and v == version]
        return sorted(found, key=lambda rt: rt.plural)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_path.values()))
