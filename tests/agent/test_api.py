"""The agent's HTTP API against the sandbox: auth, the status document, the stream, resources, refusals.

One read-only agent serves every test here. The tests change different objects of the shop app
(the Deployment, the ConfigMap, the Secret), and none relies on the app's own sync line, so they
hold in any order.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from core.agent_stream import STREAM_ID_HEADER
from tests.agent.agent_thread import TOKEN, AgentThread, wait_for
from tests.agent.conftest import ShopCluster
from tui.cli import main as kubedrift

WATCH_KEYS = {
    "ts",
    "app",
    "group",
    "kind",
    "namespace",
    "name",
    "status",
    "health",
    "previous",
    "seq",
    "agent",
}


def resource_status(agent: AgentThread, kind: str) -> str:
    app = agent.request("/api/v1/apps/shop").json()
    return str(next(r["status"] for r in app["resources"] if r["kind"] == kind))


def without_events(document: dict[str, Any]) -> dict[str, Any]:
    for app in document["apps"]:
        for resource in app["resources"]:
            resource.pop("events", None)
    return document


def test_api_paths_need_the_bearer_token_and_health_paths_do_not(agent: AgentThread) -> None:
    missing = agent.request("/api/v1/status", token=None)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token" in missing.json()["error"]
    wrong = agent.request("/api/v1/status", token=TOKEN + "x")
    assert wrong.status == 401
    assert "wrong" in wrong.json()["error"]
    assert (
        agent.request("/api/v1/status", token=None, headers={"Authorization": f"Basic {TOKEN}"}).status == 401
    )
    assert agent.request("/api/v1/nothing-here", token=None).status == 401, "unknown paths are not told"
    assert agent.request("/api/v1/status").status == 200

    health = agent.request("/healthz", token=None)
    assert (health.status, health.body) == (200, b"ok")
    ready = agent.request("/readyz", token=None)
    assert (ready.status, ready.body) == (200, b"ready")


def test_metrics_are_served_without_a_token(agent: AgentThread) -> None:
    metrics = agent.request("/metrics", token=None)
    assert metrics.status == 200, metrics.body
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = metrics.body.decode()
    assert 'kubedrift_app_sync_status{app="shop",cluster="sandbox",sync_status="' in text
    assert 'kubedrift_agent_info{identity="agent-test"' in text


def test_status_is_the_check_json_document_with_sequence_and_agent(
    agent: AgentThread, shop: ShopCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    kubedrift(
        ["check", "-o", "json", "--config", str(shop.config_path), "--kubeconfig", str(shop.kubeconfig)]
    )
    checked = without_events(json.loads(capsys.readouterr().out))
    served: dict[str, Any] = {}

    def same_as_check() -> bool:
        served.update(agent.request("/api/v1/status").json())
        apps = [{key: value for key, value in app.items() if key != "policy"} for app in served["apps"]]
        return without_events({"apps": apps}) == checked

    # The agent hears of a change by its watch; check lists afresh: they agree once the watch is in.
    wait_for(same_as_check, "the agent's status to equal check -o json")
    assert [app["name"] for app in served["apps"]] == ["shop"]
    # Beside check's keys, the policy the agent runs the app with (the attached TUI's POLICY column).
    assert served["apps"][0]["policy"] == {"automated": False, "selfHeal": False, "prune": False}
    assert {r["kind"] for r in served["apps"][0]["resources"]} == {
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "StatefulSet",
    }
    assert served["agent"] == {
        "name": "agent-test",
        "shard": None,
        "readOnly": True,
        "version": "0.1.0",
        "streamId": agent.service.identity.stream_id,
    }
    assert 1 <= served["sequence"] <= agent.service.stream.last
    assert list(served) == ["apps", "sequence", "agent"]


def test_one_app_and_unknown_names(agent: AgentThread) -> None:
    app = agent.request("/api/v1/apps/shop")
    assert app.status == 200
    document = app.json()
    assert (document["name"], isinstance(document["sequence"], int)) == ("shop", True)
    assert {"sync", "health", "resources", "errors", "revision"} <= set(document)
    unknown = agent.request("/api/v1/apps/nope")
    assert unknown.status == 404
    assert "'nope'" in unknown.json()["error"]
    missing = agent.request("/api/v1/apps/shop/resources/apps/Deployment/shop/nope")
    assert missing.status == 404
    assert "Deployment.apps/shop/nope" in missing.json()["error"]


def test_drift_is_a_numbered_line_and_a_resumed_stream_misses_nothing(
    agent: AgentThread, shop: ShopCluster
) -> None:
    start = agent.request("/api/v1/status").json()["sequence"]
    stream = agent.open_stream(f"?since={start}")
    assert stream.content_type.startswith("application/x-ndjson")
    shop.apps_api().patch_namespaced_deployment("web", "shop", {"spec": {"replicas": 5}})
    seen = list(stream.lines_until(lambda line: line.get("kind") == "Deployment"))
    assert [line["seq"] for line in seen] == list(range(start + 1, start + 1 + len(seen)))
    drifted = seen[-1]
    assert WATCH_KEYS <= set(drifted) <= WATCH_KEYS | {"by"}, "watch -o jsonl's line, numbered and signed"
    assert (drifted["status"], drifted["previous"]["status"]) == ("OutOfSync", "Synced")
    assert (drifted["agent"], drifted["name"]) == ("agent-test", "web")
    last_read = seen[-1]["seq"]
    stream.close()  # the connection drops; what happens now is read on resuming

    shop.apps_api().patch_namespaced_deployment("web", "shop", {"spec": {"replicas": 2}})
    wait_for(lambda: resource_status(agent, "Deployment") == "Synced", "the Deployment to be Synced again")
    now = agent.request("/api/v1/status").json()["sequence"]
    assert now > last_read

    resumed = agent.open_stream(f"?since={last_read}")
    missed = [resumed.next_line() for _ in range(now - last_read)]
    resumed.close()
    assert [line["seq"] for line in missed] == list(range(last_read + 1, now + 1)), "no gap, no repeat"
    back = next(line for line in missed if line.get("kind") == "Deployment")
    assert (back["status"], back["previous"]["status"]) == ("Synced", "OutOfSync")


def test_server_sent_events_resume_from_last_event_id(agent: AgentThread, shop: ShopCluster) -> None:
    start = agent.request("/api/v1/status").json()["sequence"]
    events = agent.open_stream(headers={"Accept": "text/event-stream", "Last-Event-ID": str(start)})
    assert events.content_type.startswith("text/event-stream")
    core = shop.core_api()
    core.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "debug"}})
    try:
        received: list[tuple[str, dict[str, Any]]] = []
        while not received or received[-1][1].get("kind") != "ConfigMap":
            received.append(events.next_event())
        events.close()
        assert [int(event_id) for event_id, _ in received] == list(
            range(start + 1, start + 1 + len(received))
        )
        assert all(int(event_id) == data["seq"] for event_id, data in received)
        assert events.comments == [b": keep-alive\n"], "the greeting is a comment"
        event_id, drifted = received[-1]
        assert (drifted["name"], drifted["status"]) == ("web-config", "OutOfSync")

        # Reconnecting as EventSource does, with the last id it saw before the ConfigMap's event.
        before = str(int(event_id) - 1)
        again = agent.open_stream("?format=sse", headers={"Last-Event-ID": before})
        assert again.next_event() == (event_id, drifted)
        again.close()
    finally:
        core.patch_namespaced_config_map("web-config", "shop", {"data": {"LOG_LEVEL": "info"}})


def test_a_secret_document_holds_no_secret_value(agent: AgentThread, shop: ShopCluster) -> None:
    shop.core_api().patch_namespaced_secret(
        "db-credentials", "shop", {"stringData": {"password": "hunter2-live"}}
    )
    path = "/api/v1/apps/shop/resources/core/Secret/shop/db-credentials"
    wait_for(lambda: agent.request(path).json()["resource"]["status"] == "OutOfSync", "the Secret to drift")
    reply = agent.request(path)
    document = reply.json()
    for value in ("s3cr3t-value", "hunter2-live"):
        assert value.encode() not in reply.body
        assert base64.b64encode(value.encode()) not in reply.body
    assert set(document) == {"resource", "diff", "live", "desired"}
    assert document["live"]["data"] == {"username": "********", "password": "********"}
    assert document["desired"]["stringData"] == {"username": "********", "password": "********"}
    assert [c["path"] for c in document["resource"]["changes"]] == ["/stringData/password"]
    assert "*** (changed)" in document["diff"], "the diff says which key changed, never its value"
    assert document["diff"].startswith("--- live\n+++ desired\n")


def test_a_read_only_agent_refuses_writes_and_sends_none(agent: AgentThread, shop: ShopCluster) -> None:
    shop.sandbox.faults.clear_request_log()
    sync = agent.request("/api/v1/apps/shop/sync", method="POST", body={"prune": True})
    assert sync.status == 403
    assert sync.json() == {
        "error": "the agent agent-test is read-only: set agent.allowWrites: true in its kubedrift.yaml "
        "to let it write"
    }
    policy = agent.request("/api/v1/apps/shop/policy", method="POST", body={"selfHeal": True})
    assert policy.status == 403
    refresh = agent.request("/api/v1/apps/shop/refresh", method="POST")
    assert (refresh.status, refresh.json()) == (202, {"refreshing": "shop"})
    wait_for(lambda: bool(shop.sandbox.request_log), "the refresh to relist")
    assert [r for r in shop.sandbox.request_log if r.is_write] == []


def test_watch_refuses_a_bad_or_foreign_sequence(agent: AgentThread) -> None:
    bad = agent.request("/api/v1/watch?since=abc")
    assert bad.status == 400
    last = agent.service.stream.last
    ahead = agent.request(f"/api/v1/watch?since={last + 1000}")
    assert ahead.status == 410
    body = ahead.json()
    assert "restarted" in body["error"]
    assert (body["oldest"], body["sequence"]) == (1, body["sequence"])
    assert body["sequence"] >= last
    # What tells a client its `since` counts in another process's numbering: this process's stream id.
    stream_id = agent.service.identity.stream_id
    assert ahead.headers[STREAM_ID_HEADER] == stream_id
    stream = agent.open_stream()
    try:
        assert stream.response.headers[STREAM_ID_HEADER] == stream_id
    finally:
        stream.response.close()


def test_the_token_file_is_read_again_when_rotated(agent: AgentThread, token_file: Path) -> None:
    original = token_file.read_text()
    try:
        token_file.write_text("rotated-token-value\n")
        assert agent.request("/api/v1/status", token="rotated-token-value").status == 200
        assert agent.request("/api/v1/status").status == 401
    finally:
        token_file.write_text(original)
    assert agent.request("/api/v1/status").status == 200
