"""What a webhook is sent: a generic JSON body, or a Slack-compatible one (`{"text", "blocks"}`).

The generic body (`format: json`):
```json
{"kind": "kubedrift.notification", "id": "shop/drift/<sha>", "ts": "<RFC 3339>", "hook": "oncall",
 "trigger": "drift", "app": "shop", "revision": "<sha>", "sync": "OutOfSync", "health": "Healthy",
 "previous": {"sync": "Synced", "health": "Healthy"}, "message": "shop drifted from Git: ...",
 "resources": [{"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web",
                "status": "OutOfSync"}]}
```
`resources` may be followed by `moreResources` (a count); a `rolledBack` body carries `rollback` (as
`watch -o jsonl` prints it); the summary a rate limit sends has trigger `suppressed` and `suppressed`,
the number of notifications held back. `id` is the same for the same state: receivers may
deduplicate on it.

The Slack body works with Slack's incoming webhooks and with the many receivers that take the same
shape (Mattermost, Rocket.Chat): `text` is the fallback a notification shows, `blocks` the message.
"""

from __future__ import annotations

from typing import Any, Final

from core.notification_config import BodyFormat, Trigger
from core.notifications import Notification

_EMOJI: Final = {
    Trigger.DRIFT: ":warning:",
    Trigger.SYNC_FAILED: ":x:",
    Trigger.HEALTH_DEGRADED: ":broken_heart:",
    Trigger.ROLLED_BACK: ":leftwards_arrow_with_hook:",
}


def body_for(notification: Notification, hook: str, body_format: BodyFormat) -> dict[str, Any]:
    """The JSON document posted to `hook` for `notification`."""
    if body_format is BodyFormat.SLACK:
        return slack_body(notification)
    return json_body(notification, hook)


def json_body(notification: Notification, hook: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "kubedrift.notification",
        "id": notification.key,
        "ts": notification.ts,
        "hook": hook,
        "trigger": str(notification.trigger),
        "app": notification.app,
        "revision": notification.revision,
    }
    if notification.sync is not None:
        body["sync"] = notification.sync
        body["health"] = notification.health
        body["previous"] = {"sync": notification.previous_sync, "health": notification.previous_health}
    body["message"] = notification.message
    if notification.resources:
        body["resources"] = [
            {
                "group": note.key.group,
                "kind": note.key.kind,
                "namespace": note.key.namespace,
                "name": note.key.name,
                "status": note.status,
                **({"message": note.message} if note.message else {}),
            }
            for note in notification.resources
        ]
    if notification.more_resources:
        body["moreResources"] = notification.more_resources
    if notification.rollback is not None:
        body["rollback"] = notification.rollback.to_json()["rollback"]
    return body


def suppressed_body(hook: str, count: int, ts: str, body_format: BodyFormat) -> dict[str, Any]:
    """The summary sent once the rate limit lets one through again: how many were held back."""
    message = (
        f"{count} more kubedrift notification{'s were' if count != 1 else ' was'} not sent: "
        f"the rate limit of hook {hook} held {'them' if count != 1 else 'it'} back"
    )
    if body_format is BodyFormat.SLACK:
        return {"text": message, "blocks": [_section(f":mute: {_escape(message)}")]}
    return {
        "kind": "kubedrift.notification",
        "id": f"{hook}/suppressed/{ts}",
        "ts": ts,
        "hook": hook,
        "trigger": "suppressed",
        "suppressed": count,
        "message": message,
    }


def slack_body(notification: Notification) -> dict[str, Any]:
    headline = (
        f"{_EMOJI[notification.trigger]} *{_escape(notification.app)}*: {_escape(notification.message)}"
    )
    blocks: list[dict[str, Any]] = [_section(headline)]
    lines = [_resource_line(note.key, note.status, note.message) for note in notification.resources]
    if notification.more_resources:
        lines.append(f"… and {notification.more_resources} more")
    if lines:
        blocks.append(_section("\n".join(lines)))
    context = [f"trigger `{notification.trigger}`"]
    if notification.sync is not None:
        context.append(f"{notification.sync} · {notification.health}")
    if notification.revision:
        context.append(f"revision `{_escape(notification.revision[:12])}`")
    context.append(notification.ts)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {"text": f"{notification.app}: {notification.message}", "blocks": blocks}


def _resource_line(key: Any, status: str, message: str) -> str:
    where = f"{key.namespace}/" if key.namespace else ""
    line = f"• `{_escape(key.kind)} {_escape(where + key.name)}` {_escape(status)}"
    return f"{line}: {_escape(message)}" if message else line


def _section(text: str) -> dict[str, Any]:
    # Slack refuses a section over 3000 characters; a long failure message is cut, not the post.
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": text if len(text) <= 3000 else text[:2999] + "…"},
    }


def _escape(text: str) -> str:
    """Slack's mrkdwn escapes: only these three, as its message formatting guide says."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
