"""A chart's dependencies that are not committed under `charts/`, fetched as `helm dependency build` would.

Argo CD runs `helm dependency build` before rendering, so a chart that declares its dependencies in
Chart.yaml (or requirements.yaml for apiVersion v1) without committing `charts/` renders there; the
argocd-example-apps `helm-dependency` app is one. Here each missing dependency is fetched from its
`repository` (an HTTP Helm repository or `oci://`, through `core.chart_repository`, at the version
Chart.lock pins, else the version range Chart.yaml gives) or copied from a `file://` path inside the
repository, into a temporary copy of the chart: the user's folder and the chart cache are only read.
Repository aliases (`@name`, `alias:name`) name entries of a local Helm configuration kubedrift does
not read, and are refused with a sentence.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from core.errors import KubedriftError, RenderError

CHART_FILE = "Chart.yaml"
LOCK_FILES = ("Chart.lock", "requirements.lock")


def missing_dependencies(chart_dir: Path) -> list[Mapping[str, Any]]:
    """The declared dependencies `charts/` does not hold (as a folder, or a `<name>-*.tgz`)."""
    declared = _declared(chart_dir)
    charts = chart_dir / "charts"
    missing = []
    for dependency in declared:
        name = str(dependency.get("name") or "")
        if not name:
            continue
        if (charts / name).is_dir() or any(charts.glob(f"{name}-*.tgz")):
            continue
        missing.append(dependency)
    return missing


@contextmanager
def with_dependencies(chart_dir: Path, *, repo_root: Path, cache_dir: Path) -> Iterator[Path]:
    """The chart folder to render: `chart_dir` itself when nothing is missing, else a temporary copy
    with every missing dependency under its `charts/` (removed afterwards)."""
    missing = missing_dependencies(chart_dir)
    if not missing:
        yield chart_dir
        return
    pinned = _locked_versions(chart_dir)
    with tempfile.TemporaryDirectory(prefix="kubedrift-chart-") as scratch:
        copy = Path(scratch) / chart_dir.name
        shutil.copytree(chart_dir, copy, symlinks=True)
        (copy / "charts").mkdir(exist_ok=True)
        for dependency in missing:
            name = str(dependency["name"])
            source = _fetch(dependency, pinned.get(name), chart_dir, repo_root, cache_dir)
            shutil.copytree(source, copy / "charts" / name, symlinks=False)
        yield copy


def _fetch(
    dependency: Mapping[str, Any], locked: str | None, chart_dir: Path, repo_root: Path, cache_dir: Path
) -> Path:
    name = str(dependency["name"])
    repository = str(dependency.get("repository") or "")
    version = locked or str(dependency.get("version") or "")
    if repository.startswith("file://"):
        folder = (chart_dir / repository[len("file://") :]).resolve()
        if not folder.is_relative_to(repo_root.resolve()) or not (folder / CHART_FILE).is_file():
            raise RenderError(
                f"dependency {name} points at {repository}, which is no chart inside the repository; "
                "fix its repository in Chart.yaml",
                file=CHART_FILE,
            )
        return folder
    if repository.startswith(("@", "alias:")) or not repository.startswith(("http://", "https://", "oci://")):
        raise RenderError(
            f"dependency {name} names repository {repository!r}, which is not a URL (an alias of a local "
            "Helm configuration); write the repository's URL in Chart.yaml, or commit charts/",
            file=CHART_FILE,
        )
    from core.chart_repository import ChartRepository

    try:
        release = ChartRepository(repository, cache_dir=cache_dir).fetch(name, version)
    except KubedriftError as error:
        raise RenderError(f"dependency {name}: {error}", file=CHART_FILE) from None
    return release.folder


def _declared(chart_dir: Path) -> list[Mapping[str, Any]]:
    """Chart.yaml's `dependencies`, or requirements.yaml's for an apiVersion v1 chart."""
    chart = _yaml(chart_dir / CHART_FILE)
    dependencies = chart.get("dependencies")
    if dependencies is None and chart.get("apiVersion") == "v1":
        dependencies = _yaml(chart_dir / "requirements.yaml").get("dependencies")
    return [d for d in dependencies or () if isinstance(d, Mapping)]


def _locked_versions(chart_dir: Path) -> dict[str, str]:
    for name in LOCK_FILES:
        lock = _yaml(chart_dir / name)
        if lock:
            return {
                str(d.get("name")): str(d.get("version"))
                for d in lock.get("dependencies") or ()
                if isinstance(d, Mapping) and d.get("version")
            }
    return {}


def _yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_bytes()) if path.is_file() else None
    except yaml.YAMLError:
        return {}  # Helm's own load reports a broken Chart.yaml, with its line
    return document if isinstance(document, dict) else {}
