"""Sync: bring an app's objects in the cluster back to Git with server-side apply, and optionally prune.

This is the one module the engine and the CLI call for actions; the pieces live beside it:
`core.sync_plan` (what is applied, in what order), `core.prune` (what is deleted, behind which
guards), `core.self_heal` (when a drifted resource may be re-applied) and `core.audit`.

An object made with client-side `kubectl apply` is adopted before its apply: the fields
`kubectl-client-side-apply` owns move to kubedrift's Apply entry (`core.csa_upgrade`), so the apply
removes what Git dropped. Each object the server answers an apply with goes to `applied`: the
verdict right after the sync is read from it (`core.runtime`, drift rule 7).

Each resource ends `created`, `configured`, `unchanged`, `skipped` or `failed` with its reason
(and `pruned` from a prune). One bad resource never stops the others; a read-only adapter and a
refused prune stop the whole action before any request is made. The outcome of an apply is read
from the server's answer, never from the cache: the watch brings the change back (DESIGN "Data
flow"), and an action never edits the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from core.audit import scrub_secret_values, secret_values
from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.csa_upgrade import has_client_side_owner, migrate_client_side_ownership
from core.desired_state import DesiredState
from core.drift.last_applied import last_applied_changes
from core.drift.object_compare import dry_run_changes
from core.drift.rules import rules_for, schema_for
from core.model import App, ResourceAction, ResourceKey, ResourceOutcome, SyncResult, revision_label
from core.prune import PruneRefused, check_prune_allowed, prune_app, prune_candidates
from core.self_heal import SelfHealBackoff
from core.status_events import rfc3339_now
from core.sync_plan import apply_order, is_secret, prepare_for_apply

__all__ = [
    "PruneRefused",
    "SelfHealBackoff",
    "apply_order",
    "prepare_for_apply",
    "prune_app",
    "prune_candidates",
    "rfc3339_now",
    "sync_app",
]

Progress = Callable[[int, int, ResourceKey], None]
"""Called after each resource with (done, total, key), for an N/M progress line."""
Applied = Callable[[ResourceKey, Mapping[str, Any]], None]
"""Called with each object the server stored (or would store) after its apply: the verdict right
after the sync is read from it (DESIGN drift rule 7)."""

CRD_KEY: Final = ("apiextensions.k8s.io", "CustomResourceDefinition")
CRD_WAIT_SECONDS: Final = 10.0
"""How long a custom resource waits for the CRD this same sync created to be served."""
CRD_POLL_SECONDS: Final = 0.5
CHANGED_PATHS_SHOWN: Final = 5
ADOPTED_NOTE: Final = "took over the fields `kubectl apply` (client-side) owned"


def sync_app(
    adapter: ClusterAdapter,
    app: App,
    desired: DesiredState,
    live: Mapping[ResourceKey, Mapping[str, Any]],
    *,
    keys: Iterable[ResourceKey] | None = None,
    prune: bool = False,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    applied: Applied | None = None,
    now: Callable[[], str] = rfc3339_now,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Apply the app's desired objects (only `keys` when given, as self-heal does), then prune if asked.

    Raises ReadOnlyError on a read-only adapter and PruneRefused when `prune` is refused by its
    guards, both before any request; any other failure is the outcome of the resource it hit.
    `force` lets the prune delete a Namespace that holds objects the app does not track.
    """
    started_at = now()
    if adapter.read_only:
        raise ReadOnlyError(
            f"cannot sync app {app.name!r}: kubedrift is read-only for context {adapter.context!r} "
            "(--read-only or readOnly in kubedrift.yaml)"
        )
    if prune:
        check_prune_allowed(app, desired)  # a refused prune must not leave a half-done sync behind
    wanted = None if keys is None else set(keys)
    ordered = apply_order(key for key in desired.objects if wanted is None or key in wanted)
    to_prune: list[ResourceKey] = []
    pruning: set[ResourceKey] = set()
    if prune:
        candidates, kept = prune_candidates(app, desired, live)
        to_prune = [key for key in candidates if wanted is None or key in wanted]
        pruning = set(candidates) | {outcome.key for outcome in kept}
    strays = sorted((wanted or set()) - desired.objects.keys() - pruning)
    total = len(ordered) + len(to_prune)

    run = _ApplyRun(adapter, app, desired, live, dry_run=dry_run, force=force, sleep=sleep, applied=applied)
    outcomes: list[ResourceOutcome] = []
    for done, key in enumerate(ordered, start=1):
        outcomes.append(run.apply(key))
        if progress is not None:
            progress(done, total, key)
    if prune:
        outcomes.extend(run.prune(wanted, progress, offset=len(ordered), total=total))
    revision = desired.revision or ""
    stray_note = f"not in Git at revision {revision_label(revision) if revision else '?'}"
    outcomes.extend(ResourceOutcome(key, ResourceAction.SKIPPED, stray_note) for key in strays)
    return SyncResult(revision=revision, started_at=started_at, outcomes=tuple(outcomes), dry_run=dry_run)


class _ApplyRun:
    """The state one sync carries from resource to resource."""

    def __init__(
        self,
        adapter: ClusterAdapter,
        app: App,
        desired: DesiredState,
        live: Mapping[ResourceKey, Mapping[str, Any]],
        *,
        dry_run: bool,
        force: bool = False,
        sleep: Callable[[float], None],
        applied: Applied | None = None,
    ) -> None:
        self.adapter = adapter
        self.app = app
        self.desired = desired
        self.live = live
        self.dry_run = dry_run
        self.force = force
        self.sleep = sleep
        self.applied = applied
        self.unreachable: str | None = None
        """Set once the cluster stops answering: the remaining resources are not attempted."""
        self.defined_kinds = _kinds_defined_by_crds(desired.objects)
        self.applied_crds: set[tuple[str, str]] = set()
        self.unserved: dict[tuple[str, str], str] = {}
        """Kinds found not served, so the next object of the kind costs no rediscovery."""
        secrets = [obj for key, obj in desired.objects.items() if is_secret(key)]
        secrets += [obj for key, obj in live.items() if is_secret(key) and key in desired.objects]
        self.secrets = secret_values(secrets)

    def apply(self, key: ResourceKey) -> ResourceOutcome:
        if self.unreachable is not None:
            return ResourceOutcome(key, ResourceAction.FAILED, f"not attempted: {self.unreachable}")
        live = self.live.get(key)
        try:
            unserved = self._unserved_reason(key)
            if unserved is not None:
                if self.dry_run and (key.group, key.kind) in self.defined_kinds:
                    return ResourceOutcome(
                        key,
                        ResourceAction.CREATED,
                        "would be created once its CustomResourceDefinition is applied "
                        "(the server cannot check it before)",
                    )
                return ResourceOutcome(key, ResourceAction.SKIPPED, unserved)
            body = prepare_for_apply(self.app, key, self.desired.objects[key], live)
            adopted = self._adopt_client_side_apply(key, live)
            answer = self.adapter.apply(body, dry_run=self.dry_run, force=True)
        except ReadOnlyError:
            raise
        except ApiError as error:
            if self.dry_run and error.code == 404 and self._namespace_created_here(key):
                # A dry run creates nothing, so the namespace this sync would create is not there yet.
                return ResourceOutcome(
                    key,
                    ResourceAction.CREATED,
                    f"would be created in namespace {key.namespace}, which this sync creates "
                    "(the server cannot check it before)",
                )
            status = f"{error.code} {error.reason}".strip()
            message = self._scrub(error.message or str(error), status)
            return ResourceOutcome(key, ResourceAction.FAILED, message)
        except ClusterError as error:
            self.unreachable = self._scrub(str(error))
            return ResourceOutcome(key, ResourceAction.FAILED, self.unreachable)
        if (key.group, key.kind) == CRD_KEY and not self.dry_run:
            self.applied_crds |= _kinds_defined_by_crds({key: answer})
        if self.applied is not None:
            self.applied(key, answer)
        outcome = self._outcome(key, live, answer)
        if self.dry_run and live is not None and has_client_side_owner(live):
            outcome = self._with_adoption_removals(key, live, answer, outcome)
        if adopted and outcome.action is ResourceAction.CONFIGURED:
            outcome = ResourceOutcome(key, outcome.action, f"{outcome.message}; {adopted}")
        elif adopted == ADOPTED_NOTE:  # managedFields were written, even when nothing else was
            outcome = ResourceOutcome(key, ResourceAction.CONFIGURED, ADOPTED_NOTE)
        elif adopted:
            message = f"{outcome.message}; {adopted}" if outcome.message else adopted
            outcome = ResourceOutcome(key, outcome.action, message)
        return outcome

    def _adopt_client_side_apply(self, key: ResourceKey, live: Mapping[str, Any] | None) -> str:
        """Move `kubectl apply`'s client-side ownership of `key` to kubedrift before applying, so the
        apply removes what Git dropped (core.csa_upgrade); the note for the outcome, or "".

        A dry run writes nothing, so it cannot. A refused move does not stop the apply: what Git
        sets is still applied, and the note says what could not be taken over, and why."""
        if self.dry_run or not has_client_side_owner(live):
            return ""
        try:
            return ADOPTED_NOTE if migrate_client_side_ownership(self.adapter, key) else ""
        except ApiError as error:
            why = self._scrub(error.message, f"{error.code} {error.reason}".strip())
            return f"could not take over the fields `kubectl apply` owns: {why}"

    def _with_adoption_removals(
        self,
        key: ResourceKey,
        live: Mapping[str, Any],
        answer: Mapping[str, Any],
        outcome: ResourceOutcome,
    ) -> ResourceOutcome:
        """A dry run cannot move `kubectl apply`'s ownership, so the server's dry-run answer keeps
        what Git dropped; the fields the real sync removes once it has moved it are read from the
        last-applied configuration, as `check` reads them (core.drift.last_applied)."""
        desired = self.desired.objects[key]
        rules = rules_for(key, self.app.ignore_differences)
        already = {change.path for change in dry_run_changes(live, answer, secret=is_secret(key))}
        removals = last_applied_changes(desired, live, rules.ignore, schema_for(desired, rules), set())
        paths = sorted({change.path for change in removals} - already)
        if not paths:
            return outcome
        note = f"would take over the fields `kubectl apply` (client-side) owns and remove {_shown(paths)}"
        return ResourceOutcome(
            key, ResourceAction.CONFIGURED, f"{outcome.message}; {note}" if outcome.message else note
        )

    def prune(
        self, wanted: set[ResourceKey] | None, progress: Progress | None, *, offset: int, total: int
    ) -> list[ResourceOutcome]:
        candidates, _ = prune_candidates(self.app, self.desired, self.live)
        if self.unreachable is not None:
            note = f"not attempted: {self.unreachable}"
            return [
                ResourceOutcome(key, ResourceAction.FAILED, note)
                for key in candidates
                if wanted is None or key in wanted
            ]
        report = None
        if progress is not None:
            report = _offset_progress(progress, offset, total)
        return prune_app(
            self.adapter,
            self.app,
            self.desired,
            self.live,
            dry_run=self.dry_run,
            keys=wanted,
            progress=report,
            force=self.force,
        )

    def _namespace_created_here(self, key: ResourceKey) -> bool:
        namespace = ResourceKey("", "Namespace", "", key.namespace)
        return bool(key.namespace) and namespace in self.desired.objects and namespace not in self.live

    def _unserved_reason(self, key: ResourceKey) -> str | None:
        """Why the cluster cannot take `key` (its kind is not served), or None when it can."""
        group_kind = (key.group, key.kind)
        if group_kind in self.unserved and group_kind not in self.applied_crds:
            return self.unserved[group_kind]
        deadline: float | None = None
        while True:
            try:
                self.adapter.resource_for(key.group, key.kind)
                return None
            except ApiError as error:
                if error.code != 404:
                    raise
                if group_kind not in self.applied_crds:
                    self.unserved[group_kind] = error.message
                    return error.message
                # A CRD applied moments ago is served once the server has established it.
                deadline = deadline if deadline is not None else time.monotonic() + CRD_WAIT_SECONDS
                if time.monotonic() >= deadline:
                    return f"{error.message} (its CRD was applied by this sync but is not served yet)"
                self.sleep(CRD_POLL_SECONDS)

    def _outcome(
        self, key: ResourceKey, live: Mapping[str, Any] | None, answer: Mapping[str, Any]
    ) -> ResourceOutcome:
        if live is None:
            return ResourceOutcome(key, ResourceAction.CREATED, "would be created" if self.dry_run else "")
        version = _resource_version(live)
        if not self.dry_run and version and version == _resource_version(answer):
            return ResourceOutcome(key, ResourceAction.UNCHANGED)  # the server wrote nothing
        changes = dry_run_changes(live, answer, secret=is_secret(key))
        if not changes:
            return ResourceOutcome(key, ResourceAction.UNCHANGED)
        paths = sorted({change.path for change in changes})
        verb = "would change" if self.dry_run else "changed"
        return ResourceOutcome(key, ResourceAction.CONFIGURED, f"{verb} {_shown(paths)}")

    def _scrub(self, message: str, status: str = "") -> str:
        """`message`, or when it quotes a Secret value a sentence saying it was hidden, with `status`.

        Hidden whole, never masked in place: `namespaces "***" not found` tells that the value is
        the namespace's name.
        """
        return scrub_secret_values(message, self.secrets, status=status) if self.secrets else message


def _offset_progress(progress: Progress, offset: int, total: int) -> Progress:
    def report(done: int, _: int, key: ResourceKey) -> None:
        progress(offset + done, total, key)

    return report


def _kinds_defined_by_crds(objects: Mapping[ResourceKey, Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(group, kind) of every custom resource type the CRDs among `objects` define."""
    kinds: set[tuple[str, str]] = set()
    for key, obj in objects.items():
        if (key.group, key.kind) != CRD_KEY:
            continue
        spec = obj.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if group and kind:
            kinds.add((str(group), str(kind)))
    return kinds


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _shown(paths: list[str]) -> str:
    """The first CHANGED_PATHS_SHOWN paths, and how many more there are."""
    shown = ", ".join(paths[:CHANGED_PATHS_SHOWN])
    if len(paths) > CHANGED_PATHS_SHOWN:
        shown += f" and {len(paths) - CHANGED_PATHS_SHOWN} more"
    return shown
