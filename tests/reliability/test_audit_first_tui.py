"""The audit trail comes first, in the TUI: a sync the audit file cannot record is refused with
nothing sent, and a sync whose line fails afterwards still shows its results, then the error."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from core.audit import read_audit
from sandbox.handle import SandboxThread
from tests.tui.conftest import config, kubeconfig_path, private_folders, sandbox, settings_for, wait_until
from tests.tui.test_app_screen import open_app
from tests.tui.test_dashboard import SIZE, apps_api
from tests.unit.test_audit import writes_to
from tui.app import KubedriftApp
from tui.settings import TuiSettings
from tui.widgets.event_log import EventLog

__all__ = ["config", "kubeconfig_path", "private_folders", "sandbox", "settings_for"]  # the fixtures


def audit_file(tmp_path: Path) -> Path:
    """Where the TUI tier's `private_folders` puts the audit file."""
    return tmp_path / "xdg_state_home" / "kubedrift" / "audit.jsonl"


async def test_a_sync_is_refused_with_nothing_sent_while_the_audit_file_is_unwritable(
    settings_for: Callable[..., TuiSettings], sandbox: SandboxThread, tmp_path: Path
) -> None:
    audit = audit_file(tmp_path)
    audit.mkdir(parents=True)  # a folder where the file should be: unwritable, as root too
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "staging")
        sandbox.faults.clear_request_log()
        await pilot.press("s", "y")
        log = screen.query_one(EventLog)
        await wait_until(pilot, lambda: any("refused" in line for line in log.texts), "the refusal")
        (refusal,) = [line for line in log.texts if "refused" in line]
        assert (
            f"sync of staging refused: cannot append to the audit file {audit} (Is a directory), so "
            "nothing was sent to the cluster" in refusal
        )
        assert not [r for r in sandbox.request_log if r.is_write]


async def test_a_sync_whose_audit_line_fails_shows_its_results_then_the_error(
    settings_for: Callable[..., TuiSettings], kubeconfig_path: Path, tmp_path: Path
) -> None:
    audit = audit_file(tmp_path)
    audit.parent.mkdir(parents=True)
    audit.write_bytes(b"")  # writable when checked; the disk fills up during the sync

    def half_then_full(real: Callable[[int, bytes], int], descriptor: int, data: bytes) -> int:
        real(descriptor, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "staging")
        log = screen.query_one(EventLog)
        with writes_to(audit, half_then_full):
            await pilot.press("s", "y")
            await wait_until(
                pilot, lambda: any("audit line" in line for line in log.texts), "the audit error", limit=30
            )
        texts = list(log.texts)
        results = next(i for i, line in enumerate(texts) if "sync: 5 created" in line)
        error = next(i for i, line in enumerate(texts) if "audit line was not written" in line)
        assert results < error, texts
        assert f"cannot append to the audit file {audit} (No space left on device)" in texts[error]
        runtime = app.engine.apps["staging"]
        assert runtime.last_sync is not None and len(runtime.last_sync.outcomes) == 5
    assert apps_api(kubeconfig_path).read_namespaced_deployment("web", "staging").spec.replicas == 2
    assert read_audit(audit) == [] and audit.read_bytes() == b"", "the torn half line was taken back"
