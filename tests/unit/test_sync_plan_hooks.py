"""The plan a person confirms before a sync lists the app's hooks: they run on every whole-app sync,
as in Argo CD, so an app in sync with hooks still has something to do."""

from __future__ import annotations

from typing import Any

from core.desired_state import DesiredState
from core.model import App, Destination, ResourceKey, Source
from core.operations import plan_sync
from core.reconcile import AppReconciler
from core.runtime import AppRuntime

APP = App("shop", Source("/repo"), Destination(namespace="shop"))


def job(**metadata: Any) -> dict[str, Any]:
    annotations = {"argocd.argoproj.io/hook": "PreSync"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"namespace": "shop", "annotations": annotations, **metadata},
    }


def runtime_with(hooks: tuple[dict[str, Any], ...]) -> AppRuntime:
    runtime = AppRuntime(APP, None, AppReconciler(APP))
    runtime.desired = DesiredState("abc123", {}, render_ok=True, hooks=hooks)
    return runtime


def test_an_app_without_drift_or_hooks_has_nothing_to_do() -> None:
    assert plan_sync(runtime_with(()), prune=False) == []


def test_hooks_are_planned_to_run_and_a_generated_name_shows_as_its_prefix() -> None:
    plan = plan_sync(runtime_with((job(name="db-migrate"), job(generateName="smoke-"))), prune=False)
    assert [(change.verb, str(change.key)) for change in plan] == [
        ("hook", "Job.batch/shop/db-migrate"),
        ("hook", "Job.batch/shop/smoke-*"),
    ]
    assert all(isinstance(change.key, ResourceKey) for change in plan)
