"""Who changed a drifted resource, where a line shows it (issue 15 item 5): `watch -o jsonl` and
`-o text` lines of an OutOfSync resource, and `check`'s text report, one note per drifted field.

The live object is the one recorded from real kubectl in tests/fixtures/attribution (see
test_attribution.py), so the owners named are the ones the server wrote.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from core.drift.attribution import newest_attribution
from core.model import (
    App,
    AppStatus,
    AppSync,
    Attribution,
    Change,
    Health,
    HealthStatus,
    ResourceKey,
    ResourceResult,
    Source,
    SyncStatus,
)
from core.reconcile import AppReconciler
from core.runtime import resource_change
from core.status_events import ResourceStatusChange
from tests.unit.test_attribution import DESIRED, IMAGE, live
from tui.commands.report import check_text
from tui.commands.terminal import Style
from tui.commands.watch import change_line, is_transition

KEY = ResourceKey.of(DESIRED)
NOW = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
HEALTHY = HealthStatus(Health.HEALTHY)
EDIT = Attribution("kubectl-edit", "Update", "2026-01-01T00:06:00Z")
SET = Attribution("kubectl-set", "Update", "2026-01-01T00:08:00Z")
DESIGN_KEYS = ["ts", "app", "group", "kind", "namespace", "name", "status", "health", "previous"]


def drifted(*changes: Change, status: SyncStatus = SyncStatus.OUT_OF_SYNC) -> ResourceResult:
    return ResourceResult(KEY, "v1", status, HEALTHY, changes)


def synced() -> ResourceResult:
    return ResourceResult(KEY, "v1", SyncStatus.SYNCED, HEALTHY)


def with_times(obj: dict[str, Any], times: dict[str, str]) -> dict[str, Any]:
    """`obj` with its managers' times set by name (the recording wrote them all in one second)."""
    for entry in obj["metadata"]["managedFields"]:
        entry["time"] = times.get(entry["manager"], entry["time"])
    return obj


# The newest owner.


def test_the_newest_owner_among_the_changes_is_named() -> None:
    changes = [Change("/a", 1, 2, by=EDIT), Change("/b", 1, 2), Change("/c", 1, 2, by=SET)]
    assert newest_attribution(changes) == SET
    assert newest_attribution(reversed(changes)) == SET


def test_no_owner_named_means_none() -> None:
    assert newest_attribution([Change("/a", 1, 2), Change("/b", 3, None)]) is None
    assert newest_attribution([]) is None


def test_a_tie_names_the_first_in_path_order() -> None:
    same = Attribution("kubectl-patch", "Update", EDIT.time)
    assert newest_attribution([Change("/a", 1, 2, by=EDIT), Change("/b", 1, 2, by=same)]) == EDIT


# The `watch` line.


def test_an_out_of_sync_line_carries_by_after_designs_keys() -> None:
    change = resource_change("t1", "shop", KEY, synced(), drifted(Change("/spec/replicas", 2, 5, by=SET)))
    line = json.loads(json.dumps(change.to_json()))
    assert list(line) == [*DESIGN_KEYS, "by"]
    assert line["by"] == {"manager": "kubectl-set", "operation": "Update", "time": SET.time}
    assert (line["status"], line["previous"]["status"]) == ("OutOfSync", "Synced")


def test_a_line_with_nobody_named_keeps_designs_shape_exactly() -> None:
    unknown = resource_change("t1", "shop", KEY, synced(), drifted(Change("/spec/replicas", 3, 2)))
    assert list(unknown.to_json()) == DESIGN_KEYS
    back = resource_change("t2", "shop", KEY, drifted(Change("/spec/replicas", 2, 5, by=SET)), synced())
    assert back.by is None and list(back.to_json()) == DESIGN_KEYS, "Synced again: nobody to name"
    gone = resource_change("t3", "shop", KEY, synced(), None)
    assert gone.by is None and "by" not in gone.to_json()


def test_only_an_out_of_sync_line_names_anybody() -> None:
    # A change listed on a Missing resource is the whole object: never attributed, whatever it holds.
    missing = drifted(Change("", DESIRED, None, by=SET), status=SyncStatus.MISSING)
    assert resource_change("t1", "shop", KEY, None, missing).by is None


def test_the_reconciler_s_verdict_names_who_changed_the_live_object_last() -> None:
    app = App("shop", Source("./gitops"))
    reconciler = AppReconciler(app)
    reconciler.set_desired({KEY: DESIRED}, render_ok=True)
    reconciler.live_changed(KEY, copy.deepcopy(DESIRED))
    before = reconciler.results[KEY]
    assert before.status is SyncStatus.SYNCED
    obj = with_times(live("edited"), {"kubectl-set": "2026-12-07T15:59:00Z"})
    after = reconciler.live_changed(KEY, obj)
    change = resource_change("t1", "shop", KEY, before, after)
    assert change.status is SyncStatus.OUT_OF_SYNC and change.status_changed
    assert change.by == Attribution("kubectl-set", "Update", "2026-12-07T15:59:00Z")
    obj = with_times(live("edited"), {"kubectl-edit": "2026-12-07T16:01:00Z"})
    again = resource_change("t2", "shop", KEY, after, reconciler.live_changed(KEY, obj))
    assert again.by is not None and again.by.manager == "kubectl-edit"


def test_the_text_line_says_who_changed_it_counted_from_the_line_s_time() -> None:
    change = ResourceStatusChange(
        "2026-01-01T00:10:00.000Z",
        "shop",
        KEY,
        SyncStatus.OUT_OF_SYNC,
        Health.HEALTHY,
        SyncStatus.SYNCED,
        Health.HEALTHY,
        SET,
    )
    assert is_transition(change)
    assert change_line(change, Style(colour=False)) == (
        "2026-01-01T00:10:00.000Z  shop: Deployment.apps/shop/web  OutOfSync Healthy "
        "(was Synced Healthy)  changed by kubectl-set (Update) 2 min ago"
    )
    plain = ResourceStatusChange(
        change.ts, "shop", KEY, SyncStatus.OUT_OF_SYNC, Health.HEALTHY, SyncStatus.SYNCED, Health.HEALTHY
    )
    assert "changed by" not in change_line(plain, Style(colour=False))


# `check`'s text report.


def report(*changes: Change) -> list[str]:
    status = AppStatus("shop", AppSync.OUT_OF_SYNC, Health.HEALTHY, "a" * 40, (drifted(*changes),))
    return check_text([status], Style(colour=False), NOW).splitlines()


def test_each_drifted_field_line_says_who_changed_it() -> None:
    lines = report(
        Change("/spec/replicas", 2, 5, by=EDIT),
        Change(IMAGE, "ghcr.io/acme/web:1.0", "ghcr.io/acme/web:9.9", by=SET),
        Change("/spec/paused", None, True),
    )
    assert "    /spec/replicas: 2 -> 5 (changed by kubectl-edit, Update, 4 min ago)" in lines
    image = f"    {IMAGE}: ghcr.io/acme/web:1.0 -> ghcr.io/acme/web:9.9"
    assert f"{image} (changed by kubectl-set, Update, 2 min ago)" in lines
    assert "    /spec/paused: (absent) -> true" in lines, "nobody named: nothing is guessed"


def test_a_removed_field_names_who_last_wrote_beside_it() -> None:
    gone = Attribution("kubectl-edit", "Update", EDIT.time, parent=True)
    (line,) = [
        line for line in report(Change("/metadata/labels/tier", "frontend", None, by=gone)) if "tier" in line
    ]
    assert line.endswith("(removed; kubectl-edit, Update, last wrote beside it 4 min ago)")


def test_a_multiline_value_names_its_owner_on_its_head_line() -> None:
    change = Change("/data/app.conf", "a\nb\n", "a\nc\n", by=EDIT)
    lines = report(change)
    head = next(line for line in lines if "/data/app.conf" in line)
    assert head == "    /data/app.conf: (- live, + desired) (changed by kubectl-edit, Update, 4 min ago)"
    assert "      -c" in lines and "      +b" in lines


def test_an_owner_without_a_recorded_time_is_still_named() -> None:
    (line,) = [
        line
        for line in report(Change("/spec/replicas", 2, 5, by=Attribution("kubectl", "Update", "")))
        if "replicas" in line
    ]
    assert line.endswith("(changed by kubectl, Update, at an unrecorded time)")
