"""Opt-in server-side diff against the sandbox: only candidates are sent, as a `dryRun=All` apply;
a webhook that sets the field makes the resource Synced; read-only mode never sends it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from core.cluster import ClusterAdapter
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey, SyncStatus
from core.status_events import ResourceStatusChange, StatusChange
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy, shop_config
from tests.integration.test_sync_verdict import revert_log_level
from tests.live_run import LiveRun

CONFIG_KEY = ResourceKey("", "ConfigMap", "shop", "web-config")
OPT_IN = "    compareOptions: {serverSideDiff: true}\n"


@pytest.fixture
def webhook_sets_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mutating webhook that sets LOG_LEVEL to what the live object holds: a dry-run apply of
    web-config answers with the live object, as the server would after the webhook."""
    original = ClusterAdapter.apply

    def apply(self: ClusterAdapter, obj: Any, *, dry_run: bool = False, force: bool = True) -> Any:
        if dry_run and ResourceKey.of(obj) == CONFIG_KEY:
            return self.get(self.resource_for("", "ConfigMap"), "shop", "web-config")
        return original(self, obj, dry_run=dry_run, force=force)

    monkeypatch.setattr(ClusterAdapter, "apply", apply)


def engine_for(
    tmp_path: Path, kubeconfig_path: Path, *, read_only: bool = False, opt_in: str = OPT_IN
) -> Engine:
    config = shop_config(tmp_path, extra_config=opt_in)
    return Engine(
        config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=tmp_path, read_only=read_only
    )


def dry_runs(sandbox: SandboxThread) -> list[str]:
    return [r.path for r in sandbox.request_log if r.method == "PATCH" and r.query.get("dryRun") == "All"]


def test_only_a_local_out_of_sync_verdict_is_confirmed_with_a_dry_run_apply(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path)
    deploy(adapter, engine.config)
    revert_log_level(adapter)
    sandbox.faults.clear_request_log()
    engine.evaluate()
    result = engine.apps["shop"].reconciler.results[CONFIG_KEY]
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.reason.startswith(
        "confirmed by server-side diff: a dry-run apply would change /data/LOG_LEVEL"
    )
    assert dry_runs(sandbox) == ["/api/v1/namespaces/shop/configmaps/web-config"]  # never the Synced ones
    assert [r for r in sandbox.request_log if r.is_write and r.query.get("dryRun") != "All"] == []


def test_without_the_option_nothing_is_sent(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path, opt_in="")
    deploy(adapter, engine.config)
    revert_log_level(adapter)
    sandbox.faults.clear_request_log()
    engine.evaluate()
    assert engine.apps["shop"].reconciler.results[CONFIG_KEY].reason == ""
    assert dry_runs(sandbox) == []


def test_read_only_never_sends_it_and_says_so(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path, read_only=True)
    deploy(adapter, engine.config)
    revert_log_level(adapter)
    sandbox.faults.clear_request_log()
    engine.evaluate()
    result = engine.apps["shop"].reconciler.results[CONFIG_KEY]
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert "server-side diff not sent: read-only" in result.reason
    assert [r for r in sandbox.request_log if r.is_write] == []


def test_a_webhook_that_sets_the_field_makes_it_synced(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    sandbox: SandboxThread,
    webhook_sets_log_level: None,
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path)
    deploy(adapter, engine.config)
    revert_log_level(adapter)
    engine.evaluate()
    result = engine.apps["shop"].reconciler.results[CONFIG_KEY]
    assert (result.status, result.changes) == (SyncStatus.SYNCED, ())
    assert "server-side diff: a dry-run apply changes nothing" in result.reason


def test_the_live_engine_confirms_on_a_worker_and_publishes_the_answer(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    sandbox: SandboxThread,
    webhook_sets_log_level: None,
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path)
    deploy(adapter, engine.config)

    def about(status: SyncStatus) -> Any:
        def match(change: StatusChange) -> bool:
            return (
                isinstance(change, ResourceStatusChange)
                and change.key == CONFIG_KEY
                and change.status is status
            )

        return match

    with LiveRun(engine) as run:
        run.wait_for(lambda change: True)  # started
        revert_log_level(adapter)
        run.wait_for(about(SyncStatus.OUT_OF_SYNC))  # the local verdict, published at once
        run.wait_for(about(SyncStatus.SYNCED))  # then the server's answer, from the worker
        result = engine.apps["shop"].reconciler.results[CONFIG_KEY]
        assert "server-side diff" in result.reason
    worker = engine.apps["shop"].server_side_worker
    assert worker is not None
    deadline = time.monotonic() + 5
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not worker.running, "the engine stops the worker's thread when it stops"
