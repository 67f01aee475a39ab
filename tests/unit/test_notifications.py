"""Which transitions notify (core.notifications): each trigger, its deduplication, and the rate limit."""

from __future__ import annotations

import math

from core.model import AppSync, Health, ResourceAction, ResourceKey, ResourceOutcome, SyncResult, SyncStatus
from core.notification_config import Trigger
from core.notifications import MAX_RESOURCES_LISTED, NotificationTriggers, TokenBucket
from core.status_events import AppStatusChange, ResourceStatusChange, RollbackEvent

SYNCED, OUT, UNKNOWN = AppSync.SYNCED, AppSync.OUT_OF_SYNC, AppSync.UNKNOWN
HEALTHY, DEGRADED, PROGRESSING = Health.HEALTHY, Health.DEGRADED, Health.PROGRESSING
WEB = ResourceKey("apps", "Deployment", "shop", "web")
REVISIONS = {"shop": "a" * 40}


class Timeline:
    """Feeds an app's statuses one batch at a time, as the engine publishes them."""

    def __init__(self) -> None:
        self.triggers = NotificationTriggers()
        self.previous: tuple[AppSync, Health] | None = None

    def status(self, sync: AppSync, health: Health = HEALTHY, app: str = "shop") -> list[Trigger]:
        before = self.previous
        self.previous = (sync, health)
        change = AppStatusChange(
            "2026-01-01T00:00:00.000Z",
            app,
            sync,
            health,
            None if before is None else before[0],
            None if before is None else before[1],
        )
        return [n.trigger for n in self.triggers.changes([change], REVISIONS)]


def test_drift_notifies_once_when_synced_goes_out_of_sync() -> None:
    timeline = Timeline()
    assert timeline.status(SYNCED) == [], "the start-up snapshot is the baseline"
    assert timeline.status(OUT) == [Trigger.DRIFT]
    assert timeline.status(OUT, PROGRESSING) == [], "the same drift, another health: not again"
    assert timeline.status(SYNCED) == []
    assert timeline.status(OUT) == [Trigger.DRIFT], "repaired, then drifted again: once more"


def test_an_app_out_of_sync_at_start_notifies_only_after_it_was_seen_synced() -> None:
    timeline = Timeline()
    assert timeline.status(OUT) == []
    assert timeline.status(OUT, PROGRESSING) == []
    assert timeline.status(SYNCED) == []
    assert timeline.status(OUT) == [Trigger.DRIFT]


def test_unknown_neither_ends_nor_starts_a_drift() -> None:
    timeline = Timeline()
    timeline.status(SYNCED)
    assert timeline.status(OUT) == [Trigger.DRIFT]
    assert timeline.status(UNKNOWN) == []
    assert timeline.status(OUT) == [], "a cluster flapping unreachable is the same drift"
    assert timeline.status(SYNCED) == []
    assert timeline.status(UNKNOWN) == []
    assert timeline.status(OUT) == [Trigger.DRIFT], "Synced, unseen for a while, then OutOfSync: a drift"


def test_health_degraded_notifies_once_per_entry() -> None:
    timeline = Timeline()
    timeline.status(SYNCED, HEALTHY)
    assert timeline.status(SYNCED, DEGRADED) == [Trigger.HEALTH_DEGRADED]
    assert timeline.status(OUT, DEGRADED) == [Trigger.DRIFT], "drift is its own trigger"
    assert timeline.status(OUT, Health.UNKNOWN) == []
    assert timeline.status(OUT, DEGRADED) == [], "Unknown in between is not a recovery"
    assert timeline.status(OUT, HEALTHY) == []
    assert timeline.status(OUT, DEGRADED) == [Trigger.HEALTH_DEGRADED]


def test_a_repair_under_way_is_no_recovery_from_degraded() -> None:
    """A Deployment being fixed reads Progressing, then Degraded for a moment (its controller records
    the new generation before it clears ProgressDeadlineExceeded), then Healthy: one notification."""
    timeline = Timeline()
    timeline.status(SYNCED, PROGRESSING)
    assert timeline.status(SYNCED, DEGRADED) == [Trigger.HEALTH_DEGRADED], "Progressing, never Degraded: news"
    assert timeline.status(SYNCED, PROGRESSING) == []
    assert timeline.status(SYNCED, DEGRADED) == [], "the same Degraded"
    assert timeline.status(SYNCED, HEALTHY) == []
    assert timeline.status(SYNCED, PROGRESSING) == []
    assert timeline.status(SYNCED, DEGRADED) == [Trigger.HEALTH_DEGRADED], "recovered, then Degraded again"


def test_degraded_at_another_revision_is_news_again() -> None:
    triggers = NotificationTriggers()

    def status(health: Health, previous: Health | None, revision: str) -> list[Trigger]:
        change = AppStatusChange("t", "shop", SYNCED, health, None if previous is None else SYNCED, previous)
        return [n.trigger for n in triggers.changes([change], {"shop": revision})]

    assert status(DEGRADED, None, "a" * 40) == [], "Degraded at start is the baseline"
    assert status(PROGRESSING, DEGRADED, "a" * 40) == []
    assert status(DEGRADED, PROGRESSING, "a" * 40) == [], "still the Degraded kubedrift started with"
    assert status(PROGRESSING, DEGRADED, "b" * 40) == []
    (news,) = triggers.changes(
        [AppStatusChange("t", "shop", SYNCED, DEGRADED, SYNCED, PROGRESSING)], {"shop": "b" * 40}
    )
    assert (news.trigger, news.key) == (Trigger.HEALTH_DEGRADED, f"shop/healthDegraded/{'b' * 40}")


def test_apps_are_kept_apart() -> None:
    timeline = Timeline()
    timeline.status(SYNCED, app="shop")
    assert timeline.status(OUT, app="billing") == [], "billing's first status is its baseline"
    assert timeline.status(OUT, app="shop") == [Trigger.DRIFT]


def test_a_drift_names_the_resources_that_drifted_in_the_same_batch() -> None:
    triggers = NotificationTriggers()
    triggers.changes([AppStatusChange("t0", "shop", SYNCED, HEALTHY, None, None)], REVISIONS)
    keys = [ResourceKey("", "ConfigMap", "shop", f"cm-{i:02}") for i in range(MAX_RESOURCES_LISTED + 3)]
    batch = [
        ResourceStatusChange("t1", "shop", key, SyncStatus.OUT_OF_SYNC, HEALTHY, SyncStatus.SYNCED, HEALTHY)
        for key in keys
    ]
    batch.append(
        ResourceStatusChange("t1", "shop", WEB, SyncStatus.SYNCED, DEGRADED, SyncStatus.SYNCED, HEALTHY)
    )
    batch.append(AppStatusChange("t1", "shop", OUT, HEALTHY, SYNCED, HEALTHY))
    (drift,) = triggers.changes(batch, REVISIONS)
    assert drift.message == f"shop drifted from Git: {len(keys)} resources no longer match"
    assert [note.key for note in drift.resources] == keys[:MAX_RESOURCES_LISTED]
    assert drift.more_resources == 3
    assert drift.revision == REVISIONS["shop"]
    assert (drift.sync, drift.previous_sync) == ("OutOfSync", "Synced")
    assert drift.key == f"shop/drift/{REVISIONS['shop']}"


def failed_sync(revision: str, message: str = "admission webhook denied the request") -> SyncResult:
    return SyncResult(
        revision=revision,
        started_at="t",
        outcomes=(
            ResourceOutcome(WEB, ResourceAction.FAILED, message),
            ResourceOutcome(ResourceKey("", "Service", "shop", "web"), ResourceAction.CONFIGURED),
        ),
    )


def test_a_failed_sync_notifies_once_until_a_sync_succeeds_or_it_fails_otherwise() -> None:
    triggers = NotificationTriggers()
    first = failed_sync("r1")
    (notification,) = triggers.sync_finished("shop", first, "t1")
    assert notification.trigger is Trigger.SYNC_FAILED
    assert notification.message == "a sync of shop failed: 1 resource could not be applied"
    assert [(n.key, n.status, n.message) for n in notification.resources] == [
        (WEB, "failed", "admission webhook denied the request")
    ]
    assert triggers.sync_finished("shop", first, "t2") == [], "the same result looked at again"
    assert triggers.sync_finished("shop", failed_sync("r1"), "t3") == [], "self-heal failing the same way"
    assert len(triggers.sync_finished("shop", failed_sync("r1", "quota exceeded"), "t4")) == 1
    assert len(triggers.sync_finished("shop", failed_sync("r2", "quota exceeded"), "t5")) == 1, "new revision"
    assert triggers.sync_finished("shop", SyncResult(revision="r2", started_at="t"), "t6") == []
    assert len(triggers.sync_finished("shop", failed_sync("r2", "quota exceeded"), "t7")) == 1, (
        "after a success"
    )
    assert triggers.sync_finished("shop", None, "t8") == []


def test_a_failure_message_loses_its_credentials() -> None:
    triggers = NotificationTriggers()
    message = "cannot fetch https://oauth2:glpat-SECRET@gitlab.example.com/org/repo.git"
    (notification,) = triggers.sync_finished("shop", failed_sync("r1", message), "t")
    assert "glpat-SECRET" not in notification.resources[0].message
    assert "gitlab.example.com/org/repo.git" in notification.resources[0].message


def test_rollback_steps_that_roll_back_notify_once_each() -> None:
    triggers = NotificationTriggers()

    def step(name: str, to: str | None = "good", read_only: bool = False) -> RollbackEvent:
        return RollbackEvent("t", "shop", name, "bad", f"{name} message", to=to, read_only=read_only)

    assert triggers.changes([step("window-started", None), step("rollback-decided")], {}) == []
    (done,) = triggers.changes([step("rolled-back")], {})
    assert done.trigger is Trigger.ROLLED_BACK
    assert done.message == "shop rolled back: rolled-back message"
    assert done.key == "shop/rolledBack/rolled-back:bad:good"
    assert triggers.changes([step("rolled-back")], {}) == [], "the same step published twice"
    (failed,) = triggers.changes([step("rollback-failed", "other")], {})
    assert failed.message == "shop failed to roll back: rollback-failed message"


def test_a_forgotten_app_starts_again_from_a_baseline() -> None:
    timeline = Timeline()
    timeline.status(SYNCED)
    timeline.triggers.forget(["shop"])
    assert timeline.status(OUT) == []


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(per_minute=6, capacity=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert math.isclose(bucket.seconds_until_token(0.0), 10.0)
    assert not bucket.take(9.0)
    assert bucket.take(10.0)
    assert [bucket.take(1000.0) for _ in range(4)] == [True, True, True, False], "never more than the burst"
    assert TokenBucket(per_minute=0, capacity=0, now=0.0).seconds_until_token(5.0) == math.inf
