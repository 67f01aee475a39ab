"""Every app's automated-rollback state, its analysis run, and the file that keeps them (core.rollback).

The state of each app survives a restart: it is kept in `rollback.json` beside the audit file, in
kubedrift's XDG state folder (0600), and read again when another process (`kubedrift rollback`)
changed it. Apps of a read-only cluster are never written. An analysis under way is not kept: after
a restart inside a window, it starts over for the rest of the window.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from core.analysis import AnalysisRun, Measurement, Phase
from core.desired_state import DesiredState
from core.rollback import (
    GOOD_KEPT,
    Advance,
    AppRollback,
    Decision,
    Observation,
    RollbackView,
    RolledBack,
    Step,
    advance,
    content_digest,
    duration_text,
    holds,
    short,
    timestamp,
)
from core.rollback_config import AnalysisMetric, RollbackPolicy
from core.status_events import RollbackEvent

ROLLBACK_FILE: Final = "rollback.json"
FILE_MODE: Final = 0o600


@dataclass
class RollbackBook:
    """Every app's rollback state and analysis run, kept on disk (see the module docstring).

    Used from the engine's loop only. `path` None is `rollback.json` beside the audit file, resolved
    when first needed (so XDG_STATE_HOME may be set after the engine is built)."""

    path: Path | None = None
    clock: Callable[[], float] = time.time
    states: dict[str, AppRollback] = field(default_factory=dict)
    runs: dict[str, AnalysisRun] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    """(app, metric) of the queries under way, so that none is sent twice."""
    read_only_apps: set[str] = field(default_factory=set)
    """Apps whose state is never written (read-only clusters)."""
    reload_every: float = 1.0
    """How often, at most, the file is looked at for another process's changes (seconds)."""
    _contents: dict[str, tuple[DesiredState, str]] = field(default_factory=dict)
    _loaded_stamp: tuple[int, int] | None = None
    _loaded: bool = False
    _looked_at: float | None = None

    def file(self) -> Path:
        if self.path is None:
            from core.audit import audit_path

            self.path = audit_path().with_name(ROLLBACK_FILE)
        return self.path

    def state(self, app: str) -> AppRollback:
        self._reload_if_changed()
        return self.states.get(app, AppRollback())

    def observe(
        self, app: str, policy: RollbackPolicy, seen: Observation, *, read_only: bool = False
    ) -> Advance:
        """Look at `app` now; the state is kept (and written unless read-only)."""
        if read_only:
            self.read_only_apps.add(app)
        before = self.state(app)
        result = advance(app, before, self.runs.get(app), policy, seen, self.clock(), read_only=read_only)
        if result.run is None:
            self.runs.pop(app, None)
        else:
            self.runs[app] = result.run
        if result.state != before:
            self.states[app] = result.state
            if not read_only:
                self._save()
        return result

    def due(self, app: str) -> tuple[AnalysisMetric, ...]:
        """The metrics of `app` whose measurement is due now and not under way; marked under way."""
        run = self.runs.get(app)
        if run is None:
            return ()
        due = tuple(metric for metric in run.due(self.clock()) if (app, metric.name) not in self.in_flight)
        self.in_flight.update((app, metric.name) for metric in due)
        return due

    def measured(self, app: str, revision: str, metric: str, measurement: Measurement) -> list[RollbackEvent]:
        """Count `measurement` in `app`'s run of `revision` (dropped when that run is over); the step to
        report when it was not Successful."""
        self.in_flight.discard((app, metric))
        run = self.runs.get(app)
        if run is None or run.revision != revision:
            return []
        self.runs[app] = run.record(metric, measurement)
        if measurement.phase is Phase.SUCCESSFUL:
            return []
        return [
            RollbackEvent(
                timestamp(self.clock()),
                app,
                str(Step.MEASUREMENT_FAILED),
                revision,
                f"measurement {measurement.phase}: {measurement.message}",
                read_only=app in self.read_only_apps,
            )
        ]

    def finished(self, decision: Decision, error: str | None) -> RollbackEvent:
        """The step that reports how the rollback sync of `decision` ended."""
        if error is None:
            return RollbackEvent(
                timestamp(self.clock()),
                decision.app,
                str(Step.ROLLED_BACK),
                decision.bad,
                f"synced back to {short(decision.good)}; pinned there until Git moves past "
                f"{short(decision.bad)}",
                decision.good,
            )
        return RollbackEvent(
            timestamp(self.clock()),
            decision.app,
            str(Step.ROLLBACK_FAILED),
            decision.bad,
            f"the rollback to {short(decision.good)} failed: {error}; still pinned, so nothing syncs "
            f"{short(decision.bad)} again: `kubedrift rollback {decision.app}` tries again",
            decision.good,
        )

    def view(self, app: str, policy: RollbackPolicy) -> RollbackView:
        """What `app` shows now (see RollbackView)."""
        state = self.state(app)
        rolled_back = state.rolled_back
        if rolled_back is not None:
            return RollbackView(rolled_back, f"{rolled_back.label} ({rolled_back.reason})")
        if state.watching is not None and state.window_started is not None:
            left = max(0.0, state.window_started + policy.window - self.clock())
            note = f"watching {short(state.watching)}, {duration_text(round(left))} left"
            run = self.runs.get(app)
            return RollbackView(None, f"{note}; {run.message}" if run is not None else note)
        if state.good:
            return RollbackView(None, f"last good revision {short(state.good[0])}")
        return RollbackView(None, "waiting for a Synced and Healthy revision to trust")

    def pinned(self, app: str, revision: str | None, content: str = "") -> RolledBack | None:
        """The rollback that holds `app` while Git is still at its bad revision (or at another commit
        with the very same objects, `content`)."""
        rolled_back = self.state(app).rolled_back
        if rolled_back is None or not rolled_back.done or not holds(rolled_back, revision, content):
            return None
        return rolled_back

    def content_of(self, app: str, desired: DesiredState) -> str:
        """`content_digest` of `desired`'s objects, computed once per desired state of the app."""
        known = self._contents.get(app)
        if known is not None and known[0] is desired:
            return known[1]
        digest = content_digest(desired.objects) if desired.render_ok else ""
        self._contents[app] = (desired, digest)
        return digest

    def pin(self, app: str, rolled_back: RolledBack) -> None:
        """Record a rollback a person ran (`kubedrift rollback`): the same pin as an automated one."""
        state = self.state(app)
        self.states[app] = replace(
            state,
            rolled_back=rolled_back,
            watching=None,
            window_started=None,
            watching_content="",
            candidate=None,
        )
        self.runs.pop(app, None)
        self._save()

    def release(self, app: str) -> None:
        """Lift `app`'s pin: Git has moved past the bad revision (`kubedrift rollback --revert`)."""
        state = self.state(app)
        if state.rolled_back is not None:
            self.states[app] = replace(state, rolled_back=None)
            self._save()

    # The file.

    def _reload_if_changed(self) -> None:
        # Asked for every app on every tick: one stat a second, however many apps.
        now = time.monotonic()
        if self._looked_at is not None and now - self._looked_at < self.reload_every:
            return
        self._looked_at = now
        stamp = _stamp(self.file())
        if self._loaded and stamp == self._loaded_stamp:
            return
        self._loaded, self._loaded_stamp = True, stamp
        for app, entry in _read(self.file()).items():
            if app in self.read_only_apps:
                continue
            loaded = _state_from_json(entry)
            if loaded is not None:
                self.states[app] = loaded

    def _save(self) -> None:
        """Best effort: a file that cannot be written loses the state only for a later run; the
        rollback sync itself is refused before anything is sent while the audit file (beside it)
        cannot take a line."""
        target = self.file()
        kept = _read(target)
        for app, state in self.states.items():
            if app not in self.read_only_apps:
                kept[app] = _state_to_json(state)
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(descriptor, "w") as out:
                json.dump({"apps": kept}, out, sort_keys=True, indent=1)
            os.replace(partial, target)
        except OSError:
            return
        self._loaded_stamp = _stamp(target)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    apps = document.get("apps") if isinstance(document, dict) else None
    return dict(apps) if isinstance(apps, dict) else {}


def _state_to_json(state: AppRollback) -> dict[str, Any]:
    rolled_back = state.rolled_back
    return {
        "good": list(state.good),
        "goodContent": state.good_content,
        "watching": state.watching,
        "watchingContent": state.watching_content,
        "windowStarted": state.window_started,
        "candidate": state.candidate,
        "rejected": state.rejected,
        "rolledBack": None
        if rolled_back is None or not rolled_back.done
        else {
            "bad": rolled_back.bad,
            "good": rolled_back.good,
            "reason": rolled_back.reason,
            "content": rolled_back.content,
        },
    }


def _state_from_json(entry: Any) -> AppRollback | None:
    """An app's state as kept; None when the entry is not one (hand-edited, another version)."""
    if not isinstance(entry, Mapping):
        return None
    try:
        good = tuple(str(revision) for revision in entry.get("good") or ())
        rolled = entry.get("rolledBack")
        rolled_back = (
            RolledBack(
                str(rolled["bad"]),
                str(rolled["good"]),
                str(rolled.get("reason") or ""),
                content=str(rolled.get("content") or ""),
            )
            if isinstance(rolled, Mapping)
            else None
        )
        started = entry.get("windowStarted")
        return AppRollback(
            good=good[:GOOD_KEPT],
            good_content=_optional_text(entry.get("goodContent")) or "",
            watching=_optional_text(entry.get("watching")),
            watching_content=_optional_text(entry.get("watchingContent")) or "",
            window_started=float(started) if isinstance(started, int | float) else None,
            candidate=_optional_text(entry.get("candidate")),
            rejected=_optional_text(entry.get("rejected")),
            rolled_back=rolled_back,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _optional_text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None
