"""StatefulSet health, after Argo CD's rule (gitops-engine `health_statefulset.go`).

With a RollingUpdate partition only the ordinals at or above the partition are meant to update, so
the rollout is complete once those are; the pods below it keep the old revision on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import int_at, mapping_at, optional_int_at, str_at
from core.model import Health, HealthStatus


def statefulset_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `apps/StatefulSet`."""
    observed = int_at(obj, "status", "observedGeneration")
    if observed == 0 or int_at(obj, "metadata", "generation") > observed:
        return HealthStatus(Health.PROGRESSING, "Waiting for statefulset spec update to be observed...")

    desired = optional_int_at(obj, "spec", "replicas")
    ready = int_at(obj, "status", "readyReplicas")
    updated = int_at(obj, "status", "updatedReplicas")
    if desired is not None and ready < desired:
        return HealthStatus(Health.PROGRESSING, f"Waiting for {desired - ready} pods to be ready...")

    strategy = mapping_at(obj, "spec", "updateStrategy")
    strategy_type = str_at(strategy, "type")
    rolling_update = strategy.get("rollingUpdate")
    if strategy_type == "RollingUpdate" and isinstance(rolling_update, Mapping):
        partition = optional_int_at(rolling_update, "partition")
        if desired is not None and partition is not None and updated < desired - partition:
            return HealthStatus(
                Health.PROGRESSING,
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {desired - partition} new pods have been updated...",
            )
        return HealthStatus(
            Health.HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    if strategy_type == "OnDelete":
        return HealthStatus(Health.HEALTHY, f"statefulset has {ready} ready pods")

    update_revision = str_at(obj, "status", "updateRevision")
    current_revision = str_at(obj, "status", "currentRevision")
    if update_revision != current_revision:
        return HealthStatus(
            Health.PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {update_revision}...",
        )
    current = int_at(obj, "status", "currentReplicas")
    return HealthStatus(
        Health.HEALTHY,
        f"statefulset rolling update complete {current} pods at revision {current_revision}...",
    )
