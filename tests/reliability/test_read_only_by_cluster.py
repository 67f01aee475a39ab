"""Read-only belongs to the cluster, not to the context's name.

Two kubeconfig contexts reach one sandbox: `prod` by `127.0.0.1`, `admin` by `localhost`. With
`contexts: {prod: {readOnly: true}}`, nothing may be written through `admin` either: not by
`kubedrift sync`, not by self-heal, not from the TUI. The sandbox's request log is the witness.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, ResourceKey, SyncStatus
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange
from sandbox.handle import SANDBOX_TOKEN, SandboxThread
from tests.integration.gitops import deploy, make_gitops
from tests.live_run import LiveRun
from tests.tui.conftest import wait_until
from tests.tui.test_dashboard import SIZE, highlight, loaded
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.widgets.status_bar import StatusBar

ROOT = Path(__file__).resolve().parent.parent.parent
WEB = ResourceKey("apps", "Deployment", "shop", "web")
READ_ONLY_PROD = "contexts:\n  prod: {readOnly: true}\n"


def write_config(root: Path, policy: str = "{}", contexts: str = READ_ONLY_PROD) -> Path:
    """The shop app deployed through `admin`; `contexts:` as given. Rewrites only the config when
    the Git repository is there already."""
    path = root / "kubedrift.yaml" if (root / "gitops").exists() else make_gitops(root)
    path.write_text(
        "apps:\n"
        "  - name: shop\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        "    destination: {name: admin, namespace: shop}\n"
        f"    syncPolicy: {policy}\n" + contexts
    )
    return path


@pytest.fixture
def two_contexts(sandbox: SandboxThread, tmp_path: Path) -> Path:
    """A kubeconfig whose `prod` and `admin` contexts name the one sandbox differently."""
    servers = {"prod": f"http://127.0.0.1:{sandbox.port}", "admin": f"http://localhost:{sandbox.port}/"}
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}} for name, url in servers.items()],
        "users": [{"name": "token", "user": {"token": SANDBOX_TOKEN}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "token"}} for name in servers],
        "current-context": "admin",
    }
    path = tmp_path / "two-contexts.kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


def deployed(config_path: Path, adapter: ClusterAdapter) -> Config:
    config = load_config(config_path)
    deploy(adapter, config)
    return config


def writes(sandbox: SandboxThread) -> list[str]:
    return [f"{record.method} {record.path}" for record in sandbox.request_log if record.is_write]


def apps_api(kubeconfig: Path) -> client.AppsV1Api:
    return client.AppsV1Api(load_kubeconfig(str(kubeconfig), environ={}).api_client("prod"))


def kubedrift(workdir: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir / "home"),
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


def test_sync_through_another_context_of_a_read_only_cluster_is_refused(
    tmp_path: Path, adapter: ClusterAdapter, two_contexts: Path, sandbox: SandboxThread
) -> None:
    deployed(write_config(tmp_path), adapter)
    apps_api(two_contexts).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})
    sandbox.faults.clear_request_log()

    done = kubedrift(tmp_path, two_contexts, "sync", "shop", "--yes")

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, "one sentence"
    assert done.stderr.startswith(
        "kubedrift: refusing to sync shop: context 'admin' reaches the same cluster"
    )
    assert "as context 'prod', which is read-only (contexts.prod.readOnly in kubedrift.yaml)" in done.stderr
    assert writes(sandbox) == []
    assert apps_api(two_contexts).read_namespaced_deployment_scale("web", "shop").spec.replicas == 5

    # The control: without the read-only prod, the same command through `admin` does write.
    write_config(tmp_path, contexts="")
    done = kubedrift(tmp_path, two_contexts, "sync", "shop", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PATCH /apis/apps/v1/namespaces/shop/deployments/web" in writes(sandbox)
    assert apps_api(two_contexts).read_namespaced_deployment_scale("web", "shop").spec.replicas == 2


def became(key: ResourceKey, status: SyncStatus) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, ResourceStatusChange) and c.key == key and c.status is status


@pytest.mark.parametrize("read_only_prod", [True, False], ids=["prod-read-only", "control"])
def test_self_heal_never_writes_through_another_context_of_a_read_only_cluster(
    tmp_path: Path,
    adapter: ClusterAdapter,
    two_contexts: Path,
    sandbox: SandboxThread,
    monkeypatch: pytest.MonkeyPatch,
    read_only_prod: bool,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    contexts = READ_ONLY_PROD if read_only_prod else ""
    config = deployed(write_config(tmp_path, "{automated: {selfHeal: true, prune: true}}", contexts), adapter)
    engine = Engine(config, load_kubeconfig(str(two_contexts), environ={}))
    with LiveRun(engine) as run:
        run.wait_for(lambda c: isinstance(c, AppStatusChange) and c.sync is AppSync.SYNCED)
        cluster = engine.clusters["admin"]
        assert cluster.adapter is not None and cluster.adapter.read_only is read_only_prod
        sandbox.faults.clear_request_log()
        apps_api(two_contexts).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 7}})
        run.wait_for(became(WEB, SyncStatus.OUT_OF_SYNC))
        if read_only_prod:
            time.sleep(
                1.5
            )  # give a wrongly automated engine the time to act (self-heal's first try is at once)
        else:
            run.wait_for(became(WEB, SyncStatus.SYNCED), timeout=20)
    scale = "PATCH /apis/apps/v1/namespaces/shop/deployments/web/scale"
    if read_only_prod:
        assert writes(sandbox) == [scale], "only the test's own write"
    else:
        assert len(writes(sandbox)) > 1, "the control heals, so the test above could fail"


@pytest.fixture
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user themes, audit files or Git caches from the real home folder."""
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))


@pytest.mark.usefixtures("private_folders")
async def test_the_tui_says_which_context_made_the_cluster_read_only(
    tmp_path: Path, adapter: ClusterAdapter, two_contexts: Path, sandbox: SandboxThread
) -> None:
    config = deployed(write_config(tmp_path), adapter)

    def engine() -> Engine:
        return Engine(config, load_kubeconfig(str(two_contexts), environ={}), base_dir=tmp_path)

    sandbox.faults.clear_request_log()
    app = KubedriftApp(TuiSettings(config, engine_factory=engine))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        assert not app.read_only, "only the prod cluster is read-only"
        assert app.sub_title == "READ-ONLY: admin (same cluster as prod)"
        assert "admin (read-only: same cluster as prod)" in str(app.screen.query_one(StatusBar).render())
        await highlight(app, "shop")
        await pilot.press("s")
        assert isinstance(app.screen, DashboardScreen), "no confirmation is offered"
        (refusal,) = list(app._notifications)
        assert "same cluster" in refusal.message and "'prod'" in refusal.message, refusal.message
        await pilot.pause(0.5)  # time for anything wrongly started to reach the sandbox
    assert sandbox.request_log, "the log records this session's reads"
    assert writes(sandbox) == []
