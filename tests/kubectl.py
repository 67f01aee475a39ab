"""Real kubectl binaries pointed at a sandbox, each run with its own HOME (discovery caches never leak)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
MIN_KUBECTL = (1, 29)


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


def newest_kubectl(kubeconfig: Path, home: Path) -> Kubectl | None:
    """The newest real kubectl found (1.29+), with its own HOME; None when there is none."""
    if not KUBECTLS:
        return None
    binary, version = KUBECTLS[-1]
    home.mkdir(parents=True, exist_ok=True)
    return Kubectl(binary, version, kubeconfig, home)
