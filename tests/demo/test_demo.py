"""`kubedrift demo`: the sample repo, the first sync, each drift the demo makes, healing, and clean-up."""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.desired_state import AppDesiredState
from core.errors import KubedriftError
from core.model import AppStatus, AppSync, Health, ResourceKey, ResourceResult, SyncStatus
from core.operations import sync_now
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange
from core.sync_hooks import HOOK_ANNOTATION
from core.sync_waves import SyncProgress
from sandbox.resources import ResourceAPI
from tests.live_run import LiveRun
from tui.demo import run_demo, tui_settings
from tui.demo.drift import Drifter, DriftEvent, DriftKind
from tui.demo.drift_loop import INTERVAL_ENV_VAR, DriftLoop, drift_interval
from tui.demo.lifecycle import STATE_ENV_VAR, DemoWorkspace
from tui.demo.sample_repo import DATASTORE, DEMO_APPS, REPORTS, SELF_HEALING_APP, SHOP

SHOP_AT_START = re.compile(r"Z  shop  Synced (Healthy|Progressing)\n")
ROOT = Path(__file__).resolve().parent.parent.parent
WAIT_SECONDS = 15.0
"""How long a live change may take to arrive before a test fails; never a pass/fail threshold."""


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[DemoWorkspace]:
    with DemoWorkspace.create(parent=tmp_path) as created:
        created.sync_all()
        yield created


@pytest.fixture
def drifter(workspace: DemoWorkspace) -> Iterator[Drifter]:
    made = Drifter.for_kubeconfig(workspace.kubeconfig_path, workspace.repo, seed=11)
    yield made
    made.close()


def by_key(status: AppStatus) -> dict[ResourceKey, ResourceResult]:
    return {resource.key: resource for resource in status.resources}


def stored(
    workspace: DemoWorkspace, api_version: str, kind: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """An object as the sandbox stores it, read on the server's own loop."""

    def find(api: ResourceAPI) -> dict[str, Any] | None:
        found = api.find(api.resource(api_version, kind), namespace, name)
        return None if found is None else found.copy()

    return workspace.sandbox.run(find)


def evaluate(workspace: DemoWorkspace) -> dict[str, AppStatus]:
    return {status.name: status for status in workspace.engine(watch_tree=False).evaluate()}


def drifted(status: AppStatus) -> dict[str, list[dict[str, object]]]:
    return {
        str(r.key): [c.to_json() for c in r.changes] or [{"status": str(r.status)}]
        for r in status.resources
        if r.status is not SyncStatus.SYNCED
    }


def test_sample_repo_renders_every_app_without_errors(tmp_path: Path) -> None:
    with DemoWorkspace.create(parent=tmp_path) as workspace:
        kinds: dict[str, set[str]] = {}
        hooks: dict[str, list[tuple[str, str, str]]] = {}
        for app in workspace.config.apps:
            state = AppDesiredState(app, base_dir=workspace.config_path.parent).load()
            assert state.render_ok and state.errors == (), (app.name, state.errors)
            assert state.revision == workspace.repo.head()
            kinds[app.name] = {key.kind for key in state.objects}
            hooks[app.name] = [
                (hook["kind"], hook["metadata"]["name"], hook["metadata"]["annotations"][HOOK_ANNOTATION])
                for hook in state.hooks
            ]
        policies = {app.name: app.sync_policy for app in workspace.config.apps}
    assert kinds == {
        "shop": {"Namespace", "Deployment", "Service", "ConfigMap", "Secret", "Ingress"},
        "datastore": {"Namespace", "ConfigMap", "StatefulSet", "Service"},
        "reports": {"Namespace", "CronJob"},
    }
    # The schema migration is a hook, never one of the app's resources.
    assert hooks == {"shop": [], "datastore": [("Job", "db-migrate", "PreSync")], "reports": []}
    assert [app.name for app in DEMO_APPS] == list(policies)
    assert policies["datastore"].self_heal and policies["datastore"].automated
    assert not policies["shop"].automated and not policies["reports"].automated


def test_first_sync_leaves_every_app_synced_and_healthy(workspace: DemoWorkspace) -> None:
    statuses = {status.name: status for status in workspace.wait_until_settled()}
    assert {name: drifted(status) for name, status in statuses.items()} == {
        "shop": {},
        "datastore": {},
        "reports": {},
    }
    assert {name: (s.sync, s.health, s.errors) for name, s in statuses.items()} == {
        name: (AppSync.SYNCED, Health.HEALTHY, ()) for name in ("shop", "datastore", "reports")
    }
    # The StatefulSet's volumeClaimTemplate became a bound PVC, as on a real cluster.
    claim = stored(workspace, "v1", "PersistentVolumeClaim", DATASTORE.namespace, "data-db-0")
    assert claim is not None and claim["status"]["phase"] == "Bound"
    # The demo's syncs are audited inside its own folder, never in the user's audit file.
    assert (workspace.root / "state" / "kubedrift" / "audit.jsonl").is_file()


def test_a_datastore_sync_runs_its_migration_hook_then_its_waves_in_order(workspace: DemoWorkspace) -> None:
    workspace.wait_until_settled()
    engine = workspace.engine(watch_tree=False)
    engine.evaluate()
    seen: list[SyncProgress] = []
    result = sync_now(engine, DATASTORE.name, progress=seen.append)

    assert not result.failed, result.outcomes
    migration = ResourceKey("batch", "Job", DATASTORE.namespace, "db-migrate")
    hook_outcomes = [result.outcomes[run.position] for run in result.hooks]
    assert [(run.hook, run.phase) for run in result.hooks] == [("PreSync", "Succeeded")]
    assert [outcome.key for outcome in hook_outcomes] == [migration]
    assert "deleted (HookSucceeded)" in hook_outcomes[0].message
    # The wave each resource was applied in, in the order the sync went: the hook before them all.
    applied = [(p.phase.value, p.wave, p.key.kind) for p in seen if not p.event and p.key is not None]
    assert applied == [
        ("PreSync", 0, "Namespace"),
        ("PreSync", 0, "Job"),
        ("Sync", -1, "ConfigMap"),
        ("Sync", 0, "StatefulSet"),
        ("Sync", 1, "Service"),
    ]
    events = [p.event for p in seen if p.event]
    assert "PreSync: Job.batch/datastore/db-migrate Succeeded" in events
    assert events.index("Sync wave -1: Healthy") < events.index("Sync wave 0: Healthy")
    # Done, the hook is gone and the app is as the demo shows it: Synced and Healthy.
    assert stored(workspace, "batch/v1", "Job", DATASTORE.namespace, "db-migrate") is None
    status = evaluate(workspace)[DATASTORE.name]
    assert (status.sync, status.health, drifted(status)) == (AppSync.SYNCED, Health.HEALTHY, {})


@pytest.mark.parametrize(
    ("kind", "app", "status", "path"),
    [
        (DriftKind.SCALE, SHOP.name, SyncStatus.OUT_OF_SYNC, "/spec/replicas"),
        (DriftKind.EDIT_CONFIG_MAP, SHOP.name, SyncStatus.OUT_OF_SYNC, "/data/"),
        (DriftKind.DELETE_SERVICE, SHOP.name, SyncStatus.MISSING, None),
        (DriftKind.CHANGE_IMAGE, SHOP.name, SyncStatus.OUT_OF_SYNC, "/spec/template/spec/containers/0/image"),
        (
            DriftKind.CHANGE_IMAGE,
            REPORTS.name,
            SyncStatus.OUT_OF_SYNC,
            "/spec/jobTemplate/spec/template/spec/containers/0/image",
        ),
        (DriftKind.GIT_COMMIT, SHOP.name, SyncStatus.OUT_OF_SYNC, "/"),
        (DriftKind.GIT_COMMIT, REPORTS.name, SyncStatus.OUT_OF_SYNC, "/spec/schedule"),
    ],
)
def test_each_drift_kind_is_detected_on_exactly_its_resource(
    workspace: DemoWorkspace,
    drifter: Drifter,
    kind: DriftKind,
    app: str,
    status: SyncStatus,
    path: str | None,
) -> None:
    event = drifter.perform(kind, app)
    assert (event.kind, event.app) == (kind, app)
    statuses = evaluate(workspace)
    changed = drifted(statuses[app])
    assert list(changed) == [str(event.key)], f"{event.command} drifted {changed}"
    result = by_key(statuses[app])[event.key]
    assert result.status is status
    paths = [change.path for change in result.changes]
    if path is None:
        assert paths == []
    else:
        assert paths and all(p.startswith(path) for p in paths), paths
    others = {name: drifted(s) for name, s in statuses.items() if name != app}
    assert others == {name: {} for name in others}
    if kind is DriftKind.GIT_COMMIT:
        assert statuses[app].revision == workspace.repo.head()
        assert event.command.startswith("git commit -m ")
    else:
        assert event.command.startswith(f"kubectl -n {app} ")


def test_a_step_that_cannot_change_anything_is_skipped_not_failed(drifter: Drifter) -> None:
    first = drifter.perform(DriftKind.DELETE_SERVICE, SHOP.name)
    assert first.key == ResourceKey("", "Service", "shop", "web")
    with pytest.raises(KubedriftError, match="already deleted"):
        drifter.perform(DriftKind.DELETE_SERVICE, SHOP.name)


def test_same_seed_makes_the_same_varied_drift(tmp_path: Path) -> None:
    def commands(seed: int) -> list[str]:
        with DemoWorkspace.create(parent=tmp_path) as workspace:
            workspace.sync_all()
            drifter = Drifter.for_kubeconfig(workspace.kubeconfig_path, workspace.repo, seed=seed)
            try:
                steps = [drifter.random_step() for _ in range(8)]
            finally:
                drifter.close()
        # The commit SHA differs between runs (it carries the time); the rest must not.
        return [str(step).split("  # ")[0] for step in steps if step is not None]

    first, again = commands(3), commands(3)
    assert first == again
    assert len(first) == 8
    assert len({command.split()[3] if command.startswith("kubectl") else "git" for command in first}) >= 3


def became(key: ResourceKey, status: SyncStatus, previous: SyncStatus | None = None) -> Callable[..., bool]:
    return lambda c: (
        isinstance(c, ResourceStatusChange)
        and c.key == key
        and c.status is status
        and (previous is None or c.previous_status is previous)
    )


def app_became(app: str, sync: AppSync) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, AppStatusChange) and c.app == app and c.sync is sync


def test_a_generated_git_commit_is_picked_up_live(workspace: DemoWorkspace, drifter: Drifter) -> None:
    engine = workspace.engine(watch_tree=False)
    with LiveRun(engine) as live:
        live.wait_for(app_became(REPORTS.name, AppSync.SYNCED), timeout=WAIT_SECONDS)
        event = drifter.perform(DriftKind.GIT_COMMIT, REPORTS.name)
        live.wait_for(became(event.key, SyncStatus.OUT_OF_SYNC), timeout=WAIT_SECONDS)
        assert engine.apps[REPORTS.name].desired.revision == workspace.repo.head()
        changes = engine.apps[REPORTS.name].reconciler.results[event.key].changes
        assert [change.path for change in changes] == ["/spec/schedule"]


def test_the_self_healing_app_returns_to_synced_after_a_manual_scale(
    workspace: DemoWorkspace, drifter: Drifter
) -> None:
    assert SELF_HEALING_APP is DATASTORE
    with LiveRun(workspace.engine(watch_tree=False)) as live:
        live.wait_for(app_became(DATASTORE.name, AppSync.SYNCED), timeout=WAIT_SECONDS)
        event = drifter.perform(DriftKind.SCALE, DATASTORE.name)
        assert "statefulset/db --replicas=" in event.command
        live.wait_for(became(event.key, SyncStatus.OUT_OF_SYNC), timeout=WAIT_SECONDS)
        live.wait_for(
            became(event.key, SyncStatus.SYNCED, previous=SyncStatus.OUT_OF_SYNC), timeout=WAIT_SECONDS
        )
    statefulset = stored(workspace, "apps/v1", "StatefulSet", DATASTORE.namespace, "db")
    assert statefulset is not None and statefulset["spec"]["replicas"] == 1


def test_drift_loop_starts_with_a_shop_scale_and_stops(drifter: Drifter) -> None:
    events: queue.Queue[DriftEvent] = queue.Queue()
    errors: list[str] = []
    loop = DriftLoop(drifter, interval=0.05, on_event=events.put, on_error=errors.append).start()
    try:
        first = events.get(timeout=WAIT_SECONDS)
        second = events.get(timeout=WAIT_SECONDS)
    finally:
        loop.stop()
    assert (first.kind, first.app) == (DriftKind.SCALE, SHOP.name)
    assert "scale deployment/web" in first.command
    assert second.command != first.command
    assert errors == []
    steps = loop.steps
    time.sleep(0.2)
    assert loop.steps == steps, "no step after stop()"


def test_drift_interval_comes_from_the_argument_then_the_environment() -> None:
    assert drift_interval(3.0, {INTERVAL_ENV_VAR: "9"}) == 3.0
    assert drift_interval(None, {INTERVAL_ENV_VAR: "9"}) == 9.0
    assert drift_interval(None, {}) == 20.0
    assert drift_interval(None, {INTERVAL_ENV_VAR: "0"}) == 0.0
    with pytest.raises(KubedriftError, match=f"{INTERVAL_ENV_VAR}='soon' is not a number of seconds"):
        drift_interval(None, {INTERVAL_ENV_VAR: "soon"})
    with pytest.raises(KubedriftError, match="0 or more seconds"):
        drift_interval(-1.0, {})


def test_close_stops_the_sandbox_and_removes_the_folder(tmp_path: Path) -> None:
    before = os.environ.get(STATE_ENV_VAR)
    workspace = DemoWorkspace.create(parent=tmp_path)
    assert os.environ[STATE_ENV_VAR] == str(workspace.root / "state")
    url = workspace.sandbox.url
    workspace.close()
    workspace.close()  # twice is harmless
    assert not workspace.root.exists()
    assert os.environ.get(STATE_ENV_VAR) == before
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/version", timeout=2)


def test_keep_leaves_the_repo_config_and_kubeconfig(tmp_path: Path) -> None:
    with DemoWorkspace.create(parent=tmp_path, keep=True) as workspace:
        root = workspace.root
    assert (root / "gitops" / ".git").is_dir()
    assert (root / "kubedrift.yaml").is_file() and (root / "kubeconfig").is_file()


@pytest.mark.parametrize("keep", [False, True])
def test_run_demo_headless_cleans_up_unless_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = io.StringIO()
    assert run_demo(keep, open_tui=False, duration=0.5, drift_seconds=0, out=out) == 0
    text = out.getvalue()
    left = list(tmp_path.glob("kubedrift-demo-*"))
    assert "export KUBECONFIG=" in text
    assert "shop  Synced Healthy" in text
    if keep:
        (root,) = left
        assert (root / "gitops" / ".git").is_dir()
        assert f"kept {root}" in text
    else:
        assert left == []
        assert "stopped the sandbox and removed" in text


def test_tui_settings_carry_the_demo_engine_and_banner(workspace: DemoWorkspace) -> None:
    settings = tui_settings(workspace, read_only=True, theme="ansi")
    assert settings.banner == workspace.banner
    assert settings.banner.startswith(f"KUBECONFIG={workspace.kubeconfig_path} kubectl -n shop scale")
    assert (settings.read_only, settings.theme, settings.kubeconfig) == (
        True,
        "ansi",
        str(workspace.kubeconfig_path),
    )
    assert settings.engine_factory is not None
    engine = settings.engine_factory()
    assert engine.read_only
    assert sorted(engine.apps) == sorted(app.name for app in DEMO_APPS)


def _lines(stream: Iterable[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def test_headless_demo_process_exits_0_on_sigterm_without_traceback(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(temp),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "demo", "--headless", "--drift-seconds", "0.3"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + WAIT_SECONDS * 2
        # The start-up verdict of shop (Healthy, or still Progressing on a busy machine), then a drift.
        while not any("  drift  " in line for line in seen) or not SHOP_AT_START.search("".join(seen)):
            assert process.poll() is None, "".join(seen) + (process.stderr.read() if process.stderr else "")
            assert time.monotonic() < deadline, "no drift line: " + "".join(seen)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
        assert list(temp.glob("kubedrift-demo-*")), "the demo works in a temp folder under $TMPDIR"
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert code == 0, stderr
    assert "Traceback" not in stderr + output
    assert "export KUBECONFIG=" in output
    assert SHOP_AT_START.search(output), "the apps' state at start"
    assert "stopped the sandbox and removed" in output
    assert list(temp.glob("kubedrift-demo-*")) == []
