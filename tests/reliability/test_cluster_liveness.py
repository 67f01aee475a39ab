"""When the cluster cannot tell, kubedrift says Unknown, keeps trying, and never acts blind.

Each scenario runs the real engine and kubernetes client against the sandbox: a cluster down at
start, a list failing, a kind not served yet, a restart that lost the server's state, a connection
gone silent, a 504 "Too large resource version", and a one-shot `check` against servers that never
answer. Time constants are shrunk through `Liveness`, so each runs in seconds.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

import core.cluster as cluster_module
from core.cluster import ClusterAdapter
from core.cluster_liveness import Liveness
from core.config import Config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, Health, ResourceKey, SyncStatus
from core.operations import sync_now
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange
from sandbox.handle import SandboxThread, write_kubeconfig
from tests.integration.gitops import commit_file, deploy, make_gitops, shop_config, tracked
from tests.live_run import LiveRun
from tests.reliability.freezing_proxy import FreezingProxy
from tui.commands.watch import is_transition

WEB = ResourceKey("apps", "Deployment", "shop", "web")
SERVICE = ResourceKey("", "Service", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")
WIDGET = ResourceKey("example.com", "Widget", "shop", "blue")
ROOT = Path(__file__).resolve().parent.parent.parent
FAST = Liveness(connect_initial=0.2, connect_max=1.0, kind_retry=0.3, watch_idle=2.0)


def engine_for(config: Config, kubeconfig: Path, **options: Any) -> Engine:
    options.setdefault("liveness", FAST)
    options.setdefault("watch_tree", False)
    return Engine(config, load_kubeconfig(str(kubeconfig), environ={}), **options)


def adapter_for(kubeconfig: Path) -> ClusterAdapter:
    return ClusterAdapter(
        load_kubeconfig(str(kubeconfig), environ={}).api_client("sandbox"), context="sandbox"
    )


def resource_became(key: ResourceKey, status: SyncStatus) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, ResourceStatusChange) and c.key == key and c.status is status


def app_became(sync: AppSync) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, AppStatusChange) and c.sync is sync


def results_of(engine: Engine, app: str = "shop") -> dict[ResourceKey, Any]:
    return {resource.key: resource for resource in engine.apps[app].status().resources}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The cluster down at start.


def test_a_cluster_down_at_start_is_unknown_then_judged_once_it_comes_up(tmp_path: Path) -> None:
    port = free_port()
    config = shop_config(tmp_path)
    engine = engine_for(config, write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}"))
    with LiveRun(engine) as run:
        first = run.wait_for(lambda c: isinstance(c, AppStatusChange))
        assert isinstance(first, AppStatusChange)
        assert (first.sync, first.health) == (AppSync.UNKNOWN, Health.UNKNOWN)
        status = engine.apps["shop"].status()
        assert any("cannot reach the cluster of context 'sandbox'" in error for error in status.errors)
        assert {r.status for r in status.resources} == {SyncStatus.UNKNOWN}
        assert all("cluster of context 'sandbox' cannot be used" in r.reason for r in status.resources)
        seen_while_down = len(run.changes)
        with SandboxThread(port=port, controllers=()) as sandbox:
            deploy(adapter_for(sandbox.kubeconfig(tmp_path / "direct")), config)
            run.wait_for(app_became(AppSync.SYNCED), timeout=20)
            assert engine.apps["shop"].status().errors == ()
            # Watched, not just listed: a change made now is seen.
            apps = client.AppsV1Api(
                load_kubeconfig(str(tmp_path / "direct"), environ={}).api_client("sandbox")
            )
            apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 5}})
            run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC))
    assert not any(resource_became(WEB, SyncStatus.MISSING)(c) for c in run.changes[:seen_while_down])


def test_check_against_a_cluster_down_is_unknown_with_the_reason(tmp_path: Path) -> None:
    config = shop_config(tmp_path)
    dead = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}")
    (status,) = engine_for(config, dead).evaluate()
    assert (status.sync, status.health) == (AppSync.UNKNOWN, Health.UNKNOWN)
    assert [r.status for r in status.resources] == [SyncStatus.UNKNOWN] * len(status.resources)
    assert any("connection refused" in error.lower() for error in status.errors)


# A list that fails.


def test_a_list_failing_with_500_is_unknown_not_missing(
    config: Config, kubeconfig_path: Path, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_module, "RETRY_BUDGET_SECONDS", 0.5)
    sandbox.faults.fail_next(resource="configmaps", count=10_000, code=500)
    (status,) = engine_for(config, kubeconfig_path).evaluate()
    results = {r.key: r for r in status.resources}
    assert results[CONFIG].status is SyncStatus.UNKNOWN
    assert "injected fault" in results[CONFIG].reason and "500" in results[CONFIG].reason
    assert results[WEB].status is SyncStatus.SYNCED
    assert status.sync is AppSync.UNKNOWN

    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(lambda c: isinstance(c, AppStatusChange))
        assert engine_status(run, CONFIG) is SyncStatus.UNKNOWN
        sandbox.faults.clear()
        run.wait_for(resource_became(CONFIG, SyncStatus.SYNCED), timeout=20)
        run.wait_for(app_became(AppSync.SYNCED))
    assert not any(resource_became(CONFIG, SyncStatus.MISSING)(c) for c in run.changes)


def engine_status(run: LiveRun, key: ResourceKey) -> SyncStatus:
    return results_of(run.engine)[key].status  # type: ignore[no-any-return]


# A kind the cluster does not serve yet.

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
WIDGET_OBJECT = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "blue", "namespace": "shop"},
    "spec": {"size": 3},
}


def test_a_kind_not_served_is_unknown_until_its_crd_is_applied(
    config: Config, kubeconfig_path: Path, adapter: ClusterAdapter, tmp_path: Path
) -> None:
    import yaml

    commit_file(tmp_path / "gitops", "apps/shop/widget.yaml", yaml.safe_dump(WIDGET_OBJECT), "a widget")
    (status,) = engine_for(config, kubeconfig_path).evaluate()
    widget = {r.key: r for r in status.resources}.get(WIDGET)
    assert widget is not None, [str(r.key) for r in status.resources]
    assert widget.status is SyncStatus.UNKNOWN
    assert "serves no kind Widget.example.com" in widget.reason and "install its CRD" in widget.reason

    engine = engine_for(config, kubeconfig_path)
    with LiveRun(engine) as run:
        run.wait_for(lambda c: isinstance(c, AppStatusChange))
        assert engine_status(run, WIDGET) is SyncStatus.UNKNOWN
        adapter.apply(WIDGET_CRD)
        adapter.apply(tracked("shop", WIDGET_OBJECT))
        run.wait_for(resource_became(WIDGET, SyncStatus.SYNCED), timeout=20)


@pytest.fixture
def config(tmp_path: Path, adapter: ClusterAdapter) -> Config:
    """The shop app, committed and deployed as a first sync would."""
    config = shop_config(tmp_path)
    deploy(adapter, config)
    return config


# A server that restarts without its state.


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[SandboxThread]:
    with SandboxThread(controllers=()) as first:
        yield first


def test_a_restart_that_lost_the_state_is_noticed_and_pauses_automation(
    tmp_path: Path, restartable: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    kubeconfig = restartable.kubeconfig(tmp_path / "kubeconfig")
    config = shop_config(
        tmp_path, extra_config="    syncPolicy: {automated: {selfHeal: true, prune: true}}\n"
    )
    deploy(adapter_for(kubeconfig), config)
    engine = engine_for(config, kubeconfig)
    with LiveRun(engine) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        settled = len(run.changes)
        stopping_at = time.monotonic()
        restartable.stop()
        with SandboxThread(port=restartable.port, controllers=()) as fresh:
            run.wait_for(resource_became(WEB, SyncStatus.MISSING), timeout=15)
            noticed = time.monotonic() - stopping_at
            run.wait_for(resource_became(SERVICE, SyncStatus.MISSING), timeout=15)
            errors = engine.apps["shop"].status().errors
            assert any(
                "cluster sandbox restarted and lost its state (resourceVersion went back from" in e
                and "automation is paused on it until a person syncs" in e
                for e in errors
            ), errors
            # Self-heal would recreate a Missing Deployment at once; give it the time to try.
            time.sleep(2.0)
            assert [r.path for r in fresh.request_log if r.is_write] == [], "nothing recreated or pruned"
            # What `kubedrift watch -o jsonl` prints for it (from Synced, or from Unknown when the
            # watches failed to reconnect while the server was down).
            lines = [c.to_json() for c in run.changes[settled:] if is_transition(c)]
            moves = {(line.get("kind"), line.get("status"), line["previous"].get("status")) for line in lines}
            assert {(kind, status) for kind, status, _ in moves} >= {
                ("Deployment", "Missing"),
                ("Service", "Missing"),
            }
            assert {before for kind, status, before in moves if status == "Missing"} <= {"Synced", "Unknown"}

            # A person's sync is the confirmation: it recreates, and automation resumes.
            adapter_for(kubeconfig).apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
            )
            sync_now(engine, "shop")
            run.wait_for(
                lambda c: (
                    resource_became(WEB, SyncStatus.SYNCED)(c) and c.previous_status is SyncStatus.MISSING
                )
            )
            assert not any("lost its state" in e for e in engine.apps["shop"].status().errors)
            assert not engine.clusters["sandbox"].automation_paused
    print(f"\nrestart with lost state shown {noticed:.1f} s after the old server began to stop")


# A connection that goes silent.


def test_a_silent_connection_is_dropped_and_a_change_after_it_heals_is_seen(
    config: Config, sandbox: SandboxThread, tmp_path: Path, kubeconfig_path: Path
) -> None:
    apps = client.AppsV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))
    with FreezingProxy(sandbox.port) as proxy:
        via_proxy = write_kubeconfig(tmp_path / "via-proxy", f"http://127.0.0.1:{proxy.port}")
        with LiveRun(engine_for(config, via_proxy)) as run:
            run.wait_for(app_became(AppSync.SYNCED))
            proxy.freeze()
            time.sleep(FAST.watch_idle + 1.0)  # the outage: every open watch now hangs with no FIN
            proxy.heal()
            changed_at = time.monotonic()
            apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 6}})
            # Without the idle timeout the old streams would hang for their 5-minute read timeout.
            run.wait_for(resource_became(WEB, SyncStatus.OUT_OF_SYNC), timeout=20)
            seen_after = time.monotonic() - changed_at
    print(f"\nchange after a silent outage seen {seen_after:.1f} s after the network healed")


# 504 "Too large resource version".


def test_too_large_resource_version_relists_without_flipping_to_unknown(
    config: Config, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    core_api = client.CoreV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))
    with LiveRun(engine_for(config, kubeconfig_path)) as run:
        run.wait_for(app_became(AppSync.SYNCED))
        sandbox.faults.clear_request_log()
        sandbox.faults.fail_next(
            resource="configmaps",
            code=504,
            verbs=["watch"],
            message="Too large resource version: 99, current: 5",
        )
        sandbox.faults.drop_watches()

        def relisted() -> bool:
            log = [r for r in sandbox.request_log if r.path == "/api/v1/configmaps"]
            answered_504 = next((i for i, r in enumerate(log) if r.status == 504), None)
            return answered_504 is not None and any(
                "watch" not in r.query and r.query.get("limit") != "1" for r in log[answered_504:]
            )

        deadline = time.monotonic() + 10
        while not relisted():
            assert time.monotonic() < deadline, [(r.path, r.query, r.status) for r in sandbox.request_log]
            time.sleep(0.05)
        core_api.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "trace"}})
        run.wait_for(resource_became(CONFIG, SyncStatus.OUT_OF_SYNC))
    assert not any(resource_became(CONFIG, SyncStatus.UNKNOWN)(c) for c in run.changes)


# One-shot commands against servers that never answer.


class NeverAnswers:
    """A server that accepts connections and says nothing ("silent"), or whose accept queue is full,
    so that connecting itself gets no answer ("blackholed")."""

    def __init__(self, mode: str) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._held: list[socket.socket] = []
        if mode == "silent":
            self._socket.listen(16)
            threading.Thread(target=self._accept, daemon=True).start()
        else:
            self._socket.listen(0)
            for _ in range(4):  # fill the accept queue: later SYNs are dropped, unanswered
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):  # it completes once accepted, which is never
                    filler.connect(("127.0.0.1", self.port))
                self._held.append(filler)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        for held in self._held:
            held.close()
        self._socket.close()


@pytest.mark.parametrize("mode", ["silent", "blackholed"])
def test_check_gives_up_on_a_server_that_never_answers_within_20_s(tmp_path: Path, mode: str) -> None:
    make_gitops(tmp_path)
    server = NeverAnswers(mode)
    try:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{server.port}")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path / "home"),
            "KUBECONFIG": str(kubeconfig),
            "PYTHONPATH": str(ROOT),
            "NO_COLOR": "1",
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "check"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stdout.splitlines() if line.startswith("shop: error: ")]
    assert error.startswith("shop: error: cannot reach the cluster of context 'sandbox' at http://127.0.0.1:")
    assert error.endswith("check that it is running and that the kubeconfig points at it")
    assert "shop  Unknown  Unknown" in done.stdout
    assert elapsed < 20.0, f"gave up after {elapsed:.1f} s; the promise is under 20 s"
    print(f"\n{mode} server: check gave up after {elapsed:.1f} s")
