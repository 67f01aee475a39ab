"""A Deployment's ReplicaSets: which one is new, their revisions, and the new one's manifest.

Pure functions over dicts (pkg/controller/deployment/util), used by the Deployment controller.
"""

from __future__ import annotations

from typing import Any

from sandbox.controllers.ownership import owner_reference
from sandbox.controllers.revisions import POD_TEMPLATE_HASH, compute_hash, with_labels, without_hash_label
from sandbox.controllers.rollout import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    NOT_COPIED,
    REVISION,
    max_surge,
    new_rs_replicas,
    replicas_of,
)


def revision_of(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def has_template_of(rs: dict[str, Any], d: dict[str, Any]) -> bool:
    """EqualIgnoreHash: the ReplicaSet runs the deployment's pod template."""
    return without_hash_label((rs.get("spec") or {}).get("template") or {}) == without_hash_label(
        (d.get("spec") or {}).get("template") or {}
    )


def split_new_and_old(
    d: dict[str, Any], rs_list: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The new ReplicaSet (the oldest one with the deployment's template) and the old ones."""
    ordered = sorted(rs_list, key=lambda rs: str(rs["metadata"].get("creationTimestamp") or ""))
    new_rs = next((rs for rs in ordered if has_template_of(rs, d)), None)
    return new_rs, [rs for rs in rs_list if rs is not new_rs]


def latest(rs_list: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rs_list:
        return None
    return max(rs_list, key=lambda rs: str(rs["metadata"].get("creationTimestamp") or ""))


def replica_annotations(d: dict[str, Any]) -> dict[str, str]:
    """The desired and maximum replica counts a scaled ReplicaSet carries."""
    return {DESIRED_REPLICAS: str(replicas_of(d)), MAX_REPLICAS: str(replicas_of(d) + max_surge(d))}


def new_rs_annotations(d: dict[str, Any], rs: dict[str, Any], new_revision: int) -> dict[str, str]:
    """setNewReplicaSetAnnotations: the deployment's annotations, the revision, and the replica bounds."""
    annotations = dict(rs["metadata"].get("annotations") or {})
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED:
            annotations[key] = value
    if revision_of(rs) < new_revision:
        annotations[REVISION] = str(new_revision)
    annotations.update(replica_annotations(d))
    return annotations


def new_replicaset(d: dict[str, Any], old_rs: list[dict[str, Any]], revision: int) -> dict[str, Any]:
    """The ReplicaSet for the deployment's current template, `<deployment>-<pod-template-hash>`."""
    spec = d.get("spec") or {}
    template = spec.get("template") or {}
    pod_hash = compute_hash(template, (d.get("status") or {}).get("collisionCount"))
    selector = dict(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: pod_hash}
    labels = {**((template.get("metadata") or {}).get("labels") or {}), POD_TEMPLATE_HASH: pod_hash}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{d['metadata']['name']}-{pod_hash}",
            "namespace": d["metadata"].get("namespace"),
            "labels": labels,
            "ownerReferences": [owner_reference(d)],
        },
        "spec": {
            "replicas": new_rs_replicas(d, old_rs, None),
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": with_labels(template, {POD_TEMPLATE_HASH: pod_hash}),
        },
    }
    body["metadata"]["annotations"] = new_rs_annotations(d, body, revision)
    return body
