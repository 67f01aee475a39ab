"""Recent Events beside drift attribution: which Events are about an object, and how `check -o json`
adds them to OutOfSync resources only."""

from __future__ import annotations

import json
from typing import Any

from core.cluster import ApiError
from core.model import AppStatus, AppSync, Health, HealthStatus, ResourceKey, ResourceResult, SyncStatus
from core.resource_events import RecentEvent, events_about, fetch_recent_events
from tui.commands.report import check_json

WEB = ResourceKey("apps", "Deployment", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")


def event(name: str = "web", **fields: Any) -> dict[str, Any]:
    involved = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "namespace": "shop"}
    involved.update(fields.pop("involved", {}))
    return {"involvedObject": involved, "reason": "Scaled", "message": "m", "type": "Normal", **fields}


def test_events_match_by_uid_when_both_sides_have_one() -> None:
    mine = event(involved={"uid": "u1"}, lastTimestamp="2026-01-01T00:01:00Z")
    older_object = event(involved={"uid": "u0"}, lastTimestamp="2026-01-01T00:02:00Z")
    (found,) = events_about([mine, older_object], WEB, "u1")
    assert found.time == "2026-01-01T00:01:00Z"


def test_events_match_by_kind_namespace_name_and_group_without_a_uid() -> None:
    events = [
        event(lastTimestamp="2026-01-01T00:01:00Z"),
        event("api", lastTimestamp="2026-01-01T00:02:00Z"),
        event(involved={"apiVersion": "example.com/v1"}, lastTimestamp="2026-01-01T00:03:00Z"),
        event(involved={"namespace": "other"}, lastTimestamp="2026-01-01T00:04:00Z"),
        {"reason": "no involvedObject"},
    ]
    assert [e.time for e in events_about(events, WEB)] == ["2026-01-01T00:01:00Z"]


def test_newest_first_and_at_most_the_limit() -> None:
    events = [event(lastTimestamp=f"2026-01-01T00:0{minute}:00Z", count=minute) for minute in range(8)]
    found = events_about(events, WEB, limit=3)
    assert [e.count for e in found] == [7, 6, 5]


def test_time_and_count_come_from_the_series_or_event_time_of_newer_events() -> None:
    series = event(series={"count": 4, "lastObservedTime": "2026-01-01T00:05:00.000000Z"}, count=None)
    bare = event(eventTime="2026-01-01T00:01:00.000000Z")
    created = event(metadata={"creationTimestamp": "2026-01-01T00:00:01Z"})
    found = events_about([series, bare, created], WEB)
    assert [(e.time, e.count) for e in found] == [
        ("2026-01-01T00:05:00.000000Z", 4),
        ("2026-01-01T00:01:00.000000Z", 1),
        ("2026-01-01T00:00:01Z", 1),
    ]


class FakeAdapter:
    def __init__(self, events: dict[str, list[dict[str, Any]]], refuse: frozenset[str] = frozenset()) -> None:
        self.events = events
        self.refuse = refuse
        self.listed: list[str | None] = []

    def resource_for(self, group: str, kind: str) -> str:
        assert (group, kind) == ("", "Event")
        return "events"

    def list(
        self, resource: Any, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        self.listed.append(namespace)
        if namespace in self.refuse:
            raise ApiError(403, "Forbidden", "events is forbidden")
        return self.events.get(namespace or "", []), "1"


def test_fetch_lists_each_namespace_once_and_a_refusal_gives_none() -> None:
    adapter = FakeAdapter(
        {"shop": [event(lastTimestamp="2026-01-01T00:01:00Z")]}, refuse=frozenset({"locked"})
    )
    api = ResourceKey("apps", "Deployment", "shop", "api")
    hidden = ResourceKey("apps", "Deployment", "locked", "web")
    found = fetch_recent_events(adapter, [(WEB, {"metadata": {"uid": ""}}), (api, None), (hidden, None)])
    assert set(found) == {WEB}
    assert adapter.listed == ["shop", "locked"]


def test_check_json_adds_events_to_out_of_sync_resources_only() -> None:
    healthy = HealthStatus(Health.HEALTHY)
    resources = (
        ResourceResult(CONFIG, "v1", SyncStatus.SYNCED, healthy),
        ResourceResult(WEB, "v1", SyncStatus.OUT_OF_SYNC, healthy),
    )
    status = AppStatus("shop", AppSync.OUT_OF_SYNC, Health.HEALTHY, "abc", resources)
    recent = (RecentEvent("Warning", "BackOff", "restarting", "2026-01-01T00:01:00Z", 2),)
    document = json.loads(check_json([status], {"shop": {WEB: recent, CONFIG: recent}}))
    web, config = (
        next(r for r in document["apps"][0]["resources"] if r["name"] == name)
        for name in ("web", "web-config")
    )
    assert web["events"] == [
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "restarting",
            "time": "2026-01-01T00:01:00Z",
            "count": 2,
        }
    ]
    assert "events" not in config
    assert json.loads(check_json([status])) == json.loads(check_json([status], {}))
    assert "events" not in json.dumps(json.loads(check_json([status])))
