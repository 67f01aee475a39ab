"""How a rollback shows: the dashboard's row, the app summary, the event log and `watch`'s lines."""

from __future__ import annotations

import json

from core.model import App, Source
from core.reconcile import AppReconciler
from core.rollback import RollbackView, RolledBack
from core.runtime import AppRuntime
from core.status_events import RollbackEvent
from tui.commands.terminal import Style
from tui.commands.watch import change_line, is_transition
from tui.resource_diff import app_summary
from tui.status_text import rollback_label
from tui.widgets.app_table import AppRow
from tui.widgets.engine_feed import LogLevel, describe_change

A, B = "a" * 40, "b" * 40
DECIDED = RollbackEvent("2024-05-01T10:00:00.000Z", "web", "rollback-decided", B, "rolling back: Degraded", A)


def runtime_with(view: RollbackView | None) -> AppRuntime:
    app = App("web", Source("./gitops"))
    runtime = AppRuntime(app, "dev", AppReconciler(app))
    runtime.rollback = view
    return runtime


def test_the_label_names_both_revisions_and_says_when_it_is_only_what_would_happen() -> None:
    assert rollback_label(None) == ""
    assert rollback_label(RollbackView(None, "last good revision aaaaaaa")) == ""
    pinned = RollbackView(RolledBack(B, A, "Degraded"), "")
    assert rollback_label(pinned) == f"↶ RolledBack: {B[:7]} -> {A[:7]}"
    would = RollbackView(RolledBack(B, A, "Degraded", done=False), "")
    assert rollback_label(would) == f"↶ would roll back (read-only): {B[:7]} -> {A[:7]}"


def test_the_dashboard_row_and_the_app_summary_show_it() -> None:
    view = RollbackView(RolledBack(B, A, "Degraded"), f"RolledBack: {B[:7]} -> {A[:7]} (Degraded)")
    row = AppRow.of(runtime_with(view), read_only=False)
    assert row.rolled_back == f"↶ RolledBack: {B[:7]} -> {A[:7]}"
    assert AppRow.of(runtime_with(None), read_only=False).rolled_back == ""
    summary = app_summary(runtime_with(view), read_only=False)
    assert f"rollback: RolledBack: {B[:7]} -> {A[:7]} (Degraded)" in summary.details


def test_the_event_log_gets_a_line_per_step() -> None:
    entry = describe_change(DECIDED)
    assert entry is not None
    assert (entry.app, entry.level) == ("web", LogLevel.ERROR)
    assert entry.text == "rollback rollback-decided: rolling back: Degraded"
    window = RollbackEvent("2024-05-01T10:00:00.000Z", "web", "window-started", B, "watching")
    entry = describe_change(window)
    assert entry is not None and entry.level is LogLevel.INFO


def test_watch_prints_each_step_as_a_line_of_its_own_shape() -> None:
    assert is_transition(DECIDED)
    assert json.loads(json.dumps(DECIDED.to_json())) == {
        "ts": "2024-05-01T10:00:00.000Z",
        "app": "web",
        "rollback": {
            "step": "rollback-decided",
            "revision": B,
            "from": B,
            "to": A,
            "message": "rolling back: Degraded",
        },
    }
    text = change_line(DECIDED, Style(colour=False))
    assert text == "2024-05-01T10:00:00.000Z  web  rollback rollback-decided: rolling back: Degraded"
