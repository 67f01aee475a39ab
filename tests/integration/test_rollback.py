"""Automated rollback against the sandbox (with its controllers) and a real Prometheus.

Each test starts from revision A applied and Healthy, commits a bad revision B that auto-sync applies,
and watches kubedrift sync back to A exactly once: because the analysis of a metric the test's own
exporter serves (through a real Prometheus) fails, or because B's Deployment goes Degraded (the
sandbox's Deployment controller sets ProgressDeadlineExceeded for a crash-looping image, as the real
one does). Then Git moves past B and is followed again. Read-only mode only says what would happen.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.status_events import RollbackEvent, StatusChange
from sandbox.handle import SandboxThread
from tests.integration.gitops import GIT_ENV, commit_file, committed_repository, deploy, git
from tests.live_run import LiveRun
from tests.prometheus import NOT_INSTALLED, prometheus_binary, running_prometheus
from tui.cli import main

T = TypeVar("T")
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "ghcr.io/acme/web:1.0"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-release}
data: {release: A}
"""
METRIC = "http_requests_errors_ratio"


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    """The sandbox with its controllers: Deployments roll out, and time out, as a real cluster's do."""
    with SandboxThread() as running:
        yield running


def web_config(root: Path, sync_policy: str) -> Config:
    repo = root / "gitops"
    (repo / "apps" / "web").mkdir(parents=True)
    (repo / "apps" / "web" / "web.yaml").write_text(WEB)
    committed_repository(repo, "web 1.0")
    config = root / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: web\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/web}\n"
        "    destination: {namespace: web}\n"
        f"    syncPolicy: {sync_policy}\n"
    )
    return load_config(config)


AT_A = ("A", "ghcr.io/acme/web:1.0")


def ship(repo: Path, image: str, name: str) -> str:
    """Commit release `name` of the app, with `image`; returns its SHA."""
    text = WEB.replace("ghcr.io/acme/web:1.0", image).replace("release: A", f"release: {name}")
    return commit_file(repo, "apps/web/web.yaml", text, f"release {name}: {image}")


def step(kind: str, revision: str) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, RollbackEvent) and c.step == kind and c.revision == revision


def steps_of(run: LiveRun, revision: str) -> list[str]:
    return [c.step for c in list(run.changes) if isinstance(c, RollbackEvent) and c.revision == revision]


def on_loop(run: LiveRun, read: Callable[[], T]) -> T:
    """`read()` on the engine's own loop, which owns its state."""
    done: concurrent.futures.Future[T] = concurrent.futures.Future()
    run._loop.call_soon_threadsafe(lambda: done.set_result(read()))
    return done.result(timeout=10)


def wait_until(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def cluster_release(kubeconfig: Path) -> tuple[str, str]:
    """(the ConfigMap's release, the Deployment's image) in the cluster now."""
    api = load_kubeconfig(str(kubeconfig), environ={}).api_client("sandbox")
    config_map: Any = client.CoreV1Api(api).read_namespaced_config_map("web-release", "web")
    deployment: Any = client.AppsV1Api(api).read_namespaced_deployment("web", "web")
    return config_map.data["release"], deployment.spec.template.spec.containers[0].image


def back_at_a(kubeconfig: Path) -> None:
    wait_until("the cluster is back at A", lambda: cluster_release(kubeconfig) == AT_A)


def audit_lines(state: Path) -> list[dict[str, Any]]:
    path = state / "kubedrift" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def syncs(state: Path) -> list[tuple[str, str]]:
    return [(line["operation"], line["revision"]) for line in audit_lines(state) if "step" not in line]


@pytest.mark.slow
def test_failed_analysis_rolls_back_exactly_once_and_git_moving_past_is_followed(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, state_home: Path
) -> None:
    binary = prometheus_binary()
    if binary is None:
        pytest.skip(NOT_INSTALLED)
    with running_prometheus(binary, tmp_path / "prometheus") as (prometheus, exporter):
        # Prometheus takes its first targets a few seconds after start: the rest is set up meanwhile.
        exporter.set(METRIC, 0.0)
        config = web_config(
            tmp_path,
            "{automated: {}, rollback: {window: 3s, analysis: [{name: errors, query: "
            f"{METRIC}, successCondition: 'result[0] < 0.05', interval: 1s, failureLimit: 1, "
            f"prometheus: {{address: '{prometheus.address}'}}}}]}}}}",
        )
        deploy(adapter, config)
        repo = tmp_path / "gitops"
        good = git(repo, "rev-parse", "HEAD")
        engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}))
        with LiveRun(engine) as run:
            run.wait_for(step("revision-good", good))
            exporter.set(METRIC, 0.5)  # the release about to ship fails one request in two
            prometheus.wait_for(METRIC, lambda values: values == [0.5])
            bad = ship(repo, "ghcr.io/acme/web:2.0", "B")
            decided = run.wait_for(step("rollback-decided", bad), timeout=20)
            assert isinstance(decided, RollbackEvent) and decided.to == good
            assert "analysis Failed" in decided.message and "result[0] < 0.05" in decided.message
            run.wait_for(step("rolled-back", bad), timeout=20)
            exporter.set(METRIC, 0.0)  # the fix is on its way; A, pinned, is not analysed
            back_at_a(kubeconfig_path)
            status = on_loop(run, lambda: engine.apps["web"].status().to_json())
            assert status["rolledBack"] == {"from": bad, "to": good}
            assert (status["revision"], status["sync"]) == (bad, "OutOfSync"), "Git is at B: that is true"
            time.sleep(1.5)  # ticks and measurements go on: a wrong engine would sync B or roll back again
            assert cluster_release(kubeconfig_path) == AT_A, "pinned at A"
            assert steps_of(run, bad).count("rollback-decided") == 1
            assert steps_of(run, bad)[:2] == ["window-started", "measurement-failed"]

            prometheus.wait_for(METRIC, lambda values: values == [0.0])
            fixed = ship(repo, "ghcr.io/acme/web:3.0", "C")
            run.wait_for(step("pin-released", bad))
            run.wait_for(step("window-started", fixed))
            run.wait_for(step("analysis-passed", fixed), timeout=20)
            run.wait_for(step("revision-good", fixed))
            assert cluster_release(kubeconfig_path) == ("C", "ghcr.io/acme/web:3.0")
            assert "rolledBack" not in on_loop(run, lambda: engine.apps["web"].status().to_json())

    assert syncs(state_home) == [("auto-sync", bad), ("rollback", good), ("auto-sync", fixed)]
    audited = [(line["step"], line["revision"]) for line in audit_lines(state_home) if "step" in line]
    assert ("rollback-decided", bad) in audited and ("rolled-back", bad) in audited
    assert ("measurement-failed", bad) in audited and ("pin-released", bad) in audited
    assert [kind for kind, _ in audited].count("rollback-decided") == 1


def test_degraded_revision_is_rolled_back_and_the_pin_survives_a_restart(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, state_home: Path
) -> None:
    config = web_config(tmp_path, "{automated: {selfHeal: true}, rollback: {onDegraded: true, window: 1m}}")
    deploy(adapter, config)
    repo = tmp_path / "gitops"
    good = git(repo, "rev-parse", "HEAD")
    kubeconfig = load_kubeconfig(str(kubeconfig_path), environ={})
    with LiveRun(Engine(config, kubeconfig)) as run:
        run.wait_for(step("revision-good", good))
        bad = ship(repo, "ghcr.io/acme/web-crashloop:2.0", "B")
        decided = run.wait_for(step("rollback-decided", bad), timeout=30)
        assert isinstance(decided, RollbackEvent)
        assert "Degraded" in decided.message and "exceeded its progress deadline" in decided.message
        run.wait_for(step("rolled-back", bad), timeout=20)
        back_at_a(kubeconfig_path)
    kept = json.loads((state_home / "kubedrift" / "rollback.json").read_text())["apps"]["web"]
    assert kept["rolledBack"]["bad"] == bad and kept["rolledBack"]["good"] == good
    assert kept["good"][0] == good

    with LiveRun(Engine(config, kubeconfig)) as again:  # a restart: Git is still at B
        again.wait_for(lambda c: True)
        time.sleep(1.5)  # auto-sync and self-heal would act within a tick
        status = on_loop(again, lambda: again.engine.apps["web"].status().to_json())
        assert status["rolledBack"] == {"from": bad, "to": good}
    assert cluster_release(kubeconfig_path) == AT_A
    done = syncs(state_home)
    assert done[0] == ("auto-sync", bad) and done.count(("rollback", good)) == 1
    # Self-heal may have re-applied B while it rolled out; after the rollback, nothing touches B again.
    assert done[done.index(("rollback", good)) + 1 :] == [], done


def test_read_only_says_what_would_happen_and_writes_nothing(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    state_home: Path,
    sandbox: SandboxThread,
) -> None:
    config = web_config(tmp_path, "{automated: {}, rollback: {onDegraded: true, window: 1m}}")
    deploy(adapter, config)
    repo = tmp_path / "gitops"
    good = git(repo, "rev-parse", "HEAD")
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), read_only=True)
    with LiveRun(engine) as run:
        run.wait_for(step("revision-good", good))
        bad = ship(repo, "ghcr.io/acme/web-crashloop:2.0", "B")
        deploy(adapter, config)  # another tool applies B: kubedrift itself never writes here
        sandbox.faults.clear_request_log()
        decided = run.wait_for(step("rollback-decided", bad), timeout=30)
        assert isinstance(decided, RollbackEvent) and decided.read_only
        assert decided.to_json()["rollback"]["readOnly"] is True
        assert decided.message.startswith("read-only: would roll back")
        time.sleep(1.5)  # a wrong engine would start its rollback sync within a tick
        view = on_loop(run, lambda: engine.apps["web"].rollback)
        assert view is not None and view.rolled_back is not None and not view.rolled_back.done
        assert "rolledBack" not in on_loop(run, lambda: engine.apps["web"].status().to_json())
    assert [r.path for r in sandbox.request_log if r.is_write] == []
    assert cluster_release(kubeconfig_path) == ("B", "ghcr.io/acme/web-crashloop:2.0")
    assert not (state_home / "kubedrift").exists(), "no audit line, no state file"


def test_rollback_command_pins_then_revert_commits_and_syncs(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    state_home: Path,
    sandbox: SandboxThread,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in GIT_ENV.items():
        if name.startswith("GIT_"):
            monkeypatch.setenv(name, value)
    config = web_config(tmp_path, "{}")
    assert config.path is not None
    repo = tmp_path / "gitops"
    cli = ["--config", str(config.path), "--kubeconfig", str(kubeconfig_path)]
    adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})
    good = git(repo, "rev-parse", "HEAD")
    assert main([*cli, "sync", "web", "--yes"]) == 0
    bad = ship(repo, "ghcr.io/acme/web:2.0", "B")
    assert main([*cli, "sync", "web", "--yes"]) == 0
    assert cluster_release(kubeconfig_path) == ("B", "ghcr.io/acme/web:2.0")
    capsys.readouterr()

    sandbox.faults.clear_request_log()
    assert main([*cli, "--read-only", "rollback", "web"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("kubedrift: refusing to roll back web:") and refused.count("\n") == 1
    assert sandbox.request_log == [], "refused before any request"

    assert main([*cli, "rollback", "web", "--yes"]) == 0  # the audit file names A as synced before B
    said = capsys.readouterr().out
    assert f"RolledBack: {bad[:7]} -> {good[:7]}" in said
    assert cluster_release(kubeconfig_path) == AT_A
    kept = json.loads((state_home / "kubedrift" / "rollback.json").read_text())["apps"]["web"]
    assert (kept["rolledBack"]["bad"], kept["rolledBack"]["good"]) == (bad, good)
    main([*cli, "check", "-o", "json"])
    (shown,) = json.loads(capsys.readouterr().out)["apps"]
    assert shown["rolledBack"] == {"from": bad, "to": good}, "a one-shot check shows the pin too"

    assert main([*cli, "rollback", "web", "--revert", "--yes"]) == 0
    capsys.readouterr()
    head = git(repo, "rev-parse", "HEAD")
    assert head not in (good, bad)
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith(f"Revert web to {good[:7]}")
    assert f"{bad[:7]} release B: ghcr.io/acme/web:2.0" in message, "it names what it undoes"
    assert git(repo, "diff", good, head, "--", "apps/web") == "", "the app's folder is A's again"
    assert git(repo, "status", "--porcelain") == ""
    assert cluster_release(kubeconfig_path) == AT_A
    assert syncs(state_home) == [("sync", good), ("sync", bad), ("rollback", good), ("rollback", head)]
    kept = json.loads((state_home / "kubedrift" / "rollback.json").read_text())["apps"]["web"]
    assert kept["rolledBack"] is None, "Git moved past B: nothing to pin"
    main([*cli, "check", "-o", "json"])
    (shown,) = json.loads(capsys.readouterr().out)["apps"]
    assert "rolledBack" not in shown


def test_revert_of_a_remote_repository_is_refused_in_one_sentence(
    tmp_path: Path, kubeconfig_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n  - name: web\n    source: {repoURL: 'https://git.example.invalid/web.git', path: web}\n"
    )
    cli = ["--config", str(config), "--kubeconfig", str(kubeconfig_path)]
    code = main([*cli, "rollback", "web", "--revert"])
    error = capsys.readouterr().err
    assert code == 2
    assert "is not a local Git repository" in error and error.count("\n") == 1
