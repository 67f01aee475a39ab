"""Which kinds are namespaced: a built-in table of the Kubernetes kinds, extendable by discovery.

Rendering needs this to give namespaced objects the destination namespace and to strip the
namespace from cluster-scoped ones (an API server ignores it there). The built-in table covers the
kinds a stock API server serves; cluster discovery can later fill a `KindTable` with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class NamespaceScope(Protocol):
    """Answers whether a kind is namespaced."""

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        """True for namespaced kinds, False for cluster-scoped ones, None when the kind is unknown."""
        ...


@dataclass(slots=True)
class KindTable:
    """A mutable `(group, kind) -> namespaced` table, filled from discovery or from `BUILTIN_SCOPE`."""

    entries: dict[tuple[str, str], bool] = field(default_factory=dict)
    frozen: bool = False
    """A frozen table refuses `add`, so the shared built-in table cannot be changed by accident."""

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        return self.entries.get((group, kind))

    def add(self, group: str, kind: str, namespaced: bool) -> None:
        if self.frozen:
            raise TypeError("this KindTable is frozen; call copy() to get one that can be extended")
        self.entries[(group, kind)] = namespaced

    def copy(self) -> KindTable:
        """An unfrozen copy, to extend with discovered kinds."""
        return KindTable(dict(self.entries))


# Kinds a stock API server (1.29 to 1.32) serves that are not namespaced; every other kind of these
# groups is namespaced. Review kinds (TokenReview, SubjectAccessReview...) are never stored but are
# listed so that a manifest holding one is not given a namespace.
_CLUSTER_SCOPED: dict[str, tuple[str, ...]] = {
    "": ("ComponentStatus", "Namespace", "Node", "PersistentVolume"),
    "admissionregistration.k8s.io": (
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    ),
    "apiextensions.k8s.io": ("CustomResourceDefinition",),
    "apiregistration.k8s.io": ("APIService",),
    "authentication.k8s.io": ("TokenReview", "SelfSubjectReview"),
    "authorization.k8s.io": ("SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview"),
    "certificates.k8s.io": ("CertificateSigningRequest", "ClusterTrustBundle"),
    "flowcontrol.apiserver.k8s.io": ("FlowSchema", "PriorityLevelConfiguration"),
    "internal.apiserver.k8s.io": ("StorageVersion",),
    "networking.k8s.io": ("IngressClass", "IPAddress", "ServiceCIDR"),
    "node.k8s.io": ("RuntimeClass",),
    "policy": ("PodSecurityPolicy",),
    "rbac.authorization.k8s.io": ("ClusterRole", "ClusterRoleBinding"),
    "resource.k8s.io": ("DeviceClass", "ResourceSlice"),
    "scheduling.k8s.io": ("PriorityClass",),
    "storage.k8s.io": ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment", "VolumeAttributesClass"),
    "storagemigration.k8s.io": ("StorageVersionMigration",),
}

_NAMESPACED: dict[str, tuple[str, ...]] = {
    "": (
        "Binding",
        "ConfigMap",
        "Endpoints",
        "Event",
        "LimitRange",
        "PersistentVolumeClaim",
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
    ),
    "apps": ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
    "authorization.k8s.io": ("LocalSubjectAccessReview",),
    "autoscaling": ("HorizontalPodAutoscaler",),
    "batch": ("CronJob", "Job"),
    "coordination.k8s.io": ("Lease", "LeaseCandidate"),
    "discovery.k8s.io": ("EndpointSlice",),
    "events.k8s.io": ("Event",),
    "networking.k8s.io": ("Ingress", "NetworkPolicy"),
    "policy": ("PodDisruptionBudget",),
    "rbac.authorization.k8s.io": ("Role", "RoleBinding"),
    "resource.k8s.io": ("ResourceClaim", "ResourceClaimTemplate"),
    "storage.k8s.io": ("CSIStorageCapacity",),
}


def _builtin_table() -> KindTable:
    table = KindTable()
    for namespaced, kinds_by_group in ((True, _NAMESPACED), (False, _CLUSTER_SCOPED)):
        for group, kinds in kinds_by_group.items():
            for kind in kinds:
                table.add(group, kind, namespaced)
    table.frozen = True
    return table


BUILTIN_SCOPE: KindTable = _builtin_table()
"""The kinds of a stock API server; frozen, so extend a `BUILTIN_SCOPE.copy()` instead."""
