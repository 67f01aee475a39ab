"""What the attached screens make of what agents send (tui.remote_view): rows, tree entries, diffs,
the confirmation's plan, and event-log lines worded as the engine's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.model import ResourceKey
from tui.remote_view import RemoteEntries, describe_line, remote_diff, remote_plan, remote_row
from tui.widgets.status_feed import LogLevel

NOW = datetime(2025, 1, 2, 3, 10, 0, tzinfo=UTC)
WEB = ResourceKey("apps", "Deployment", "shop", "web")


def resource(kind: str, name: str, status: str, **extra: Any) -> dict[str, Any]:
    group = "apps" if kind == "Deployment" else ""
    return {
        "group": group,
        "version": "v1",
        "kind": kind,
        "namespace": "shop",
        "name": name,
        "status": status,
        "health": "Healthy",
        "changes": [],
        **extra,
    }


def entry(*resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "revision": "2b2f52b0c0ffee",
        "sync": "OutOfSync",
        "health": "Healthy",
        "errors": [],
        "resources": list(resources),
        **extra,
    }


def test_a_row_counts_the_agents_verdicts_and_names_the_agent() -> None:
    status = entry(
        resource("Deployment", "web", "OutOfSync"),
        resource("ConfigMap", "a", "Missing"),
        resource("ConfigMap", "b", "Missing"),
        resource("ConfigMap", "c", "Extraneous", sharedWith=["other"]),
    )
    row = remote_row("shop", "eu-1", status, read_only=True)
    assert (row.context, row.sync, row.health) == ("eu-1", "OutOfSync", "Healthy")
    assert (row.out_of_sync, row.missing, row.extraneous, row.shared) == (1, 2, 1, 1)
    assert row.read_only and not row.policy_known, "check -o json carries no policy"
    assert remote_row("shop", "eu-1", status, read_only=False, policy=(True, True)).policy_known


def test_a_lost_agents_error_and_a_rollback_pin_reach_the_row() -> None:
    lost = entry(
        sync="Unknown", health="Unknown", errors=["agent eu-1 is unreachable: it closed the connection"]
    )
    assert remote_row("shop", "eu-1", lost, read_only=False).error == lost["errors"][0]
    pinned = entry(rolledBack={"from": "b" * 40, "to": "a" * 40})
    assert (
        remote_row("shop", "eu-1", pinned, read_only=False).rolled_back == "↶ RolledBack: bbbbbbb -> aaaaaaa"
    )


def test_the_plan_applies_drift_and_creates_missing_and_prunes_only_with_prune() -> None:
    status = entry(
        resource("Deployment", "web", "OutOfSync"),
        resource("ConfigMap", "new", "Missing"),
        resource("ConfigMap", "old", "Extraneous"),
        resource("ConfigMap", "same", "Synced"),
    )
    assert [(change.key.name, change.verb) for change in remote_plan(status, prune=False)] == [
        ("web", "apply"),
        ("new", "create"),
    ]
    assert ("old", "delete") in [(change.key.name, change.verb) for change in remote_plan(status, prune=True)]


def test_tree_entries_are_the_same_objects_while_the_agent_says_the_same() -> None:
    entries = RemoteEntries()
    first = entries.of(entry(resource("Deployment", "web", "Synced"), resource("ConfigMap", "a", "Synced")))
    assert [item.key.kind for item in first] == ["ConfigMap", "Deployment"], "in key order"
    again = entries.of(entry(resource("Deployment", "web", "Synced"), resource("ConfigMap", "a", "Synced")))
    assert again is first
    drifted = entries.of(
        entry(resource("Deployment", "web", "OutOfSync"), resource("ConfigMap", "a", "Synced"))
    )
    assert drifted is not first
    assert drifted[0] is first[0], "the unchanged ConfigMap's entry is kept, so its node is not relabelled"
    assert drifted[1].sync == "OutOfSync"


def test_the_diff_pane_shows_the_agents_diff_and_who_changed_each_path() -> None:
    changes = [
        {
            "path": "/spec/replicas",
            "desired": 2,
            "live": 5,
            "by": {"manager": "kubectl-edit", "operation": "Update", "time": "2025-01-02T03:06:00Z"},
        },
        {"path": "/spec/paused", "desired": None, "live": True},
    ]
    document = {
        "resource": resource("Deployment", "web", "OutOfSync", changes=changes),
        "diff": "--- live\n+++ git\n-  replicas: 5\n+  replicas: 2\n",
        "live": {"kind": "Deployment"},
        "desired": {"kind": "Deployment"},
    }
    shown = remote_diff(document, WEB, now=NOW)
    assert (shown.title, shown.sync, shown.health) == (str(WEB), "OutOfSync", "Healthy")
    assert shown.diff == document["diff"]
    assert (
        shown.notes[0] == "Drift at /spec/replicas, /spec/paused: - live, + Git; a sync applies the + lines."
    )
    assert shown.changed_by[0] == "/spec/replicas: changed by kubectl-edit (Update) 4 min ago"
    assert shown.changed_by[1].startswith("/spec/paused: who changed it:")


def test_the_diff_pane_lists_the_recent_events_the_agent_sent() -> None:
    events = [
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "restarting",
            "time": "2025-01-02T03:09:00Z",
            "count": 4,
        },
        {"type": "Normal", "reason": "Scaled", "message": "to 5", "time": None, "count": 1},
    ]
    document = {"resource": {**resource("Deployment", "web", "OutOfSync"), "events": events}, "diff": ""}
    shown = remote_diff(document, WEB, now=NOW)
    assert [(e.type, e.reason, e.message, e.time, e.count) for e in shown.events] == [
        ("Warning", "BackOff", "restarting", "2025-01-02T03:09:00Z", 4),
        ("Normal", "Scaled", "to 5", "", 1),
    ]
    assert remote_diff({"resource": resource("Deployment", "web", "Synced"), "diff": ""}, WEB).events == ()


def test_a_resource_the_agent_no_longer_judges_says_so() -> None:
    assert remote_diff({"resource": None}, WEB).notes == ("No longer part of this app.",)
    missing = remote_diff({"resource": resource("Deployment", "web", "Missing"), "diff": "+x"}, WEB)
    assert missing.notes == ("Missing from the cluster: a sync creates it as the + lines show.",)


def test_stream_lines_read_as_the_engines_own_log_lines() -> None:
    app_line = {
        "ts": "2025-01-02T03:04:05.000Z",
        "app": "shop",
        "sync": "OutOfSync",
        "health": "Healthy",
        "previous": {"sync": "Synced", "health": "Healthy"},
        "agent": "eu-1",
        "seq": 7,
    }
    logged = describe_line(app_line)
    assert logged is not None
    assert (logged.app, logged.text, logged.level) == (
        "shop",
        "drift detected: the app is OutOfSync",
        LogLevel.WARNING,
    )
    resource_line = {
        "ts": "2025-01-02T03:04:05.000Z",
        "app": "shop",
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "status": "OutOfSync",
        "health": "Healthy",
        "previous": {"status": "Synced", "health": "Healthy"},
    }
    logged = describe_line(resource_line)
    assert logged is not None and logged.text == "Deployment/web drifted from Git"


def test_a_line_of_another_shape_or_an_unknown_word_is_told_as_the_agent_said() -> None:
    shared = {
        "ts": "t",
        "app": "shop",
        "sharedResource": {"message": "web is declared by shop and other too"},
    }
    logged = describe_line(shared)
    assert logged is not None and logged.text == "web is declared by shop and other too"
    newer = {"ts": "t", "app": "shop", "sync": "Reticulating", "health": "Healthy", "previous": {}}
    logged = describe_line(newer)
    # Read as `attach --watch` reads it (core.agent_json): a word this version does not know is Unknown.
    assert logged is not None and logged.text == "watching: Unknown, Healthy"
    assert describe_line({"app": "shop"}) is None, "no time stamp: not a watch line"
