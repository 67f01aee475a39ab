"""Real kubectl, timed: the yardsticks of the scale run's ratios.

- `kubectl get <kinds> -A -o json`: what listing the same objects from the same server costs a
  tool everyone has (`scale_start_to_evaluated_ratio_vs_list`).
- `kubectl apply --server-side -f FOLDER -R`: what writing the same objects costs it
  (`sync_ratio_vs_kubectl_apply`).

Each run has its own `--cache-dir` (discovery and OpenAPI cached from a warm-up run, as on a
user's machine) and writes its output to /dev/null, so only the requests, the decoding and the
printing are timed, never a terminal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MIN_VERSION: Final = (1, 31)
KUBECTL_DIRS: Final = (Path("/usr/lib/google-cloud-sdk/bin"), Path("/usr/local/bin"), Path("/usr/bin"))
RUN_TIMEOUT: Final = 1800.0


@dataclass(frozen=True, slots=True)
class Kubectl:
    """One kubectl binary pointed at one kubeconfig, with a discovery cache of its own."""

    binary: str
    version: tuple[int, int]
    kubeconfig: Path
    cache_dir: Path

    def _command(self, *args: str) -> list[str]:
        return [self.binary, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]

    def timed(self, *args: str) -> float:
        """Seconds one run of `kubectl ARGS` took, its output discarded; a failure raises."""
        environment = {**os.environ, "HOME": str(self.cache_dir.parent)}
        return timed_process(self._command(*args), environment, RUN_TIMEOUT, f"kubectl {' '.join(args[:2])}")

    def describe(self) -> str:
        return f"kubectl {self.version[0]}.{self.version[1]} ({self.binary})"


def timed_process(
    command: Sequence[str], environment: dict[str, str], timeout: float, name: str, cwd: Path | None = None
) -> float:
    """Seconds `command` took, its output discarded; its stderr's tail in the error when it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-1500:].strip()
        raise RuntimeError(f"{name} exited {done.returncode}: {tail}")
    return seconds


def find_kubectl(kubeconfig: Path, cache_dir: Path) -> Kubectl:
    """The newest real kubectl of MIN_VERSION or later (versioned binaries first, then `kubectl`)."""
    candidates: list[str] = []
    for folder in KUBECTL_DIRS:
        if folder.is_dir():
            candidates += sorted(str(path) for path in folder.glob("kubectl.1.*"))
    for name in ("kubectl.1.33", "kubectl.1.32", "kubectl.1.31", "kubectl"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    versions: dict[tuple[int, int], str] = {}
    for candidate in candidates:
        version = _version(candidate)
        if version is not None and version >= MIN_VERSION:
            versions.setdefault(version, candidate)
    if not versions:
        wanted = ".".join(map(str, MIN_VERSION))
        raise RuntimeError(f"no kubectl {wanted} or newer found (looked in PATH and {KUBECTL_DIRS[0]})")
    newest = max(versions)
    cache_dir.mkdir(parents=True, exist_ok=True)
    return Kubectl(versions[newest], newest, kubeconfig, cache_dir)


def _version(binary: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [binary, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30
        )
        info = json.loads(done.stdout)["clientVersion"]
        if "dispatcher" in info.get("gitVersion", ""):
            return None  # a wrapper choosing a version by the server's: not one kubectl
        return int(info["major"]), int(re.sub(r"\D.*", "", info["minor"]))
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


def list_command(resources: Sequence[str]) -> list[str]:
    """`get <every kind> -A -o json`: one List of every object of these kinds."""
    return ["get", ",".join(resources), "--all-namespaces", "-o", "json"]


def apply_command(folder: Path) -> list[str]:
    """`apply --server-side -f FOLDER -R`: each file's objects applied as manager `kubectl`."""
    return ["apply", "--server-side", "-f", str(folder), "--recursive"]
