"""The sandbox in-process, and kubedrift's cluster adapter pointed at it through a real kubeconfig."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cluster import ClusterAdapter
from core.kubeconfig import load_kubeconfig
from sandbox.handle import SandboxThread


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
