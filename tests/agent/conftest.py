"""Fixtures for the agent's tests: the sandbox with the shop app deployed, and agents serving it.

A sandbox, its Git repository and a read-only agent with a bearer token are shared by the tests of
a module (each agent start costs about a second); tests that need an agent of their own (writes
allowed, a small window, TLS, a gated start) make one with `AgentThread` on the same sandbox, or
on `fresh_shop` when they change what the others rely on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.kubeconfig import load_kubeconfig
from sandbox.handle import SandboxThread
from tests.agent.agent_thread import TOKEN, AgentThread
from tests.integration.gitops import deploy, make_gitops


@dataclass
class ShopCluster:
    """A sandbox with the shop app applied from its Git repository, and the config that names it."""

    sandbox: SandboxThread
    kubeconfig: Path
    config_path: Path
    root: Path

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def api_client(self) -> client.ApiClient:
        return load_kubeconfig(str(self.kubeconfig), environ={}).api_client("sandbox")

    def apps_api(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api_client())

    def core_api(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client())

    def with_config(self, extra: str, name: str) -> Path:
        """Another kubedrift.yaml beside the first, on the same repository, with `extra` appended."""
        path = self.root / f"{name}.yaml"
        path.write_text(self.config_path.read_text() + extra)
        return path


def _shop_cluster(root: Path) -> Iterator[ShopCluster]:
    with SandboxThread(controllers=()) as sandbox:
        kubeconfig = sandbox.kubeconfig(root / "kubeconfig")
        config_path = make_gitops(root)
        adapter = ClusterAdapter(
            load_kubeconfig(str(kubeconfig), environ={}).api_client("sandbox"), context="sandbox"
        )
        deploy(adapter, load_config(config_path))
        # Where an agent allowed to write keeps its Leases by default (its own namespace, in a cluster).
        adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubedrift"}})
        yield ShopCluster(sandbox, kubeconfig, config_path, root)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopCluster]:
    """Shared by a module's tests: change only what no other test of the module reads."""
    yield from _shop_cluster(tmp_path_factory.mktemp("shop"))


@pytest.fixture
def fresh_shop(tmp_path: Path) -> Iterator[ShopCluster]:
    """A sandbox of the test's own."""
    yield from _shop_cluster(tmp_path)


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture(scope="module")
def agent(shop: ShopCluster, token_file: Path) -> Iterator[AgentThread]:
    """A read-only agent on the shared sandbox, ready, with the bearer token TOKEN."""
    with AgentThread(shop.config, shop.kubeconfig, token_file=token_file) as running:
        running.wait_ready()
        yield running


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kubedrift's XDG state (the audit file a sync appends to) kept inside the test's folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"
