"""Where a progressive delivery stands (core.rollout_status): strategy, step, weights, pause and the
stable and canary ReplicaSets of Argo Rollouts, and Flagger's Canary, over Argo CD's test objects."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.rollout_status import ReplicaCounts, RolloutStatus, rollout_status_of

Obj = dict[str, Any]
ARGO_FIXTURES = Path(__file__).parent.parent / "fixtures" / "health" / "argo"


@functools.cache
def documents(file: str) -> list[Obj]:
    return list(
        yaml.load_all(
            (ARGO_FIXTURES / file).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    )


def fixture(file: str, case: str) -> Obj:
    for document in documents(file):
        if document["case"] == case:
            return copy.deepcopy(document["object"])
    raise AssertionError(f"no case {case} in {file}")


def rollout(case: str) -> Obj:
    return fixture("argoproj.io-Rollout.yaml", case)


def test_paused_canary_at_its_first_pause() -> None:
    assert rollout_status_of(rollout("suspended_v1.0_pausedRollout")) == RolloutStatus(
        kind="Rollout",
        name="rollouts-demo",
        strategy="Canary",
        phase="Paused",
        message="CanaryPauseStep",
        step=1,
        steps=8,
        current_step="pause until promoted",
        set_weight=21,
        paused=True,
        pause_reasons=("CanaryPauseStep",),
        stable="rollouts-demo-77f4f8ff97",
        canary="rollouts-demo-8566c77b97",
        replicas=ReplicaCounts(desired=5, current=6, updated=2, ready=6, available=6),
    )


def test_canary_at_a_timed_pause_with_pre_v08_stable_hash() -> None:
    status = rollout_status_of(rollout("canary/progressing_setWeightStep"))
    assert status is not None
    assert (status.step, status.steps, status.current_step) == (3, 4, "pause until promoted")
    assert status.set_weight == 40
    assert status.stable == "example-rollout-canary-df986d68"  # from status.canary.stableRS
    assert status.canary == "example-rollout-canary-6b566f47b7"
    assert not status.paused


def test_fully_promoted_canary_has_no_canary_replica_set() -> None:
    status = rollout_status_of(rollout("canary/healthy_executedAllSteps"))
    assert status is not None
    assert (status.step, status.steps, status.current_step) == (4, 4, "all steps done")
    assert status.set_weight == 100
    assert status.stable == "guestbook-canary-84ccfddd66"
    assert status.canary == ""


def test_aborted_canary_sets_weight_zero() -> None:
    status = rollout_status_of(rollout("degraded_abortedRollout"))
    assert status is not None
    assert status.aborted
    assert status.set_weight == 0
    assert status.step == 0
    assert status.current_step == "set weight 40%"


def test_canary_without_steps_shows_no_step_and_full_weight() -> None:
    status = rollout_status_of(rollout("canary/healthy_noSteps"))
    assert status is not None
    assert (status.step, status.steps, status.current_step) == (None, 0, "")
    assert status.set_weight == 100


def test_user_pause_is_named() -> None:
    status = rollout_status_of(rollout("suspended_userPause"))
    assert status is not None
    assert status.paused
    assert status.pause_reasons[0] == "paused by a person (spec.paused)"


def test_blue_green_active_and_preview() -> None:
    obj = rollout("degraded_rolloutTimeout")
    obj["status"]["blueGreen"]["previewSelector"] = "6b8cf6f7db"  # the new pods, behind the preview Service
    status = rollout_status_of(obj)
    assert status is not None
    assert status.strategy == "BlueGreen"
    assert (status.step, status.set_weight) == (None, None)
    assert status.active == "guestbook-bluegreen-helm-guestbook-8464d8564d"
    assert status.preview == "guestbook-bluegreen-helm-guestbook-6b8cf6f7db"
    assert (
        status.canary == "guestbook-bluegreen-helm-guestbook-6b8cf6f7db"
    )  # the current hash, not yet stable


def test_blue_green_preview_hidden_once_it_is_active() -> None:
    status = rollout_status_of(rollout("bluegreen/healthy_servingActiveService"))
    assert status is not None
    assert status.active == "ks-guestbook-ui-dc689d967"
    assert status.preview == ""


def test_router_weight_and_step_kinds() -> None:
    obj = rollout("suspended_v1.0_pausedRollout")
    obj["spec"]["strategy"]["canary"]["steps"][1:1] = [
        {"analysis": {"templates": [{"templateName": "rate"}]}}
    ]
    obj["status"]["canary"] = {"weights": {"canary": {"weight": 19, "podTemplateHash": "8566c77b97"}}}
    status = rollout_status_of(obj)
    assert status is not None
    assert (status.current_step, status.set_weight, status.actual_weight) == ("analysis", 21, 19)
    obj["status"]["currentStepIndex"] = 4
    obj["spec"]["strategy"]["canary"]["steps"][4] = {"pause": {"duration": "1h"}}
    assert rollout_status_of(obj).current_step == "pause 1h"  # type: ignore[union-attr]
    obj["spec"]["strategy"]["canary"]["steps"][4] = {"pause": {"duration": 30}}
    assert rollout_status_of(obj).current_step == "pause 30s"  # type: ignore[union-attr]


def test_rollout_without_status() -> None:
    status = rollout_status_of(rollout("newRolloutWithoutStatus"))
    assert status is not None
    assert (status.phase, status.stable, status.canary, status.step) == ("", "", "", None)
    assert status.replicas == ReplicaCounts(desired=1, current=0, updated=0, ready=0, available=0)


# --- Flagger -----------------------------------------------------------------------------------------


def flagger(case: str, **spec: Any) -> Obj:
    obj = fixture("flagger.app-Canary.yaml", case)
    obj["spec"] = {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}} | spec
    return obj


def test_flagger_progressive_traffic_shifting() -> None:
    status = rollout_status_of(
        flagger("progressing", analysis={"stepWeight": 10, "maxWeight": 50, "threshold": 5})
    )
    assert status == RolloutStatus(
        kind="Canary",
        name="podinfo",
        strategy="Canary",
        phase="Progressing",
        message="New revision detected, progressing canary analysis.",
        set_weight=10,
        max_weight=50,
        stable="podinfo-primary",
        canary="podinfo",
        failed_checks=0,
        failure_threshold=5,
    )


def test_flagger_step_weights_give_the_max_weight() -> None:
    status = rollout_status_of(flagger("progressing", analysis={"stepWeights": [5, 10, 25, 60]}))
    assert status is not None
    assert status.max_weight == 60


@pytest.mark.parametrize(
    ("analysis", "strategy"),
    [
        ({"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}, "A/B testing"),
        ({"iterations": 10}, "Blue/Green"),
        ({"iterations": 10, "mirror": True}, "Blue/Green mirroring"),
    ],
)
def test_flagger_strategies_with_iterations(analysis: Obj, strategy: str) -> None:
    obj = flagger("progressing", analysis=analysis)
    obj["status"]["iterations"] = 3
    status = rollout_status_of(obj)
    assert status is not None
    assert (status.strategy, status.step, status.steps, status.set_weight) == (strategy, 3, 10, None)


def test_flagger_finished_and_failed() -> None:
    succeeded = rollout_status_of(flagger("succeeded"))
    failed = rollout_status_of(flagger("degraded"))
    assert succeeded is not None and failed is not None
    assert (succeeded.canary, succeeded.aborted) == ("", False)
    assert (failed.canary, failed.aborted) == ("", True)


def test_flagger_waiting_and_suspended_are_pauses() -> None:
    waiting = flagger("progressing")
    waiting["status"]["phase"] = "WaitingPromotion"
    status = rollout_status_of(waiting)
    assert status is not None
    assert status.pause_reasons == ("waiting for the confirm-promotion webhook",)
    suspended = rollout_status_of(flagger("progressing", suspend=True))
    assert suspended is not None
    assert suspended.pause_reasons == ("analysis suspended (spec.suspend)",)


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {"apiVersion": "apps/v1", "kind": "Deployment"},
        {"apiVersion": "example.com/v1", "kind": "Rollout"},
        {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate"},
    ],
)
def test_other_objects_have_no_rollout_status(obj: Obj | None) -> None:
    assert rollout_status_of(obj) is None


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "spec": None, "status": []},
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "spec": {"replicas": "3", "strategy": {"canary": {"steps": [None, {"setWeight": "x"}, 3]}}},
            "status": {"currentStepIndex": 2, "pauseConditions": "yes", "blueGreen": 1},
        },
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "spec": {"analysis": [1]}, "status": "x"},
    ],
)
def test_malformed_objects_never_raise(obj: Obj) -> None:
    assert isinstance(rollout_status_of(obj), RolloutStatus)
