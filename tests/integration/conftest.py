"""The sandbox in-process, and kubedrift's cluster adapter pointed at it through a real kubeconfig."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cluster import ClusterAdapter
from core.kubeconfig import load_kubeconfig
from sandbox.handle import SandboxThread
from tests.kubectl import Kubectl, newest_kubectl


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(controllers=()) as running:
        yield running


@pytest.fixture
def kubeconfig_path(sandbox: SandboxThread, tmp_path: Path) -> Path:
    return sandbox.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def adapter(kubeconfig_path: Path) -> ClusterAdapter:
    kubeconfig = load_kubeconfig(str(kubeconfig_path), environ={})
    return ClusterAdapter(kubeconfig.api_client("sandbox"), context="sandbox")


@pytest.fixture
def read_only_adapter(kubeconfig_path: Path) -> ClusterAdapter:
    kubeconfig = load_kubeconfig(str(kubeconfig_path), environ={})
    return ClusterAdapter(kubeconfig.api_client("sandbox"), context="sandbox", read_only=True)


@pytest.fixture
def kubectl(kubeconfig_path: Path, tmp_path: Path) -> Kubectl:
    """The newest real kubectl (1.29+) on the sandbox, with its own HOME; skipped when there is none."""
    found = newest_kubectl(kubeconfig_path, tmp_path / "kubectl-home")
    if found is None:
        pytest.skip("no kubectl 1.29+ is installed")
    return found


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kubedrift's XDG state (audit file, sync markings) kept inside the test's folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"
