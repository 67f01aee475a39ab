"""The history screen on the sandbox: commits of the app path with the current one marked, a new
commit appearing live, the field-level difference of an older commit, and rollback behind the
confirmation (refused read-only, and while self-heal would undo it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from core.drift.object_compare import DeltaKind, ObjectDelta
from core.model import Change, ResourceKey
from sandbox.handle import SandboxThread
from tests.tui.conftest import git, wait_until
from tests.tui.test_dashboard import SIZE, apps_api, core_api, highlight, loaded
from tui.app import KubedriftApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.history import HistoryScreen
from tui.settings import TuiSettings
from tui.widgets.commit_list import CommitList
from tui.widgets.revision_delta import RevisionDelta


def commit_three_replicas(repo: Path) -> str:
    """A second commit: three web replicas and a debug log level."""
    web = repo / "apps" / "shop" / "web.yaml"
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 3"))
    config = repo / "apps" / "shop" / "config.yaml"
    config.write_text(config.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))
    git(repo, "commit", "-q", "-am", "web: three replicas, debug logs")
    return git(repo, "rev-parse", "HEAD")


async def open_history(pilot: Pilot[object], name: str) -> HistoryScreen:
    app = pilot.app
    assert isinstance(app, KubedriftApp)
    await wait_until(pilot, lambda: loaded(app), "the first list")
    await highlight(app, name)
    await pilot.press("H")
    assert isinstance(app.screen, HistoryScreen)
    return app.screen


def commits_of(screen: HistoryScreen) -> CommitList:
    return screen.query_one(CommitList)


def marker(screen: HistoryScreen, sha: str) -> str:
    return commits_of(screen).get_cell(sha, "now").plain


def delta_text(screen: HistoryScreen) -> str:
    return screen.query_one(RevisionDelta).text


async def test_history_lists_commits_marks_the_current_one_and_follows_a_new_commit(
    settings_for: Callable[..., TuiSettings], tmp_path: Path
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot, "shop")
        commits = commits_of(screen)
        await wait_until(pilot, lambda: commits.row_count == 1, "the first commit")
        first = commits.commits[0]
        assert first.subject == "shop: web, db and their config"
        assert (first.author, first.date) == ("Test", "2025-01-02T03:04:05Z")
        assert marker(screen, first.sha) == "● current"
        await wait_until(pilot, lambda: "is the current revision" in delta_text(screen), "its delta")

        second = commit_three_replicas(tmp_path / "gitops")

        await wait_until(pilot, lambda: commits.row_count == 2, "the new commit to be listed")
        assert [commit.sha for commit in commits.commits] == [second, first.sha], "newest first"
        assert marker(screen, second) == "● current"
        assert marker(screen, first.sha) == ""
        commits.move_cursor(row=1)
        await wait_until(pilot, lambda: "~ Deployment.apps/shop/web" in delta_text(screen), "the delta")
        lines = delta_text(screen).splitlines()
        assert "    /spec/replicas: 3 → 2" in lines
        assert "~ ConfigMap/shop/web-config" in lines
        assert '    /data/LOG_LEVEL: "debug" → "info"' in lines
        assert not any("Secret" in line for line in lines), "unchanged objects are not listed"
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_a_rollback_from_history_asks_first_and_changes_the_cluster(
    settings_for: Callable[..., TuiSettings], tmp_path: Path, kubeconfig_path: Path
) -> None:
    second = commit_three_replicas(tmp_path / "gitops")
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot, "shop")
        commits = commits_of(screen)
        await wait_until(pilot, lambda: commits.row_count == 2, "both commits")
        first = commits.commits[1].sha

        # First bring the cluster to the current commit: `s` on it is an ordinary sync.
        assert commits.highlighted_sha == second
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.revision is None
        await pilot.press("y")
        deployments, core = apps_api(kubeconfig_path), core_api(kubeconfig_path)
        await wait_until(
            pilot,
            lambda: deployments.read_namespaced_deployment("web", "shop").spec.replicas == 3,
            "the sync to the current commit",
        )

        commits.move_cursor(row=1)
        await wait_until(
            pilot, lambda: "/spec/replicas: 3 → 2" in delta_text(screen), "the older commit's delta"
        )
        await pilot.press("s")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.revision == first and not confirm.prune
        assert confirm.question == f"Roll shop back to revision {first[:7]}?"
        assert [(heading, keys) for heading, _, _, keys in confirm.groups()] == [
            ("Will be configured", ["ConfigMap/shop/web-config", "Deployment.apps/shop/web"])
        ]
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: deployments.read_namespaced_deployment("web", "shop").spec.replicas == 2,
            "the rollback to reach the cluster",
        )
        assert core.read_namespaced_config_map("web-config", "shop").data["LOG_LEVEL"] == "info"
        await wait_until(pilot, lambda: marker(screen, first) == "◆ last sync", "the last-sync marker")
        assert marker(screen, second) == "● current"
        assert any(
            e.app == "shop" and e.text.startswith(f"rollback to {first[:7]}: ") for e in app.feed.entries
        )


async def test_rollback_is_refused_while_self_heal_would_undo_it(
    settings_for: Callable[..., TuiSettings], tmp_path: Path, sandbox: SandboxThread
) -> None:
    commit_three_replicas(tmp_path / "gitops")
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: loaded(app), "the first list")
        await highlight(app, "shop")
        await pilot.press("h")
        screen = await open_history(pilot, "shop")
        await wait_until(pilot, lambda: commits_of(screen).row_count == 2, "both commits")
        commits_of(screen).move_cursor(row=1)
        sandbox.faults.clear_request_log()
        before = len(app._notifications)
        await pilot.press("s")
        assert app.screen is screen
        (refusal,) = list(app._notifications)[before:]
        assert refusal.message.startswith("Rollback refused: auto-sync or self-heal")
        assert not [r for r in sandbox.request_log if r.is_write]


async def test_read_only_refuses_a_rollback_and_writes_nothing(
    settings_for: Callable[..., TuiSettings], tmp_path: Path, sandbox: SandboxThread
) -> None:
    commit_three_replicas(tmp_path / "gitops")
    sandbox.faults.clear_request_log()
    app = KubedriftApp(settings_for(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot, "shop")
        await wait_until(pilot, lambda: commits_of(screen).row_count == 2, "both commits")
        commits_of(screen).move_cursor(row=1)
        await wait_until(
            pilot, lambda: "/spec/replicas" in delta_text(screen), "the delta, readable read-only"
        )
        before = len(app._notifications)
        await pilot.press("s")
        assert app.screen is screen, "no confirmation opens"
        (refusal,) = list(app._notifications)[before:]
        assert "read-only" in refusal.message.lower()
        await pilot.pause(0.3)
        assert [f"{r.method} {r.path}" for r in sandbox.request_log if r.is_write] == []


class DeltaHost(App[None]):
    def compose(self) -> ComposeResult:
        yield RevisionDelta(id="delta")


async def test_a_multi_line_value_shows_its_changed_lines_not_one_cut_off_string() -> None:
    now = "server {\n  listen 80;\n  root /srv;\n  gzip on;\n}\n"
    then = now.replace("listen 80;", "listen 8080;")
    key = ResourceKey("", "ConfigMap", "shop", "nginx")
    change = Change("/data/nginx.conf", then, now)  # desired: at that commit; live: now
    host = DeltaHost()
    async with host.run_test(size=(100, 30)) as pilot:
        delta = host.query_one(RevisionDelta)
        delta.show_deltas("a" * 40, "b" * 40, [ObjectDelta(key, DeltaKind.CHANGED, (change,))])
        await pilot.pause()
        lines = delta.lines_shown
        assert "    /data/nginx.conf: (lines now → then)" in lines
        assert "      -  listen 80;" in lines and "      +  listen 8080;" in lines
        assert "      @@ -1,5 +1,5 @@" in lines
        assert not any("\\n" in line for line in lines), "no JSON-escaped file on one line"
