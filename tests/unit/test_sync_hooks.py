"""Hooks and waves read from annotations as Argo CD reads them, Helm's hooks mapped as Argo CD maps
them, and how hook manifests render: kept out of the desired set, `generateName` allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.hook_run import hook_name
from core.render import Renderer
from core.sync_hooks import (
    DeletePolicy,
    Hook,
    HookType,
    SyncPhase,
    annotation_problem,
    delete_policies,
    hook_phases,
    hook_types,
    is_hook,
    sync_wave,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "apps"
ALL_POLICIES = frozenset(DeletePolicy)


def job(name: str = "migrate", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": dict(annotations)},
        "spec": {
            "template": {"spec": {"containers": [{"name": "m", "image": "m"}], "restartPolicy": "Never"}}
        },
    }


def helm(hook: str, **more: str) -> dict[str, Any]:
    return job(**{"helm.sh/hook": hook, **more})


def argo(hook: str, **more: str) -> dict[str, Any]:
    return job(**{"argocd.argoproj.io/hook": hook, **more})


# --- Argo CD's annotations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "phases"),
    [
        ("PreSync", (SyncPhase.PRE_SYNC,)),
        ("Sync", (SyncPhase.SYNC,)),
        ("PostSync", (SyncPhase.POST_SYNC,)),
        ("SyncFail", (SyncPhase.SYNC_FAIL,)),
        ("PostSync, PreSync", (SyncPhase.PRE_SYNC, SyncPhase.POST_SYNC)),
        ("Skip", ()),
        ("Skip,PreSync", (SyncPhase.PRE_SYNC,)),
        ("PostDelete", ()),
    ],
)
def test_argo_cd_hook_types_choose_the_phases(value: str, phases: tuple[SyncPhase, ...]) -> None:
    obj = argo(value)
    assert is_hook(obj)
    assert hook_phases(obj) == phases


def test_an_object_without_hook_annotations_is_an_ordinary_resource() -> None:
    assert not is_hook(job())
    assert not is_hook({"metadata": {"name": "x"}})


def test_a_hook_without_delete_policy_is_deleted_before_it_is_created_again() -> None:
    assert delete_policies(argo("PreSync")) == {DeletePolicy.BEFORE_HOOK_CREATION}
    both = argo("PreSync", **{"argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed"})
    assert delete_policies(both) == {DeletePolicy.HOOK_SUCCEEDED, DeletePolicy.HOOK_FAILED}


@pytest.mark.parametrize(("value", "wave"), [("3", 3), ("-2", -2), (" 7 ", 7), ("x", 0)])
def test_sync_wave_reads_integers_and_defaults_to_zero(value: str, wave: int) -> None:
    assert sync_wave(job(**{"argocd.argoproj.io/sync-wave": value})) == wave
    assert sync_wave(job()) == 0


# --- Helm's hooks, as Argo CD maps them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "types"),
    [
        ("pre-install", (HookType.PRE_SYNC,)),
        ("pre-upgrade", (HookType.PRE_SYNC,)),
        ("pre-install,pre-upgrade", (HookType.PRE_SYNC,)),
        ("post-install", (HookType.POST_SYNC,)),
        ("post-upgrade", (HookType.POST_SYNC,)),
        ("pre-install,post-install", (HookType.PRE_SYNC, HookType.POST_SYNC)),
        ("test", ()),
        ("pre-delete", ()),
        ("pre-rollback", ()),
    ],
)
def test_helm_hook_types_map_onto_argo_cds(value: str, types: tuple[HookType, ...]) -> None:
    assert hook_types(helm(value)) == types


def test_helm_test_and_delete_hooks_never_run_in_a_sync_and_are_never_resources() -> None:
    for value in ("test", "test-success", "pre-delete", "post-delete", "post-rollback"):
        assert is_hook(helm(value)) and hook_phases(helm(value)) == ()


def test_helm_crd_install_is_an_ordinary_resource() -> None:
    assert not is_hook(helm("crd-install"))


def test_helm_weight_is_the_wave_of_hooks_and_of_ordinary_resources() -> None:
    assert sync_wave(helm("pre-install", **{"helm.sh/hook-weight": "-2"})) == -2
    assert sync_wave(job(**{"helm.sh/hook-weight": "2"})) == 2
    both = job(**{"helm.sh/hook-weight": "2", "argocd.argoproj.io/sync-wave": "5"})
    assert sync_wave(both) == 5


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        ("before-hook-creation", DeletePolicy.BEFORE_HOOK_CREATION),
        ("hook-succeeded", DeletePolicy.HOOK_SUCCEEDED),
        ("hook-failed", DeletePolicy.HOOK_FAILED),
    ],
)
def test_helm_delete_policies_map_onto_argo_cds(value: str, policy: DeletePolicy) -> None:
    assert delete_policies(helm("pre-install", **{"helm.sh/hook-delete-policy": value})) == {policy}


def test_argo_cds_hook_annotation_wins_over_helms() -> None:
    obj = argo("PostSync", **{"helm.sh/hook": "pre-install"})
    assert hook_phases(obj) == (SyncPhase.POST_SYNC,)


# --- mistakes -------------------------------------------------------------------------------------


def test_a_misspelt_hook_type_is_a_problem_argo_cd_would_silently_skip() -> None:
    problem = annotation_problem(argo("PreSink"))
    assert problem is not None and "names 'PreSink', which is no hook type" in problem
    assert "PreSync" in problem


def test_a_misspelt_delete_policy_and_a_wave_that_is_no_number_are_problems() -> None:
    policy = annotation_problem(argo("PreSync", **{"argocd.argoproj.io/hook-delete-policy": "Succeeded"}))
    assert policy is not None and "names 'Succeeded'" in policy
    wave = annotation_problem(job(**{"argocd.argoproj.io/sync-wave": "first"}))
    assert wave is not None and "is 'first', not a whole number" in wave
    assert annotation_problem(argo("PreSync", **{"argocd.argoproj.io/sync-wave": "-1"})) is None


# --- hook names -------------------------------------------------------------------------------------


def test_a_generate_name_hook_is_named_as_argo_cd_names_it() -> None:
    generated = job(**{"argocd.argoproj.io/hook": "PreSync"})
    del generated["metadata"]["name"]
    generated["metadata"]["generateName"] = "upgrade-sql-schema-"
    hook = Hook.of(generated)
    name = hook_name(hook, SyncPhase.PRE_SYNC, "4f1c2a9e8b7d6c5e", 1_700_000_000)
    assert name == "upgrade-sql-schema-4f1c2a9-presync-1700000000"
    assert hook.label == "Job.batch/upgrade-sql-schema-*"


def test_a_named_hook_keeps_its_name_and_a_long_generate_name_is_cut_to_fit() -> None:
    assert hook_name(Hook.of(argo("Sync")), SyncPhase.SYNC, "abc", 1) == "migrate"
    long = argo("Sync")
    del long["metadata"]["name"]
    long["metadata"]["generateName"] = "x" * 80
    name = hook_name(Hook.of(long), SyncPhase.SYNC, "folder:0123abcd", 1_700_000_000)
    assert len(name) == 63 and name.endswith("folder-sync-1700000000")


# --- rendering ----------------------------------------------------------------------------------------


def render(files: dict[str, bytes]) -> Any:
    return Renderer(default_namespace="shop").render(files)


def fixture_files(name: str) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (FIXTURES / name).iterdir()}


def test_the_sync_waves_example_renders_its_hooks_apart_from_its_objects() -> None:
    result = render(fixture_files("sync-waves"))
    assert result.ok, result.errors
    assert sorted(f"{key.kind}/{key.name}" for key in result.objects) == [
        "ReplicaSet/backend",
        "ReplicaSet/frontend",
        "Service/backend",
        "Service/frontend",
    ]
    hooks = [Hook.of(desired.obj) for desired in result.hooks]
    assert [(hook.label, hook.phases, hook.wave) for hook in hooks] == [
        ("Job.batch/shop/upgrade-sql-schema*", (SyncPhase.PRE_SYNC,), 0),
        ("Job.batch/shop/maint-page-up", (SyncPhase.SYNC,), 1),
        ("Job.batch/shop/maint-page-down", (SyncPhase.SYNC,), 3),
    ]


def test_the_helm_hooks_example_maps_every_hook() -> None:
    result = render(fixture_files("helm-hooks"))
    assert result.ok, result.errors
    assert sorted(f"{key.kind}/{key.name}" for key in result.objects) == [
        "ReplicaSet/frontend",
        "Service/frontend",
    ]
    hooks = [Hook.of(desired.obj) for desired in result.hooks]
    assert [(hook.label, hook.phases, hook.wave, hook.policies) for hook in hooks] == [
        (
            "Job.batch/shop/upgrade-sql-schema*",
            (SyncPhase.PRE_SYNC,),
            -2,
            {DeletePolicy.BEFORE_HOOK_CREATION},
        ),
        ("Job.batch/shop/maint-page-up", (SyncPhase.PRE_SYNC,), -1, {DeletePolicy.BEFORE_HOOK_CREATION}),
        ("Job.batch/shop/maint-page-down", (SyncPhase.POST_SYNC,), 0, {DeletePolicy.BEFORE_HOOK_CREATION}),
    ]


def test_generate_name_without_a_hook_is_still_a_render_error_with_a_hint() -> None:
    result = render({"job.yaml": b"apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n"})
    (error,) = result.errors
    assert str(error) == (
        "job.yaml:1: document 1 (batch/Job) has no metadata.name; give it a name "
        "(generateName is only for hooks, which are created fresh at each sync)"
    )


def test_a_bad_hook_annotation_is_a_render_error_naming_the_file_and_line() -> None:
    text = b"""\
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: Presync}
"""
    result = render({"hooks.yaml": text})
    (error,) = result.errors
    assert str(error).startswith(
        "hooks.yaml:5: batch/Job shop/migrate: its annotation argocd.argoproj.io/hook"
    )
    assert list(result.objects) and not result.hooks  # an unreadable hook runs nowhere


def test_an_unknown_sync_option_annotation_is_a_render_error() -> None:
    text = b"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: {argocd.argoproj.io/sync-options: "Prune=false,Replase=true"}
"""
    (error,) = render({"cm.yaml": text}).errors
    assert str(error) == (
        "cm.yaml:1: ConfigMap shop/settings: unknown sync option 'Replase=true'; did you mean Replace=true? "
        "in its annotation argocd.argoproj.io/sync-options"
    )


def test_skipped_manifests_and_helm_test_hooks_are_neither_objects_nor_hooks() -> None:
    text = b"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: skipped
  annotations: {argocd.argoproj.io/hook: Skip}
---
apiVersion: v1
kind: Pod
metadata:
  name: chart-test
  annotations: {helm.sh/hook: test}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations: {helm.sh/hook: crd-install}
spec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced}
"""
    result = render({"all.yaml": text})
    assert result.ok and not result.hooks
    assert [key.kind for key in result.objects] == ["CustomResourceDefinition"]


def test_a_named_hook_declared_twice_is_an_error() -> None:
    text = b"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PostSync}
"""
    (error,) = render({"hooks.yaml": text}).errors
    assert "batch/Job shop/migrate is declared twice" in str(error)
