"""Flagger `Canary` health, after Argo CD's `flagger.app/Canary/health.lua`.

The verdict is Flagger's phase; the message is the phase, the canary's traffic weight while it has
any, and every condition's message, joined by " --- " as Argo CD joins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.health.live_fields import lua_number, lua_number_text, mappings_at, str_at, value_at
from core.model import Health, HealthStatus

_SEPARATOR = " --- "
_NO_STATUS = HealthStatus(Health.UNKNOWN, "No status")
_HEALTH_BY_PHASE = {
    "Failed": Health.DEGRADED,
    "Progressing": Health.PROGRESSING,
    "Finalising": Health.PROGRESSING,
    "Promoting": Health.PROGRESSING,
    "Succeeded": Health.HEALTHY,
    "Initialized": Health.HEALTHY,
}


def flagger_canary_health(obj: Mapping[str, Any]) -> HealthStatus:
    """The health of a live `flagger.app/Canary`; phases Argo CD does not name (Waiting,
    WaitingPromotion, Initializing, Terminating) are Unknown, as there."""
    status = value_at(obj, "status")
    # Without a phase Argo CD's script stops on a Lua error; it is as good as no status.
    if not isinstance(status, Mapping) or not str_at(status, "phase"):
        return _NO_STATUS
    message = ""
    weight = lua_number(status.get("canaryWeight"))
    if weight is not None and weight > 0:
        message = f"Canary Weight: {lua_number_text(weight)} %"
    for condition in mappings_at(status, "conditions"):
        # As the script does: the separator only after something, so an empty message adds none.
        if message:
            message += _SEPARATOR
        message += str_at(condition, "message")
    phase = str_at(status, "phase")
    return HealthStatus(_HEALTH_BY_PHASE.get(phase, Health.UNKNOWN), phase + _SEPARATOR + message)
