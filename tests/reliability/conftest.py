"""The reliability tier shares the integration tier's sandbox fixtures: a real API server in-process,
its kubeconfig, and adapters (read-write and read-only) pointed at it."""

from __future__ import annotations

from tests.integration.conftest import adapter, kubeconfig_path, read_only_adapter, sandbox

__all__ = ["adapter", "kubeconfig_path", "read_only_adapter", "sandbox"]
