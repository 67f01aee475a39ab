"""Health beyond the workload kinds: HPA and APIService (gitops-engine), and the kinds Argo CD judges
with its own Lua scripts (Argo Rollouts, Flagger, cert-manager, PodDisruptionBudget), each over live
objects reshaped from Argo CD's test data, with the status and message Argo CD gives them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.health import health_of
from core.health.flagger_canary import flagger_canary_health
from core.health.hpa import CONDITIONS_ANNOTATION, hpa_health
from core.health.live_fields import lua_number
from core.health.pdb import pdb_health
from core.health.rollout import rollout_health
from core.model import Health, HealthStatus

Obj = dict[str, Any]
ARGO_FIXTURES = Path(__file__).parent.parent / "fixtures" / "health" / "argo"


def fixture_cases(folder: Path) -> list[Any]:
    """Each document of each fixture file: its object and the verdict it must get."""
    cases = []
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            expected = HealthStatus(Health(document["expect"]["status"]), document["expect"]["message"])
            cases.append(pytest.param(document["object"], expected, id=f"{path.stem}:{document['case']}"))
    return cases


ARGO_CASES = fixture_cases(ARGO_FIXTURES)


def test_every_kind_has_its_argo_cd_cases() -> None:
    kinds = {case.values[0]["kind"] for case in ARGO_CASES}
    assert kinds == {
        "Rollout",
        "Canary",
        "Certificate",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "APIService",
    }
    assert len(ARGO_CASES) == 52


@pytest.mark.parametrize(("obj", "expected"), ARGO_CASES)
def test_verdict_is_argo_cds(obj: Obj, expected: HealthStatus) -> None:
    assert health_of(obj) == expected


# --- Argo Rollouts: what the test data leaves out ----------------------------------------------------


def rollout(status: Obj | None, *, generation: int = 3, **spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {"replicas": 3, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}} | spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    ("phase", "expected"),
    [("Healthy", Health.HEALTHY), ("Paused", Health.SUSPENDED), ("Degraded", Health.DEGRADED)],
)
def test_rollout_phase_is_surfaced_as_argo_cd_does(phase: str, expected: Health) -> None:
    health = rollout_health(rollout({"observedGeneration": "3", "phase": phase, "message": "said so"}))
    assert health == HealthStatus(expected, "said so")


def test_rollout_phase_no_health_code_names_is_unknown() -> None:
    health = rollout_health(rollout({"observedGeneration": "3", "phase": "Exploded"}))
    assert health.status is Health.UNKNOWN
    assert "'Exploded'" in health.message


def test_numeric_observed_generation_behind_waits_for_the_controller() -> None:
    health = rollout_health(rollout({"observedGeneration": "2", "phase": "Healthy"}, generation=3))
    assert health == HealthStatus(Health.PROGRESSING, "Waiting for rollout spec update to be observed")


def test_rollout_without_conditions_is_judged_by_its_replicas() -> None:
    # Argo CD's script stops on a Lua error here (ipairs of nil); an absent list is read as empty.
    status = {"observedGeneration": "3", "currentPodHash": "7d9f", "replicas": 3, "updatedReplicas": 1}
    assert rollout_health(rollout(status)) == HealthStatus(
        Health.PROGRESSING, "Waiting for roll out to finish: More replicas need to be updated"
    )


def test_blue_green_waits_for_the_active_service_cutover() -> None:
    status = {
        "observedGeneration": "3",
        "currentPodHash": "7d9f",
        "stableRS": "5c4b",
        "replicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 3,
        "blueGreen": {"activeSelector": "5c4b", "previewSelector": "7d9f"},
    }
    blue_green = rollout(
        status, strategy={"blueGreen": {"activeService": "web", "previewService": "web-preview"}}
    )
    assert rollout_health(blue_green) == HealthStatus(Health.PROGRESSING, "active service cutover pending")


# --- Flagger: number formatting and separators -------------------------------------------------------


def canary(status: Obj) -> Obj:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "web"},
        "status": status,
    }


def test_flagger_weight_is_written_as_lua_writes_numbers() -> None:
    status = {"phase": "Progressing", "canaryWeight": 12.5, "conditions": [{"message": "advancing"}]}
    assert (
        flagger_canary_health(canary(status)).message == "Progressing --- Canary Weight: 12.5 % --- advancing"
    )


def test_flagger_separator_follows_only_something_said() -> None:
    # The script adds " --- " between messages only once the message is not empty.
    status = {"phase": "Succeeded", "canaryWeight": 0, "conditions": [{"message": ""}, {"message": "done"}]}
    assert flagger_canary_health(canary(status)) == HealthStatus(Health.HEALTHY, "Succeeded --- done")


def test_flagger_phases_argo_cd_does_not_name_are_unknown() -> None:
    assert flagger_canary_health(canary({"phase": "WaitingPromotion"})).status is Health.UNKNOWN


@pytest.mark.parametrize("obj", [{"kind": "Canary"}, canary({}), canary({"canaryWeight": 10})])
def test_flagger_without_status_or_phase(obj: Obj) -> None:
    assert flagger_canary_health(obj) == HealthStatus(Health.UNKNOWN, "No status")


# --- HPA: annotation forms and versions --------------------------------------------------------------


def hpa(api_version: str, *, annotation: str | None = None, conditions: list[Obj] | None = None) -> Obj:
    obj: Obj = {"apiVersion": api_version, "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}}
    if annotation is not None:
        obj["metadata"]["annotations"] = {CONDITIONS_ANNOTATION: annotation}
    if conditions is not None:
        obj["status"] = {"conditions": conditions}
    return obj


ABLE = {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "ok to scale"}


def test_hpa_v1_conditions_annotation_that_is_not_json_is_unknown() -> None:
    health = hpa_health(hpa("autoscaling/v1", annotation="[{not json"))
    assert health.status is Health.UNKNOWN
    assert CONDITIONS_ANNOTATION in health.message


def test_hpa_v1_empty_conditions_waits() -> None:
    assert hpa_health(hpa("autoscaling/v1", annotation="[]")) == HealthStatus(
        Health.PROGRESSING, "Waiting to Autoscale"
    )


def test_hpa_v1_ignores_status_conditions_as_argo_cd_does() -> None:
    assert hpa_health(hpa("autoscaling/v1", conditions=[ABLE])).status is Health.PROGRESSING


@pytest.mark.parametrize("api_version", ["autoscaling/v2", "autoscaling/v2beta2", "autoscaling/v2beta1"])
def test_hpa_v2_and_its_betas_read_status_conditions(api_version: str) -> None:
    annotated = hpa(api_version, annotation=json.dumps([ABLE]), conditions=[ABLE])
    assert hpa_health(annotated) == HealthStatus(Health.HEALTHY, "ok to scale")


def test_hpa_failure_reason_wins_even_when_the_condition_is_true() -> None:
    failing = {
        "type": "ScalingActive",
        "status": "True",
        "reason": "InvalidSelector",
        "message": "bad selector",
    }
    assert hpa_health(hpa("autoscaling/v2", conditions=[ABLE, failing])) == HealthStatus(
        Health.DEGRADED, "bad selector"
    )


# --- PodDisruptionBudget -----------------------------------------------------------------------------


def test_pdb_last_condition_decides_unless_one_is_false() -> None:
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "status": {
            "conditions": [
                {"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods"},
                {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"},
            ]
        },
    }
    assert pdb_health(pdb) == HealthStatus(Health.HEALTHY, "PodDisruptionBudget has SufficientPods")


# --- Lua's tonumber, which the Rollout and Flagger rules read fields with ----------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("5", 5.0),
        (" 0x1A ", 26.0),
        ("-0x10", -16.0),
        ("1e3", 1000.0),
        ("8575574967", 8575574967.0),
        (7, 7.0),
        (2.5, 2.5),
        ("6df79499bc", None),
        ("", None),
        ("nan", None),
        ("1_0", None),
        (True, None),
        (None, None),
    ],
)
def test_lua_number_reads_as_tonumber(value: Any, number: float | None) -> None:
    assert lua_number(value) == number
