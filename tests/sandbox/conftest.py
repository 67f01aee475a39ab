"""Fixtures that run the sandbox in-process on a free loopback port, and clients that talk to it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from sandbox.handle import SANDBOX_TOKEN, SandboxThread
from sandbox.server import ServerConfig

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
MIN_KUBECTL = (1, 29)


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


def _kubectl_version(binary: str) -> tuple[int, int] | None:
    try:
        completed = subprocess.run(
            [binary, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        info = json.loads(completed.stdout)["clientVersion"]
        return int(info["major"]), int(re.sub(r"\D.*", "", info["minor"]))
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


def find_kubectls() -> list[tuple[str, tuple[int, int]]]:
    """Real kubectl binaries of version 1.29 or newer: the oldest and the newest found."""
    candidates = sorted(str(p) for p in KUBECTL_DIR.glob("kubectl.1.*")) if KUBECTL_DIR.is_dir() else []
    on_path = shutil.which("kubectl")
    if on_path:
        candidates.append(on_path)
    found: dict[tuple[int, int], str] = {}
    for candidate in candidates:
        version = _kubectl_version(candidate)
        if version is not None and version >= MIN_KUBECTL:
            found.setdefault(version, candidate)
    if not found:
        return []
    versions = sorted(found)
    chosen = {versions[0], versions[-1]}
    return [(found[v], v) for v in sorted(chosen)]


KUBECTLS = find_kubectls()


@dataclass
class Kubectl:
    """One real kubectl pointed at the sandbox, with its own HOME so discovery caches never leak."""

    binary: str
    version: tuple[int, int]
    kubeconfig: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
        }
        environment.update(extra)
        return environment

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [self.binary, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {completed.returncode}:\n"
                f"{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture(params=KUBECTLS or [None], ids=[f"kubectl-1.{v[1]}" for _b, v in KUBECTLS] or ["no-kubectl"])
def kubectl(request: pytest.FixtureRequest, sandbox: SandboxThread, tmp_path: Path) -> Kubectl:
    if request.param is None:
        pytest.skip(f"no kubectl {MIN_KUBECTL[0]}.{MIN_KUBECTL[1]}+ found in {KUBECTL_DIR} or on PATH")
    binary, version = request.param
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(binary, version, sandbox.kubeconfig(tmp_path / "kubeconfig"), home)
