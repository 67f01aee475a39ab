"""Objects a fresh cluster's API server creates for itself at start (its post-start hooks).

- The two system PriorityClasses (scheduling.k8s.io's `system-node-critical` and
  `system-cluster-critical`).
- One APIService per built-in group-version, served Local (no `spec.service`), labelled
  `kube-aggregator.kubernetes.io/automanaged: onstart` and Available, as the aggregator's autoregister
  controller makes them. CRD group-versions get theirs from the APIService controller
  (controllers/apiservices.py), which uses `api_service_for` too.

(The default `standard` StorageClass is seeded by the server itself, with the volume binder's class.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

SYSTEM_MANAGER = "kube-apiserver"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
AGGREGATOR_MANAGER = "kube-apiserver"

SYSTEM_PRIORITY_CLASSES: tuple[tuple[str, int, str], ...] = (
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node "
        "if necessary.",
    ),
)

# apiVersionPriorities of kube-apiserver's aggregator config: (group priority, version priority).
API_VERSION_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
}
# What the CRD registration controller gives a custom resource's group-version.
CRD_PRIORITY = (1000, 100)


def api_service_name(group: str, version: str) -> str:
    return f"{version}.{group}"


def api_service_for(group: str, version: str, *, automanaged: str) -> dict[str, Any]:
    """The APIService of a group-version this server serves itself (Local)."""
    group_priority, version_priority = API_VERSION_PRIORITIES.get((group, version), CRD_PRIORITY)
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": api_service_name(group, version), "labels": {AUTOMANAGED: automanaged}},
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": group_priority,
            "versionPriority": version_priority,
        },
    }


def local_available(now: str) -> dict[str, Any]:
    """The status the availability controller gives a Local APIService."""
    return {
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "Local",
                "message": "Local APIServices are always available",
            }
        ]
    }


def create_api_service(api: ResourceAPI, group: str, version: str, *, automanaged: str) -> None:
    api_services = api.resource("apiregistration.k8s.io/v1", "APIService")
    stored = api.create(
        api_services,
        None,
        api_service_for(group, version, automanaged=automanaged),
        manager=AGGREGATOR_MANAGER,
    )
    available = stored.copy()
    available["status"] = local_available(api.clock())
    api.update_status(available, manager=AGGREGATOR_MANAGER)


def seed_cluster_objects(api: ResourceAPI) -> None:
    """Create what a new cluster has before any client writes (skipping kinds the registry lacks)."""
    if api.registry.preferred("scheduling.k8s.io", "priorityclasses") is not None:
        priority_classes = api.resource("scheduling.k8s.io/v1", "PriorityClass")
        for name, value, description in SYSTEM_PRIORITY_CLASSES:
            if api.find(priority_classes, None, name) is None:
                body = {
                    "metadata": {"name": name},
                    "value": value,
                    "description": description,
                    "preemptionPolicy": "PreemptLowerPriority",
                }
                api.create(priority_classes, None, body, manager=SYSTEM_MANAGER)
    if api.registry.preferred("apiregistration.k8s.io", "apiservices") is not None:
        api_services = api.resource("apiregistration.k8s.io/v1", "APIService")
        for group in api.registry.groups():
            for version in api.registry.versions(group):
                if any(rt.custom for rt in api.registry.resources(group, version)):
                    continue
                if api.find(api_services, None, api_service_name(group, version)) is None:
                    create_api_service(api, group, version, automanaged="onstart")
