"""Authorization decisions for access reviews (`kubectl auth can-i`), from the sandbox's RBAC objects.

The sandbox does not enforce RBAC on requests: its one admin user may do anything, as a member of
`system:masters` may on a real cluster (only the fault plan refuses requests, and only when a test asks
for it). Reviews answer the way kube-apiserver's authorizer chain does:

- `system:masters` is allowed everything (the privileged-group authorizer, no reason given);
- otherwise the stored Roles, ClusterRoles and their bindings decide, as the RBAC authorizer does,
  with ClusterRole aggregation rules evaluated on the spot (there is no aggregation controller);
- every authenticated user also holds the bootstrap roles system:basic-user, system:discovery and
  system:public-info-viewer, which the sandbox does not store.

A denial carries no reason, as RBAC gives none when no rule matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.authentication import AUTHENTICATED, MASTERS, SERVICE_ACCOUNT_PREFIX, UserInfo
from sandbox.selectors import label_selector_from_object

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

RBAC = "rbac.authorization.k8s.io"

# The rules of the bootstrap ClusterRoles bound to system:authenticated (system:basic-user,
# system:discovery, system:public-info-viewer), which a real cluster creates at start.
AUTHENTICATED_RULES: tuple[dict[str, Any], ...] = (
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    {
        "verbs": ["get"],
        "nonResourceURLs": [
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/healthz",
            "/livez",
            "/openapi",
            "/openapi/*",
            "/readyz",
            "/version",
            "/version/",
        ],
    },
)
# cluster-admin, what system:masters may do, as a rules review lists it.
ADMIN_RULES: tuple[dict[str, Any], ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)


@dataclass(frozen=True)
class Attributes:
    """What a request would do: a verb on a resource (or subresource, name, namespace), or on a path."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # a non-resource request (`/healthz`)

    @property
    def is_resource(self) -> bool:
        return not self.path


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def _matches(values: Iterable[str], wanted: str) -> bool:
    return any(v == "*" or v == wanted for v in values)


def _resource_matches(resources: Iterable[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for value in resources:
        if value in ("*", combined):
            return True
        if subresource and value in (f"{resource}/*", f"*/{subresource}"):
            return True
    return False


def _path_matches(patterns: Iterable[str], path: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == path:
            return True
        if pattern.endswith("*") and path.startswith(pattern[:-1]):
            return True
    return False


def rule_allows(rule: dict[str, Any], attributes: Attributes) -> bool:
    """rbac.RuleAllows: verbs, then API groups, resources and names, or non-resource URLs."""
    if not _matches(rule.get("verbs") or [], attributes.verb):
        return False
    if not attributes.is_resource:
        return _path_matches(rule.get("nonResourceURLs") or [], attributes.path)
    if not _matches(rule.get("apiGroups") or [], attributes.group):
        return False
    if not _resource_matches(rule.get("resources") or [], attributes.resource, attributes.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


def _subject_matches(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return name == user.username
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return user.username == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
    return False


def _describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f'ServiceAccount "{namespace}/{subject.get("name")}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


class Authorizer:
    """Answers access and rules reviews from the objects the sandbox stores."""

    def __init__(self, api: ResourceAPI) -> None:
        self.api = api

    def decide(self, user: UserInfo, attributes: Attributes) -> Decision:
        if MASTERS in user.groups:
            return Decision(True)
        for description, rules in self._grants(user, attributes.namespace):
            if any(rule_allows(rule, attributes) for rule in rules):
                return Decision(True, f"RBAC: allowed by {description}")
        return Decision(False)

    def rules(self, user: UserInfo, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """A rules review: the resource rules and the non-resource rules the user holds in a namespace."""
        found: list[dict[str, Any]] = list(ADMIN_RULES) if MASTERS in user.groups else []
        for _description, rules in self._grants(user, namespace):
            found.extend(rules)
        resource_rules, non_resource_rules = [], []
        for rule in found:
            if rule.get("nonResourceURLs"):
                non_resource_rules.append(
                    {"verbs": list(rule.get("verbs") or []), "nonResourceURLs": list(rule["nonResourceURLs"])}
                )
                continue
            entry: dict[str, Any] = {"verbs": list(rule.get("verbs") or [])}
            for key in ("apiGroups", "resources", "resourceNames"):
                if rule.get(key):
                    entry[key] = list(rule[key])
            resource_rules.append(entry)
        return resource_rules, non_resource_rules

    def _grants(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(how it was granted, its rules) for every binding of the user that applies in the namespace."""
        if AUTHENTICATED in user.groups:
            yield (
                'ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" '
                f'to Group "{AUTHENTICATED}"',
                list(AUTHENTICATED_RULES),
            )
        cluster_bindings = self.api.resource(f"{RBAC}/v1", "ClusterRoleBinding")
        for binding in self.api.store.iter_objects(cluster_bindings.storage_key):
            yield from self._binding_grants(binding.obj, user, "ClusterRoleBinding", "")
        if namespace:
            bindings = self.api.resource(f"{RBAC}/v1", "RoleBinding")
            for binding in self.api.store.iter_objects(bindings.storage_key, namespace):
                yield from self._binding_grants(binding.obj, user, "RoleBinding", namespace)

    def _binding_grants(
        self, binding: dict[str, Any], user: UserInfo, kind: str, namespace: str
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for subject in binding.get("subjects") or []:
            if not _subject_matches(subject, user, namespace):
                continue
            role_ref = binding.get("roleRef") or {}
            name = str(binding["metadata"]["name"])
            label = f"{name}/{namespace}" if namespace else name
            description = (
                f'{kind} "{label}" of {role_ref.get("kind")} "{role_ref.get("name")}" '
                f"to {_describe_subject(subject, namespace)}"
            )
            yield (
                description,
                self._role_rules(str(role_ref.get("kind")), str(role_ref.get("name")), namespace),
            )
            return

    def _role_rules(
        self, kind: str, name: str, namespace: str, seen: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        if kind == "Role":
            role = self.api.store.get(self.api.resource(f"{RBAC}/v1", "Role").storage_key, namespace, name)
            return list((role.obj.get("rules") or []) if role is not None else [])
        cluster_roles = self.api.resource(f"{RBAC}/v1", "ClusterRole")
        role = self.api.store.get(cluster_roles.storage_key, "", name)
        if role is None or name in seen:
            return []
        rules = list(role.obj.get("rules") or [])
        aggregation = role.obj.get("aggregationRule") or {}
        for selector in aggregation.get("clusterRoleSelectors") or []:
            matcher = label_selector_from_object(selector)
            for other in self.api.store.iter_objects(cluster_roles.storage_key):
                if other.name != name and matcher.matches(other.obj["metadata"].get("labels")):
                    rules.extend(self._role_rules("ClusterRole", other.name, "", seen | {name}))
        return rules
