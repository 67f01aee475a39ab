"""Posting to webhooks (core.webhook_sender) against a receiver on loopback: retries, backoff,
Retry-After, no retry on 4xx, the bounded queue, the rate limit, and no secret in any warning."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from core.model import AppSync, Health
from core.notification_config import BodyFormat, SecretReference, Trigger, Webhook, WebhookConfig
from core.notifications import Notification
from core.notifier import Notifier
from core.status_events import AppStatusChange
from core.webhook_sender import SenderSettings, WebhookSender, retry_after_seconds
from tests.webhook_receiver import WebhookReceiver

FAST = SenderSettings(timeout=2.0, attempts=3, backoff=0.01, max_backoff=0.05)
SECRET_PATH = "/services/T000/B000/S3CR3T"


def drift(app: str = "shop", revision: str = "r1") -> Notification:
    return Notification("t", app, Trigger.DRIFT, f"{app} drifted", revision, "OutOfSync", "Healthy")


def hook(
    url: str,
    *,
    name: str = "oncall",
    body_format: BodyFormat = BodyFormat.JSON,
    apps: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> Webhook:
    config = WebhookConfig(name, SecretReference("kubedrift.yaml:3", from_env="URL"), body_format, apps=apps)
    return Webhook(config, url, MappingProxyType(headers or {}))


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    running = WebhookReceiver()
    await running.start()
    yield running
    await running.stop()


async def settle(sender: WebhookSender, until: Callable[[], bool] | None = None) -> None:
    for _ in range(400):
        if sender.idle() and (until is None or until()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the sender never became idle")


async def test_a_notification_is_posted_once_with_its_headers(receiver: WebhookReceiver) -> None:
    warnings: list[str] = []
    sender = WebhookSender(
        [hook(receiver.url(), headers={"Authorization": "Bearer t0k"})], warnings.append, FAST
    )
    sender.start()
    sender.submit([drift()])
    await settle(sender)
    await sender.close()
    (received,) = receiver.received
    assert received.body["trigger"] == "drift" and received.body["app"] == "shop"
    assert received.headers["Authorization"] == "Bearer t0k"
    assert received.headers["User-Agent"] == "kubedrift-notifications"
    assert received.headers["Content-Type"] == "application/json"
    assert sender.counts("oncall").delivered == 1 and warnings == []


async def test_5xx_and_429_are_retried_until_delivered_once(receiver: WebhookReceiver) -> None:
    receiver.script([500, (429, {"Retry-After": "0"}), 200])
    warnings: list[str] = []
    sender = WebhookSender([hook(receiver.url())], warnings.append, FAST)
    sender.start()
    sender.submit([drift()])
    await settle(sender)
    await sender.close()
    assert receiver.attempts == 3
    assert len(receiver.received) == 1
    assert warnings == []


async def test_a_4xx_is_not_retried_and_the_warning_names_no_secret(receiver: WebhookReceiver) -> None:
    receiver.script([404])
    warnings: list[str] = []
    sender = WebhookSender([hook(receiver.url(SECRET_PATH))], warnings.append, FAST)
    sender.start()
    sender.submit([drift()])
    await settle(sender)
    await sender.close()
    assert receiver.attempts == 1
    assert warnings == [
        f"notification to oncall (http://127.0.0.1:{receiver.port}) was refused (HTTP 404); it is not sent "
        "again: check the hook's URL and headers"
    ]
    assert sender.counts("oncall").failed == 1


async def test_an_unreachable_hook_is_given_up_after_its_attempts() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    warnings: list[str] = []
    url = f"http://user:pa55@127.0.0.1:{port}{SECRET_PATH}?token=abc"
    sender = WebhookSender([hook(url)], warnings.append, FAST)
    sender.start()
    sender.submit([drift()])
    await settle(sender, lambda: sender.counts("oncall").failed == 1)
    await sender.close()
    (warning,) = warnings
    assert warning.startswith(
        f"notification to oncall (http://127.0.0.1:{port}) was not delivered in 3 attempts"
    )
    assert "cannot connect" in warning
    for secret in ("S3CR3T", "pa55", "abc"):
        assert secret not in warning


async def test_a_full_queue_drops_the_oldest_and_says_so_once(receiver: WebhookReceiver) -> None:
    warnings: list[str] = []
    sender = WebhookSender([hook(receiver.url())], warnings.append, SenderSettings(queue_size=2))
    sender.submit([drift(revision=f"r{i}") for i in range(5)])  # not started: nothing drains yet
    assert sender.counts("oncall").dropped == 3
    assert len(warnings) == 1 and "dropped the oldest (1 so far)" in warnings[0]
    sender.start()
    await settle(sender)
    await sender.close()
    assert [body["revision"] for body in receiver.bodies()] == ["r3", "r4"]


async def test_the_rate_limit_holds_back_and_then_sends_one_summary(receiver: WebhookReceiver) -> None:
    settings = SenderSettings(per_minute=1200.0, burst=2)  # a token every 50 ms
    sender = WebhookSender([hook(receiver.url())], [].append, settings)
    sender.start()
    sender.submit([drift(revision=f"r{i}") for i in range(5)])
    await settle(sender, lambda: len(receiver.received) == 3)
    await sender.close()
    first, second, summary = receiver.bodies()
    assert (first["revision"], second["revision"]) == ("r0", "r1")
    assert summary["trigger"] == "suppressed" and summary["suppressed"] == 3
    assert sender.counts("oncall").suppressed == 3


async def test_each_hook_gets_only_what_it_wants_in_its_format(receiver: WebhookReceiver) -> None:
    hooks = [
        hook(receiver.url("/json"), name="everything"),
        hook(receiver.url("/slack"), name="team", body_format=BodyFormat.SLACK, apps=("team-*",)),
    ]
    sender = WebhookSender(hooks, [].append, FAST)
    sender.start()
    sender.submit([drift("shop"), drift("team-web")])
    await settle(sender, lambda: len(receiver.received) == 3)
    await sender.close()
    by_path = sorted((item.path, item.body.get("app") or item.body["text"]) for item in receiver.received)
    assert by_path == [("/json", "shop"), ("/json", "team-web"), ("/slack", "team-web: team-web drifted")]


def test_retry_after_is_seconds_or_a_date_and_capped() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("99999", now) == 300.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def runtimes(*apps: tuple[str, str]) -> dict[str, Any]:
    """Stand-ins for AppRuntime: what the notifier reads of one (its parent, revision, last sync)."""
    return {
        name: SimpleNamespace(
            app=SimpleNamespace(parent=parent), desired=SimpleNamespace(revision="r"), last_sync=None
        )
        for name, parent in apps
    }


def status(app: str, sync: AppSync, previous: AppSync | None) -> AppStatusChange:
    return AppStatusChange(
        "t", app, sync, Health.HEALTHY, previous, None if previous is None else Health.HEALTHY
    )


async def test_watch_app_notifies_only_about_that_app_and_its_children(receiver: WebhookReceiver) -> None:
    config = WebhookConfig("oncall", SecretReference("kubedrift.yaml:3", from_env="URL"))
    apps = runtimes(("shop", ""), ("shop-child", "shop"), ("billing", ""))
    notifier = Notifier(
        [config], apps, warn=pytest.fail, environ={"URL": receiver.url()}, settings=FAST, only="shop"
    )
    publish = notifier.wrap([].append)
    notifier.start()
    publish([status(name, AppSync.SYNCED, None) for name in apps])
    publish([status(name, AppSync.OUT_OF_SYNC, AppSync.SYNCED) for name in apps])
    await settle(notifier.sender, lambda: len(receiver.received) == 2)
    await notifier.close()
    assert sorted(body["app"] for body in receiver.bodies()) == ["shop", "shop-child"]


async def test_a_failure_in_notifications_never_reaches_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    config = WebhookConfig("oncall", SecretReference("kubedrift.yaml:3", from_env="URL"))
    warnings: list[str] = []
    published: list[object] = []
    notifier = Notifier(
        [config], runtimes(("shop", "")), warn=warnings.append, environ={"URL": "http://127.0.0.1:9/"}
    )

    def broken(*args: object) -> list[Notification]:
        raise KeyError("bug")

    monkeypatch.setattr(notifier.triggers, "changes", broken)
    notifier.wrap(published.extend)([status("shop", AppSync.SYNCED, None)])
    assert len(published) == 1, "the engine's own publish still ran"
    assert warnings == ["a notification could not be made (KeyError); this is a bug in kubedrift"]
