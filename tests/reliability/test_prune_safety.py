"""Prune that cannot lose data: settled working-tree reads, pending objects, and Namespaces that hold
other people's objects.

Each scenario asserts its invariant with the sandbox's request log: no object that kubedrift did not
create, or that Git still declares, is ever deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.actions import sync_app
from core.cluster import ClusterAdapter
from core.config import Config
from core.desired_state import AppDesiredState, DesiredState, VanishedKeys
from core.engine import Engine
from core.gitsource import FolderSource
from core.kubeconfig import load_kubeconfig
from core.model import (
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    TRACKING_LABEL_VALUE,
    App,
    Destination,
    ResourceAction,
    ResourceKey,
    Source,
    SyncPolicy,
    SyncStatus,
)
from core.prune import prune_candidates
from core.reconcile import reconcile
from core.status_events import ResourceStatusChange
from core.unreadable_file import UnreadableFile
from sandbox.handle import SandboxThread
from tests.live_run import LiveRun

NAMESPACE = "site"
KEPT = ResourceKey("", "ConfigMap", NAMESPACE, "kept")
DROPPED = ResourceKey("", "ConfigMap", NAMESPACE, "dropped")


def configmap(name: str, namespace: str = NAMESPACE, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data or {"key": name},
    }


def namespace_object(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def write_documents(path: Path, *documents: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump_all(documents))


def deletes(sandbox: SandboxThread) -> list[str]:
    return [record.path for record in sandbox.request_log if record.method == "DELETE"]


# The settled read of a working tree.


def test_a_folder_read_during_a_save_is_read_again(tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("first\n")
    saves = iter(["second, longer\n"])

    def save_while_settling(_: float) -> None:
        text = next(saves, None)
        if text is not None:
            manifest.write_text(text)

    snapshot = FolderSource(tmp_path, sleep=save_while_settling).load()
    assert dict(snapshot.files) == {"cm.yaml": b"second, longer\n"}


def test_a_folder_that_never_settles_keeps_the_last_good_state(tmp_path: Path) -> None:
    from core.errors import GitSourceError

    manifest = tmp_path / "cm.yaml"
    count = iter(range(1000))

    def keep_saving(_: float) -> None:
        manifest.write_text("x" * (next(count) + 1))

    manifest.write_text("start")
    with pytest.raises(GitSourceError, match="kept changing"):
        FolderSource(tmp_path, sleep=keep_saving, settle_attempts=3).load()


def test_broken_looping_and_escaping_links_are_unreadable_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.yaml").write_text(yaml.safe_dump(configmap("outside")))
    (root / "ok.yaml").write_text(yaml.safe_dump(configmap("ok")))
    os.symlink("missing.yaml", root / "broken.yaml")
    os.symlink("loop-b.yaml", root / "loop-a.yaml")
    os.symlink("loop-a.yaml", root / "loop-b.yaml")
    os.symlink("../outside.yaml", root / "escape.yaml")
    files = FolderSource(root).load().files
    problems = {
        path: content.problem for path, content in files.items() if isinstance(content, UnreadableFile)
    }
    assert set(files) - set(problems) == {"ok.yaml"}
    assert "does not exist" in problems["broken.yaml"]
    assert "loop" in problems["loop-a.yaml"] and "loop" in problems["loop-b.yaml"]
    assert "outside the repository" in problems["escape.yaml"]


def test_folder_links_are_followed_inside_the_repository_only(tmp_path: Path) -> None:
    from core.errors import GitSourceError
    from core.gitsource import AppSource

    repo = tmp_path / "repo"
    (repo / "app" / "real").mkdir(parents=True)
    (repo / "shared").mkdir()
    (repo / "shared" / "cm.yaml").write_text(yaml.safe_dump(configmap("shared")))
    os.symlink("../shared", repo / "app" / "linked")
    files = AppSource(Source(repo_url=str(repo), target_revision="", path="app")).load().files
    assert set(files) == {"linked/cm.yaml"}

    (tmp_path / "outside").mkdir()
    os.symlink(str(tmp_path / "outside"), repo / "app" / "escape")
    with pytest.raises(GitSourceError, match=r"escape is a symlink to .*outside the repository"):
        AppSource(Source(repo_url=str(repo), target_revision="", path="app")).load()
    (repo / "app" / "escape").unlink()
    os.symlink("..", repo / "app" / "real" / "up")
    with pytest.raises(GitSourceError, match="real/up is a symlink loop"):
        AppSource(Source(repo_url=str(repo), target_revision="", path="app")).load()


def test_an_app_path_that_leads_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    from core.errors import GitSourceError
    from core.gitsource import AppSource

    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), repo / "appout")
    with pytest.raises(GitSourceError, match="outside the repository"):
        AppSource(Source(repo_url=str(repo), target_revision="", path="appout")).load()


def test_an_unreadable_manifest_fails_the_render_and_blocks_prune(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    write_documents(folder / "cm.yaml", configmap("kept"))
    app = folder_app(folder)
    loader = AppDesiredState(app)
    assert loader.load().render_ok
    (folder / "cm.yaml").unlink()
    os.symlink("gone.yaml", folder / "cm.yaml")
    state = loader.load()
    assert not state.render_ok
    assert any("cm.yaml" in error and "does not exist" in error for error in state.errors)
    live = {KEPT: tracked(configmap("kept"), app.name, KEPT)}
    result = reconcile(app, state.objects, live, render_ok=state.render_ok)
    assert result.resources[KEPT].status is SyncStatus.UNKNOWN


# Objects that leave a working tree are pending until a later read agrees.


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_vanished_keys_stay_pending_until_a_later_read_agrees() -> None:
    clock = FakeClock()
    vanished = VanishedKeys(confirm_seconds=2.0, clock=clock)
    assert vanished.update({KEPT: "cm.yaml", DROPPED: "cm.yaml"}, ["cm.yaml"]) == {}
    pending = vanished.update({KEPT: "cm.yaml"}, ["cm.yaml"])
    assert set(pending) == {DROPPED} and "no longer declares it" in pending[DROPPED]
    assert vanished.next_check == 2.0
    clock.now += 1.0
    assert set(vanished.update({KEPT: "cm.yaml"}, ["cm.yaml"])) == {DROPPED}
    clock.now += 1.0
    assert vanished.update({KEPT: "cm.yaml"}, ["cm.yaml"]) == {}
    assert vanished.next_check is None


def test_a_key_that_comes_back_is_no_longer_pending() -> None:
    clock = FakeClock()
    vanished = VanishedKeys(confirm_seconds=2.0, clock=clock)
    vanished.update({KEPT: "cm.yaml"}, ["cm.yaml"])
    assert "disappeared" in vanished.update({}, [])[KEPT]
    assert vanished.update({KEPT: "cm.yaml"}, ["cm.yaml"]) == {}
    clock.now += 5
    assert vanished.update({KEPT: "cm.yaml"}, ["cm.yaml"]) == {}


def test_a_truncated_file_makes_its_objects_unknown_and_unprunable(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    write_documents(folder / "cm.yaml", configmap("kept"), configmap("dropped"))
    write_documents(folder / "other.yaml", configmap("other"))
    app = folder_app(folder)
    clock = FakeClock()
    loader = AppDesiredState(app, clock=clock)
    loader.load()
    (folder / "cm.yaml").write_text("")  # an editor's truncate, before it writes the file again
    state = loader.load()
    assert set(state.pending) == {KEPT, DROPPED}
    live = {key: tracked(configmap(key.name), app.name, key) for key in (KEPT, DROPPED)}
    reconciler_result = _judged(app, state, live)
    assert {reconciler_result[key].status for key in (KEPT, DROPPED)} == {SyncStatus.UNKNOWN}
    assert "working tree" in reconciler_result[KEPT].reason
    candidates, kept = prune_candidates(app, state, live)
    assert candidates == [] and {outcome.key for outcome in kept} == {KEPT, DROPPED}
    clock.now += 5  # the second read, later, still misses them: now they are gone
    confirmed = loader.load()
    assert confirmed.pending == {}
    assert set(prune_candidates(app, confirmed, live)[0]) == {KEPT, DROPPED}


def _judged(app: App, state: DesiredState, live: dict[ResourceKey, Any]) -> dict[ResourceKey, Any]:
    from core.reconcile import AppReconciler

    reconciler = AppReconciler(app)
    reconciler.set_desired(state.objects, render_ok=state.render_ok, pending=state.pending)
    for key, obj in live.items():
        reconciler.live_changed(key, obj)
    return dict(reconciler.results)


def folder_app(folder: Path, *, prune: bool = False) -> App:
    return App(
        name="site",
        source=Source(repo_url=str(folder), target_revision="", path="."),
        destination=Destination(namespace=NAMESPACE),
        sync_policy=SyncPolicy(automated=prune, prune=prune),
    )


def tracked(obj: dict[str, Any], app: str, key: ResourceKey) -> dict[str, Any]:
    """`obj` as kubedrift applies it: its tracking label and annotation."""
    metadata = {
        **obj["metadata"],
        "labels": {**obj["metadata"].get("labels", {}), TRACKING_LABEL: TRACKING_LABEL_VALUE},
        "annotations": {**obj["metadata"].get("annotations", {}), TRACKING_ANNOTATION: key.tracking_id(app)},
    }
    return {**obj, "metadata": metadata}


# The live engine with auto-prune on a working tree, against the sandbox.


@pytest.fixture
def auto_pruned_folder(
    tmp_path: Path, sandbox: SandboxThread, kubeconfig_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "site"
    folder.mkdir()
    write_documents(folder / "namespace.yaml", namespace_object(NAMESPACE))
    write_documents(folder / "cm.yaml", configmap("kept"), configmap("dropped"))
    engine = live_engine(folder, kubeconfig_path)
    with LiveRun(engine) as run:
        run.wait_for(lambda c: _resource_is(c, DROPPED, SyncStatus.SYNCED), timeout=20)
        yield folder, run


SETTLE = 1.0
"""The working-tree settle window in these tests (5 s by default), so they run in seconds."""


def live_engine(folder: Path, kubeconfig_path: Path, settle: float = SETTLE) -> Engine:
    return Engine(
        Config(apps=(folder_app(folder, prune=True),)),
        load_kubeconfig(str(kubeconfig_path), environ={}),
        watch_tree=False,
        working_tree_settle=settle,
    )


def test_a_start_during_a_save_deletes_nothing(
    tmp_path: Path, adapter: ClusterAdapter, sandbox: SandboxThread, kubeconfig_path: Path
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    write_documents(folder / "namespace.yaml", namespace_object(NAMESPACE))
    write_documents(folder / "cm.yaml", configmap("kept"))
    app = folder_app(folder, prune=True)
    _apply_tracked(adapter, app, namespace_object(NAMESPACE), configmap("kept"))
    text = (folder / "cm.yaml").read_text()
    (folder / "cm.yaml").write_text("")  # kubedrift starts while an editor is half-way through a save
    settle = 3.0  # longer than the engine's start-up here, so the save lands inside the window
    with LiveRun(live_engine(folder, kubeconfig_path, settle)) as run:
        _wait_until(lambda: _status_of(run, KEPT) is SyncStatus.EXTRANEOUS)  # what the empty file says
        (folder / "cm.yaml").write_text(text)
        run.wait_for(lambda c: _resource_is(c, KEPT, SyncStatus.SYNCED), timeout=10)
        time.sleep(settle + 1)  # past the window: the automation that now runs has nothing to prune
    assert deletes(sandbox) == []


def _status_of(run: LiveRun, key: ResourceKey) -> SyncStatus | None:
    (status,) = run.engine.statuses()
    return next((r.status for r in status.resources if r.key == key), None)


def _wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _resource_is(change: Any, key: ResourceKey, status: SyncStatus) -> bool:
    return isinstance(change, ResourceStatusChange) and change.key == key and change.status is status


def test_a_slow_editor_save_deletes_nothing(auto_pruned_folder: Any, sandbox: SandboxThread) -> None:
    folder, run = auto_pruned_folder
    text = (folder / "cm.yaml").read_text()
    (folder / "cm.yaml").write_text("")  # truncate, as many editors save
    run.wait_for(lambda c: _resource_is(c, KEPT, SyncStatus.UNKNOWN), timeout=10)
    seen = len(run.changes)
    time.sleep(0.5)  # the editor takes its time; the engine reads the empty file meanwhile
    (folder / "cm.yaml").write_text(text)
    _wait_after(run, seen, lambda c: _resource_is(c, KEPT, SyncStatus.SYNCED))
    time.sleep(SETTLE * 2.5)  # past the confirmation window: a late confirmation must not prune either
    assert deletes(sandbox) == []


def _wait_after(run: LiveRun, seen: int, predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(predicate(change) for change in list(run.changes)[seen:]):
            return
        time.sleep(0.02)
    raise AssertionError(f"no matching change within {timeout} s; saw {run.changes[seen:]}")


def test_an_object_really_dropped_is_pruned_after_the_second_read(
    auto_pruned_folder: Any, sandbox: SandboxThread
) -> None:
    folder, run = auto_pruned_folder
    write_documents(folder / "cm.yaml", configmap("kept"))
    run.wait_for(lambda c: _resource_is(c, DROPPED, SyncStatus.UNKNOWN), timeout=10)
    assert deletes(sandbox) == []  # not on the read that first missed it
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not deletes(sandbox):
        time.sleep(0.1)
    assert deletes(sandbox) == [f"/api/v1/namespaces/{NAMESPACE}/configmaps/dropped"]
    # The program's decision to prune was audited on its own, before the prune, with its snapshot.
    audit = folder.parent / "state/kubedrift/audit.jsonl"
    lines = _audit_lines(audit)
    while time.monotonic() < deadline and lines[-1]["operation"] != "auto-sync":
        time.sleep(0.05)  # the sync's own line follows its last request
        lines = _audit_lines(audit)
    decision, applied = lines[-2], lines[-1]
    assert (decision["operation"], decision["dryRun"]) == ("prune", True)
    assert decision["revision"].startswith("folder:") and decision["revision"] == applied["revision"]
    assert [(r["name"], r["action"]) for r in decision["results"]] == [("dropped", "pruned")]
    assert "automated prune decision" in decision["results"][0]["message"]
    assert applied["operation"] == "auto-sync"
    assert ("dropped", "pruned") in [(r["name"], r["action"]) for r in applied["results"]]


def _audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_manifest_replaced_by_a_dangling_symlink_deletes_nothing(
    auto_pruned_folder: Any, sandbox: SandboxThread
) -> None:
    folder, run = auto_pruned_folder
    (folder / "cm.yaml").unlink()
    os.symlink("/nonexistent/cm.yaml", folder / "cm.yaml")
    run.wait_for(lambda c: _resource_is(c, KEPT, SyncStatus.UNKNOWN), timeout=10)
    time.sleep(SETTLE * 3)
    assert deletes(sandbox) == []
    (status,) = run.engine.statuses()
    assert any("cm.yaml" in error and "symlink" in error for error in status.errors)


# Namespaces that hold objects the app does not track.


def _apply_tracked(adapter: ClusterAdapter, app: App, *objects: dict[str, Any]) -> None:
    for obj in objects:
        adapter.apply(tracked(obj, app.name, ResourceKey.of(obj)))


def _live(adapter: ClusterAdapter, app: App, *keys: ResourceKey) -> dict[ResourceKey, dict[str, Any]]:
    live = {}
    for key in keys:
        found = adapter.get(adapter.resource_for(key.group, key.kind), key.namespace or None, key.name)
        assert found is not None
        live[key] = found
    return live


TEAM = ResourceKey("", "Namespace", "", "team")
TEAM_CONFIG = ResourceKey("", "ConfigMap", "team", "settings")
KEEP = ResourceKey("", "Namespace", "", "keep")


def _desired(*objects: dict[str, Any]) -> DesiredState:
    return DesiredState("rev2", {ResourceKey.of(obj): obj for obj in objects}, render_ok=True)


@pytest.fixture
def team_app(adapter: ClusterAdapter) -> App:
    app = App(name="team-app", source=Source(repo_url="."), destination=Destination(namespace="team"))
    _apply_tracked(adapter, app, namespace_object("keep"), namespace_object("team"))
    _apply_tracked(adapter, app, configmap("settings", "team"))
    return app


def test_prune_keeps_a_namespace_that_holds_someone_elses_objects(
    adapter: ClusterAdapter, sandbox: SandboxThread, team_app: App
) -> None:
    adapter.apply(configmap("notes", "team"))  # made by a person, not by the app
    sandbox.faults.clear_request_log()
    live = _live(adapter, team_app, KEEP, TEAM, TEAM_CONFIG)
    result = sync_app(adapter, team_app, _desired(namespace_object("keep")), live, prune=True)
    outcomes = {outcome.key: outcome for outcome in result.outcomes}
    assert outcomes[TEAM_CONFIG].action is ResourceAction.PRUNED
    assert outcomes[TEAM].action is ResourceAction.SKIPPED
    assert "ConfigMap/team/notes" in outcomes[TEAM].message and "--force" in outcomes[TEAM].message
    assert deletes(sandbox) == ["/api/v1/namespaces/team/configmaps/settings"]
    assert adapter.get(adapter.resource_for("", "ConfigMap"), "team", "notes") is not None

    forced = sync_app(adapter, team_app, _desired(namespace_object("keep")), live, prune=True, force=True)
    assert {o.key: o.action for o in forced.outcomes}[TEAM] is ResourceAction.PRUNED
    assert "/api/v1/namespaces/team" in deletes(sandbox)


def test_prune_keeps_a_namespace_holding_an_object_git_still_declares(
    adapter: ClusterAdapter, sandbox: SandboxThread, team_app: App
) -> None:
    sandbox.faults.clear_request_log()
    live = _live(adapter, team_app, KEEP, TEAM, TEAM_CONFIG)
    desired = _desired(namespace_object("keep"), configmap("settings", "team"))
    result = sync_app(adapter, team_app, desired, live, prune=True)
    outcome = next(o for o in result.outcomes if o.key == TEAM)
    assert outcome.action is ResourceAction.SKIPPED and "ConfigMap/team/settings" in outcome.message
    assert deletes(sandbox) == []


def test_prune_deletes_a_namespace_that_holds_only_the_apps_leftovers(
    adapter: ClusterAdapter, sandbox: SandboxThread, team_app: App
) -> None:
    sandbox.faults.clear_request_log()
    live = _live(adapter, team_app, KEEP, TEAM, TEAM_CONFIG)
    result = sync_app(adapter, team_app, _desired(namespace_object("keep")), live, prune=True)
    assert {o.key: o.action for o in result.outcomes}[TEAM] is ResourceAction.PRUNED
    assert sorted(deletes(sandbox)) == [
        "/api/v1/namespaces/team",
        "/api/v1/namespaces/team/configmaps/settings",
    ]


def test_sync_cli_needs_force_to_prune_a_namespace_holding_other_objects(
    tmp_path: Path, adapter: ClusterAdapter, sandbox: SandboxThread, kubeconfig_path: Path
) -> None:
    folder = tmp_path / "team"
    folder.mkdir()
    write_documents(folder / "namespaces.yaml", namespace_object("keep"), namespace_object("team"))
    write_documents(folder / "settings.yaml", configmap("settings", "team"))
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n  - name: team-app\n"
        "    source: {repoURL: ./team, targetRevision: ''}\n"
        "    destination: {namespace: team}\n"
    )
    app = App(name="team-app", source=Source(repo_url="."), destination=Destination(namespace="team"))
    _apply_tracked(adapter, app, namespace_object("keep"), namespace_object("team"))
    _apply_tracked(adapter, app, configmap("settings", "team"))
    adapter.apply(configmap("notes", "team"))
    write_documents(folder / "namespaces.yaml", namespace_object("keep"))
    (folder / "settings.yaml").unlink()

    def sync(*extra: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path / "home"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "KUBECONFIG": str(kubeconfig_path),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "NO_COLOR": "1",
        }
        command = [sys.executable, "-m", "tui.cli", "sync", "team-app", "--prune", "--yes", *extra]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    refused = sync()
    assert refused.returncode == 0, refused.stderr
    assert "namespace team holds objects this app does not track (ConfigMap/team/notes)" in refused.stdout
    assert "/api/v1/namespaces/team" not in deletes(sandbox)
    assert adapter.get(adapter.resource_for("", "ConfigMap"), "team", "notes") is not None

    forced = sync("--force")
    assert forced.returncode == 0, forced.stderr
    assert "/api/v1/namespaces/team" in deletes(sandbox)


def test_an_object_owned_from_outside_the_namespace_still_blocks_its_prune(
    adapter: ClusterAdapter, sandbox: SandboxThread, team_app: App
) -> None:
    role = adapter.apply(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "foo"}}
    )
    owner = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "name": "foo",
        "uid": role["metadata"]["uid"],
    }
    precious = configmap("precious", "team")
    precious["metadata"]["ownerReferences"] = [owner]
    adapter.apply(precious)
    sandbox.faults.clear_request_log()
    live = _live(adapter, team_app, KEEP, TEAM, TEAM_CONFIG)
    result = sync_app(adapter, team_app, _desired(namespace_object("keep")), live, prune=True)
    outcome = next(o for o in result.outcomes if o.key == TEAM)
    assert outcome.action is ResourceAction.SKIPPED and "ConfigMap/team/precious" in outcome.message
    assert "/api/v1/namespaces/team" not in deletes(sandbox)


def test_an_object_kept_by_its_annotation_blocks_the_prune_of_its_namespace(
    adapter: ClusterAdapter, sandbox: SandboxThread, team_app: App
) -> None:
    kept = configmap("keepme", "team")
    kept["metadata"]["annotations"] = {"kubedrift.io/prune": "false"}
    _apply_tracked(adapter, team_app, kept)
    keep_key = ResourceKey("", "ConfigMap", "team", "keepme")
    sandbox.faults.clear_request_log()
    live = _live(adapter, team_app, KEEP, TEAM, TEAM_CONFIG, keep_key)
    result = sync_app(adapter, team_app, _desired(namespace_object("keep")), live, prune=True)
    outcomes = {o.key: o for o in result.outcomes}
    assert outcomes[keep_key].action is ResourceAction.SKIPPED
    assert (
        outcomes[TEAM].action is ResourceAction.SKIPPED and "ConfigMap/team/keepme" in outcomes[TEAM].message
    )
    assert "/api/v1/namespaces/team" not in deletes(sandbox)
