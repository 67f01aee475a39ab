"""Notifications end to end for the triggers a state of the cluster fires: `healthDegraded` and
`rolledBack` (issue 15 item 4). The sandbox runs its controllers, so a crash-looping image makes the
Deployment exceed its progress deadline and go Degraded, as a real cluster's does; a webhook receiver
in the test must get each notification exactly once, in the documented JSON and Slack bodies
(core.notification_bodies). Drift and failed syncs are in test_notifications.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import Health
from core.status_events import AppStatusChange, RollbackEvent, StatusChange
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy, git
from tests.integration.test_notifications import posts, wait_until
from tests.integration.test_rollback import back_at_a, ship, step, web_config
from tests.live_run import LiveRun
from tests.webhook_receiver import ReceiverThread, WebhookReceiver

HOOKS = """\
notifications:
  - name: oncall
    url: {fromEnv: KD_TEST_HOOK}
    triggers: [healthDegraded, rolledBack]
  - name: chat
    url: {fromEnv: KD_TEST_SLACK}
    format: slack
    triggers: [healthDegraded, rolledBack]
"""
CRASHING = "ghcr.io/acme/web-crashloop:2.0"
JSON_KEYS = {"kind", "id", "ts", "hook", "trigger", "app", "revision", "message"}
STATE_KEYS = {"sync", "health", "previous"}


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    """The sandbox with its controllers: Deployments roll out, and time out, as a real cluster's do."""
    with SandboxThread() as running:
        yield running


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with ReceiverThread() as running:
        monkeypatch.setenv("KD_TEST_HOOK", running.url("/json"))
        monkeypatch.setenv("KD_TEST_SLACK", running.url("/slack"))
        yield running


def hooked_web_config(root: Path, sync_policy: str) -> Config:
    """test_rollback's app `web` (a Deployment with a 2 s progress deadline, and a ConfigMap), with
    both hooks."""
    config = web_config(root, sync_policy)
    assert config.path is not None
    config.path.write_text(config.path.read_text() + HOOKS)
    return load_config(config.path)


def live(config: Config, kubeconfig_path: Path) -> LiveRun:
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}))
    engine.notification_warning = pytest.fail  # no hook may be refused or given up on here
    return LiveRun(engine)


def became_healthy_after(run: LiveRun, seen: int) -> Callable[[], bool]:
    """Whether the app became Healthy in what the engine published after its first `seen` changes."""

    def healthy() -> bool:
        with run._lock:
            later: list[StatusChange] = run.changes[seen:]
        return any(isinstance(c, AppStatusChange) and c.health is Health.HEALTHY for c in later)

    return healthy


def set_image(kubeconfig_path: Path, image: str) -> None:
    """What `kubectl set image` does: a person changing the live Deployment by hand."""
    api = load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    client.AppsV1Api(api).patch_namespaced_deployment("web", "web", patch)


def sent(receiver: WebhookReceiver, trigger: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What each hook got for `trigger`: the JSON hook's bodies, and the Slack hook's."""
    as_json = [body for body in posts(receiver, "/json") if body["trigger"] == trigger]
    as_slack = [body for body in posts(receiver, "/slack") if f"trigger `{trigger}`" in context_of(body)]
    return as_json, as_slack


def context_of(slack: dict[str, Any]) -> str:
    context = slack["blocks"][-1]
    assert context["type"] == "context"
    return str(context["elements"][0]["text"])


def test_a_deployment_going_degraded_is_notified_exactly_once(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, receiver: WebhookReceiver
) -> None:
    config = hooked_web_config(tmp_path, "{}")  # manual: kubedrift only watches
    deploy(adapter, config)
    revision = git(tmp_path / "gitops", "rev-parse", "HEAD")
    with live(config, kubeconfig_path) as run:
        wait_until(became_healthy_after(run, 0), timeout=20)
        set_image(kubeconfig_path, CRASHING)
        wait_until(lambda: all(sent(receiver, "healthDegraded")), timeout=20)
        # Degraded persisting is no news; repaired, it is none either.
        seen = len(run.changes)
        set_image(kubeconfig_path, "ghcr.io/acme/web:1.0")
        wait_until(became_healthy_after(run, seen), timeout=20)
    # The engine stopped: whatever it had fired went out before (the sender's close drains its queues).
    (degraded,), (slack,) = sent(receiver, "healthDegraded")
    assert set(degraded) == JSON_KEYS | STATE_KEYS
    assert degraded["kind"] == "kubedrift.notification" and degraded["hook"] == "oncall"
    assert (degraded["app"], degraded["revision"]) == ("web", revision)
    assert degraded["id"] == f"web/healthDegraded/{revision}"
    assert (degraded["sync"], degraded["health"]) == ("OutOfSync", "Degraded")
    assert degraded["previous"]["health"] not in ("Degraded", None)
    assert degraded["message"] == "web is Degraded"
    assert degraded["ts"].endswith("Z")
    assert set(slack) == {"text", "blocks"}, "the Slack hook gets Slack's shape"
    assert slack["text"] == "web: web is Degraded"
    assert slack["blocks"][0]["text"]["text"] == ":broken_heart: *web*: web is Degraded"
    assert "OutOfSync · Degraded" in context_of(slack) and f"revision `{revision[:12]}`" in context_of(slack)
    assert len(posts(receiver, "/json")) == len(posts(receiver, "/slack")) == 1, "nothing else was sent"


def test_an_automated_rollback_is_notified_exactly_once(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    receiver: WebhookReceiver,
    state_home: Path,
) -> None:
    config = hooked_web_config(tmp_path, "{automated: {}, rollback: {onDegraded: true, window: 1m}}")
    deploy(adapter, config)
    repo = tmp_path / "gitops"
    good = git(repo, "rev-parse", "HEAD")
    with live(config, kubeconfig_path) as run:
        run.wait_for(step("revision-good", good), timeout=20)
        bad = ship(repo, CRASHING, "B")
        decided = run.wait_for(step("rollback-decided", bad), timeout=30)
        done = run.wait_for(step("rolled-back", bad), timeout=20)
        assert isinstance(done, RollbackEvent)
        back_at_a(kubeconfig_path)
        with run._lock:
            seen = run.changes.index(decided)
        wait_until(became_healthy_after(run, seen), timeout=20)
    (rolled,), (slack,) = sent(receiver, "rolledBack")
    assert set(rolled) == JSON_KEYS | {"rollback"}, "an event, not a state: no sync or health"
    assert (rolled["app"], rolled["revision"], rolled["hook"]) == ("web", bad, "oncall")
    assert rolled["id"] == f"web/rolledBack/rolled-back:{bad}:{good}"
    assert rolled["rollback"] == done.to_json()["rollback"], "as `watch -o jsonl` prints the step"
    assert rolled["rollback"]["from"] == bad and rolled["rollback"]["to"] == good
    assert rolled["message"] == f"web rolled back: {done.message}"
    assert set(slack) == {"text", "blocks"}
    assert slack["text"] == f"web: web rolled back: {done.message}"
    assert slack["blocks"][0]["text"]["text"].startswith(
        ":leftwards_arrow_with_hook: *web*: web rolled back: "
    )
    assert f"revision `{bad[:12]}`" in context_of(slack)
    # What made it roll back was told too, once: B's Deployment going Degraded.
    (degraded,), (_,) = sent(receiver, "healthDegraded")
    assert (degraded["revision"], degraded["health"]) == (bad, "Degraded")
    assert len(posts(receiver, "/json")) == len(posts(receiver, "/slack")) == 2, "nothing else was sent"
