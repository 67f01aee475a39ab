"""The names an API server accepts, per kind, so that a bad name is an error of its file, not of a sync.

The rules are those of the Kubernetes validation code (`ValidateObjectMeta` and the name function
each kind passes to it), and only where a stock server certainly applies them:

- Namespaces: a DNS-1123 label (`ValidateNamespaceName`); so is the namespace of any namespaced object.
- Services: a DNS-1035 label (`ValidateServiceName`), which must start with a letter.
- RBAC Roles and bindings: any path segment (`ValidateRBACName`), so `system:viewer` is fine.
- The other built-in kinds listed in `_SUBDOMAIN_KINDS`: a DNS-1123 subdomain (`NameIsDNSSubdomain`).
- Every other kind: only what any server needs to put the name in a URL path (not `.` or `..`, no
  `/` or `%`). Custom resources are held to DNS-1123 subdomains by the apiextensions server, but a
  kind kubedrift does not know may as well be served by an aggregated API server with rules of its
  own (OpenShift users are named by e-mail address), so unknown kinds are not judged further.

Limits a server adds on creation only (a CronJob name of at most 52 characters) are left to it: an
object created before the limit existed still updates.
"""

from __future__ import annotations

import re

from core.kinds import BUILTIN_SCOPE

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

_LABEL_RULE = (
    "a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter "
    "or digit)"
)
_DNS1035_RULE = (
    "a DNS-1035 label (at most 63 lowercase letters, digits and '-', starting with a letter and ending "
    "with a letter or digit)"
)
_SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.', starting and ending with "
    "a letter or digit)"
)
_PATH_SEGMENT_RULE = "usable in a URL path (not '.' or '..', and without '/' or '%')"

_SUBDOMAIN_KINDS: frozenset[tuple[str, str]] = frozenset(
    [
        *(
            ("", kind)
            for kind in (
                "ConfigMap",
                "Endpoints",
                "LimitRange",
                "Node",
                "PersistentVolume",
                "PersistentVolumeClaim",
                "Pod",
                "PodTemplate",
                "ReplicationController",
                "ResourceQuota",
                "Secret",
                "ServiceAccount",
            )
        ),
        *(
            ("apps", kind)
            for kind in ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet")
        ),
        ("batch", "CronJob"),
        ("batch", "Job"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("storage.k8s.io", "StorageClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("coordination.k8s.io", "Lease"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ]
)


def _is_label(name: str) -> bool:
    return len(name) <= 63 and _DNS1123_LABEL.fullmatch(name) is not None


def _is_dns1035_label(name: str) -> bool:
    return len(name) <= 63 and _DNS1035_LABEL.fullmatch(name) is not None


def _is_subdomain(name: str) -> bool:
    return len(name) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(name) is not None


def _is_path_segment(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "%" not in name


def name_rule_broken(group: str, kind: str, name: str) -> str | None:
    """The rule `name` breaks for objects of `kind`, as a phrase ("a DNS-1123 label (...)"); None
    when a server would accept it."""
    if (group, kind) in _SUBDOMAIN_KINDS:
        return None if _is_subdomain(name) else _SUBDOMAIN_RULE
    if group == "" and kind == "Namespace":
        return None if _is_label(name) else _LABEL_RULE
    if group == "" and kind == "Service":
        return None if _is_dns1035_label(name) else _DNS1035_RULE
    return None if _is_path_segment(name) else _PATH_SEGMENT_RULE


def namespace_rule_broken(group: str, kind: str, namespace: str) -> str | None:
    """The rule a written `metadata.namespace` breaks; None when it is fine or the kind may be
    cluster-scoped (a server ignores the namespace of a cluster-scoped object)."""
    if not namespace or _is_label(namespace) or BUILTIN_SCOPE.is_namespaced(group, kind) is not True:
        return None
    return _LABEL_RULE
