"""The audit trail comes first, against the sandbox: no write reaches the cluster that the audit
file could not record, automation pauses and resumes by itself, the results of a sync are always
shown, and a Secret value is never revealed by a masked message.

The audit file is made unwritable by putting a folder where it should be: that stops root too,
which file permissions do not. The sandbox's request log proves what was (not) written.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client

from core.audit import read_audit
from core.cluster import ClusterAdapter
from core.config import Config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, ResourceKey, SyncStatus
from sandbox.handle import SandboxThread
from tests.integration.gitops import commit_file, deploy, shop_config
from tests.integration.test_engine import app_became, resource_became
from tests.live_run import LiveRun
from tests.unit.test_audit import writes_to
from tui import cli

ROOT = Path(__file__).resolve().parent.parent.parent
WEB = ResourceKey("apps", "Deployment", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")
HIDDEN = "the server's message was hidden because it quoted a Secret value"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_STATE_HOME for this test; returns where the audit file goes."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "kubedrift" / "audit.jsonl"


def break_audit(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir()


def writes(sandbox: SandboxThread) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.request_log if r.is_write]


def kubedrift(workdir: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir / "home"),
        "XDG_STATE_HOME": str(workdir / "state"),
        "KUBECONFIG": str(kubeconfig),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# A person's sync: `kubedrift sync`.


def test_cli_sync_is_refused_before_any_write_when_the_audit_file_is_unwritable(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread, state: Path
) -> None:
    deploy(adapter, shop_config(tmp_path))
    client.AppsV1Api(adapter.api_client).patch_namespaced_deployment_scale(
        "web", "shop", {"spec": {"replicas": 9}}
    )
    break_audit(state)
    sandbox.faults.clear_request_log()
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"kubedrift: sync of shop refused: cannot append to the audit file {state} (Is a directory), so "
        "nothing was sent to the cluster; free some space or fix its permissions, or set XDG_STATE_HOME "
        "to a writable folder\n"
    )
    assert writes(sandbox) == []
    assert client.AppsV1Api(adapter.api_client).read_namespaced_deployment("web", "shop").spec.replicas == 9


def test_cli_dry_run_proceeds_shows_its_results_then_the_audit_error(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread, state: Path
) -> None:
    """A dry run changes nothing in the cluster, so the audit file does not hold it back; it is
    still audited, so a broken audit file fails it (exit 2) after its results."""
    deploy(adapter, shop_config(tmp_path))
    client.AppsV1Api(adapter.api_client).patch_namespaced_deployment_scale(
        "web", "shop", {"spec": {"replicas": 9}}
    )
    break_audit(state)
    sandbox.faults.clear_request_log()
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--dry-run")
    assert done.returncode == 2
    assert done.stdout.startswith("Dry run: would sync revision")
    assert "Deployment.apps/shop/web" in done.stdout and "would change /spec/replicas" in done.stdout
    assert done.stderr.startswith(
        "kubedrift: the dry run of shop wrote nothing to the cluster but was not audited: cannot append "
        f"to the audit file {state} (Is a directory);"
    )
    assert sandbox.request_log and all(
        r.query.get("dryRun") == "All" for r in sandbox.request_log if r.is_write
    ), "only dry-run requests"
    assert client.AppsV1Api(adapter.api_client).read_namespaced_deployment("web", "shop").spec.replicas == 9


def test_cli_prints_the_results_table_before_an_audit_write_cut_short(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy(adapter, shop_config(tmp_path))
    apps = client.AppsV1Api(adapter.api_client)
    apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 9}})
    state.parent.mkdir(parents=True)
    state.write_bytes(b"")  # writable when checked; the disk fills up during the sync

    def half_then_full(real: Callable[[int, bytes], int], descriptor: int, data: bytes) -> int:
        real(descriptor, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    output = io.StringIO()  # one stream for both, so the order is seen
    monkeypatch.setattr(sys, "stdout", output)
    monkeypatch.setattr(sys, "stderr", output)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_path))
    monkeypatch.chdir(tmp_path)
    with writes_to(state, half_then_full):
        code = cli.main(["sync", "shop", "--yes"])
    text = output.getvalue()
    assert code == 2
    table, error = text.index("Deployment.apps/shop/web"), text.index("kubedrift: the sync of shop")
    assert table < error, text
    assert "configured  changed /spec/replicas" in text
    assert (
        f"reached the cluster but its audit line was not written: cannot append to the audit file {state} "
        "(No space left on device);" in text
    )
    assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 2
    assert state.read_bytes() == b"", "the torn half line was taken back"


# Automation: self-heal and auto-sync.


def automated_engine(tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, policy: str) -> Engine:
    config: Config = shop_config(tmp_path, extra_config=f"    syncPolicy: {policy}\n")
    deploy(adapter, config)
    return Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}))


class CountedChecks:
    """The engine's audit check, counted, so a test knows a tick has passed without sleeping blind."""

    def __init__(self, engine: Engine) -> None:
        self.check = engine.automation.check_audit
        self.count = 0
        engine.automation.check_audit = self

    def __call__(self) -> None:
        self.count += 1
        self.check()

    def wait_for_ticks(self, ticks: int) -> None:
        target = self.count + ticks
        eventually(lambda: self.count >= target, f"{ticks} more checks of the audit file")


def test_self_heal_pauses_while_the_audit_file_is_unwritable_and_resumes_by_itself(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread, state: Path
) -> None:
    engine = automated_engine(tmp_path, adapter, kubeconfig_path, "{automated: {selfHeal: true}}")
    checks = CountedChecks(engine)
    apps = client.AppsV1Api(adapter.api_client)
    break_audit(state)
    paused = (
        f"auto-sync and self-heal paused: cannot append to the audit file {state} (Is a directory); "
        "fix it and kubedrift resumes by itself"
    )
    shop = engine.apps["shop"]
    with LiveRun(engine) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        eventually(lambda: shop.automation_error == paused, "the pause to be shown")
        assert paused in shop.status().errors
        sandbox.faults.clear_request_log()
        apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
        run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC))
        checks.wait_for_ticks(2)  # ticks after the drift: where an unpaused self-heal acts
        assert writes(sandbox) == ["PATCH /apis/apps/v1/namespaces/shop/deployments/web/scale"]
        assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 7

        state.rmdir()
        run.wait_for(
            lambda c: (
                resource_became(WEB, SyncStatus.SYNCED)(c) and c.previous_status is SyncStatus.OUT_OF_SYNC
            )
        )
        eventually(lambda: shop.automation_error is None, "the pause to be lifted")
    assert apps.read_namespaced_deployment("web", "shop").spec.replicas == 2
    assert [(r["operation"], [x["name"] for x in r["results"]]) for r in read_audit(state)] == [
        ("self-heal", ["web"])
    ]


def test_auto_sync_of_a_new_revision_waits_for_the_audit_file(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread, state: Path
) -> None:
    engine = automated_engine(tmp_path, adapter, kubeconfig_path, "{automated: {}}")
    checks = CountedChecks(engine)
    core = client.CoreV1Api(adapter.api_client)
    repo = tmp_path / "gitops"
    break_audit(state)
    with LiveRun(engine) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.clear_request_log()
        text = (repo / "apps/shop/config.yaml").read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: error")
        revision = commit_file(repo, "apps/shop/config.yaml", text, "louder")
        run.wait_for(resource_became(CONFIG, SyncStatus.OUT_OF_SYNC))
        checks.wait_for_ticks(2)
        assert writes(sandbox) == []
        assert engine.apps["shop"].automation_error == (
            f"auto-sync paused: cannot append to the audit file {state} (Is a directory); fix it and "
            "kubedrift resumes by itself"
        )
        state.rmdir()
        eventually(
            lambda: core.read_namespaced_config_map("web-config", "shop").data["LOG_LEVEL"] == "error",
            "the new revision to be applied once the audit file is writable",
        )
    assert [(r["operation"], r["revision"]) for r in read_audit(state)] == [("auto-sync", revision)]


# Secret values: a masked message must not be an oracle.


def test_a_secret_value_equal_to_its_namespace_name_is_not_revealed(
    tmp_path: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    """The shop app's Secret holds `username: shop`, and its namespace `shop` does not exist here:
    every answer is `namespaces "shop" not found`, which masked in place read `namespaces "***"`."""
    shop_config(tmp_path)  # the Git repo and kubedrift.yaml; nothing applied, no namespace
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 2, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("Secret/")}
    assert HIDDEN + " (404 NotFound)" in rows["Secret/shop/db-credentials"]
    for leak in ('namespaces "***"', 'namespaces "shop"', "s3cr3t-value"):
        assert leak not in done.stdout + done.stderr
    (record,) = read_audit(tmp_path / "state" / "kubedrift" / "audit.jsonl")
    messages = {r["name"]: r["message"] for r in record["results"]}
    assert messages["db-credentials"] == HIDDEN + " (404 NotFound)"
    assert all(message.startswith(HIDDEN) for message in messages.values())
    assert 'namespaces "' not in str(record["results"])
