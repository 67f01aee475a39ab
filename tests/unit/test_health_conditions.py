"""The rule for kinds without one of their own: the `status.conditions` conventions (Ready, Available,
Reconciling, Stalled) and `observedGeneration`, over custom resources as their controllers write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.health import HEALTH_CHECKS, health_of
from core.health.conditions import PROGRESS_REASONS, conditions_health
from core.model import Health, HealthStatus
from tests.unit.test_health import MALFORMED
from tests.unit.test_health_argo_kinds import fixture_cases

Obj = dict[str, Any]
CONDITION_CASES = fixture_cases(Path(__file__).parent.parent / "fixtures" / "health")


def test_fixture_cases_cover_every_verdict_the_rule_gives() -> None:
    verdicts = {case.values[1].status for case in CONDITION_CASES}
    assert verdicts == {Health.HEALTHY, Health.PROGRESSING, Health.DEGRADED}


@pytest.mark.parametrize(("obj", "expected"), CONDITION_CASES)
def test_verdict_of_the_conventions(obj: Obj, expected: HealthStatus) -> None:
    assert health_of(obj) == expected


def widget(*conditions: Obj, **status: Any) -> Obj:
    return {
        "apiVersion": "acme.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop", "generation": 2},
        "status": {"conditions": list(conditions), **status},
    }


@pytest.mark.parametrize("reason", sorted(PROGRESS_REASONS))
def test_not_ready_for_a_reason_that_means_not_yet_is_progressing(reason: str) -> None:
    health = conditions_health(widget({"type": "Ready", "status": "False", "reason": reason}))
    assert health == HealthStatus(Health.PROGRESSING, reason)


def test_reason_that_only_sounds_like_progress_is_still_degraded() -> None:
    # Only whole reasons from the list count: reasons are each controller's own words.
    not_ready = {
        "type": "Ready",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "too slow",
    }
    assert conditions_health(widget(not_ready)) == HealthStatus(Health.DEGRADED, "too slow")


def test_stalled_wins_over_reconciling() -> None:
    stalled = {"type": "Stalled", "status": "True", "reason": "Gave up"}
    reconciling = {"type": "Reconciling", "status": "True", "reason": "Working"}
    assert conditions_health(widget(reconciling, stalled)).status is Health.DEGRADED


def test_reconciling_wins_over_ready_false() -> None:
    # Flux marks Ready False for a moment while it retries; Reconciling says it is at work.
    reconciling = {"type": "Reconciling", "status": "True", "message": "retrying"}
    not_ready = {"type": "Ready", "status": "False", "reason": "BuildFailed"}
    assert conditions_health(widget(not_ready, reconciling)) == HealthStatus(Health.PROGRESSING, "retrying")


def test_conditions_that_are_false_but_say_nothing_bad_are_ignored() -> None:
    stalled = {"type": "Stalled", "status": "False"}
    reconciling = {"type": "Reconciling", "status": "False"}
    ready = {"type": "Ready", "status": "True", "message": "all good"}
    assert conditions_health(widget(stalled, reconciling, ready)) == HealthStatus(Health.HEALTHY, "all good")


def test_first_condition_of_a_type_counts() -> None:
    first = {"type": "Ready", "status": "True", "message": "first"}
    second = {"type": "Ready", "status": "False", "message": "second"}
    assert conditions_health(widget(first, second)) == HealthStatus(Health.HEALTHY, "first")


def test_observed_generation_ahead_or_equal_does_not_wait() -> None:
    assert conditions_health(widget(observedGeneration=2)) == HealthStatus(Health.HEALTHY)
    assert conditions_health(widget(observedGeneration=3)) == HealthStatus(Health.HEALTHY)


@pytest.mark.parametrize(
    "obj",
    [
        # Kinds with a rule of their own never reach the conventions.
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"generation": 2},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "Down"}]},
        },
    ],
    ids=["Certificate", "APIService"],
)
def test_kinds_with_a_rule_use_it(obj: Obj) -> None:
    group = obj["apiVersion"].rpartition("/")[0]
    assert health_of(obj) == HEALTH_CHECKS[(group, obj["kind"])](obj)
    assert health_of(obj) != conditions_health(obj)


@pytest.mark.parametrize("obj", MALFORMED, ids=lambda obj: str(len(str(obj))))
def test_malformed_fields_never_raise(obj: Obj) -> None:
    health = conditions_health(obj)
    assert isinstance(health.status, Health)
    assert isinstance(health.message, str)
