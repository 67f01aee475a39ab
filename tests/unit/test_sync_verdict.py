"""Drift rule 7 by construction: a resource a sync leaves with the same changes is marked, and left alone."""

from __future__ import annotations

import json
from typing import Any

from core.automation import Automation
from core.model import App, Change, ResourceKey, Source, SyncPolicy, SyncStatus
from core.reconcile import AppReconciler
from core.sync_verdict import same_changes, unchanged_reason
from tui.commands.report import resource_line
from tui.commands.terminal import Style

KEY = ResourceKey("", "ConfigMap", "shop", "web-config")
APP = App("shop", Source("./gitops"), sync_policy=SyncPolicy(automated=True, self_heal=True))


def config_map(data: dict[str, str], managers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web-config", "namespace": "shop"}
    if managers is not None:
        metadata["managedFields"] = managers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def drifted_reconciler() -> AppReconciler:
    reconciler = AppReconciler(APP)
    reconciler.set_desired({KEY: config_map({"mode": "fast"})}, render_ok=True)
    reconciler.live_changed(KEY, config_map({"mode": "slow"}))
    assert reconciler.results[KEY].status is SyncStatus.OUT_OF_SYNC
    return reconciler


def test_same_changes_ignores_order_and_compares_values() -> None:
    a, b = Change("/data/x", "1", "2"), Change("/data/y", {"k": 1}, None)
    assert same_changes((a, b), (b, a))
    assert not same_changes((a,), (Change("/data/x", "1", "3"),))
    assert not same_changes((a,), (a, b))


def test_the_marking_is_in_the_reason_and_the_json_keeps_its_shape() -> None:
    reconciler = drifted_reconciler()
    before = reconciler.results[KEY]
    assert not before.sync_changes_nothing
    assert reconciler.mark_unchangeable(KEY, before.changes, "sync changes nothing: /data/mode kept by x")
    marked = reconciler.results[KEY]
    assert marked.status is SyncStatus.OUT_OF_SYNC
    assert marked.sync_changes_nothing
    assert marked.status_text == "OutOfSync (sync changes nothing)"
    assert marked.to_json() == before.to_json()  # other tools read this shape: no key added
    assert json.dumps(marked.to_json()).count("sync changes nothing") == 0
    line = resource_line("shop", marked, Style(colour=False))
    assert "OutOfSync (sync changes nothing)" in line and "/data/mode kept by x" in line


def test_the_marking_holds_while_the_drift_is_the_same_and_lapses_when_it_changes() -> None:
    reconciler = drifted_reconciler()
    reconciler.mark_unchangeable(KEY, reconciler.results[KEY].changes, "sync changes nothing: why")
    reconciler.live_changed(KEY, config_map({"mode": "slow"}, managers=[]))  # an event, same drift
    assert reconciler.results[KEY].sync_changes_nothing
    reconciler.live_changed(KEY, config_map({"mode": "other"}))  # the live object changed differently
    assert reconciler.results[KEY].status is SyncStatus.OUT_OF_SYNC
    assert not reconciler.results[KEY].sync_changes_nothing
    assert KEY not in reconciler.unchangeable


def test_a_git_change_lifts_the_marking() -> None:
    reconciler = drifted_reconciler()
    reconciler.mark_unchangeable(KEY, reconciler.results[KEY].changes, "sync changes nothing: why")
    reconciler.set_desired({KEY: config_map({"mode": "fast", "extra": "1"})}, render_ok=True)
    assert not reconciler.results[KEY].sync_changes_nothing
    assert KEY not in reconciler.unchangeable


def test_self_heal_leaves_a_marked_resource_alone_and_retries_once_it_lapses() -> None:
    reconciler = drifted_reconciler()
    automation = Automation(check_audit=lambda: None)
    automation.synced_revisions["shop"] = "abc"
    reconciler.mark_unchangeable(KEY, reconciler.results[KEY].changes, "sync changes nothing: why")
    assert automation.next_action(APP, "abc", True, reconciler.results, now=0.0) is None
    reconciler.live_changed(KEY, config_map({"mode": "other"}))
    request = automation.next_action(APP, "abc", True, reconciler.results, now=100.0)
    assert request is not None and request.keys == (KEY,)


def test_the_reason_names_the_manager_that_keeps_a_field() -> None:
    answer = config_map(
        {"mode": "slow"},
        managers=[
            {"manager": "kubedrift", "operation": "Apply", "fieldsV1": {"f:data": {"f:mode": {}}}},
            {"manager": "policy-webhook", "operation": "Update", "fieldsV1": {"f:data": {"f:mode": {}}}},
        ],
    )
    reason = unchanged_reason((Change("/data/mode", "fast", "slow"),), answer)
    assert reason.startswith("sync changes nothing: /data/mode kept by policy-webhook")
    dropped = unchanged_reason((Change("/spec/template/spec/containers/0/x", 1, None),), answer)
    assert "not kept by the server" in dropped


def test_the_tui_diff_pane_shows_the_marking_with_why() -> None:
    from core.desired_state import DesiredState
    from core.runtime import AppRuntime
    from tui.resource_diff import resource_diff

    reconciler = drifted_reconciler()
    runtime = AppRuntime(APP, None, reconciler)
    runtime.desired = DesiredState("abc", dict(reconciler.desired), render_ok=True)
    reconciler.mark_unchangeable(
        KEY, reconciler.results[KEY].changes, "sync changes nothing: /data/mode kept by x"
    )
    pane = resource_diff(runtime, KEY, reconciler.live[KEY])
    assert pane.sync == "OutOfSync"
    assert any(
        "sync changes nothing: /data/mode kept by x" in note and "self-heal" in note for note in pane.notes
    )


def test_a_drift_a_sync_removed_that_comes_back_soon_is_marked_with_who_brought_it_back() -> None:
    now = [0.0]
    reconciler = drifted_reconciler()
    reconciler.unchangeable.clock = lambda: now[0]
    before = reconciler.results[KEY].changes
    reconciler.mark_unchangeable(KEY, before, "", waiting=True)  # Synced right after the sync
    assert not reconciler.results[KEY].sync_changes_nothing
    reconciler.live_changed(KEY, config_map({"mode": "fast"}))  # the sync's own event: Synced
    assert reconciler.results[KEY].status is SyncStatus.SYNCED
    forced_back = [{"manager": "operator", "operation": "Apply", "fieldsV1": {"f:data": {"f:mode": {}}}}]
    now[0] = 10.0
    reconciler.live_changed(KEY, config_map({"mode": "slow"}, managers=forced_back))  # forced back
    result = reconciler.results[KEY]
    assert result.sync_changes_nothing and "/data/mode kept by operator" in result.reason


def test_a_drift_that_comes_back_after_the_window_is_a_new_drift() -> None:
    now = [0.0]
    reconciler = drifted_reconciler()
    reconciler.unchangeable.clock = lambda: now[0]
    reconciler.mark_unchangeable(KEY, reconciler.results[KEY].changes, "", waiting=True)
    reconciler.live_changed(KEY, config_map({"mode": "fast"}))
    now[0] = 1000.0
    reconciler.live_changed(KEY, config_map({"mode": "slow"}))
    assert not reconciler.results[KEY].sync_changes_nothing  # self-heal's to re-apply, with backoff


def test_the_tui_sync_message_names_what_stays_out_of_sync() -> None:
    from core.sync_verdict import Leftover
    from tui.status_text import describe_leftovers

    first = Leftover(KEY, (Change("/data/mode", "fast", "slow"),), True, "sync changes nothing: why")
    other = Leftover(ResourceKey("", "ConfigMap", "shop", "b"), (), False, "still OutOfSync right after")
    assert describe_leftovers([first, other]) == (
        "2 still OutOfSync after the sync: ConfigMap/shop/web-config (sync changes nothing: why) and 1 more"
    )
