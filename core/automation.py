"""When an automated app acts on its own: auto-sync of new revisions, and self-heal of live drift.

- Auto-sync (`syncPolicy.automated`): each new Git revision is synced once, whole app, pruning if
  the policy says so. At start-up the current revision counts as new when the app is out of sync.
- Self-heal (`selfHeal: true`): once the current revision was synced, drift caused by a live
  change is re-applied for the drifted resources alone, paced by `SelfHealBackoff`.
- Nothing happens for a read-only cluster, an app whose render failed, or while an action of
  the same app is still running.

Pure decisions: the engine asks `next_action` after each batch and on a slow tick, and runs
what it gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.model import App, ResourceKey, ResourceResult, SyncStatus
from core.self_heal import SelfHealBackoff

_HEALABLE = (SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A sync the engine should run now."""

    app: str
    revision: str
    keys: tuple[ResourceKey, ...] | None
    """None: the whole app."""
    prune: bool
    operation: str
    """`auto-sync` or `self-heal`, for the audit file."""


@dataclass
class Automation:
    """Remembers what each automated app already did."""

    synced_revisions: dict[str, str] = field(default_factory=dict)
    backoffs: dict[str, SelfHealBackoff] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)

    def next_action(
        self,
        app: App,
        revision: str | None,
        render_ok: bool,
        results: Mapping[ResourceKey, ResourceResult],
        now: float,
    ) -> SyncRequest | None:
        policy = app.sync_policy
        if not policy.automated or revision is None or not render_ok or app.name in self.running:
            return None
        drifted = any(
            result.status in _HEALABLE or result.status is SyncStatus.EXTRANEOUS
            for result in results.values()
        )
        if self.synced_revisions.get(app.name) != revision:
            if not drifted:
                self.synced_revisions[app.name] = revision  # already there: nothing to apply
                return None
            return SyncRequest(app.name, revision, None, policy.prune, "auto-sync")
        if not policy.self_heal:
            return None
        backoff = self.backoffs.setdefault(app.name, SelfHealBackoff())
        due: list[ResourceKey] = []
        for key, result in sorted(results.items()):
            if result.status in _HEALABLE:
                if backoff.due(key, now):
                    backoff.record_attempt(key, now)
                    due.append(key)
            elif result.status is SyncStatus.SYNCED:
                backoff.record_healthy(key, now)
        if not due:
            return None
        return SyncRequest(app.name, revision, tuple(due), False, "self-heal")

    def started(self, request: SyncRequest) -> None:
        self.running.add(request.app)

    def finished(self, request: SyncRequest) -> None:
        """The request ran. A revision is auto-synced once even if some resource failed: what is
        still drifted is then self-heal's to retry, with backoff, never a tight loop here."""
        self.running.discard(request.app)
        if request.keys is None:
            self.synced_revisions[request.app] = request.revision
