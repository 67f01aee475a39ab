"""core.agent_json: an agent's JSON read back prints exactly what kubedrift prints in-process; and the
`kubedrift attach` command line's own mistakes."""

from __future__ import annotations

import pytest

from core.agent_json import app_status_from_json, change_from_json
from core.model import (
    AppStatus,
    AppSync,
    Attribution,
    Change,
    Health,
    HealthStatus,
    ResourceKey,
    ResourceResult,
    SyncStatus,
)
from core.status_events import (
    AppStatusChange,
    ChildAppChange,
    ResourceStatusChange,
    RollbackEvent,
    SharedResourceChange,
    StatusChange,
)
from tui.cli import main

WEB = ResourceKey("apps", "Deployment", "shop", "web")


def test_an_app_entry_reads_back_into_the_same_document() -> None:
    status = AppStatus(
        name="shop",
        sync=AppSync.OUT_OF_SYNC,
        health=Health.DEGRADED,
        revision="abc",
        resources=(
            ResourceResult(
                WEB,
                "v1",
                SyncStatus.OUT_OF_SYNC,
                HealthStatus(Health.DEGRADED),
                (
                    Change(
                        "/spec/replicas",
                        2,
                        5,
                        by=Attribution("kubectl-scale", "Update", "2026-01-01T00:00:00Z"),
                    ),
                ),
                shared_with=("other",),
            ),
            ResourceResult(
                ResourceKey("", "Namespace", "", "shop"),
                "v1",
                SyncStatus.MISSING,
                HealthStatus(Health.MISSING),
            ),
        ),
        errors=("a render failed",),
        warnings=("shared",),
        rolled_back=("bad", "good"),
        parent="root",
    )
    assert app_status_from_json(status.to_json()).to_json() == status.to_json()


def test_values_of_a_newer_agent_read_as_unknown() -> None:
    read = app_status_from_json(
        {"name": "x", "sync": "Drifting", "health": "Sleepy", "resources": [{"status": "?"}]}
    )
    assert (read.sync, read.health, read.resources[0].status) == (
        AppSync.UNKNOWN,
        Health.UNKNOWN,
        SyncStatus.UNKNOWN,
    )


@pytest.mark.parametrize(
    "change",
    [
        AppStatusChange("t", "shop", AppSync.OUT_OF_SYNC, Health.HEALTHY, AppSync.SYNCED, Health.HEALTHY),
        AppStatusChange("t", "shop", AppSync.SYNCED, Health.HEALTHY, None, None),
        ResourceStatusChange(
            "t",
            "shop",
            WEB,
            SyncStatus.OUT_OF_SYNC,
            Health.HEALTHY,
            SyncStatus.SYNCED,
            Health.HEALTHY,
            by=Attribution("kubectl-edit", "Update", "2026-01-01T00:00:00Z"),
        ),
        ResourceStatusChange("t", "shop", WEB, None, None, SyncStatus.SYNCED, Health.HEALTHY),
        RollbackEvent("t", "shop", "rolled-back", "bad", "back to good", to="good", read_only=True),
        SharedResourceChange("t", "shop", WEB, ("blog",), (), "declared by blog too"),
        ChildAppChange("t", "guestbook", "root", "added", "rendered by root"),
    ],
)
def test_each_watch_line_reads_back_into_its_change(change: StatusChange) -> None:
    assert hasattr(change, "to_json")
    line = change.to_json()  # type: ignore[union-attr]
    assert change_from_json({**line, "seq": 7, "agent": "eu-1"}) == change


def test_a_line_of_no_known_shape_is_none() -> None:
    assert change_from_json({"ts": "t", "app": "shop", "somethingNew": {}}) is None
    assert change_from_json({"app": "shop"}) is None


@pytest.mark.parametrize(
    ("arguments", "sentence"),
    [
        (
            ["--check", "-o", "jsonl"],
            "kubedrift: -o jsonl is for --watch; --check prints -o text or -o json\n",
        ),
        (
            ["--watch", "-o", "json"],
            "kubedrift: -o json is for --check; --watch prints -o text or -o jsonl\n",
        ),
        (["--app", "shop"], "kubedrift: -o and --app go with --check or --watch; the TUI shows every app\n"),
        (
            ["--check", "--ca-file", "ca.pem", "--insecure-skip-verify"],
            "kubedrift: --ca-file and --insecure-skip-verify contradict each other; keep one\n",
        ),
        (["http://a:1", "--check"], "kubedrift: the agent a:1 is given twice; give each agent's URL once\n"),
    ],
)
def test_attach_usage_mistakes_are_one_sentence(
    arguments: list[str], sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["attach", "http://a:1", *arguments]) == 2
    assert capsys.readouterr().err == sentence


def test_an_attach_url_with_credentials_is_refused_without_quoting_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["attach", "https://me:hunter2@a.example", "--check"]) == 2
    said = capsys.readouterr().err
    assert "carries credentials" in said and "hunter2" not in said
