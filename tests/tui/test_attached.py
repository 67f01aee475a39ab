"""The TUI attached to real agents (`kubedrift attach`, or `agents:` in kubedrift.yaml), each agent
serving a sandbox cluster of its own.

The agents run in this process on threads of their own (tests/agent/agent_thread.py), read-only as
by default; `eu-1` holds the app `shop` and `us-1` the app `checkout`, both rendered from the same
Git folder. The TUI follows them over HTTP through core.agent_fleet, with the token from a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from textual.pilot import Pilot

from core.agent_fleet import AgentFleet
from core.cluster import ClusterAdapter
from core.config import load_config
from core.kubeconfig import load_kubeconfig
from sandbox.handle import SandboxThread
from tests.agent.agent_thread import TOKEN, AgentThread
from tests.integration.gitops import deploy
from tests.tui.conftest import wait_until, write_gitops
from tui import cli
from tui.attached_app import AttachedApp
from tui.screens.attached import NO_HISTORY, AttachedAppScreen, AttachedDashboardScreen
from tui.screens.confirm import ConfirmScreen
from tui.settings import TuiSettings
from tui.widgets.app_table import AppTable
from tui.widgets.diff_view import DiffView
from tui.widgets.resource_tree import ResourceTree
from tui.widgets.status_bar import StatusLine

SIZE = (120, 36)
APP_CONFIG = """\
apps:
  - name: {app}
    source: {{repoURL: ./gitops, targetRevision: main, path: apps/shop}}
    destination: {{namespace: shop}}
"""
READ_ONLY_REFUSAL = (
    "the agent {agent} is read-only: set agent.allowWrites: true in its kubedrift.yaml to let it write"
)


@dataclass
class Site:
    """One cluster (a sandbox) with the agent that serves its app."""

    name: str
    app: str
    sandbox: SandboxThread
    kubeconfig: Path
    agent: AgentThread

    def apps_api(self) -> client.AppsV1Api:
        return client.AppsV1Api(load_kubeconfig(str(self.kubeconfig), environ={}).api_client("sandbox"))

    def agents_entry(self, token_file: Path) -> str:
        return f"  - name: {self.name}\n    url: {self.agent.url}\n    tokenFile: {token_file}\n"


def open_site(root: Path, name: str, app: str, token_file: Path, *, writes: bool = False) -> Iterator[Site]:
    """A sandbox with `app` deployed as a first sync would, and an agent named `name` on it:
    read-only, unless `writes` (`agent: {allowWrites: true}`)."""
    root.mkdir(parents=True, exist_ok=True)
    extra = "agent: {allowWrites: true}\n" if writes else ""
    config = write_gitops(root, APP_CONFIG.format(app=app) + extra)
    with SandboxThread() as sandbox:
        kubeconfig = sandbox.kubeconfig(root / "kubeconfig")
        api = load_kubeconfig(str(kubeconfig), environ={}).api_client("sandbox")
        adapter = ClusterAdapter(api, context="sandbox")
        deploy(adapter, config)
        if writes:  # where the agent keeps the app's Lease, which it holds to write
            adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubedrift"}})
        with AgentThread(config, kubeconfig, token_file=token_file, identity=name) as agent:
            agent.wait_ready()
            yield Site(name, app, sandbox, kubeconfig, agent)


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture(scope="module")
def eu(tmp_path_factory: pytest.TempPathFactory, token_file: Path) -> Iterator[Site]:
    """Shared by the module's tests: only read, never changed."""
    yield from open_site(tmp_path_factory.mktemp("eu"), "eu-1", "shop", token_file)


@pytest.fixture(scope="module")
def us(tmp_path_factory: pytest.TempPathFactory, token_file: Path) -> Iterator[Site]:
    """Shared by the module's tests: only read, never changed."""
    yield from open_site(tmp_path_factory.mktemp("us"), "us-1", "checkout", token_file)


@pytest.fixture
def own_site(tmp_path: Path, token_file: Path) -> Iterator[Site]:
    """A site of the test's own, to drift or to stop: `eu-2` holding `shop`."""
    yield from open_site(tmp_path / "eu-2", "eu-2", "shop", token_file)


@pytest.fixture
def writable_site(tmp_path: Path, token_file: Path) -> Iterator[Site]:
    """A site of the test's own whose agent may write: `eu-3` holding `shop`."""
    yield from open_site(tmp_path / "eu-3", "eu-3", "shop", token_file, writes=True)


@pytest.fixture
def attach(tmp_path: Path, token_file: Path) -> Callable[..., AttachedApp]:
    """The attached TUI on `sites`, configured as a person would: `agents:` in kubedrift.yaml."""

    def make(*sites: Site) -> AttachedApp:
        path = tmp_path / "attached.yaml"
        path.write_text("agents:\n" + "".join(site.agents_entry(token_file) for site in sites))
        config = load_config(path)
        # A stopped agent counts as lost after a second rather than three: the test waits less.
        return AttachedApp(TuiSettings(config), AgentFleet(config.agents, unreachable_after=1.0))

    return make


def table_of(app: AttachedApp) -> AppTable:
    return app.screen.query_one(AppTable)


def cell(app: AttachedApp, row: str, column: str) -> str:
    return str(table_of(app).get_cell(row, column).plain).strip()


def row_reads(app: AttachedApp, name: str, sync: str, health: str | None = None) -> bool:
    """Whether the dashboard's row of `name` shows `sync` (and `health`)."""
    if not isinstance(app.screen, AttachedDashboardScreen):
        return False
    row = table_of(app).rows_by_app.get(name)
    return row is not None and row.sync == sync and (health is None or row.health == health)


def status_line(app: AttachedApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


async def open_app(pilot: Pilot[object], app: AttachedApp, name: str) -> AttachedAppScreen:
    table = table_of(app)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, AttachedAppScreen), f"{name}'s screen")
    screen = app.screen
    assert isinstance(screen, AttachedAppScreen)
    return screen


def scale_web(site: Site, replicas: int) -> None:
    """Drift made by hand in the site's cluster: web scaled away from Git's 2."""
    site.apps_api().patch_namespaced_deployment("web", "shop", {"spec": {"replicas": replicas}})


async def test_the_dashboard_merges_both_agents_apps_each_marked_with_its_agent(
    attach: Callable[..., AttachedApp], eu: Site, us: Site
) -> None:
    app = attach(eu, us)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: (
                row_reads(app, "shop", "Synced", "Healthy")
                and row_reads(app, "checkout", "Synced", "Healthy")
            ),
            "both agents' apps, Synced and Healthy",
        )
        assert list(table_of(app).row_keys) == ["checkout", "shop"], "merged, by name"
        assert cell(app, "shop", "context") == "eu-1"
        assert cell(app, "checkout", "context") == "us-1"
        assert [column.label.strip() for column in table_of(app).columns][1] == "AGENT"
        assert cell(app, "shop", "policy") == "manual (ro)", "the policy the agent's status says"
        line = status_line(app)
        assert "● eu-1 (read-only) connected" in line and "● us-1 (read-only) connected" in line
        await pilot.press("H")
        assert isinstance(app.screen, AttachedDashboardScreen), "history cannot open attached"
        assert [n.message for n in app._notifications][-1] == NO_HISTORY


async def test_drift_in_a_cluster_reaches_the_row_and_the_app_screen_shows_its_diff(
    attach: Callable[..., AttachedApp], own_site: Site
) -> None:
    app = attach(own_site)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: row_reads(app, "shop", "Synced"), "shop Synced")
        scale_web(own_site, 5)
        await wait_until(pilot, lambda: row_reads(app, "shop", "OutOfSync"), "the drift on the dashboard")
        assert cell(app, "shop", "drift").startswith("≠1"), cell(app, "shop", "drift")

        screen = await open_app(pilot, app, "shop")
        tree, pane = screen.query_one(ResourceTree), screen.query_one(DiffView)
        await wait_until(
            pilot, lambda: "replicas" in pane.content.diff, "the agent's diff of the drifted Deployment"
        )
        highlighted = tree.highlighted_key
        assert highlighted is not None and (highlighted.kind, highlighted.name) == ("Deployment", "web")
        assert pane.content.sync == "OutOfSync"
        assert "Drift at /spec/replicas" in pane.content.notes[0]
        diff_lines = pane.content.diff.splitlines()
        assert any(line.startswith("-") and "replicas: 5" in line for line in diff_lines)
        assert any(line.startswith("+") and "replicas: 2" in line for line in diff_lines)
        assert pane.content.changed_by and pane.content.changed_by[0].startswith("/spec/replicas: ")


async def test_sync_on_a_read_only_agents_app_shows_its_refusal_and_writes_nothing(
    attach: Callable[..., AttachedApp], own_site: Site
) -> None:
    app = attach(own_site)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: row_reads(app, "shop", "Synced"), "shop Synced")
        scale_web(own_site, 4)
        await wait_until(pilot, lambda: row_reads(app, "shop", "OutOfSync"), "the drift on the dashboard")
        own_site.sandbox.faults.clear_request_log()
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        refusal = READ_ONLY_REFUSAL.format(agent="eu-2")
        await wait_until(
            pilot, lambda: any(n.message == refusal for n in app._notifications), "the agent's refusal"
        )
        assert any(entry.text == refusal for entry in app.feed.entries), "the refusal is in the event log"
        before = len(app._notifications)
        await pilot.press("h")  # self-heal: the agent refuses a policy change as well
        await wait_until(pilot, lambda: len(app._notifications) > before, "the answer to the toggle")
        assert [n.message for n in app._notifications][before:] == [refusal]
        await pilot.pause(0.3)  # time for anything wrongly sent on to reach the cluster
        writes = [f"{r.method} {r.path}" for r in own_site.sandbox.request_log if r.is_write]
        assert writes == []
        assert row_reads(app, "shop", "OutOfSync")


async def test_a_stopped_agent_shows_disconnected_and_its_apps_go_unknown(
    attach: Callable[..., AttachedApp], own_site: Site, us: Site
) -> None:
    app = attach(own_site, us)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: row_reads(app, "shop", "Synced") and row_reads(app, "checkout", "Synced"),
            "both apps Synced",
        )
        own_site.agent.stop()
        await wait_until(
            pilot, lambda: row_reads(app, "shop", "Unknown", "Unknown"), "the lost agent's app Unknown"
        )
        assert "✗ eu-2 (read-only) disconnected" in status_line(app)
        assert "● us-1 (read-only) connected" in status_line(app), "the other agent is untouched"
        assert row_reads(app, "checkout", "Synced", "Healthy")
        assert "eu-2" in cell(app, "shop", "revision"), "the row says which agent is lost"
        assert any("eu-2" in entry.text and "Unknown" in entry.text for entry in app.feed.entries)
        assert any(n.title == "eu-2" and "unreachable" in n.message for n in app._notifications), (
            "why, on screen"
        )


def test_attached_dashboard_80x24(
    snap_compare: Callable[..., bool], attach: Callable[..., AttachedApp], eu: Site, us: Site
) -> None:
    app = attach(eu, us)

    async def settled(pilot: Pilot[object]) -> None:
        await wait_until(
            pilot,
            lambda: (
                row_reads(app, "shop", "Synced", "Healthy")
                and row_reads(app, "checkout", "Synced", "Healthy")
            ),
            "both rows settled",
        )
        await wait_until(pilot, lambda: "connecting" not in status_line(app), "both agents connected")
        app.clear_notifications()
        # The cursor stays on the app it was on as rows arrive, and which agent answers first varies.
        await pilot.press("home")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)


async def test_a_writable_agent_syncs_and_toggles_what_it_is_sent(
    attach: Callable[..., AttachedApp], writable_site: Site
) -> None:
    app = attach(writable_site)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: row_reads(app, "shop", "Synced"), "shop Synced")
        assert "● eu-3 connected" in status_line(app), "no read-only mark"
        scale_web(writable_site, 3)
        await wait_until(pilot, lambda: row_reads(app, "shop", "OutOfSync"), "the drift on the dashboard")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: any(n.message.startswith("sync: synced shop") for n in app._notifications),
            "the result",
        )
        await wait_until(pilot, lambda: row_reads(app, "shop", "Synced"), "shop back in sync")
        deployment = writable_site.apps_api().read_namespaced_deployment("web", "shop")
        assert deployment.spec.replicas == 2, "the agent applied Git's replicas"

        assert cell(app, "shop", "policy") == "manual", "as the agent's status says"
        await pilot.press("h")
        await wait_until(
            pilot, lambda: cell(app, "shop", "policy") != "manual", "the policy the agent answered"
        )
        assert cell(app, "shop", "policy") == "manual·heal"
        await pilot.press("h")
        await wait_until(pilot, lambda: cell(app, "shop", "policy") == "manual", "self-heal off again")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[AttachedApp]:
    """The attached TUIs the command line opens, each quit at once instead of run."""
    apps: list[AttachedApp] = []

    def run(app: AttachedApp) -> int:
        apps.append(app)
        return 0

    monkeypatch.setattr(AttachedApp, "run", run)
    return apps


def test_kubedrift_with_agents_in_its_config_opens_the_attached_tui(
    tmp_path: Path, opened: list[AttachedApp]
) -> None:
    (tmp_path / "token").write_text(TOKEN)
    path = tmp_path / "kubedrift.yaml"
    path.write_text("agents:\n  - name: eu-1\n    url: http://127.0.0.1:9\n    tokenFile: token\n")
    assert cli.main(["--config", str(path)]) == 0
    assert [sorted(app.fleet.agents) for app in opened] == [["eu-1"]]
    assert not opened[0].read_only


def test_kubedrift_attach_opens_the_attached_tui_on_its_urls(opened: list[AttachedApp]) -> None:
    assert cli.main(["attach", "http://127.0.0.1:9", "http://127.0.0.1:10", "--read-only"]) == 0
    assert [sorted(app.fleet.agents) for app in opened] == [["127.0.0.1:10", "127.0.0.1:9"]]
    assert opened[0].read_only and opened[0].actions.read_only, "--read-only sends no action to any agent"


async def test_a_drifted_secrets_diff_comes_masked_from_the_agent(
    attach: Callable[..., AttachedApp], own_site: Site
) -> None:
    app = attach(own_site)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: row_reads(app, "shop", "Synced"), "shop Synced")
        core = client.CoreV1Api(load_kubeconfig(str(own_site.kubeconfig), environ={}).api_client("sandbox"))
        core.patch_namespaced_secret("db-credentials", "shop", {"stringData": {"password": "hunter2-leaked"}})
        await wait_until(pilot, lambda: row_reads(app, "shop", "OutOfSync"), "the Secret's drift")
        screen = await open_app(pilot, app, "shop")
        tree, pane = screen.query_one(ResourceTree), screen.query_one(DiffView)
        await wait_until(pilot, lambda: "password" in pane.content.diff, "the agent's diff of the Secret")
        highlighted = tree.highlighted_key
        assert highlighted is not None and (highlighted.kind, highlighted.name) == (
            "Secret",
            "db-credentials",
        )
        shown = "\n".join(pane.lines_shown)
        assert "***" in shown
        for secret in ("hunter2-leaked", "s3cr3t-value", "aHVudGVyMi1sZWFrZWQ=", "czNjcjN0LXZhbHVl"):
            assert secret not in shown
