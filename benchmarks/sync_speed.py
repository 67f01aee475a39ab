"""`sync_ratio_vs_kubectl_apply`: `kubedrift sync` of N objects against `kubectl apply --server-side`.

Both write the same N objects into the same sandbox, which runs in a process of its own and holds
nothing else (so neither tool pays for listing an unrelated fleet). Before every run the objects
are deleted in-process (their namespaces stay), so each run creates all N: the same objects, all
needing a write, by server-side apply. The folder's manifests already carry kubedrift's tracking
label and annotation, so kubectl applies exactly the bodies kubedrift's sync sends.

- kubedrift: the real command line in a subprocess, `kubedrift sync APP --yes`, as a person or CI
  runs it: interpreter start, render, its evaluation of the app (list), the applies, and its
  judgement of what the server answered (DESIGN drift rule 7). Its exit code must be 0.
- kubectl: `kubectl apply --server-side -f FOLDER -R`, discovery and OpenAPI cached by a dry-run
  warm-up in its own --cache-dir.

The runs alternate which tool goes first; the figure is the ratio of the two medians. After each
run every object must be on the server, or the run fails.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from benchmarks.agent_process import write_folder_config
from benchmarks.fixtures import file_name, manifests, tracked, write_folder
from benchmarks.fleet import CHUNK, ObjectRef
from benchmarks.kubectl_timing import apply_command, find_kubectl, timed_process
from benchmarks.sandbox_process import SandboxProcess
from sandbox.resources import ResourceAPI

SYNC_APP: Final = "sync-bench"
ROOT = Path(__file__).resolve().parent.parent
SYNC_TIMEOUT: Final = 1800.0


@dataclass(frozen=True, slots=True)
class SyncSpeed:
    objects: int
    kubedrift_seconds: list[float]
    kubectl_seconds: list[float]
    kubectl: str
    """Which kubectl (version and path)."""

    @property
    def ratio(self) -> float:
        return statistics.median(self.kubedrift_seconds) / statistics.median(self.kubectl_seconds)


def measure_sync_speed(root: Path, count: int, runs: int, progress: Callable[[str], None]) -> SyncSpeed:
    objects = [tracked(SYNC_APP, obj) for obj in manifests(count)]
    folder = root / "manifests"
    write_folder(folder, objects)
    config = write_folder_config(root / "kubedrift.yaml", {SYNC_APP: folder})
    refs = [
        (obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"])
        for obj in objects
    ]
    namespaces = sorted({obj["metadata"]["namespace"] for obj in objects})
    with SandboxProcess(SYNC_APP, 0) as server:
        server.ready(120)
        server.run(partial(create_namespaces, namespaces))
        kubeconfig = server.kubeconfig(root / "kubeconfig")
        kubectl = find_kubectl(kubeconfig, root / "kubectl-home" / "cache")
        # Discovery and the kinds' OpenAPI into kubectl's cache, as on a machine that used it before.
        kubectl.timed(*apply_command(folder / file_name(objects[0])), "--dry-run=server")
        tools: dict[str, Callable[[], float]] = {
            "kubectl": lambda: kubectl.timed(*apply_command(folder)),
            "kubedrift": lambda: _kubedrift_sync(config, kubeconfig),
        }
        seconds: dict[str, list[float]] = {"kubectl": [], "kubedrift": []}
        for run in range(runs):
            order = ["kubectl", "kubedrift"] if run % 2 == 0 else ["kubedrift", "kubectl"]
            for tool in order:
                _delete_all(server, refs)
                progress(f"  {tool}: {count:,} objects, run {run + 1} of {runs}")
                seconds[tool].append(tools[tool]())
                present = _count_present(server, refs)
                if present != count:
                    raise RuntimeError(f"{tool} left {present:,} of {count:,} objects on the server")
        return SyncSpeed(count, seconds["kubedrift"], seconds["kubectl"], kubectl.describe())


def _kubedrift_sync(config: Path, kubeconfig: Path) -> float:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "tui", "sync", SYNC_APP, "--yes"]
    command += ["--config", str(config), "--kubeconfig", str(kubeconfig)]
    return timed_process(command, environment, SYNC_TIMEOUT, "kubedrift sync", cwd=ROOT)


def _delete_all(server: SandboxProcess, refs: Sequence[ObjectRef]) -> None:
    for start in range(0, len(refs), CHUNK):
        server.run(partial(delete_objects, refs[start : start + CHUNK]))


def _count_present(server: SandboxProcess, refs: Sequence[ObjectRef]) -> int:
    return sum(
        server.run(partial(count_objects, refs[start : start + CHUNK]))
        for start in range(0, len(refs), CHUNK)
    )


def create_namespaces(names: Sequence[str], api: ResourceAPI) -> None:
    resource = api.resource("v1", "Namespace")
    for name in names:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        api.apply(resource, None, name, body, manager="bench", force=True)


def delete_objects(refs: Sequence[ObjectRef], api: ResourceAPI) -> None:
    """Delete what exists of these objects (their namespaces stay)."""
    for api_version, kind, namespace, name in refs:
        resource = api.resource(api_version, kind)
        if api.find(resource, namespace, name) is not None:
            api.delete(resource, namespace, name)


def count_objects(refs: Sequence[ObjectRef], api: ResourceAPI) -> int:
    return sum(1 for v, k, ns, name in refs if api.find(api.resource(v, k), ns, name) is not None)
