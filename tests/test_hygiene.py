"""Code hygiene as tests: core stays UI-free, ruff is clean, and mypy (strict on core/) passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "core").rglob("*.py")
)


def tool(name: str) -> str:
    """The tool installed beside this interpreter (the test extra), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the test extra with pip install -e '.[test]'")
    return found


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_ui(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        "ui = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(ui))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} pulls in UI modules: {done.stdout.strip()}"


def test_ruff_is_clean() -> None:
    done = subprocess.run([tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = subprocess.run(
        [tool("mypy"), "core", "tui", "sandbox", "agent"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# Imported when first used, never on the way to the TUI's first frame: together they take most of a
# second to import (the kubernetes client alone about 0.3 s), which the first frame's 1 s budget
# cannot carry. The engine loads them on its worker once the dashboard is on screen.
DEFERRED_PACKAGES = (
    "kubernetes",
    "git",
    "deepdiff",
    "watchfiles",
    "aiohttp",
    "urllib3",
    "sandbox",
    "helm_python",
)


def _loaded_packages(probe: str, cwd: Path = ROOT) -> set[str]:
    """Top-level packages in sys.modules once `probe` has run in a fresh interpreter (its last line)."""
    probe += "\nprint(','.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.strip().splitlines()[-1].split(","))


def test_the_command_line_loads_neither_the_ui_nor_the_clients() -> None:
    loaded = _loaded_packages("import sys, tui.cli")
    unwanted = {"textual", "rich", *DEFERRED_PACKAGES}
    assert not loaded & unwanted, f"importing tui.cli loads {sorted(loaded & unwanted)}"


def test_the_first_dashboard_frame_loads_none_of_the_clients(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "clusters: [{name: dev, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: dev, context: {cluster: dev, user: dev}}]\n"
        "users: [{name: dev, user: {token: t}}]\n"
    )
    # The real command line, headless, ended at the dashboard's first frame (frames of a headless
    # Textual app end in `_display`), which is painted before the engine starts.
    probe = f"""
import os, sys
from tui import cli
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen

run = KubedriftApp.run

def first_frame_only(app, *args, **options):
    shown = app._display

    def display(screen, renderable):
        shown(screen, renderable)
        if renderable is not None and isinstance(screen, DashboardScreen):
            print(','.join(sorted({{m.split('.')[0] for m in sys.modules}})), flush=True)
            os._exit(0)

    app._display = display
    return run(app, headless=True, size=(80, 24))

KubedriftApp.run = first_frame_only
cli.main([{str(tmp_path / "manifests")!r}, "--kubeconfig", {str(kubeconfig)!r}])
"""
    loaded = _loaded_packages(probe, cwd=tmp_path)
    assert "textual" in loaded, "the probe never reached the first frame"
    early = loaded & set(DEFERRED_PACKAGES)
    assert not early, f"the first dashboard frame loads {sorted(early)}"
