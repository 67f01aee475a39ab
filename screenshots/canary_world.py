"""The world of the rollout screenshot: Argo Rollouts on the demo's cluster, and shop's checkout as a
canary Rollout paused at its first pause with 20% of the weight, as the Rollouts controller leaves it.

The sandbox runs no Rollouts controller, so the status is written here the way the controller writes
it (`stableRS`, `currentPodHash`, `currentStepIndex`, a `CanaryPauseStep` pause condition). The demo
itself has no Rollout: only `make_screenshots.py` builds this, for its last shot.
"""

from __future__ import annotations

from typing import Any, Final, cast

from kubernetes import client

from core.cluster import ClusterAdapter
from core.model import ResourceKey
from sandbox.handle import CONTEXT_NAME
from tui.demo import DemoWorkspace
from tui.demo.sample_repo import SHOP

CHECKOUT: Final = ResourceKey("argoproj.io", "Rollout", SHOP.namespace, "checkout")
ROLLOUT_FILE: Final = f"{SHOP.path}/rollout.yaml"
COMMIT_SUBJECT: Final = "shop: roll out checkout as a canary"

# The cluster's, not the app's: Argo Rollouts' CRD as its install would serve it, the schema left open.
ROLLOUT_CRD: Final[dict[str, Any]] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "names": {"kind": "Rollout", "listKind": "RolloutList", "plural": "rollouts", "singular": "rollout"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}

STABLE_HASH: Final = "6c9f7d8b54"
CANARY_HASH: Final = "7b4d9c6f85"


def checkout_rollout() -> dict[str, Any]:
    """The steps of Argo Rollouts' getting-started canary: 20%, a pause until promoted, then 40-80%."""
    labels = {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop"}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": CHECKOUT.name, "labels": dict(labels)},
        "spec": {
            "replicas": 5,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "checkout"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": "checkout",
                            "image": "ghcr.io/acme/shop-checkout:2.4.0",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
            "strategy": {
                "canary": {
                    "steps": [
                        {"setWeight": 20},
                        {"pause": {}},
                        {"setWeight": 40},
                        {"pause": {"duration": "10m"}},
                        {"setWeight": 60},
                        {"pause": {"duration": "10m"}},
                        {"setWeight": 80},
                        {"pause": {"duration": "10m"}},
                    ]
                }
            },
        },
    }


def paused_status(generation: int) -> dict[str, Any]:
    """What the controller writes once the canary's first step is done: one pod of five on the new
    template, paused until a person promotes it."""
    return {
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "observedGeneration": str(generation),
        "currentPodHash": CANARY_HASH,
        "stableRS": STABLE_HASH,
        "currentStepIndex": 1,
        "controllerPause": True,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2025-03-06T10:20:00Z"}],
        "replicas": 5,
        "updatedReplicas": 1,
        "readyReplicas": 5,
        "availableReplicas": 5,
        "selector": "app.kubernetes.io/name=checkout",
        "canary": {},
    }


def build(workspace: DemoWorkspace) -> None:
    """Install the CRD, commit and sync shop's Rollout, and set its status as the controller would."""
    api = workspace.kubeconfig().api_client(CONTEXT_NAME)
    ClusterAdapter(api, context=CONTEXT_NAME).apply(ROLLOUT_CRD)
    workspace.repo.commit(ROLLOUT_FILE, [checkout_rollout()], COMMIT_SUBJECT)
    workspace.sync_all(apps=[SHOP.name])
    custom = client.CustomObjectsApi(api)
    where = ("argoproj.io", "v1alpha1", CHECKOUT.namespace, "rollouts", CHECKOUT.name)
    live = cast("dict[str, Any]", custom.get_namespaced_custom_object(*where))
    status = paused_status(int(live["metadata"]["generation"]))
    custom.patch_namespaced_custom_object_status(*where, {"status": status})
