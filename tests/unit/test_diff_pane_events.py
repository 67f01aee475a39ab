"""The recent Events under a resource's diff in the TUI (issue 15 item 5): which resources list them,
and how one reads. Fetching and showing them on the app screen is in tests/tui/test_diff_events.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.model import Change, Health, HealthStatus, ResourceKey, ResourceResult, SyncStatus
from core.resource_events import RecentEvent
from tui.resource_diff import event_line, wants_events

NOW = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
KEY = ResourceKey("apps", "Deployment", "shop", "web")
LIVE: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}


def result(status: SyncStatus, health: Health) -> ResourceResult:
    changes = (Change("/spec/replicas", 2, 5),) if status is SyncStatus.OUT_OF_SYNC else ()
    return ResourceResult(KEY, "v1", status, HealthStatus(health), changes)


@pytest.mark.parametrize(
    ("status", "health", "wanted"),
    [
        (SyncStatus.OUT_OF_SYNC, Health.HEALTHY, True),
        (SyncStatus.SYNCED, Health.DEGRADED, True),
        (SyncStatus.SYNCED, Health.PROGRESSING, True),
        (SyncStatus.SYNCED, Health.HEALTHY, False),
        (SyncStatus.SYNCED, Health.SUSPENDED, False),
        (SyncStatus.EXTRANEOUS, Health.HEALTHY, False),
        (SyncStatus.UNKNOWN, Health.UNKNOWN, False),
    ],
)
def test_drifted_or_unhealthy_live_resources_list_their_events(
    status: SyncStatus, health: Health, wanted: bool
) -> None:
    assert wants_events(result(status, health), LIVE) is wanted


def test_nothing_is_asked_about_an_object_that_is_not_live_or_not_judged() -> None:
    assert not wants_events(result(SyncStatus.OUT_OF_SYNC, Health.DEGRADED), None)
    assert not wants_events(None, LIVE)


def test_an_event_reads_as_type_reason_repeats_age_and_message() -> None:
    event = RecentEvent(
        "Warning", "BackOff", "Back-off restarting failed container", "2026-01-01T00:06:00Z", 5
    )
    assert (
        event_line(event, NOW) == "Warning BackOff (5 times), 4 min ago: Back-off restarting failed container"
    )
    once = RecentEvent(
        "Normal", "ScalingReplicaSet", "Scaled up replica set web-1 to 4", "2026-01-01T00:09:30Z", 1
    )
    assert event_line(once, NOW) == "Normal ScalingReplicaSet, just now: Scaled up replica set web-1 to 4"


def test_an_event_with_little_recorded_still_reads() -> None:
    assert event_line(RecentEvent("", "", "", "", 1), NOW) == "Event, at an unrecorded time"
    assert (
        event_line(RecentEvent("Normal", "Pulled", "", "", 2), NOW)
        == "Normal Pulled (2 times), at an unrecorded time"
    )


def test_a_message_is_one_line_and_never_shows_a_credential() -> None:
    message = "Failed to pull\nfrom https://robot:hunter2@registry.example.com/web:9.9\n  retrying"
    line = event_line(RecentEvent("Warning", "Failed", message, "2026-01-01T00:00:00Z", 1), NOW)
    assert "\n" not in line and "hunter2" not in line
    assert line.startswith("Warning Failed, 10 min ago: Failed to pull from https://")
    assert line.endswith("registry.example.com/web:9.9 retrying")
