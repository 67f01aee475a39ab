"""No credential on screen or in files: a token in a repoURL never reaches the TUI, JSON, stderr or
a `--debug` traceback, though git and GitPython quote that URL in every error they raise.

The remote is `https://bot:TOKEN@127.0.0.1:1/x.git`: nothing listens on port 1, so every fetch fails
at once, the way a mistyped host or a dead network does. git and GitPython mask user info in what
they print, but not a token in the query (`?private_token=`, as GitLab accepts), so the command-line
tests carry both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.cluster import ClusterAdapter
from core.config import Config, load_config
from core.desired_state import AppDesiredState
from core.engine import Engine
from core.errors import GitSourceError
from core.gitsource import GitRepository
from tests.tui.conftest import wait_until
from tests.tui.test_app_screen import diff_text, open_app
from tests.tui.test_dashboard import SIZE
from tui import cli
from tui.app import KubedriftApp
from tui.commands import check
from tui.settings import TuiSettings

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "TOKEN"
REMOTE = f"https://bot:{SECRET}@127.0.0.1:1/x.git"
QUERY_REMOTE = f"{REMOTE}?private_token={SECRET}"
SHOWN = "https://127.0.0.1:1/x.git"


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clones, themes and audit files under tmp_path, never in the real home folder."""
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))


def write_config(root: Path, remote: str = QUERY_REMOTE) -> Path:
    path = root / "kubedrift.yaml"
    path.write_text(
        "apps:\n"
        "  - name: shop\n"
        f"    source: {{repoURL: '{remote}', targetRevision: main, path: apps/shop}}\n"
        "    destination: {namespace: shop}\n"
    )
    return path


@pytest.mark.parametrize("remote", [REMOTE, QUERY_REMOTE])
def test_a_failed_fetch_becomes_an_app_error_without_the_token(tmp_path: Path, remote: str) -> None:
    config = load_config(write_config(tmp_path, remote))
    state = AppDesiredState(config.apps[0], cache_dir=tmp_path / "cache").load()
    (error,) = state.errors
    assert state.revision is None
    assert SECRET not in error
    assert SHOWN in error, error

    with pytest.raises(GitSourceError) as raised:
        GitRepository(remote, cache_dir=tmp_path / "cache").fetch()
    assert SECRET not in str(raised.value)

    (status,) = Engine(config, None, cache_dir=tmp_path / "cache").evaluate()
    assert status.errors and SECRET not in json.dumps(status.to_json())


def run_kubedrift(workdir: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
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
        timeout=60,
        check=False,
    )


def test_check_json_and_debug_output_carry_no_token(
    tmp_path: Path, kubeconfig_path: Path, adapter: ClusterAdapter
) -> None:
    write_config(tmp_path)
    done = run_kubedrift(tmp_path, kubeconfig_path, "check", "-o", "json")
    assert done.returncode == 2, done.stderr
    (app,) = json.loads(done.stdout)["apps"]
    assert any(SHOWN in error for error in app["errors"]), app["errors"]
    assert SECRET not in done.stdout + done.stderr

    done = run_kubedrift(tmp_path, kubeconfig_path, "--debug", "sync", "shop", "--yes")
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr, "--debug shows the traceback"
    assert SHOWN in done.stderr
    assert SECRET not in done.stdout + done.stderr


def failing_fetch(cache: Path) -> Callable[..., int]:
    def run(args: object) -> int:
        GitRepository(QUERY_REMOTE, cache_dir=cache).fetch()
        return 0

    return run


def test_a_debug_traceback_redacts_the_git_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(check, "run", failing_fetch(tmp_path / "cache"))
    assert cli.main(["--debug", "check"]) == 2
    stderr = capsys.readouterr().err
    # The chained GitCommandError prints its `cmdline: git clone ... <url>` and git's stderr.
    assert "GitCommandError" in stderr and f"cmdline: git clone --bare --quiet -- {SHOWN}" in stderr, stderr
    assert stderr.count(SHOWN) >= 2
    assert SECRET not in stderr
    assert stderr.splitlines()[-1].startswith(f"kubedrift: could not reach {SHOWN}")
    assert not [path for path in (tmp_path / "cache").rglob("*") if SECRET in path.name], "nor on disk"


def test_an_unexpected_error_is_shown_without_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError(f"no handler for {REMOTE}?private_token={SECRET}2&ref=main")

    monkeypatch.setattr(check, "run", broken)
    assert cli.main(["check"]) == cli.EXIT_BUG
    assert capsys.readouterr().err == (
        f"kubedrift: unexpected error (RuntimeError: no handler for {SHOWN}?ref=main); this is a bug in "
        "kubedrift: run again with --debug for the traceback and report it\n"
    )
    assert cli.main(["--debug", "check"]) == cli.EXIT_BUG
    stderr = capsys.readouterr().err
    assert stderr.startswith("Traceback (most recent call last)")
    assert f"RuntimeError: no handler for {SHOWN}?ref=main" in stderr
    assert stderr.splitlines()[-1].startswith("kubedrift: unexpected error (RuntimeError: ")
    assert SECRET not in stderr


@pytest.fixture
def offline_settings(tmp_path: Path) -> TuiSettings:
    config: Config = load_config(write_config(tmp_path))
    return TuiSettings(
        config, engine_factory=lambda: Engine(config, None, base_dir=tmp_path, cache_dir=tmp_path / "cache")
    )


async def test_the_app_screen_shows_the_source_without_the_token(offline_settings: TuiSettings) -> None:
    app = KubedriftApp(offline_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        await wait_until(pilot, lambda: "Error: " in diff_text(screen), "the fetch error")
        text = diff_text(screen)
        assert f"  source: {SHOWN} main apps/shop\n" in text, text
        assert SECRET not in text
        assert SECRET not in app.export_screenshot(), "nowhere on screen"
        await pilot.press("escape")
        assert SECRET not in app.export_screenshot(), "nor on the dashboard"
