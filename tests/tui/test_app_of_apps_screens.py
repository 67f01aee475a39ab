"""App of apps on screen, against the sandbox: child apps sit indented under their parent on the
dashboard, the parent's app screen lists them, and a child its parent stops rendering leaves the table.
One screenshot of the dashboard at 80x24 (regenerate with --snapshot-update after looking at it)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from tests.tui.conftest import git, wait_until
from tests.tui.test_app_screen import diff_text, open_app
from tests.tui.test_dashboard import cell, loaded, table_of
from tests.tui.test_snapshots import pinned_clock  # noqa: F401  (autouse: the status line's clock)
from tui.app import KubedriftApp
from tui.settings import TuiSettings

FIXTURE = Path(__file__).parent.parent / "fixtures" / "app-of-apps"
FAMILY = ["apps", "example.guestbook", "example.podinfo"]


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    repo = tmp_path / "gitops"
    shutil.copytree(FIXTURE, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "apps: guestbook and podinfo")
    return repo


@pytest.fixture
def family_settings(tmp_path: Path, gitops: Path, kubeconfig_path: Path) -> TuiSettings:
    """The `apps/` chart as the one app of the config; its two Applications point at the repository."""
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: apps\n"
        "    source:\n"
        "      repoURL: ./gitops\n"
        "      targetRevision: main\n"
        "      path: apps\n"
        f"      helm: {{parameters: [{{name: config.spec.source.repoURL, value: '{gitops}'}}]}}\n"
        "    destination: {namespace: argocd}\n"
    )
    config = load_config(tmp_path / "kubedrift.yaml")

    def engine() -> Engine:
        return Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=tmp_path)

    return TuiSettings(config, engine_factory=engine)


def family_synced(app: KubedriftApp) -> bool:
    """Every row of the family there, its children synced by their own automated policy."""
    if not loaded(app):
        return False
    rows = table_of(app).rows_by_app
    return list(rows) == FAMILY and all(row.sync == "Synced" and row.subject for row in rows.values())


async def test_children_sit_under_their_parent_and_the_parent_lists_them(
    family_settings: TuiSettings, gitops: Path
) -> None:
    app = KubedriftApp(family_settings)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: family_synced(app), "the children to sync themselves")
        table = table_of(app)
        assert list(table.row_keys) == FAMILY
        assert cell(app, "example.guestbook", "app") == "└ example.guestbook"
        assert cell(app, "apps", "app") == "apps"

        screen = await open_app(pilot, "apps")
        await wait_until(
            pilot, lambda: "child app: example.podinfo" in diff_text(screen), "the children listed"
        )
        shown = diff_text(screen)
        assert "child app: example.guestbook  ✓ Synced" in shown
        assert "The cluster serves no kind Application" in shown
        await pilot.press("escape")

        values = (gitops / "apps/values.yaml").read_text().replace("  - name: podinfo\n", "")
        (gitops / "apps/values.yaml").write_text(values)
        git(gitops, "commit", "-q", "-am", "drop podinfo")
        await wait_until(pilot, lambda: "example.podinfo" not in table.row_keys, "the row to go")
        assert list(table.row_keys) == ["apps", "example.guestbook"]
        assert any("child app example.podinfo removed" in entry.text for entry in app.feed.entries)


def test_dashboard_with_child_apps_80x24(
    snap_compare: Callable[..., bool], family_settings: TuiSettings
) -> None:
    async def until_synced(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, KubedriftApp)
        await wait_until(pilot, lambda: family_synced(app), "the children to sync themselves")

    assert snap_compare(KubedriftApp(family_settings), terminal_size=(80, 24), run_before=until_synced)
