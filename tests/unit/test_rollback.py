"""The rollback decision: good revisions, the window, exactly one rollback, and the pin until Git moves."""

from __future__ import annotations

from dataclasses import replace

from core.analysis import AnalysisRun, Measurement, Phase
from core.analysis_expr import Condition
from core.model import AppSync, Health
from core.rollback import (
    Advance,
    AppRollback,
    Observation,
    RolledBack,
    advance,
    rollback_target,
    step_record,
)
from core.rollback_config import AnalysisMetric, PrometheusProvider, RollbackPolicy
from core.status_events import RollbackEvent

A, B, C = "a" * 40, "b" * 40, "c" * 40
ON_DEGRADED = RollbackPolicy(on_degraded=True, window=600.0)
ERRORS = AnalysisMetric(
    name="errors",
    query="ratio",
    prometheus=PrometheusProvider("http://prometheus:9090"),
    success_condition=Condition.parse("result[0] < 0.05"),
    interval=30.0,
    failure_limit=1,
)
ANALYSED = RollbackPolicy(window=600.0, analysis=(ERRORS,))


def seen(
    revision: str | None,
    sync: AppSync = AppSync.SYNCED,
    health: Health = Health.HEALTHY,
    *,
    synced: str | None = None,
    visible: bool = True,
    content: str = "",
) -> Observation:
    why = "Deployment/web: exceeded its progress deadline"
    return Observation(revision, sync, health, why, synced=synced, visible=visible, content=content)


def steps(result: Advance) -> list[str]:
    return [event.step for event in result.steps]


class Story:
    """The app's story, one look at a time, with a clock the test moves."""

    def __init__(
        self, policy: RollbackPolicy, state: AppRollback | None = None, *, read_only: bool = False
    ) -> None:
        self.policy = policy
        self.state = state or AppRollback(good=(A,))
        self.run: AnalysisRun | None = None
        self.now = 1_000.0
        self.read_only = read_only

    def look(self, observation: Observation, after: float = 0.0) -> Advance:
        self.now += after
        result = advance(
            "web", self.state, self.run, self.policy, observation, self.now, read_only=self.read_only
        )
        self.state, self.run = result.state, result.run
        return result


def test_first_sight_trusts_a_synced_healthy_revision_kubedrift_did_not_sync() -> None:
    story = Story(ON_DEGRADED, AppRollback())
    assert steps(story.look(seen(A, health=Health.PROGRESSING))) == [], "not yet: it is not Healthy"
    first = story.look(seen(A))
    assert steps(first) == ["revision-good"] and story.state.good == (A,)
    assert first.steps[0].ts == "1970-01-01T00:16:40.000Z", "stamped with the clock given"


def test_a_new_revision_opens_its_window_when_synced_and_degraded_inside_it_rolls_back_once() -> None:
    story = Story(ON_DEGRADED)
    assert steps(story.look(seen(B, AppSync.OUT_OF_SYNC))) == [], "Git moved, the cluster has not"
    opened = story.look(seen(B, AppSync.OUT_OF_SYNC, Health.PROGRESSING, synced=B))
    assert steps(opened) == ["window-started"] and story.state.watching == B
    assert opened.steps[0].message == f"watching {B[:7]} for 10m: Degraded"
    decided = story.look(seen(B, health=Health.DEGRADED, synced=B), after=120)
    assert steps(decided) == ["rollback-decided"]
    assert decided.decision is not None
    assert (decided.decision.bad, decided.decision.good) == (B, A)
    assert decided.decision.reason == "Degraded: Deployment/web: exceeded its progress deadline"
    assert story.state.rolled_back == RolledBack(B, A, decided.decision.reason)
    for after in (1, 60, 3600):  # still Degraded, then back at A and OutOfSync against B: never again
        again = story.look(seen(B, AppSync.OUT_OF_SYNC, Health.DEGRADED, synced=A), after=after)
        assert again.decision is None and again.steps == ()


def test_degraded_after_the_window_is_not_rolled_back_and_the_revision_became_good() -> None:
    story = Story(ON_DEGRADED)
    story.look(seen(B, synced=B))
    passed = story.look(seen(B, synced=B), after=600)
    assert steps(passed) == ["analysis-passed", "revision-good"] and story.state.good == (B, A)
    late = story.look(seen(B, health=Health.DEGRADED, synced=B), after=10)
    assert late.decision is None and late.steps == ()


def test_the_pin_holds_until_git_moves_past_the_bad_revision() -> None:
    pinned = AppRollback(good=(A,), rolled_back=RolledBack(B, A, "Degraded"))
    story = Story(ON_DEGRADED, pinned)
    assert story.look(seen(B, AppSync.OUT_OF_SYNC, synced=A), after=5).steps == ()
    assert story.look(seen(None), after=5).steps == (), "a render failure is no reason to let go"
    released = story.look(seen(C, AppSync.OUT_OF_SYNC, synced=A), after=5)
    assert steps(released) == ["pin-released"] and story.state.rolled_back is None
    assert released.steps[0].to == A and released.steps[0].revision == B
    assert steps(story.look(seen(C, AppSync.OUT_OF_SYNC, Health.PROGRESSING, synced=C))) == ["window-started"]


def test_git_back_at_a_good_revision_needs_no_window() -> None:
    story = Story(ON_DEGRADED, AppRollback(good=(B, A)))
    assert story.look(seen(A, synced=A)).steps == ()
    assert story.state.good == (A, B) and story.state.watching is None


def test_a_bad_revision_with_nothing_good_before_it_is_said_and_never_rolled_back() -> None:
    story = Story(ON_DEGRADED, AppRollback())
    story.look(seen(B, AppSync.OUT_OF_SYNC, synced=B))  # kubedrift synced it: it is new, not trusted
    nothing = story.look(seen(B, health=Health.DEGRADED, synced=B), after=1)
    assert steps(nothing) == ["rollback-impossible"] and nothing.decision is None
    assert "nothing to roll back to" in nothing.steps[0].message
    assert story.state.rejected == B
    assert story.look(seen(B, synced=B), after=900).steps == (), "never watched again, never good"
    assert story.state.good == ()


def test_failed_analysis_rolls_back_and_a_successful_measurement_is_not_a_step() -> None:
    story = Story(ANALYSED)
    opened = story.look(seen(B, synced=B))
    assert steps(opened) == ["window-started"] and opened.run is not None
    assert [metric.name for metric in opened.run.due(story.now)] == ["errors"]
    assert story.run is not None
    story.run = story.run.record("errors", Measurement(Phase.FAILED, story.now, "[0.5]", "errors = [0.5]"))
    assert story.look(seen(B, synced=B), after=1).decision is None, "within failureLimit 1"
    story.run = story.run.record("errors", Measurement(Phase.FAILED, story.now, "[0.5]", "errors = [0.5]"))
    decided = story.look(seen(B, synced=B), after=30)
    assert decided.decision is not None and decided.decision.good == A
    assert decided.decision.reason.startswith("analysis Failed: errors: 2 measurements failed")
    assert story.run is None


def test_an_inconclusive_analysis_is_reported_once_and_never_makes_the_revision_good() -> None:
    inconclusive = replace(ERRORS, failure_condition=Condition.parse("result[0] > 0.5"))
    story = Story(RollbackPolicy(window=600.0, analysis=(inconclusive,)))
    story.look(seen(B, synced=B))
    assert story.run is not None
    story.run = story.run.record("errors", Measurement(Phase.INCONCLUSIVE, story.now, "[0.2]", "neither"))
    reported = story.look(seen(B, synced=B), after=1)
    assert steps(reported) == ["analysis-inconclusive"] and reported.decision is None
    ended = story.look(seen(B, synced=B), after=600)
    assert ended.steps == () and story.state.good == (A,) and story.state.watching is None


def test_read_only_says_what_would_happen_and_decides_nothing() -> None:
    story = Story(ON_DEGRADED, read_only=True)
    story.look(seen(B))
    would = story.look(seen(B, health=Health.DEGRADED), after=1)
    assert would.decision is None
    assert would.steps[0].read_only and would.steps[0].message.startswith("read-only: would roll back")
    assert story.state.rolled_back is not None and not story.state.rolled_back.done
    assert story.state.rolled_back.label == f"would roll back (read-only): {B[:7]} -> {A[:7]}"


def test_nothing_is_decided_on_what_cannot_be_seen() -> None:
    story = Story(ON_DEGRADED)
    story.look(seen(B, synced=B))
    blind = story.look(seen(B, health=Health.DEGRADED, synced=B, visible=False), after=1)
    assert blind.decision is None and blind.steps == ()


FAILED = {"action": "failed"}


def test_rollback_target_prefers_the_pin_then_good_revisions_then_the_audit_file() -> None:
    audit = [
        {"app": "web", "operation": "sync", "revision": A, "dryRun": False, "results": []},
        {"app": "web", "operation": "sync", "revision": C, "dryRun": False, "results": [FAILED]},
        {"app": "web", "operation": "sync", "revision": C, "dryRun": True, "results": []},
        {"app": "other", "operation": "sync", "revision": C, "dryRun": False, "results": []},
        {"app": "web", "operation": "analysis", "step": "window-started", "revision": C, "dryRun": False},
        {"app": "web", "operation": "auto-sync", "revision": B, "dryRun": False, "results": []},
    ]
    assert rollback_target("web", AppRollback(), B, audit) == A
    assert rollback_target("web", AppRollback(), None, []) is None
    assert rollback_target("web", AppRollback(good=(B, C)), B, audit) == C
    pinned = AppRollback(good=(C,), rolled_back=RolledBack(B, A, "Degraded"))
    assert rollback_target("web", pinned, B, audit) == A


def test_a_step_is_audited_with_the_sync_lines_keys_and_no_credential() -> None:
    said = "analysis Error: cannot reach Prometheus at https://user:secret@prom/ (refused)"
    event = RollbackEvent("2024-05-01T10:00:00.000Z", "web", "rollback-decided", B, said, A)
    record = step_record(event, "alice")
    assert record == {
        "time": "2024-05-01T10:00:00.000Z",
        "user": "alice",
        "app": "web",
        "operation": "rollback",
        "revision": B,
        "dryRun": False,
        "results": [],
        "step": "rollback-decided",
        "message": record["message"],
        "to": A,
    }
    assert "secret" not in record["message"]
    window = RollbackEvent("2024-05-01T10:00:00.000Z", "web", "window-started", B, "watching")
    assert step_record(window, "alice")["operation"] == "analysis" and "to" not in step_record(window, "a")
    assert window.to_json() == {
        "ts": "2024-05-01T10:00:00.000Z",
        "app": "web",
        "rollback": {"step": "window-started", "revision": B, "message": "watching"},
    }
    assert event.to_json()["rollback"]["from"] == B and event.to_json()["rollback"]["to"] == A


def test_a_commit_that_leaves_the_apps_objects_as_they_are_does_not_move_past_the_bad_revision() -> None:
    # A monorepo: C changes another app's folder, so this app renders B's objects again.
    story = Story(ON_DEGRADED, AppRollback(good=(A,), good_content="objects-a"))
    story.look(seen(B, synced=B, content="objects-b"))
    decided = story.look(seen(B, health=Health.DEGRADED, synced=B, content="objects-b"), after=1)
    assert decided.decision is not None and story.state.rolled_back is not None
    assert story.state.rolled_back.content == "objects-b"
    same = story.look(seen(C, AppSync.OUT_OF_SYNC, synced=A, content="objects-b"), after=5)
    assert same.steps == () and story.state.rolled_back is not None, "still pinned"
    moved = story.look(seen(C, AppSync.OUT_OF_SYNC, synced=A, content="objects-c"), after=5)
    assert steps(moved) == ["pin-released"]


def test_commits_rendering_the_good_objects_or_the_watched_ones_open_no_new_window() -> None:
    story = Story(ON_DEGRADED, AppRollback(good=(A,), good_content="objects-a"))
    assert story.look(seen(C, synced=C, content="objects-a")).steps == (), "no window for the same objects"
    assert story.state.good == (C, A)
    story.look(seen(B, synced=B, content="objects-b"), after=1)
    started = story.state.window_started
    again = story.look(seen("d" * 40, synced="d" * 40, content="objects-b"), after=100)
    assert again.steps == () and story.state.window_started == started and story.state.watching == "d" * 40
