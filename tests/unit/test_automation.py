"""Auto-sync and self-heal decisions: once per revision, only drifted keys, paced, never when unsafe."""

from __future__ import annotations

from core.automation import Automation
from core.model import App, Health, HealthStatus, ResourceKey, ResourceResult, Source, SyncPolicy, SyncStatus

WEB = ResourceKey("apps", "Deployment", "shop", "web")
CONFIG = ResourceKey("", "ConfigMap", "shop", "web-config")


def app(*, automated: bool = True, self_heal: bool = False, prune: bool = False) -> App:
    return App("shop", Source("/repo"), sync_policy=SyncPolicy(automated, prune, self_heal))


def results(**statuses: SyncStatus) -> dict[ResourceKey, ResourceResult]:
    keys = {"web": WEB, "config": CONFIG}
    return {
        keys[name]: ResourceResult(keys[name], "v1", status, HealthStatus(Health.HEALTHY))
        for name, status in statuses.items()
    }


def test_new_revision_is_synced_once() -> None:
    automation = Automation()
    drifted = results(web=SyncStatus.OUT_OF_SYNC)
    request = automation.next_action(app(prune=True), "r1", True, drifted, 0.0)
    assert request is not None and (request.keys, request.prune, request.operation) == (
        None,
        True,
        "auto-sync",
    )
    automation.started(request)
    assert automation.next_action(app(), "r1", True, drifted, 0.1) is None, "not while it runs"
    automation.finished(request)
    assert automation.next_action(app(), "r1", True, drifted, 0.2) is None, "not twice for one revision"
    assert automation.next_action(app(), "r2", True, drifted, 0.3) is not None


def test_revision_already_in_sync_needs_no_sync() -> None:
    automation = Automation()
    assert automation.next_action(app(), "r1", True, results(web=SyncStatus.SYNCED), 0.0) is None
    assert automation.synced_revisions == {"shop": "r1"}


def test_manual_apps_and_failed_renders_never_act() -> None:
    automation = Automation()
    drifted = results(web=SyncStatus.OUT_OF_SYNC)
    assert automation.next_action(app(automated=False), "r1", True, drifted, 0.0) is None
    assert automation.next_action(app(), "r1", False, drifted, 0.0) is None
    assert automation.next_action(app(), None, True, drifted, 0.0) is None


def test_self_heal_reapplies_only_drifted_keys_with_backoff() -> None:
    automation = Automation(synced_revisions={"shop": "r1"})
    policy = app(self_heal=True)
    now_drifted = results(web=SyncStatus.OUT_OF_SYNC, config=SyncStatus.SYNCED)
    first = automation.next_action(policy, "r1", True, now_drifted, 100.0)
    assert first is not None and (first.keys, first.operation, first.prune) == ((WEB,), "self-heal", False)
    automation.finished(first)
    assert automation.next_action(policy, "r1", True, now_drifted, 101.0) is None, "2 s backoff"
    second = automation.next_action(policy, "r1", True, now_drifted, 102.0)
    assert second is not None
    automation.finished(second)
    assert automation.next_action(policy, "r1", True, now_drifted, 107.0) is None, "then 6 s"
    assert automation.next_action(policy, "r1", True, now_drifted, 108.0) is not None


def test_without_self_heal_live_drift_is_left_alone() -> None:
    automation = Automation(synced_revisions={"shop": "r1"})
    assert automation.next_action(app(), "r1", True, results(web=SyncStatus.OUT_OF_SYNC), 0.0) is None
