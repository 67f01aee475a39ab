"""Fixtures that run the sandbox in-process on a free loopback port, and clients that talk to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from sandbox.handle import SANDBOX_TOKEN, SandboxThread
from sandbox.server import ServerConfig
from tests.kubectl import KUBECTL_DIR, KUBECTLS, MIN_KUBECTL, Kubectl


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    """A fresh sandbox without controllers, with bookmarks every 0.2 s so bookmark tests stay fast."""
    with SandboxThread(config=ServerConfig(bookmark_interval=0.2), controllers=()) as running:
        yield running


@pytest.fixture
def api_client(sandbox: SandboxThread) -> Iterator[client.ApiClient]:
    configuration = client.Configuration(host=sandbox.url)
    configuration.api_key = {"authorization": SANDBOX_TOKEN}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture
def dynamic(api_client: client.ApiClient, tmp_path: Path) -> DynamicClient:
    """A DynamicClient with its own discovery cache file (it caches discovery between runs)."""
    return DynamicClient(api_client, cache_file=str(tmp_path / "discovery-cache.json"))


@pytest.fixture(params=KUBECTLS or [None], ids=[f"kubectl-1.{v[1]}" for _b, v in KUBECTLS] or ["no-kubectl"])
def kubectl(request: pytest.FixtureRequest, sandbox: SandboxThread, tmp_path: Path) -> Kubectl:
    if request.param is None:
        pytest.skip(f"no kubectl {MIN_KUBECTL[0]}.{MIN_KUBECTL[1]}+ found in {KUBECTL_DIR} or on PATH")
    binary, version = request.param
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(binary, version, sandbox.kubeconfig(tmp_path / "kubeconfig"), home)
