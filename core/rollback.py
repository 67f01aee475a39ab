"""Automated rollback: per app, the last good revision, the window after a new one, and the pin.

What happens, per app with `syncPolicy.rollback` (core.rollback_config):
- **Good revisions.** A revision is good once it was seen Synced and Healthy after its window ended
  without a failure (or, the first time an app is seen at all, when it is already Synced and
  Healthy: there is nothing older to trust more). The last ten are kept, newest first.
- **The window.** When the cluster takes a new revision (the app is seen Synced at it, or kubedrift
  just synced it), kubedrift watches it for `window`: its health and, when `analysis` is given, an
  AnalysisRun of the Prometheus queries (core.analysis).
- **The decision.** Inside the window, `onDegraded` and a Degraded app, or an analysis that ends
  Failed or Error, make the revision bad: kubedrift decides, once, to sync the app back to the newest
  good revision. An Inconclusive analysis is not a failure: the revision is simply never counted
  good, and a person decides (`kubedrift rollback APP`).
- **The pin.** After a rollback the app stays at the good revision: auto-sync and self-heal leave it
  alone (it shows OutOfSync against Git, which is true) until Git's revision is another than the bad
  one. Git stays the source of truth: the next commit is synced, and watched, as usual.
- **Read-only.** The same watch runs, and its steps say what would happen (`readOnly`), but nothing
  is synced, audited or kept on disk.

The state of each app survives a restart (core.rollback_book keeps it on disk).

`advance` is the pure decision; core.rollback_book's `RollbackBook` keeps the states, the runs and
the file, and the engine (core.engine_automation) measures, syncs, audits and publishes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from core.analysis import AnalysisRun, Phase
from core.model import FOLDER_REVISION_PREFIX, AppSync, Health, revision_label
from core.redact import redact_text
from core.rollback_config import RollbackPolicy
from core.status_events import RollbackEvent

GOOD_KEPT: Final = 10


class Step(StrEnum):
    """The steps of a rollback watch, as the audit file and `watch -o jsonl` name them."""

    WINDOW_STARTED = "window-started"
    MEASUREMENT_FAILED = "measurement-failed"
    ANALYSIS_PASSED = "analysis-passed"
    ANALYSIS_INCONCLUSIVE = "analysis-inconclusive"
    REVISION_GOOD = "revision-good"
    ROLLBACK_DECIDED = "rollback-decided"
    NOTHING_TO_ROLL_BACK_TO = "rollback-impossible"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_FAILED = "rollback-failed"
    PIN_RELEASED = "pin-released"


_ROLLBACK_STEPS: Final = frozenset(
    {Step.ROLLBACK_DECIDED, Step.ROLLED_BACK, Step.ROLLBACK_FAILED, Step.PIN_RELEASED}
)


def short(revision: str) -> str:
    return revision_label(revision, 7)


def step_record(event: RollbackEvent, user: str) -> dict[str, Any]:
    """The audit line of a step: the sync line's keys (operation `rollback` for the steps of a
    rollback, `analysis` for the others; no results), then `step`, `message` and `to`."""
    record: dict[str, Any] = {
        "time": event.ts,
        "user": user,
        "app": event.app,
        "operation": "rollback" if event.step in _ROLLBACK_STEPS else "analysis",
        "revision": event.revision,
        "dryRun": False,
        "results": [],
        "step": event.step,
        "message": redact_text(event.message),  # a Prometheus address may carry a credential
    }
    if event.to is not None:
        record["to"] = event.to
    return record


@dataclass(frozen=True, slots=True)
class RolledBack:
    """A rollback decided: from the bad revision to the good one, and why."""

    bad: str
    good: str
    reason: str
    done: bool = True
    """False in read-only mode: what would have happened, with no pin on anything."""
    content: str = ""
    """The digest of the app's objects at the bad revision (`content_digest`): a commit that leaves
    them as they are (one to another app's folder of the repository) has not moved past it."""

    @property
    def label(self) -> str:
        """`RolledBack: <bad7> -> <good7>`, as the app shows it."""
        head = "RolledBack" if self.done else "would roll back (read-only)"
        return f"{head}: {short(self.bad)} -> {short(self.good)}"


@dataclass(frozen=True, slots=True)
class RollbackView:
    """What an app shows of its rollback watch: the rollback in force, and one line on the rest."""

    rolled_back: RolledBack | None
    note: str
    """`RolledBack: <bad7> -> <good7> (why)`, or what the window is doing, or the last good revision."""


@dataclass(frozen=True, slots=True)
class AppRollback:
    """What kubedrift knows about one app's revisions; kept on disk between runs."""

    good: tuple[str, ...] = ()
    """Revisions seen Synced and Healthy after passing their window, newest first."""
    good_content: str = ""
    """The digest of the app's objects at `good[0]`: a commit rendering the same objects is as good."""
    watching: str | None = None
    """The revision inside its window."""
    watching_content: str = ""
    """The digest of the app's objects at `watching`: a commit with the same objects keeps the window."""
    window_started: float | None = None
    """When the window of `watching` opened (seconds since the epoch)."""
    candidate: str | None = None
    """A revision whose window passed, good once it is seen Synced and Healthy."""
    rejected: str | None = None
    """A revision whose analysis was inconclusive, or bad with nothing to roll back to: never good,
    never watched again."""
    rolled_back: RolledBack | None = None
    """The rollback in force: the app is pinned at its good revision while Git stays at the bad one."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What the engine sees of an app now."""

    revision: str | None
    """Git's revision, settled; None when it is not known (not loaded, render failed)."""
    sync: AppSync
    health: Health
    health_message: str = ""
    """Why the app is Degraded, from its worst resource, for the rollback's reason."""
    synced: str | None = None
    """The revision of the last whole-app sync kubedrift ran for this app, if any."""
    content: str = ""
    """The digest of the app's desired objects at `revision` (`content_digest`); empty when unknown."""
    visible: bool = True
    """False while the cluster cannot be seen: nothing is decided on what cannot be seen."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A rollback to run now: sync `app` to `good`."""

    app: str
    bad: str
    good: str
    reason: str


@dataclass(frozen=True, slots=True)
class Advance:
    """What one look at an app changed: its state and run, the steps to report, and a rollback to run."""

    state: AppRollback
    run: AnalysisRun | None
    steps: tuple[RollbackEvent, ...] = ()
    decision: Decision | None = None


def timestamp(now: float) -> str:
    """`now` (seconds since the epoch) in RFC 3339 with milliseconds, as every event is stamped."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def advance(
    app: str,
    state: AppRollback,
    run: AnalysisRun | None,
    policy: RollbackPolicy,
    seen: Observation,
    now: float,
    *,
    read_only: bool = False,
) -> Advance:
    """The next state of `app`'s rollback watch, given what is seen now (see the module docstring)."""
    steps: list[RollbackEvent] = []

    def step(kind: Step, revision: str, message: str, to: str | None = None) -> None:
        steps.append(RollbackEvent(timestamp(now), app, str(kind), revision, message, to, read_only))

    revision = seen.revision
    if not seen.visible or revision is None:
        return Advance(state, run)

    pinned = state.rolled_back
    if pinned is not None:
        if holds(pinned, revision, seen.content):
            return Advance(state, run)
        state = replace(state, rolled_back=None)
        step(
            Step.PIN_RELEASED,
            pinned.bad,
            f"Git moved from {short(pinned.bad)} to {short(revision)}: {app} follows Git again",
            to=pinned.good,
        )

    healthy = seen.sync is AppSync.SYNCED and seen.health is Health.HEALTHY
    live = revision if seen.sync is AppSync.SYNCED or seen.synced == revision else None
    content = seen.content
    if live is not None and live != state.watching:
        if live in state.good or (content and content == state.good_content):
            # Git came back to a revision already trusted, or moved on without changing this app's
            # objects (a commit to another app's folder): nothing new to watch.
            state = replace(state, good=_first(live, state.good), good_content=content)
            state = replace(state, watching=None, window_started=None, watching_content="")
            run = None
        elif content and state.watching is not None and content == state.watching_content:
            state = replace(state, watching=live)  # the same objects: the same window goes on
        elif live not in (state.rejected, state.candidate):
            if not state.good and state.watching is None and state.candidate is None and seen.synced != live:
                # First sight of an app kubedrift did not just sync: trust what runs, if it runs well.
                if healthy:
                    state = replace(state, good=(live,), good_content=content)
                    step(Step.REVISION_GOOD, live, _good_text(live))
            else:
                state = replace(state, watching=live, window_started=now, candidate=None)
                state = replace(state, watching_content=content)
                run = AnalysisRun.start(policy.analysis, live, now) if policy.analysis else None
                step(Step.WINDOW_STARTED, live, _window_text(live, policy))

    watching, started = state.watching, state.window_started
    if watching is not None and started is not None:
        if run is None and policy.analysis:
            run = AnalysisRun.start(policy.analysis, watching, now)  # a restart inside the window
        reason = None
        if policy.on_degraded and seen.health is Health.DEGRADED:
            reason = f"Degraded: {seen.health_message}" if seen.health_message else "the app is Degraded"
        elif run is not None and run.phase in (Phase.FAILED, Phase.ERROR):
            reason = f"analysis {run.phase}: {run.message}"
        if reason is not None:
            return _decide(app, state, watching, reason, steps, step, read_only=read_only)
        if run is not None and run.phase is Phase.INCONCLUSIVE and state.rejected != watching:
            state = replace(state, rejected=watching)
            step(
                Step.ANALYSIS_INCONCLUSIVE,
                watching,
                f"{short(watching)} is not rolled back but never counted good: {run.message}; "
                f"`kubedrift rollback {app}` rolls it back by hand",
            )
        if now >= started + policy.window:
            ended = run.end() if run is not None else None
            if ended is not None and ended.phase is Phase.INCONCLUSIVE and state.rejected != watching:
                state = replace(state, rejected=watching)
                step(Step.ANALYSIS_INCONCLUSIVE, watching, f"{short(watching)}: {ended.message}")
            elif state.rejected != watching:
                state = replace(state, candidate=watching)
                said = f": {ended.message}" if ended is not None else ""
                step(Step.ANALYSIS_PASSED, watching, f"{short(watching)} passed its window{said}")
            state = replace(state, watching=None, window_started=None, watching_content="")
            run = None

    if state.candidate is not None and state.candidate == revision and state.watching is None and healthy:
        good = state.candidate
        state = replace(state, good=_first(good, state.good), good_content=content, candidate=None)
        step(Step.REVISION_GOOD, good, _good_text(good))
    return Advance(state, run, tuple(steps))


def _decide(
    app: str,
    state: AppRollback,
    bad: str,
    reason: str,
    steps: list[RollbackEvent],
    step: Callable[..., None],
    *,
    read_only: bool,
) -> Advance:
    target = next((good for good in state.good if good != bad), None)
    content = state.watching_content
    state = replace(state, watching=None, window_started=None, watching_content="")
    if target is None:
        state = replace(state, rejected=bad)
        step(
            Step.NOTHING_TO_ROLL_BACK_TO,
            bad,
            f"{short(bad)} is bad ({reason}), but no earlier revision passed: nothing to roll back to",
        )
        return Advance(state, None, tuple(steps))
    rolled_back = RolledBack(bad, target, reason, done=not read_only, content=content)
    state = replace(state, rolled_back=rolled_back)
    if read_only:
        message = f"read-only: would roll back {short(bad)} -> {short(target)} ({reason}); nothing was done"
        step(Step.ROLLBACK_DECIDED, bad, message, to=target)
        return Advance(state, None, tuple(steps))
    step(Step.ROLLBACK_DECIDED, bad, f"rolling back {short(bad)} -> {short(target)}: {reason}", to=target)
    return Advance(state, None, tuple(steps), Decision(app, bad, target, reason))


def holds(pinned: RolledBack, revision: str | None, content: str) -> bool:
    """Whether Git is still at the bad revision of `pinned`: the same commit, or another one with the
    very same objects for this app."""
    return revision == pinned.bad or bool(pinned.content and content == pinned.content)


def content_digest(objects: Mapping[Any, Mapping[str, Any]]) -> str:
    """A digest of an app's desired objects, the same for two commits that render the app the same."""
    digest = hashlib.sha256()
    for obj in sorted(json.dumps(obj, sort_keys=True, default=str) for obj in objects.values()):
        digest.update(obj.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _good_text(revision: str) -> str:
    return f"{short(revision)} is Synced and Healthy: the last good revision"


def _first(revision: str, good: tuple[str, ...]) -> tuple[str, ...]:
    return (revision, *(known for known in good if known != revision))[:GOOD_KEPT]


def _window_text(revision: str, policy: RollbackPolicy) -> str:
    watched = []
    if policy.on_degraded:
        watched.append("Degraded")
    if policy.analysis:
        names = ", ".join(metric.name for metric in policy.analysis)
        watched.append(f"analysis ({names})")
    return f"watching {short(revision)} for {duration_text(policy.window)}: {' and '.join(watched)}"


def duration_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


_SYNC_OPERATIONS: Final = frozenset({"sync", "auto-sync", "rollback"})


def rollback_target(
    app: str, state: AppRollback, current: str | None, audit: Sequence[Mapping[str, Any]]
) -> str | None:
    """Where `kubedrift rollback APP` goes from Git's `current` revision: the good revision of the
    rollback in force, else the newest good revision that is not `current`, else the newest
    revision other than `current` that a whole sync applied without a failure, per the audit file
    (oldest record first)."""
    pinned = state.rolled_back
    if pinned is not None and pinned.bad == current:
        return pinned.good
    for good in state.good:
        if good != current:
            return good
    for record in reversed(audit):
        revision = record.get("revision")
        if (
            record.get("app") == app
            and record.get("operation") in _SYNC_OPERATIONS
            and not record.get("dryRun")
            and "step" not in record
            and isinstance(revision, str)
            and revision
            and revision != current
            and not revision.startswith(FOLDER_REVISION_PREFIX)
            and not any(
                isinstance(result, Mapping) and result.get("action") == "failed"
                for result in record.get("results") or ()
            )
        ):
            return revision
    return None
