"""Scaffolding for syncs with hooks and waves against a sandbox whose controllers run: Jobs complete
or fail, ReplicaSets get ready pods, as a real control plane does, only fast.

One sandbox serves a whole test module (its controllers take a moment to start); each test syncs
into a namespace of its own. An app is a fixture folder under `tests/fixtures/apps/`, committed to
a Git repository with a kubedrift.yaml beside it, for the CLI; or rendered in-process, for
`sync_app`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from core.cluster import ClusterAdapter
from core.desired_state import DesiredState
from core.model import ResourceKey
from core.render import Renderer
from core.sync_attempt import read_back
from sandbox.controllers import controller_set
from sandbox.controllers.settings import ControllerSettings
from sandbox.faults import RequestRecord
from sandbox.handle import SandboxThread
from tests.integration.gitops import committed_repository

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "apps"
ROOT = Path(__file__).resolve().parent.parent.parent
REVISION = "4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e"
FAST = ControllerSettings(
    pod_start_delay=0.01, pod_run_duration=0.02, pod_stop_delay=0.01, crashloop_backoff=0.05, job_backoff=0.0
)
_namespaces = itertools.count(1)


def running_sandbox() -> Iterator[SandboxThread]:
    """A sandbox with every controller, fast; for a module-scoped `sandbox` fixture."""
    with SandboxThread(controllers=controller_set(FAST).all()) as running:
        yield running


def fresh_namespace(prefix: str) -> str:
    return f"{prefix}-{next(_namespaces)}"


def fixture_files(name: str) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((FIXTURES / name).iterdir())}


def rendered(files: Mapping[str, bytes], namespace: str) -> DesiredState:
    """`files` rendered as an app into `namespace`, as kubedrift renders a folder of manifests."""
    result = Renderer(default_namespace=namespace).render(files)
    assert result.ok, result.errors
    return DesiredState(
        REVISION,
        {key: desired.obj for key, desired in result.objects.items()},
        render_ok=True,
        hooks=tuple(desired.obj for desired in result.hooks),
    )


def live_of(adapter: ClusterAdapter, desired: DesiredState) -> dict[ResourceKey, Mapping[str, Any]]:
    return read_back(adapter, desired.objects)


def writes(records: list[RequestRecord], namespace: str) -> list[str]:
    """The writes to `namespace` and to what is in it, as `METHOD plural[/name]` (`namespace` for the
    namespace itself); dry runs left out."""
    found = []
    for record in records:
        parts = record.path.strip("/").split("/")
        if not record.is_write or record.query.get("dryRun") or "namespaces" not in parts:
            continue
        tail = parts[parts.index("namespaces") + 1 :]
        if tail and tail[0] == namespace:
            found.append(f"{record.method} {'/'.join(tail[1:]) or 'namespace'}")
    return found


def gitops_app(
    root: Path, fixture: str, namespace: str, *, sync_policy: str = "", files: Mapping[str, str] | None = None
) -> Path:
    """A Git repository holding the fixture folder `fixture` (or `files`) as app `fixture`, and a
    kubedrift.yaml for it; returns the config."""
    repo = root / "gitops"
    if files is None:
        shutil.copytree(FIXTURES / fixture, repo / "apps" / fixture)
    else:
        for name, text in files.items():
            (repo / "apps" / fixture).mkdir(parents=True, exist_ok=True)
            (repo / "apps" / fixture / name).write_text(text)
    committed_repository(repo)
    config = root / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        f"  - name: {fixture}\n"
        f"    source: {{repoURL: ./gitops, targetRevision: main, path: apps/{fixture}}}\n"
        f"    destination: {{namespace: {namespace}}}\n"
        + (f"    syncPolicy: {sync_policy}\n" if sync_policy else "")
    )
    return config


def kubedrift(
    workdir: Path, kubeconfig: Path, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a subprocess with its own HOME, in `workdir`."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir / "home"),
        "KUBECONFIG": str(kubeconfig),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
