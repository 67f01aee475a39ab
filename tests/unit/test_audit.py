"""The audit trail comes first: the pre-flight check, whole lines, torn tails, the pause of
automation, and Secret messages hidden whole (never masked into an oracle)."""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.audit import (
    HIDDEN_MESSAGE,
    SPACE_MARGIN,
    AuditError,
    AuditWriteError,
    append_audit,
    audit_record,
    ensure_audit_writable,
    mask_outcomes,
    read_audit,
    scrub_secret_values,
    secret_values,
)
from core.automation import AUDIT_RECHECK_SECONDS, Automation
from core.model import (
    App,
    Health,
    HealthStatus,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
    ResourceResult,
    Source,
    SyncPolicy,
    SyncResult,
    SyncStatus,
)
from core.reconcile import AppReconciler
from core.runtime import AppRuntime
from tests.unit.test_actions import APP, REVISION, FakeAdapter, configmap, desired_state, now, secret

CONFIG = ResourceKey("", "ConfigMap", "shop", "a")
WEB = ResourceKey("apps", "Deployment", "shop", "web")
AS_ROOT = os.geteuid() == 0


def result_of(*outcomes: ResourceOutcome, dry_run: bool = False) -> SyncResult:
    return SyncResult(REVISION, now(), outcomes, dry_run)


def configured(message: str = "changed /data/X") -> SyncResult:
    return result_of(ResourceOutcome(CONFIG, ResourceAction.CONFIGURED, message))


# The pre-flight check.


def test_a_writable_audit_file_passes_the_check_and_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kubedrift" / "audit.jsonl"
    ensure_audit_writable(path, resources=10)
    assert path.read_bytes() == b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_folder_that_cannot_be_created_is_named_in_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    path = blocker / "kubedrift" / "audit.jsonl"
    with pytest.raises(AuditError) as caught:
        ensure_audit_writable(path)
    message = str(caught.value)
    assert message.startswith(f"cannot append to the audit file {path} (")
    assert "set XDG_STATE_HOME to a writable folder" in message
    assert "\n" not in message


def test_an_audit_file_that_does_not_open_for_append_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.mkdir()  # works as root too, where permissions do not stop anything
    with pytest.raises(AuditError, match=r"\(Is a directory\)") as caught:
        ensure_audit_writable(path)
    assert caught.value.path == path


@pytest.mark.skipif(AS_ROOT, reason="root writes through file permissions")
def test_a_file_without_write_permission_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    path.chmod(0o400)
    with pytest.raises(AuditError, match=r"\(Permission denied\)"):
        ensure_audit_writable(path)


def test_a_disk_without_room_for_the_line_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_statvfs = os.statvfs

    class Full:
        f_frsize = 4096
        f_bavail = 4  # 16 KiB: less than the margin

    monkeypatch.setattr(
        os, "statvfs", lambda target: Full() if str(tmp_path) in str(target) else real_statvfs(target)
    )
    with pytest.raises(AuditError, match=r"\(16 KiB free on its disk, \d+ KiB needed\)"):
        ensure_audit_writable(tmp_path / "audit.jsonl")
    Full.f_bavail = (SPACE_MARGIN + 100 * 512) // 4096 + 1
    ensure_audit_writable(tmp_path / "audit.jsonl", resources=100)
    with pytest.raises(AuditError, match="KiB needed"):
        ensure_audit_writable(tmp_path / "audit.jsonl", resources=1000)  # the line grows with the sync


# Whole lines.


@contextmanager
def writes_to(path: Path, fake: Callable[[Callable[[int, bytes], int], int, bytes], int]) -> Iterator[None]:
    """os.write replaced by `fake` for the audit file alone (told apart by its inode)."""
    real_write = os.write
    inode = path.stat().st_ino

    def write(descriptor: int, data: bytes) -> int:
        if os.fstat(descriptor).st_ino == inode:
            return fake(real_write, descriptor, data)
        return real_write(descriptor, data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "write", write)
        yield


def test_each_line_is_one_write_of_the_whole_record_then_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    writes: list[bytes] = []
    synced: list[int] = []
    real_fsync = os.fsync

    def record(real: Callable[[int, bytes], int], descriptor: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real(descriptor, data)

    def fsync(descriptor: int) -> None:
        synced.append(os.fstat(descriptor).st_ino)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    with writes_to(path, record):
        append_audit(configured(), app="shop", operation="sync", user="u", path=path)
    (line,) = writes
    assert line.endswith(b"\n") and json.loads(line)["results"][0]["name"] == "a"
    assert synced == [path.stat().st_ino]


def test_a_torn_tail_stays_its_own_line_and_the_next_record_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append_audit(configured(), app="shop", operation="sync", user="u", path=path)
    with path.open("ab") as handle:
        handle.write(b'{"time":"2025-01-02T03:04:05.000Z","user":"u","app":"sh')  # a crash, mid-line
    append_audit(configured(), app="canary", operation="self-heal", user="u", path=path)
    lines = path.read_bytes().split(b"\n")
    assert lines[1] == b'{"time":"2025-01-02T03:04:05.000Z","user":"u","app":"sh'
    assert json.loads(lines[2])["app"] == "canary", "the new record is not glued onto the fragment"
    assert lines[3] == b""
    assert [record["app"] for record in read_audit(path)] == ["shop", "canary"]


def test_a_write_cut_short_by_a_full_disk_is_taken_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append_audit(configured(), app="shop", operation="sync", user="u", path=path)
    before = path.read_bytes()

    def half_then_full(real: Callable[[int, bytes], int], descriptor: int, data: bytes) -> int:
        real(descriptor, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with writes_to(path, half_then_full), pytest.raises(AuditError) as caught:
        append_audit(configured(), app="canary", operation="sync", user="u", path=path)
    assert str(caught.value).startswith(f"cannot append to the audit file {path} (No space left on device);")
    assert path.read_bytes() == before, "the half line was truncated away"
    append_audit(configured(), app="web", operation="sync", user="u", path=path)
    assert [record["app"] for record in read_audit(path)] == ["shop", "web"]
    assert len(path.read_bytes().splitlines()) == 2


def test_a_short_write_is_taken_back_too(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")

    def short(real: Callable[[int, bytes], int], descriptor: int, data: bytes) -> int:
        return real(descriptor, data[:10])

    with writes_to(path, short), pytest.raises(AuditError, match=r"the disk took only 10 of \d+ bytes"):
        append_audit(configured(), app="shop", operation="sync", user="u", path=path)
    assert path.read_bytes() == b""


def test_a_torn_write_is_left_alone_when_someone_else_appended_after_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    other = b'{"app":"other-writer"}\n'

    def half_then_another_writer(real: Callable[[int, bytes], int], descriptor: int, data: bytes) -> int:
        real(descriptor, data[: len(data) // 2])
        with path.open("ab") as handle:  # a writer that does not take the lock
            handle.write(other)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with writes_to(path, half_then_another_writer), pytest.raises(AuditError):
        append_audit(configured(), app="shop", operation="sync", user="u", path=path)
    assert path.read_bytes().endswith(other), "another writer's line is never cut"
    append_audit(configured(), app="web", operation="sync", user="u", path=path)
    # The other writer glued its line onto our half (its doing): our next record is still whole.
    assert [record["app"] for record in read_audit(path)] == ["web"]


def test_reading_a_missing_audit_file_finds_nothing(tmp_path: Path) -> None:
    assert read_audit(tmp_path / "none.jsonl") == []


# One path for every sync: AppRuntime.sync.


def runtime_for(app: App = APP) -> AppRuntime:
    return AppRuntime(app, "test", AppReconciler(app))


@pytest.fixture
def unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The audit file is a folder: nothing can append to it, as root or not."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = tmp_path / "state" / "kubedrift" / "audit.jsonl"
    path.mkdir(parents=True)
    return path


def test_a_sync_is_refused_before_any_request_when_the_audit_file_is_unwritable(unwritable: Path) -> None:
    adapter = FakeAdapter()
    runtime = runtime_for()
    with pytest.raises(AuditError) as caught:
        runtime.sync(adapter, desired_state(configmap("a")), operation="sync")  # type: ignore[arg-type]
    assert not isinstance(caught.value, AuditWriteError)
    assert str(caught.value) == (
        f"sync of shop refused: cannot append to the audit file {unwritable} (Is a directory), so nothing "
        "was sent to the cluster; free some space or fix its permissions, or set XDG_STATE_HOME to a "
        "writable folder"
    )
    assert adapter.calls == [], "not even a discovery request"
    assert runtime.last_sync is None


def test_a_dry_run_proceeds_and_its_results_come_with_the_audit_error(unwritable: Path) -> None:
    adapter = FakeAdapter()
    with pytest.raises(AuditWriteError) as caught:
        runtime_for().sync(adapter, desired_state(configmap("a")), operation="sync", dry_run=True)  # type: ignore[arg-type]
    assert [(o.key, o.action) for o in caught.value.result.outcomes] == [(CONFIG, ResourceAction.CREATED)]
    assert caught.value.result.dry_run
    assert str(caught.value).startswith(
        f"the dry run of shop wrote nothing to the cluster but was not audited: cannot append to the "
        f"audit file {unwritable} (Is a directory);"
    )
    applies = [args for name, args in adapter.calls if name == "apply"]
    assert applies and all(dry_run for _, _, dry_run, _ in applies)


def test_a_sync_whose_line_fails_afterwards_carries_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    import core.runtime

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AuditError(tmp_path / "state" / "kubedrift" / "audit.jsonl", "No space left on device")

    monkeypatch.setattr(core.runtime, "append_audit", fail)
    runtime = runtime_for()
    with pytest.raises(AuditWriteError) as caught:
        runtime.sync(FakeAdapter(), desired_state(configmap("a")), operation="sync")  # type: ignore[arg-type]
    assert [o.action for o in caught.value.result.outcomes] == [ResourceAction.CREATED]
    assert runtime.last_sync is caught.value.result, "the sync happened, audited or not"
    assert "the sync of shop reached the cluster but its audit line was not written" in str(caught.value)


# Secret values: messages hidden whole.


def test_a_value_equal_to_the_namespace_name_is_no_oracle() -> None:
    values = secret_values([secret(password="shop")])
    message = 'namespaces "shop" not found'
    hidden = scrub_secret_values(message, values, status="404 NotFound")
    assert hidden == f"{HIDDEN_MESSAGE} (404 NotFound)"
    assert "***" not in hidden and "shop" not in hidden


def test_messages_that_quote_no_secret_value_are_kept_whole() -> None:
    values = secret_values([secret()])
    assert scrub_secret_values('configmaps "a" not found', values) == 'configmaps "a" not found'


def test_outcomes_and_audit_lines_hide_the_whole_message() -> None:
    values = secret_values([secret(password="hunter2-db")])
    result = result_of(
        ResourceOutcome(CONFIG, ResourceAction.FAILED, 'Invalid value: "hunter2-db": must be short'),
        ResourceOutcome(WEB, ResourceAction.CONFIGURED, "changed /spec/replicas"),
    )
    masked = mask_outcomes(result, values)
    assert [o.message for o in masked.outcomes] == [HIDDEN_MESSAGE, "changed /spec/replicas"]
    record = audit_record(result, app="shop", operation="sync", user="u", secret_values=values)
    assert [r["message"] for r in record["results"]] == [HIDDEN_MESSAGE, "changed /spec/replicas"]
    assert "hunter2" not in json.dumps(record)


def test_a_hidden_message_keeps_its_status_when_hidden_again() -> None:
    values = secret_values([secret(password="Secret value")])  # a value that the sentence itself holds
    once = scrub_secret_values('"Secret value" is bad', values, status="422 Invalid")
    assert scrub_secret_values(once, values) == once == f"{HIDDEN_MESSAGE} (422 Invalid)"


# Automation pauses while the audit file cannot take a line.


def automated(self_heal: bool = True) -> App:
    return App("shop", Source("/repo"), sync_policy=SyncPolicy(True, False, self_heal))


class AuditFile:
    """A check that fails while `broken`, counting how often it is asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.broken = True
        self.checks = 0

    def __call__(self) -> None:
        self.checks += 1
        if self.broken:
            raise AuditError(self.path, "Permission denied")


def test_automation_pauses_says_so_and_resumes_by_itself() -> None:
    audit = AuditFile(Path("/x/audit.jsonl"))
    automation = Automation(check_audit=audit)
    paused, error = automation.audit_pause(automated(), None, 10.0)
    assert paused
    assert error == (
        "auto-sync and self-heal paused: cannot append to the audit file /x/audit.jsonl "
        "(Permission denied); fix it and kubedrift resumes by itself"
    )
    audit.broken = False
    assert automation.audit_pause(automated(), error, 10.5) == (True, error), "until the next tick"
    assert automation.audit_pause(automated(), error, 10.0 + AUDIT_RECHECK_SECONDS) == (False, None)


def test_the_audit_file_is_checked_once_per_tick_not_per_event() -> None:
    audit = AuditFile(Path("/x/audit.jsonl"))
    automation = Automation(check_audit=audit)
    error = None
    for event in range(50):  # a burst of events within one tick
        _, error = automation.audit_pause(automated(), error, 5.0 + event / 100)
    assert audit.checks == 1
    automation.audit_pause(automated(), error, 5.0 + AUDIT_RECHECK_SECONDS)
    assert audit.checks == 2


def test_manual_apps_never_check_the_audit_file_and_keep_their_errors() -> None:
    audit = AuditFile(Path("/x/audit.jsonl"))
    automation = Automation(check_audit=audit)
    manual = App("shop", Source("/repo"))
    assert automation.audit_pause(manual, "some other error", 0.0) == (False, "some other error")
    assert audit.checks == 0


def test_other_automation_errors_survive_a_resume() -> None:
    audit = AuditFile(Path("/x/audit.jsonl"))
    audit.broken = False
    automation = Automation(check_audit=audit)
    assert automation.audit_pause(automated(), "self-heal failed: boom", 0.0) == (
        False,
        "self-heal failed: boom",
    )


def test_a_refused_auto_sync_stays_due() -> None:
    audit = AuditFile(Path("/x/audit.jsonl"))
    audit.broken = False
    automation = Automation(check_audit=audit)
    drifted = {
        WEB: ResourceResult(WEB, "v1", SyncStatus.OUT_OF_SYNC, HealthStatus(Health.HEALTHY)),
    }
    request = automation.next_action(automated(self_heal=False), "r1", True, drifted, 0.0)
    assert request is not None and request.operation == "auto-sync"
    automation.started(request)
    note = automation.refused(
        request, automated(self_heal=False), AuditError(audit.path, "Is a directory"), 0.0
    )
    assert note.startswith(
        "auto-sync paused: cannot append to the audit file /x/audit.jsonl (Is a directory)"
    )
    assert automation.audit_pause(automated(self_heal=False), note, 0.5) == (True, note)
    assert automation.audit_pause(automated(self_heal=False), note, 0.0 + AUDIT_RECHECK_SECONDS) == (
        False,
        None,
    )
    again = automation.next_action(automated(self_heal=False), "r1", True, drifted, 1.0)
    assert again is not None and again.keys is None, "the revision was not counted as synced"


def test_an_unaudited_sync_is_reported_and_pauses() -> None:
    audit = AuditFile(Path("/x/audit.jsonl"))
    automation = Automation(check_audit=audit)
    request = automation.next_action(
        automated(),
        "r1",
        True,
        {WEB: ResourceResult(WEB, "v1", SyncStatus.OUT_OF_SYNC, HealthStatus(Health.HEALTHY))},
        0.0,
    )
    assert request is not None
    error = AuditWriteError(
        configured(), AuditError(audit.path, "No space left on device"), app="shop", operation="auto-sync"
    )
    note = automation.unaudited(request, automated(), error, 0.0)
    assert note == (
        "auto-sync and self-heal paused: the last auto-sync reached the cluster without its audit line, "
        "since kubedrift cannot append to the audit file /x/audit.jsonl (No space left on device); fix it "
        "and kubedrift resumes by itself"
    )
    assert automation.audit_pause(automated(), note, 0.5) == (True, note), "the note stays while paused"


def test_a_revision_found_in_sync_during_a_pause_is_still_noted_as_synced() -> None:
    """Else a live change made during the pause would be reverted by an auto-sync on resuming, on an
    app without self-heal, where live changes are to be left alone."""
    automation = Automation(check_audit=AuditFile(Path("/x/audit.jsonl")))
    policy = automated(self_heal=False)
    in_sync = {WEB: ResourceResult(WEB, "v1", SyncStatus.SYNCED, HealthStatus(Health.HEALTHY))}
    assert automation.next_action(policy, "r1", True, in_sync, 0.0, paused=True) is None
    assert automation.synced_revisions == {"shop": "r1"}
    drifted = {WEB: ResourceResult(WEB, "v1", SyncStatus.OUT_OF_SYNC, HealthStatus(Health.HEALTHY))}
    assert automation.next_action(policy, "r1", True, drifted, 5.0) is None, "resumed: left alone"
    assert automation.next_action(policy, "r2", True, drifted, 6.0, paused=True) is None, "paused"
    assert automation.next_action(policy, "r2", True, drifted, 7.0) is not None, "resumed: r2 is due"
    heal = automated()
    automation.synced_revisions["shop"] = "r2"
    assert automation.next_action(heal, "r2", True, drifted, 8.0, paused=True) is None
    assert "shop" not in automation.backoffs or automation.backoffs["shop"].attempts(WEB) == 0
    healed = automation.next_action(heal, "r2", True, drifted, 9.0)
    assert healed is not None and healed.keys == (WEB,), "resumed: due at once, no backoff from the pause"
