"""The RollbackBook: states kept on disk across restarts, measurements in and out, read-only apart."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from core.analysis import Measurement, Phase
from core.analysis_expr import Condition
from core.model import AppSync, Health
from core.rollback import Decision, Observation, RolledBack
from core.rollback_book import RollbackBook
from core.rollback_config import AnalysisMetric, PrometheusProvider, RollbackPolicy

A, B, C = "a" * 40, "b" * 40, "c" * 40
ERRORS = AnalysisMetric(
    name="errors",
    query="ratio",
    prometheus=PrometheusProvider("http://prometheus:9090"),
    success_condition=Condition.parse("result[0] < 0.05"),
    interval=10.0,
)
POLICY = RollbackPolicy(on_degraded=True, window=60.0, analysis=(ERRORS,))


class Clock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


def book_at(path: Path, clock: Clock) -> RollbackBook:
    return RollbackBook(path=path, clock=clock, reload_every=0.0)


def synced(revision: str, health: Health = Health.HEALTHY, *, by_us: bool = True) -> Observation:
    return Observation(revision, AppSync.SYNCED, health, "", revision if by_us else None)


def test_the_state_survives_a_restart_and_the_file_is_private(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "state" / "rollback.json"
    book = book_at(path, clock)
    book.observe("web", POLICY, synced(A, by_us=False))
    book.observe("web", POLICY, synced(B))
    assert book.state("web").watching == B
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    later = book_at(path, clock)  # a new process
    assert later.state("web").good == (A,) and later.state("web").watching == B
    clock.now += 1
    assert later.due("web") == (), "no run until the app is looked at again"
    later.observe("web", POLICY, synced(B))
    assert [metric.name for metric in later.due("web")] == ["errors"], "the analysis starts over"


def test_a_due_query_is_not_sent_twice_and_a_failed_measurement_is_a_step(tmp_path: Path) -> None:
    clock = Clock()
    book = book_at(tmp_path / "rollback.json", clock)
    book.observe("web", POLICY, synced(A, by_us=False))
    book.observe("web", POLICY, synced(B))
    assert [metric.name for metric in book.due("web")] == ["errors"]
    assert book.due("web") == (), "under way"
    failed = Measurement(Phase.FAILED, clock.now, "[0.5]", "errors = [0.5]: 'result[0] < 0.05' is false")
    (step,) = book.measured("web", B, "errors", failed)
    assert (step.step, step.revision) == ("measurement-failed", B)
    assert step.message == "measurement Failed: errors = [0.5]: 'result[0] < 0.05' is false"
    decided = book.observe("web", POLICY, synced(B))
    assert decided.decision == Decision("web", B, A, decided.decision.reason if decided.decision else "")
    assert book.measured("web", B, "errors", failed) == [], "the run is over: a late answer is dropped"


def test_a_successful_measurement_is_no_step(tmp_path: Path) -> None:
    clock = Clock()
    book = book_at(tmp_path / "rollback.json", clock)
    book.observe("web", POLICY, synced(A, by_us=False))
    book.observe("web", POLICY, synced(B))
    book.due("web")
    assert book.measured("web", B, "errors", Measurement(Phase.SUCCESSFUL, clock.now, "[0]")) == []
    clock.now += 10
    assert [metric.name for metric in book.due("web")] == ["errors"], "the next one, an interval later"


def test_a_pin_written_by_another_process_is_read_again(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "rollback.json"
    engine = book_at(path, clock)
    engine.observe("web", POLICY, synced(A, by_us=False))
    assert engine.pinned("web", B) is None
    book_at(path, clock).pin("web", RolledBack(B, A, "kubedrift rollback by alice"))  # the CLI
    assert engine.pinned("web", B) == RolledBack(B, A, "kubedrift rollback by alice")
    assert engine.pinned("web", C) is None, "Git moved past B"
    assert engine.view("web", POLICY).note.startswith(f"RolledBack: {B[:7]} -> {A[:7]}")


def test_read_only_apps_are_never_written(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "rollback.json"
    book = book_at(path, clock)
    book.observe("web", POLICY, synced(A, by_us=False), read_only=True)
    book.observe("web", POLICY, synced(B, by_us=False), read_only=True)
    would = book.observe("web", POLICY, synced(B, Health.DEGRADED, by_us=False), read_only=True)
    assert would.decision is None and would.steps[0].read_only
    assert not path.exists()
    assert book.pinned("web", B) is None, "read-only pins nothing"
    assert book.view("web", POLICY).rolled_back is not None
    book.observe("shop", POLICY, synced(A, by_us=False))  # another app, writable: only it is kept
    assert set(json.loads(path.read_text())["apps"]) == {"shop"}


def test_a_broken_file_is_no_state_and_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "rollback.json"
    path.write_text('{"apps": {"web": {"good": 5}, "shop": "nonsense"}}')
    book = book_at(path, Clock())
    assert book.state("web").good == () and book.state("shop").good == ()
    book.observe("web", POLICY, synced(A, by_us=False))
    assert json.loads(path.read_text())["apps"]["web"]["good"] == [A]


def test_how_a_rollback_ended_is_said(tmp_path: Path) -> None:
    book = book_at(tmp_path / "rollback.json", Clock())
    decision = Decision("web", B, A, "Degraded")
    done = book.finished(decision, None)
    assert (done.step, done.revision, done.to) == ("rolled-back", B, A)
    failed = book.finished(decision, "2 resources failed")
    assert failed.step == "rollback-failed" and "still pinned" in failed.message
    assert "`kubedrift rollback web` tries again" in failed.message


def test_the_view_says_what_the_window_is_doing(tmp_path: Path) -> None:
    clock = Clock()
    book = book_at(tmp_path / "rollback.json", clock)
    assert book.view("web", POLICY).note == "waiting for a Synced and Healthy revision to trust"
    book.observe("web", POLICY, synced(A, by_us=False))
    assert book.view("web", POLICY).note == f"last good revision {A[:7]}"
    book.observe("web", POLICY, synced(B))
    clock.now += 15
    note = book.view("web", POLICY).note
    assert note.startswith(f"watching {B[:7]}, 45s left; analysis running: 0 measurements")
