"""The rollout panel on the app screen, against the sandbox: an Argo Rollouts canary paused at its
first pause (the CRD installed as a cluster's operator installs it, the status written as the
controller writes it), a ConfigMap judged by the user's Lua health check, and a snapshot."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from core.cluster import ClusterAdapter
from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey
from core.rollout_status import ReplicaCounts, RolloutStatus
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy
from tests.tui.conftest import git, wait_until
from tests.tui.test_app_screen import label_of, open_app, tree_of
from tests.tui.test_snapshots import PINNED_CLOCK
from tui.app import KubedriftApp
from tui.settings import TuiSettings
from tui.widgets import status_bar
from tui.widgets.engine_feed import LogEntry
from tui.widgets.rollout_panel import RolloutPanel

ROLLOUT = ResourceKey("argoproj.io", "Rollout", "shop", "web")
SETTINGS = ResourceKey("", "ConfigMap", "shop", "web-settings")
LUA_CHECKS = Path(__file__).parent.parent / "fixtures" / "health" / "lua"

ROLLOUT_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "names": {"kind": "Rollout", "listKind": "RolloutList", "plural": "rollouts", "singular": "rollout"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}

APP_FILES = {
    "rollout.yaml": """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 5
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.5.0
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      steps:
        - setWeight: 20
        - pause: {}
        - setWeight: 40
        - pause: {duration: 30s}
        - setWeight: 60
        - pause: {duration: 30s}
        - setWeight: 80
        - pause: {duration: 30s}
""",
    "settings.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
data:
  maintenance: "on"
""",
}
CONFIG = """\
apps:
  - name: shop
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
    destination: {namespace: shop}
healthChecks: health
"""
# What the Argo Rollouts controller writes while the canary waits at its first pause.
PAUSED_STATUS = {
    "phase": "Paused",
    "message": "CanaryPauseStep",
    "currentPodHash": "8566c77b97",
    "stableRS": "77f4f8ff97",
    "currentStepIndex": 1,
    "currentStepHash": "7d5979db69",
    "controllerPause": True,
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2025-01-02T03:10:00Z"}],
    "replicas": 6,
    "updatedReplicas": 1,
    "readyReplicas": 6,
    "availableReplicas": 6,
    "HPAReplicas": 6,
    "selector": "app=web",
    "canary": {
        "weights": {
            "canary": {"podTemplateHash": "8566c77b97", "weight": 20},
            "stable": {"podTemplateHash": "77f4f8ff97", "weight": 80},
        }
    },
}


@pytest.fixture(autouse=True)
def pinned_clocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(status_bar, "wall_clock", lambda: PINNED_CLOCK)
    monkeypatch.setattr(LogEntry, "clock", property(lambda entry: "03:04:05"))


@pytest.fixture
def rollout_settings(tmp_path: Path, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> TuiSettings:
    """The shop app (a canary Rollout and a ConfigMap), deployed, with the Rollout paused mid-way."""
    monkeypatch.setattr("sandbox.write_pipeline.secrets", SimpleNamespace(choice=random.Random(2025).choice))
    app_folder = tmp_path / "gitops" / "apps" / "shop"
    app_folder.mkdir(parents=True)
    for name, text in APP_FILES.items():
        (app_folder / name).write_text(text)
    git(tmp_path / "gitops", "init", "-q", "-b", "main")
    git(tmp_path / "gitops", "add", ".")
    git(tmp_path / "gitops", "commit", "-q", "-m", "web as a canary Rollout")
    (tmp_path / "health" / "ConfigMap").mkdir(parents=True)
    (tmp_path / "health" / "ConfigMap" / "health.lua").write_text(
        (LUA_CHECKS / "ConfigMap" / "health.lua").read_text()
    )
    (tmp_path / "kubedrift.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "kubedrift.yaml")

    kubeconfig_path = str(sandbox.kubeconfig(tmp_path / "kubeconfig"))
    api = load_kubeconfig(kubeconfig_path, environ={}).api_client("sandbox")
    adapter = ClusterAdapter(api, context="sandbox")
    adapter.apply(ROLLOUT_CRD)  # Argo Rollouts is the cluster's, not the app's
    deploy(adapter, config)
    custom = client.CustomObjectsApi(api)
    live = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "shop", "rollouts", "web")
    status = PAUSED_STATUS | {"observedGeneration": str(live["metadata"]["generation"])}
    custom.patch_namespaced_custom_object_status(
        "argoproj.io", "v1alpha1", "shop", "rollouts", "web", {"status": status}
    )

    def engine() -> Engine:
        return Engine(
            config, load_kubeconfig(kubeconfig_path, environ={}), base_dir=tmp_path, watch_tree=True
        )

    return dataclasses.replace(TuiSettings(config, kubeconfig=kubeconfig_path), engine_factory=engine)


async def rollout_highlighted(pilot: Pilot[object]) -> None:
    """Open shop, wait for the Rollout's paused status, and highlight it."""
    screen = await open_app(pilot, "shop")
    tree = tree_of(screen)
    await wait_until(pilot, lambda: "Suspended" in label_of(tree, ROLLOUT), "the paused Rollout in the tree")
    tree.highlight(ROLLOUT)
    panel = screen.query_one(RolloutPanel)
    await wait_until(pilot, lambda: bool(panel.lines_shown), "the rollout panel")
    await pilot.pause(0.3)


async def test_panel_shows_where_the_canary_stands(rollout_settings: TuiSettings) -> None:
    app = KubedriftApp(rollout_settings)
    async with app.run_test(size=(120, 36)) as pilot:
        await rollout_highlighted(pilot)
        screen = app.screen
        panel = screen.query_one(RolloutPanel)
        assert panel.display
        assert panel.lines_shown == [
            "Canary · Paused · step 1/8: pause until promoted · weight 20%",
            "‖ paused: CanaryPauseStep",
            "stable web-77f4f8ff97 · canary web-8566c77b97",
            "replicas 5 desired · 6 current · 1 updated · 6 ready · 6 available",
        ]

        # The Rollout's health is Argo CD's verdict: the controller's phase, Paused read as Suspended.
        assert "Suspended" in label_of(tree_of(screen), ROLLOUT)
        # The user's Lua check judged the ConfigMap, through kubedrift.yaml's healthChecks.
        assert "Suspended" in label_of(tree_of(screen), SETTINGS)

        # Promoted to the next step: the panel follows the live object.
        api = load_kubeconfig(app.settings.kubeconfig, environ={}).api_client("sandbox")
        promoted = {
            "phase": "Progressing",
            "message": "more replicas need to be updated",
            "currentStepIndex": 2,
        }
        client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
            "argoproj.io",
            "v1alpha1",
            "shop",
            "rollouts",
            "web",
            {"status": promoted | {"pauseConditions": None}},
        )
        await wait_until(
            pilot,
            lambda: (
                panel.lines_shown[:1]
                == ["Canary · Progressing · step 2/8: set weight 40% · weight 40% (router 20%)"]
            ),
            "the next step",
        )
        assert not any(line.startswith("‖ paused") for line in panel.lines_shown)

        # Anything else highlighted hides the panel.
        tree_of(screen).highlight(SETTINGS)
        await wait_until(pilot, lambda: not panel.display, "the panel to hide")
        assert panel.lines_shown == []


def test_rollout_panel_120x36(snap_compare: Callable[..., bool], rollout_settings: TuiSettings) -> None:
    app = KubedriftApp(rollout_settings)
    assert snap_compare(app, terminal_size=(120, 36), run_before=rollout_highlighted)


def test_rollout_panel_80x24(snap_compare: Callable[..., bool], rollout_settings: TuiSettings) -> None:
    app = KubedriftApp(rollout_settings)
    assert snap_compare(app, terminal_size=(80, 24), run_before=rollout_highlighted)


class PanelAlone(App[None]):
    """The panel by itself: the screen's part is tested above, this is the layout of each kind."""

    def compose(self) -> ComposeResult:
        yield RolloutPanel()


@pytest.mark.parametrize(
    ("status", "lines"),
    [
        (
            RolloutStatus(
                kind="Rollout",
                name="web",
                strategy="BlueGreen",
                phase="Progressing",
                message="active service cutover pending",
                active="web-5c4b8d9f7",
                preview="web-7d9f6c5b4",
                replicas=ReplicaCounts(desired=3, current=6, updated=3, ready=6, available=6),
            ),
            [
                "BlueGreen · Progressing",
                "active web-5c4b8d9f7 · preview web-7d9f6c5b4",
                "replicas 3 desired · 6 current · 3 updated · 6 ready · 6 available",
            ],
        ),
        (
            RolloutStatus(
                kind="Rollout",
                name="web",
                strategy="Canary",
                phase="Degraded",
                message="RolloutAborted: metric error-rate assessed Failed",
                step=2,
                steps=4,
                current_step="set weight 40%",
                set_weight=0,
                aborted=True,
                stable="web-77f4f8ff97",
                canary="web-8566c77b97",
            ),
            [
                "Canary · Degraded · step 2/4: set weight 40% · weight 0%",
                "✗ aborted: RolloutAborted: metric error-rate assessed Failed",
                "stable web-77f4f8ff97 · canary web-8566c77b97",
            ],
        ),
        (
            RolloutStatus(
                kind="Canary",
                name="podinfo",
                strategy="Canary",
                phase="WaitingPromotion",
                message="",
                set_weight=50,
                max_weight=50,
                paused=True,
                pause_reasons=("waiting for the confirm-promotion webhook",),
                stable="podinfo-primary",
                canary="podinfo",
                failed_checks=1,
                failure_threshold=5,
            ),
            [
                "Canary (Flagger) · WaitingPromotion · weight 50% of 50%",
                "‖ paused: waiting for the confirm-promotion webhook",
                "checks 1 failed of 5 allowed",
                "primary podinfo-primary · canary podinfo",
            ],
        ),
    ],
    ids=["blue-green", "aborted-canary", "flagger"],
)
async def test_panel_lays_out_each_kind(status: RolloutStatus, lines: list[str]) -> None:
    app = PanelAlone()
    async with app.run_test(size=(100, 12)) as pilot:
        panel = app.query_one(RolloutPanel)
        assert not panel.display
        panel.status = status
        await pilot.pause()
        assert panel.display
        assert panel.lines_shown == lines
