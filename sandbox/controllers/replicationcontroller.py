"""The replication manager: a ReplicationController keeps `spec.replicas` active pods from its template.

As in kube-controller-manager, it is the ReplicaSet controller over another kind: the same rules
(pods `<rc>-<5 random characters>`, orphans adopted, the cheapest pods deleted first when scaling
down) and the same status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas), with
the ReplicationController's plain-map selector.
"""

from __future__ import annotations

from typing import Any

from sandbox.controllers.replicaset import ReplicaSetController
from sandbox.selectors import LabelSelector, label_selector_from_object


def rc_selector(rc: dict[str, Any]) -> LabelSelector:
    """A ReplicationController's selector is a map of labels (equality only)."""
    return label_selector_from_object({"matchLabels": dict((rc.get("spec") or {}).get("selector") or {})})


class ReplicationManager(ReplicaSetController):
    name = "replication-controller"
    api_version = "v1"
    kind = "ReplicationController"

    def selector_of(self, owner: dict[str, Any]) -> LabelSelector | None:
        # Without a selector (the server defaults it from the template's labels) nothing is adopted.
        return rc_selector(owner) if (owner.get("spec") or {}).get("selector") else None
