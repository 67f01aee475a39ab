"""The rule for kinds without one of their own: the status conventions most controllers follow.

Argo CD calls any kind it has no rule for Healthy. Many custom resources say more than that in
`status.conditions`, with the types that kstatus (sigs.k8s.io/cli-utils), Flux and the Kubernetes
API conventions share, so this rule reads them, in kstatus's order:

1. `status.observedGeneration` below `metadata.generation`: the controller has not seen the latest
   spec yet, so Progressing. Only when the field is there: many controllers never write it.
2. `Stalled` True: the controller gave up, so Degraded.
3. `Reconciling` True: work in progress, so Progressing.
4. `Ready` or `Available` False: Degraded, unless its reason is one of `PROGRESS_REASONS`;
   Unknown: Progressing (Flux's Ready while it works); True: Healthy.
5. None of these: Healthy, as in Argo CD, once the object exists.

Reasons are free CamelCase words each controller picks, and kstatus reads none of them; but a
resource that is still being created (Crossplane's `Creating`, an operator's `Pending` or
`Provisioning`) is not failing, and calling it Degraded would page someone for nothing. So the
few reasons that only ever mean "not there yet" read as Progressing; every other False is Degraded.
A kind whose conditions mean something else gets a rule of its own, or a user's Lua check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import mapping_at, mappings_at, optional_int_at, str_at
from core.model import Health, HealthStatus

_EXISTS = HealthStatus(Health.HEALTHY)
_READINESS_TYPES = ("Ready", "Available")
PROGRESS_REASONS = frozenset(
    {"Creating", "Initializing", "InProgress", "Pending", "Progressing", "Provisioning", "Reconciling"}
)
"""Reasons for a False Ready or Available that mean "not there yet", not "failed"."""


def conditions_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live object of a kind without a rule of its own."""
    if not mapping_at(obj, "status"):
        return _EXISTS  # most such objects (ConfigMaps, Secrets, RBAC) have no status at all
    generation = optional_int_at(obj, "metadata", "generation")
    observed = optional_int_at(obj, "status", "observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for the controller to observe generation {generation} (it has seen {observed})",
        )

    conditions: dict[str, Mapping[str, Any]] = {}
    for condition in mappings_at(obj, "status", "conditions"):
        conditions.setdefault(str_at(condition, "type"), condition)
    stalled = conditions.get("Stalled")
    if stalled is not None and stalled.get("status") == "True":
        return HealthStatus(Health.DEGRADED, _what_it_says(stalled))
    reconciling = conditions.get("Reconciling")
    if reconciling is not None and reconciling.get("status") == "True":
        return HealthStatus(Health.PROGRESSING, _what_it_says(reconciling))

    readiness = [conditions[kind] for kind in _READINESS_TYPES if kind in conditions]
    not_ready = [condition for condition in readiness if condition.get("status") == "False"]
    for condition in not_ready:
        if str_at(condition, "reason") not in PROGRESS_REASONS:
            return HealthStatus(Health.DEGRADED, _what_it_says(condition))
    waiting = not_ready + [condition for condition in readiness if condition.get("status") == "Unknown"]
    if waiting:
        return HealthStatus(Health.PROGRESSING, _what_it_says(waiting[0]))
    for condition in readiness:
        if condition.get("status") == "True":
            return HealthStatus(Health.HEALTHY, str_at(condition, "message"))
    return _EXISTS


def _what_it_says(condition: Mapping[str, Any]) -> str:
    """The condition's message, or failing that its reason, so a verdict never comes without one."""
    return str_at(condition, "message") or str_at(condition, "reason")
