"""The cut-down cache (core.live_projection) against the sandbox: verdicts the whole objects would give.

Objects found in sync are cached compacted, without the fields the server filled in; a Git change
that names one of those fields must read the object whole again before judging, or the verdict
would be wrong (the field looks absent). A person's diff and `kubedrift diff` read it whole.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.cluster import ClusterAdapter
from core.config import Config
from core.model import AppSync, ResourceKey, SyncStatus
from core.status_events import ResourceStatusChange, RevisionChange, StatusChange
from tests.integration.gitops import commit_file, deploy, shop_config, tracked
from tests.integration.test_engine import app_became, engine_for
from tests.live_run import LiveRun

WEB = ResourceKey("apps", "Deployment", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")
SECRET = ResourceKey("", "Secret", "shop", "db-credentials")
WEB_FILE = "apps/shop/web.yaml"


def _config(tmp_path: Path, adapter: ClusterAdapter) -> Config:
    config = shop_config(tmp_path)
    deploy(adapter, config)
    return config


def _pod_spec_line(text: str, line: str) -> str:
    """web.yaml with `line` added to the Deployment's pod spec (beside `containers:`)."""
    return text.replace("    spec:\n      containers:\n", f"    spec:\n      {line}\n      containers:\n", 1)


def _judged(key: ResourceKey, status: SyncStatus) -> Callable[[StatusChange], bool]:
    """A predicate: `key` became `status`."""

    def seen(change: StatusChange) -> bool:
        return isinstance(change, ResourceStatusChange) and change.key == key and change.status is status

    return seen


def test_in_sync_objects_are_cached_compacted_and_read_whole_on_demand(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path
) -> None:
    engine = engine_for(_config(tmp_path, adapter), kubeconfig_path)
    with LiveRun(engine) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        cached = engine.live_object("shop", WEB)
        assert cached is not None and engine.is_cut_down("shop", WEB)
        # Compacted: what the server filled in is not kept, what health reads is.
        assert "dnsPolicy" not in cached["spec"]["template"]["spec"]
        assert cached["spec"]["replicas"] == 2 and "status" in cached
        assert cached["metadata"]["managedFields"]
        whole = engine.full_live_object("shop", WEB)
        assert whole is not None and whole["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
        assert whole["metadata"]["resourceVersion"] == cached["metadata"]["resourceVersion"]
        # Secrets are never cut down: their data is compared through stringData.
        assert not engine.is_cut_down("shop", SECRET)


def test_a_desired_field_the_cache_did_not_hold_is_judged_on_the_whole_object(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path
) -> None:
    repo = tmp_path / "gitops"
    engine = engine_for(_config(tmp_path, adapter), kubeconfig_path)
    with LiveRun(engine) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        assert engine.is_cut_down("shop", WEB)
        original = (repo / WEB_FILE).read_text()
        # The server's own default, now said in Git: in sync, though the compacted object lacks it.
        same = commit_file(repo, WEB_FILE, _pod_spec_line(original, "dnsPolicy: ClusterFirst"), "say it")
        run.wait_for(lambda c: isinstance(c, RevisionChange) and c.revision == same)
        run.wait_for(lambda c: engine.apps["shop"].reconciler.refreshing == set(), timeout=10)
        result = engine.apps["shop"].reconciler.results[WEB]
        assert result.status is SyncStatus.SYNCED, [c.to_json() for c in result.changes]
        assert not any(
            isinstance(c, ResourceStatusChange) and c.key == WEB and c.status is SyncStatus.OUT_OF_SYNC
            for c in run.changes
        ), "a compacted object was judged against a field it does not hold"
        # Another value than the server's: drift, found on the whole object.
        other = commit_file(repo, WEB_FILE, _pod_spec_line(original, "dnsPolicy: Default"), "change it")
        run.wait_for(lambda c: isinstance(c, RevisionChange) and c.revision == other)
        change = run.wait_for(_judged(WEB, SyncStatus.OUT_OF_SYNC))
        assert isinstance(change, ResourceStatusChange)
        paths = [c.path for c in engine.apps["shop"].reconciler.results[WEB].changes]
        assert paths == ["/spec/template/spec/dnsPolicy"]


def test_objects_git_does_not_declare_are_cut_down_and_read_whole(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path
) -> None:
    """An extraneous object keeps metadata and status in the cache; read whole, it has its data."""
    config = _config(tmp_path, adapter)
    leftover = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "shop"}}
    adapter.apply(tracked("shop", {**leftover, "data": {"kept": "on the server"}}))
    key = ResourceKey("", "ConfigMap", "shop", "old")
    engine = engine_for(config, kubeconfig_path)
    with LiveRun(engine) as run:
        run.wait_for(lambda _: key in engine.apps["shop"].reconciler.results)
        assert engine.apps["shop"].reconciler.results[key].status is SyncStatus.EXTRANEOUS
        assert engine.is_cut_down("shop", key)
        cached = engine.live_object("shop", key)
        assert cached is not None and "data" not in cached and cached["metadata"]["annotations"]
        whole = engine.full_live_object("shop", key)
        assert whole is not None and whole["data"] == {"kept": "on the server"}
