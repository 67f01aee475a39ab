"""Notifications end to end: the live engine on the sandbox, kubectl making drift, and a webhook
receiver in the test that must get each notification exactly once."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core import webhook_sender
from core.cluster import ClusterAdapter
from core.config import Config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, ResourceKey, SyncStatus
from core.operations import sync_now
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy, shop_config
from tests.kubectl import Kubectl
from tests.live_run import LiveRun
from tests.webhook_receiver import ReceiverThread, WebhookReceiver

HOOKS = """\
notifications:
  - name: oncall
    url: {fromEnv: KD_TEST_HOOK}
  - name: chat
    url: {fromEnv: KD_TEST_SLACK}
    format: slack
    triggers: [drift]
    apps: [shop]
"""
CONFIG_MAP = ResourceKey("", "ConfigMap", "shop", "web-config")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with ReceiverThread() as running:
        monkeypatch.setenv("KD_TEST_HOOK", running.url("/json"))
        monkeypatch.setenv("KD_TEST_SLACK", running.url("/slack"))
        yield running


@pytest.fixture
def config(tmp_path: Path, adapter: ClusterAdapter) -> Config:
    config = shop_config(tmp_path, extra_config=HOOKS)
    deploy(adapter, config)
    return config


def live(config: Config, kubeconfig_path: Path) -> LiveRun:
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}))
    engine.notification_warning = pytest.fail  # no hook may be refused or given up on here
    return LiveRun(engine)


def posts(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    with receiver._lock:
        return [item.body for item in receiver.received if item.path == path]


def wait_until(what: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def app_became(sync: AppSync) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, AppStatusChange) and c.sync is sync


def drifts(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [body for body in posts(receiver, "/json") if body["trigger"] == "drift"]


def test_each_drift_is_notified_exactly_once(
    config: Config, kubeconfig_path: Path, kubectl: Kubectl, receiver: WebhookReceiver
) -> None:
    with live(config, kubeconfig_path) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        kubectl.run("scale", "deployment/web", "-n", "shop", "--replicas=4")
        wait_until(lambda: len(drifts(receiver)) == 1 and len(posts(receiver, "/slack")) == 1)

        # The same drift persisting, and growing, is no news.
        kubectl.run("patch", "configmap/web-config", "-n", "shop", "-p", '{"data": {"LOG_LEVEL": "debug"}}')
        run.wait_for(
            lambda c: (
                isinstance(c, ResourceStatusChange)
                and c.key == CONFIG_MAP
                and c.status is SyncStatus.OUT_OF_SYNC
            )
        )
        # Repaired, then drifted again: one more.
        kubectl.run("patch", "configmap/web-config", "-n", "shop", "-p", '{"data": {"LOG_LEVEL": "info"}}')
        kubectl.run("scale", "deployment/web", "-n", "shop", "--replicas=2")
        run.wait_for(lambda c: app_became(AppSync.SYNCED)(c) and c.previous_sync is AppSync.OUT_OF_SYNC)
        kubectl.run("scale", "deployment/web", "-n", "shop", "--replicas=5")
        # A hook sends in order: had the persisting drift been sent, it would be before this one.
        wait_until(lambda: len(drifts(receiver)) == 2 and len(posts(receiver, "/slack")) == 2)

    first, second = drifts(receiver)
    assert first["app"] == "shop" and first["previous"]["sync"] == "Synced" and first["sync"] == "OutOfSync"
    assert [r["name"] for r in first["resources"]] == ["web"]
    assert first["revision"] == second["revision"] and len(first["revision"]) == 40
    assert first["message"] == "shop drifted from Git: 1 resource no longer matches"
    slack = posts(receiver, "/slack")
    assert all(set(body) == {"text", "blocks"} for body in slack), "the Slack hook gets Slack's shape"
    assert slack[0]["text"] == "shop: shop drifted from Git: 1 resource no longer matches"
    assert "`Deployment shop/web` OutOfSync" in slack[0]["blocks"][1]["text"]["text"]
    assert len(drifts(receiver)) == 2, "nothing more came while the engine stopped"


def test_a_receiver_failing_twice_gets_the_notification_once(
    config: Config,
    kubeconfig_path: Path,
    kubectl: Kubectl,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = functools.partial(webhook_sender.SenderSettings, backoff=0.01, max_backoff=0.05)
    monkeypatch.setattr(webhook_sender, "SenderSettings", fast)
    receiver.script([500, 500])
    with live(config, kubeconfig_path) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        kubectl.run("scale", "deployment/web", "-n", "shop", "--replicas=3")
        wait_until(lambda: len(posts(receiver, "/json")) + len(posts(receiver, "/slack")) == 2)
    assert receiver.attempts == 4, "two refused, then one to each hook"
    assert [body["trigger"] for body in posts(receiver, "/json")] == ["drift"]


def test_a_failed_sync_is_notified(
    config: Config,
    kubeconfig_path: Path,
    sandbox: SandboxThread,
    receiver: WebhookReceiver,
    state_home: Path,
) -> None:
    with live(config, kubeconfig_path) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.fail_next(resource="configmaps", count=5, code=403, verbs=("patch",))
        result = sync_now(run.engine, "shop")
        assert result.failed
        wait_until(lambda: any(body["trigger"] == "syncFailed" for body in posts(receiver, "/json")))
    (failed,) = [body for body in posts(receiver, "/json") if body["trigger"] == "syncFailed"]
    assert failed["message"] == "a sync of shop failed: 1 resource could not be applied"
    assert failed["resources"][0]["kind"] == "ConfigMap" and failed["resources"][0]["status"] == "failed"
    assert posts(receiver, "/slack") == [], "the chat hook wants drift only"


def test_a_missing_secret_stops_watch_at_start_with_one_sentence(
    config: Config, kubeconfig_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.cli import main

    monkeypatch.delenv("KD_TEST_HOOK", raising=False)
    assert config.path is not None
    code = main(["--config", str(config.path), "--kubeconfig", str(kubeconfig_path), "watch"])
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "the environment variable KD_TEST_HOOK is not set or empty" in error
    assert "notifications[0].url" in error
