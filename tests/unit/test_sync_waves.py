"""Planning a sync's steps: phases in order, waves ascending within each, namespaces and CRDs moved up
to what needs them, prunes mirrored and PruneLast at the end, as gitops-engine orders its tasks."""

from __future__ import annotations

from typing import Any

from core.model import ResourceKey
from core.sync_hooks import Hook, SyncPhase
from core.sync_waves import SyncProgress, SyncStep, plan_steps


def obj(
    kind: str, name: str, *, namespace: str = "shop", group: str = "", **annotations: str
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "annotations": dict(annotations)}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": f"{group}/v1" if group else "v1", "kind": kind, "metadata": metadata}


def wave(number: int) -> dict[str, str]:
    return {"argocd.argoproj.io/sync-wave": str(number)}


def hook(name: str, phase: str, *, namespace: str = "shop", **annotations: str) -> Hook:
    return Hook.of(
        obj(
            "Job",
            name,
            group="batch",
            namespace=namespace,
            **{"argocd.argoproj.io/hook": phase},
            **annotations,
        )
    )


def desired(*objs: dict[str, Any]) -> dict[ResourceKey, dict[str, Any]]:
    return {ResourceKey.of(o): o for o in objs}


def shape(steps: tuple[SyncStep, ...]) -> list[tuple[str, int, list[str]]]:
    """Each step as (phase, wave, what it does in order), for readable asserts."""
    return [
        (
            str(step.phase),
            step.wave,
            [key.name for key in step.applies]
            + [f"hook:{h.key.name}" for h in step.hooks]
            + [f"prune:{key.name}" for key in step.prunes],
        )
        for step in steps
    ]


def test_a_plain_app_is_one_step_that_never_waits() -> None:
    objects = desired(
        obj("ConfigMap", "a"), obj("Deployment", "web", group="apps"), obj("Namespace", "shop", namespace="")
    )
    plan = plan_steps(objects, objects, [], {})
    assert shape(plan.steps) == [("Sync", 0, ["shop", "a", "web"])]
    assert not plan.multi_step


def test_phases_run_in_order_and_waves_ascend_within_each() -> None:
    objects = desired(
        obj("ConfigMap", "late", **wave(5)),
        obj("ConfigMap", "early", **wave(-1)),
        obj("ConfigMap", "middle"),
    )
    hooks = [
        hook("after", "PostSync"),
        hook("before", "PreSync"),
        hook("maint", "Sync", **wave(1)),
        hook("notify", "SyncFail"),
    ]
    plan = plan_steps(objects, objects, hooks, {})
    assert shape(plan.steps) == [
        ("PreSync", 0, ["hook:before"]),
        ("Sync", -1, ["early"]),
        ("Sync", 0, ["middle"]),
        ("Sync", 1, ["hook:maint"]),
        ("Sync", 5, ["late"]),
        ("PostSync", 0, ["hook:after"]),
    ]
    assert shape(plan.on_failure) == [("SyncFail", 0, ["hook:notify"])]
    assert plan.multi_step
    assert plan.phases == (SyncPhase.PRE_SYNC, SyncPhase.SYNC, SyncPhase.POST_SYNC)
    assert plan.total == 6


def test_a_hook_in_two_phases_runs_in_both() -> None:
    plan = plan_steps({}, [], [hook("check", "PreSync,PostSync")], {})
    assert shape(plan.steps) == [("PreSync", 0, ["hook:check"]), ("PostSync", 0, ["hook:check"])]


def test_a_namespace_moves_up_to_the_presync_hook_that_runs_in_it() -> None:
    objects = desired(obj("Namespace", "shop", namespace="", **wave(3)), obj("ConfigMap", "a", **wave(1)))
    plan = plan_steps(objects, objects, [hook("migrate", "PreSync")], {})
    assert shape(plan.steps) == [("PreSync", 0, ["shop", "hook:migrate"]), ("Sync", 1, ["a"])]


def test_a_namespace_already_early_enough_stays_where_it_is() -> None:
    objects = desired(obj("Namespace", "shop", namespace="", **wave(-5)), obj("ConfigMap", "a", **wave(1)))
    plan = plan_steps(objects, objects, [], {})
    assert shape(plan.steps) == [("Sync", -5, ["shop"]), ("Sync", 1, ["a"])]


def test_a_crd_moves_up_to_the_wave_of_its_first_custom_resource() -> None:
    crd = obj(
        "CustomResourceDefinition",
        "widgets.example.com",
        group="apiextensions.k8s.io",
        namespace="",
        **wave(4),
    )
    crd["spec"] = {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}
    objects = desired(crd, obj("Widget", "w", group="example.com", **wave(2)))
    plan = plan_steps(objects, objects, [], {})
    assert shape(plan.steps) == [("Sync", 2, ["widgets.example.com", "w"])]


def test_prune_waves_are_mirrored_so_the_last_created_goes_first() -> None:
    leftovers = desired(
        obj("ConfigMap", "w0"), obj("ConfigMap", "w1", **wave(1)), obj("ConfigMap", "w3", **wave(3))
    )
    plan = plan_steps({}, [], [], leftovers)
    assert shape(plan.steps) == [
        ("Sync", 0, ["prune:w3"]),
        ("Sync", 1, ["prune:w1"]),
        ("Sync", 3, ["prune:w0"]),
    ]


def test_prune_last_prunes_after_every_other_sync_wave() -> None:
    objects = desired(obj("ConfigMap", "a"), obj("ConfigMap", "b", **wave(2)))
    leftovers = desired(obj("ConfigMap", "old"), obj("ConfigMap", "older"))
    plan = plan_steps(
        objects, objects, [hook("after", "PostSync")], leftovers, prune_last=lambda key: key.name == "old"
    )
    assert shape(plan.steps) == [
        ("Sync", 0, ["a", "prune:older"]),
        ("Sync", 2, ["b"]),
        ("Sync", 3, ["prune:old"]),
        ("PostSync", 0, ["hook:after"]),
    ]


def test_within_a_step_namespaces_and_config_come_before_workloads() -> None:
    objects = desired(
        obj("Deployment", "web", group="apps"),
        obj("Secret", "db"),
        obj("Namespace", "shop", namespace=""),
        obj("ConfigMap", "cfg"),
    )
    (step,) = plan_steps(objects, objects, [], {}).steps
    assert [key.name for key in step.applies] == ["shop", "cfg", "db", "web"]


def test_progress_reads_phase_and_wave_for_a_sync_with_steps() -> None:
    key = ResourceKey("", "ConfigMap", "shop", "a")
    line = SyncProgress(3, 9, key, SyncPhase.PRE_SYNC, 1, 3, 0, 3, 7, multi_step=True).line
    assert line == "PreSync 1/3 · wave 0 3/7"
    assert SyncProgress(3, 9, key).line == "3/9"
