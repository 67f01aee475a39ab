"""What rendering a chart costs, beside the same objects built by `kubectl kustomize`.

Issue 13 asks for "render a chart of 50 templates" and "re-render after a one-file commit", each
beside the same work done by kubectl kustomize, within the Git -> drift budget (150 ms at p50).

- Render: one app's desired state loaded from a Git commit (read the tree, put it on disk, render,
  parse), as a chart of 50 templates rendered by Helm's engine in-process, and as a kustomization
  of the same 50 objects built by `kubectl kustomize` (a subprocess, as kubedrift runs it).
- Re-render: the same load after a commit that changes one template (or one resource file).
Both are medians over a few commits; the first load (cold caches, Helm's library loaded) is shown
apart.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.desired_state import AppDesiredState
from core.model import App, Destination, Source

TEMPLATES = 50
_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


@dataclass(frozen=True, slots=True)
class RenderCost:
    chart_first_s: float
    chart_rerender_s: float
    kustomize_first_s: float | None
    kustomize_rerender_s: float | None
    """None when no kubectl is installed."""
    objects: int


def measure_render_cost(root: Path, commits: int = 5) -> RenderCost:
    chart_repo = _repository(root / "chart", _chart_files())
    chart_first, chart_again, objects = _loads(chart_repo, "templates/cm-0.yaml", commits)
    kustomize_first = kustomize_again = None
    if shutil.which("kubectl"):
        kustomize_repo = _repository(root / "kustomize", _kustomize_files())
        kustomize_first, kustomize_again, _ = _loads(kustomize_repo, "cm-0.yaml", commits)
    return RenderCost(chart_first, chart_again, kustomize_first, kustomize_again, objects)


def _loads(repo: Path, changed: str, commits: int) -> tuple[float, float, int]:
    app = App(name="bench", source=Source(str(repo), "main", "."), destination=Destination(namespace="bench"))
    loader = AppDesiredState(app, cache_dir=repo.parent / f"{repo.name}-cache")
    started = time.perf_counter()
    state = loader.load()
    first = time.perf_counter() - started
    if not state.render_ok:
        raise RuntimeError(f"the benchmark app did not render: {state.errors}")
    seconds = []
    for commit in range(commits):
        path = repo / changed
        path.write_text(path.read_text().replace(f"revision: '{commit}'", f"revision: '{commit + 1}'"))
        _git(repo, "commit", "-qam", f"change {commit}")
        started = time.perf_counter()
        state = loader.load()
        seconds.append(time.perf_counter() - started)
        if not state.render_ok:
            raise RuntimeError(f"the benchmark app did not render: {state.errors}")
    return first, statistics.median(seconds), len(state.objects)


def _config_map(index: int, templated: bool) -> str:
    name = f"{{{{ .Release.Name }}}}-cm-{index}" if templated else f"bench-cm-{index}"
    return (
        "apiVersion: v1\nkind: ConfigMap\n"
        f"metadata:\n  name: {name}\n  labels: {{app: bench, revision: '0'}}\n"
        f"data:\n  index: '{index}'\n  revision: '0'\n"
    )


def _chart_files() -> dict[str, str]:
    files = {"Chart.yaml": "apiVersion: v2\nname: bench\nversion: 0.1.0\n", "values.yaml": "replicas: 1\n"}
    files.update({f"templates/cm-{i}.yaml": _config_map(i, templated=True) for i in range(TEMPLATES)})
    return files


def _kustomize_files() -> dict[str, str]:
    names = [f"cm-{i}.yaml" for i in range(TEMPLATES)]
    files = {name: _config_map(i, templated=False) for i, name in enumerate(names)}
    files["kustomization.yaml"] = "resources:\n" + "".join(f"  - {name}\n" for name in names)
    return files


def _repository(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", ".")
    _git(folder, "commit", "-qm", "start")
    return folder


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=_GIT_ENV, check=True, capture_output=True)
