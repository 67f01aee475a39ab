"""What a webhook receives (core.notification_bodies): the generic JSON body and Slack's."""

from __future__ import annotations

import json

from core.model import ResourceKey
from core.notification_bodies import body_for, json_body, slack_body, suppressed_body
from core.notification_config import BodyFormat, Trigger
from core.notifications import Notification, ResourceNote
from core.status_events import RollbackEvent

WEB = ResourceKey("apps", "Deployment", "shop", "web")
DRIFT = Notification(
    ts="2026-01-01T00:00:00.000Z",
    app="shop",
    trigger=Trigger.DRIFT,
    message="shop drifted from Git: 1 resource no longer matches",
    revision="0123456789abcdef0123",
    sync="OutOfSync",
    health="Healthy",
    previous_sync="Synced",
    previous_health="Healthy",
    resources=(ResourceNote(WEB, "OutOfSync"),),
    more_resources=2,
)


def test_the_generic_body_says_what_where_and_from_what() -> None:
    assert json_body(DRIFT, "oncall") == {
        "kind": "kubedrift.notification",
        "id": "shop/drift/0123456789abcdef0123",
        "ts": "2026-01-01T00:00:00.000Z",
        "hook": "oncall",
        "trigger": "drift",
        "app": "shop",
        "revision": "0123456789abcdef0123",
        "sync": "OutOfSync",
        "health": "Healthy",
        "previous": {"sync": "Synced", "health": "Healthy"},
        "message": "shop drifted from Git: 1 resource no longer matches",
        "resources": [
            {"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web", "status": "OutOfSync"}
        ],
        "moreResources": 2,
    }


def test_a_rollback_body_carries_the_step_as_watch_prints_it() -> None:
    step = RollbackEvent("t", "shop", "rolled-back", "bad", "Degraded", to="good")
    notification = Notification("t", "shop", Trigger.ROLLED_BACK, "shop rolled back", "bad", rollback=step)
    body = json_body(notification, "oncall")
    assert body["rollback"] == {
        "step": "rolled-back",
        "revision": "bad",
        "from": "bad",
        "to": "good",
        "message": "Degraded",
    }
    assert "sync" not in body and "resources" not in body


def test_the_slack_body_has_a_fallback_text_and_blocks() -> None:
    body = slack_body(DRIFT)
    assert body["text"] == "shop: shop drifted from Git: 1 resource no longer matches"
    section, resources, context = body["blocks"]
    assert section == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": ":warning: *shop*: shop drifted from Git: 1 resource no longer matches",
        },
    }
    assert resources["text"]["text"] == "• `Deployment shop/web` OutOfSync\n… and 2 more"
    assert context["type"] == "context"
    assert "revision `0123456789ab`" in context["elements"][0]["text"]
    assert body_for(DRIFT, "oncall", BodyFormat.SLACK) == body
    assert body_for(DRIFT, "oncall", BodyFormat.JSON) == json_body(DRIFT, "oncall")


def test_slack_control_characters_are_escaped() -> None:
    notification = Notification("t", "shop", Trigger.SYNC_FAILED, "a <b> & c", "r")
    assert slack_body(notification)["blocks"][0]["text"]["text"] == ":x: *shop*: a &lt;b&gt; &amp; c"


def test_a_huge_section_is_cut_to_what_slack_accepts() -> None:
    notes = tuple(ResourceNote(WEB, "failed", "x" * 500) for _ in range(20))
    body = slack_body(Notification("t", "shop", Trigger.SYNC_FAILED, "failed", "r", resources=notes))
    assert all(len(block["text"]["text"]) <= 3000 for block in body["blocks"] if block["type"] == "section")


def test_the_rate_limit_summary_counts_what_was_held_back() -> None:
    body = suppressed_body("oncall", 7, "t", BodyFormat.JSON)
    assert body["trigger"] == "suppressed" and body["suppressed"] == 7
    assert (
        body["message"]
        == "7 more kubedrift notifications were not sent: the rate limit of hook oncall held them back"
    )
    slack = suppressed_body("oncall", 1, "t", BodyFormat.SLACK)
    assert slack["text"].startswith("1 more kubedrift notification was not sent")
    json.dumps(slack)  # JSON-serialisable as it is posted
