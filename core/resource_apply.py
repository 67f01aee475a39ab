"""One sync's writes, resource by resource: the apply (or replace, or create) of each desired object,
the adoption of what client-side `kubectl apply` owned, the wait for a CRD this sync created, and the
prune of leftovers, each ending in a `ResourceOutcome`.

`core.actions.sync_app` makes one `ApplyRun` per try of a sync and hands it to `core.sync_attempt`,
which runs the plan's phases and waves over it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from core.audit import scrub_secret_values, secret_values
from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.csa_upgrade import has_client_side_owner, migrate_client_side_ownership
from core.desired_state import DesiredState
from core.drift.last_applied import last_applied_changes
from core.drift.object_compare import dry_run_changes
from core.drift.rules import rules_for, schema_for
from core.health import HealthOverrides
from core.hook_run import HookRunner
from core.model import (
    ARGOCD_SYNC_OPTIONS_ANNOTATION,
    App,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
)
from core.prune import prune_app
from core.sync_options import SyncOptionError, annotation_sync_options
from core.sync_plan import is_secret, prepare_for_apply
from core.sync_wait import SyncWaiter
from core.sync_writes import apply_namespace, write_with_options

Applied = Callable[[ResourceKey, Mapping[str, Any]], None]
"""Called with each object the server stored (or would store) after its apply: the verdict right
after the sync is read from it (DESIGN drift rule 7)."""

CRD_KEY: Final = ("apiextensions.k8s.io", "CustomResourceDefinition")
CRD_WAIT_SECONDS: Final = 10.0
"""How long a custom resource waits for the CRD this same sync created to be served."""
CRD_POLL_SECONDS: Final = 0.5
CHANGED_PATHS_SHOWN: Final = 5
ADOPTED_NOTE: Final = "took over the fields `kubectl apply` (client-side) owned"
APPLY_OUT_OF_SYNC_ONLY_NOTE: Final = "in sync: not applied (ApplyOutOfSyncOnly=true)"


class ApplyRun:
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
        synced: frozenset[ResourceKey] = frozenset(),
        waiter: SyncWaiter | None = None,
        health_overrides: HealthOverrides | None = None,
    ) -> None:
        self.adapter = adapter
        self.app = app
        self.desired = desired
        self.live = live
        self.dry_run = dry_run
        self.force = force
        self.sleep = sleep
        self.applied = applied
        self.synced = synced
        self.waiter = waiter if waiter is not None else SyncWaiter(sleep=sleep)
        self.health_overrides = health_overrides
        self.options = app.sync_policy.sync_options
        self.unreachable: str | None = None
        """Set once the cluster stops answering: the remaining resources are not attempted."""
        self.defined_kinds = _kinds_defined_by_crds(desired.objects)
        self.applied_crds: set[tuple[str, str]] = set()
        self.unserved: dict[tuple[str, str], str] = {}
        """Kinds found not served, so the next object of the kind costs no rediscovery (until the
        next wave, by which a controller may have added a CRD)."""
        self.not_applied: set[ResourceKey] = set()
        """Resources in sync that `ApplyOutOfSyncOnly=true` left alone: nothing to wait for."""
        self.created_namespace = ""
        """The namespace `CreateNamespace=true` applied in this sync (in a dry run, would apply)."""
        secrets = [obj for key, obj in desired.objects.items() if is_secret(key)]
        secrets += [obj for key, obj in live.items() if is_secret(key) and key in desired.objects]
        self.secrets = secret_values(secrets)

    def apply(self, key: ResourceKey) -> ResourceOutcome:
        if self.unreachable is not None:
            return ResourceOutcome(key, ResourceAction.FAILED, f"not attempted: {self.unreachable}")
        live = self.live.get(key)
        try:
            options = self.options.overridden_by(annotation_sync_options(self.desired.objects[key]))
        except SyncOptionError as error:
            return ResourceOutcome(
                key, ResourceAction.FAILED, f"{error} in its annotation {ARGOCD_SYNC_OPTIONS_ANNOTATION}"
            )
        if options.apply_out_of_sync_only and key in self.synced and live is not None:
            self.not_applied.add(key)
            return ResourceOutcome(key, ResourceAction.UNCHANGED, APPLY_OUT_OF_SYNC_ONLY_NOTE)
        recreated = ""
        try:
            unserved = self._unserved_reason(key, wait=options.skip_dry_run_on_missing_resource)
            if unserved is not None:
                if self.dry_run and (key.group, key.kind) in self.defined_kinds:
                    return ResourceOutcome(
                        key,
                        ResourceAction.CREATED,
                        "would be created once its CustomResourceDefinition is applied "
                        "(the server cannot check it before)",
                    )
                if self.dry_run and options.skip_dry_run_on_missing_resource:
                    return ResourceOutcome(
                        key,
                        ResourceAction.CREATED,
                        f"would be created once its kind is served; SkipDryRunOnMissingResource=true "
                        f"skips the server's check ({unserved})",
                    )
                return ResourceOutcome(key, ResourceAction.SKIPPED, unserved)
            body = prepare_for_apply(self.app, key, self.desired.objects[key], live)
            adopted = self._adopt_client_side_apply(key, live) if options.client_side_apply_migration else ""
            answer, recreated = write_with_options(
                self.adapter,
                key,
                body,
                live,
                options,
                dry_run=self.dry_run,
                waiter=self.waiter,
                scrub=self._scrub,
            )
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
        if recreated:
            if not self.dry_run and self.applied is not None:
                self.applied(key, answer)
            verb = "would be deleted and created again" if self.dry_run else "deleted and created again"
            return ResourceOutcome(key, ResourceAction.CREATED, f"{verb} (Force=true): {recreated}")
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

    def create_namespace(self, name: str) -> ResourceOutcome | None:
        """Apply the destination namespace (`CreateNamespace=true`) with the app's managed metadata,
        unless Git declares it (Git's then wins) or it exists and there is no metadata to keep on it."""
        key = ResourceKey("", "Namespace", "", name)
        if not name or key in self.desired.objects:
            return None
        metadata = self.app.sync_policy.managed_namespace_metadata
        try:
            applied = apply_namespace(self.adapter, name, metadata, dry_run=self.dry_run)
            if applied is None:
                return None
            live, answer = applied
        except ReadOnlyError:
            raise
        except ClusterError as error:
            return ResourceOutcome(
                key, ResourceAction.FAILED, f"CreateNamespace=true: {self._scrub(str(error))}"
            )
        self.created_namespace = name if live is None else ""
        outcome = self._outcome(key, live, answer)
        note = "CreateNamespace=true" + (", with managedNamespaceMetadata" if metadata is not None else "")
        message = f"{outcome.message}; {note}" if outcome.message else note
        return ResourceOutcome(key, outcome.action, message)

    def hook_runner(self, started_unix: int) -> HookRunner:
        def body_for(key: ResourceKey, manifest: Mapping[str, Any]) -> dict[str, Any]:
            return prepare_for_apply(self.app, key, manifest, None)

        return HookRunner(
            self.adapter,
            body_for=body_for,
            owns=self.app.owns,
            revision=self.desired.revision or "",
            started_unix=started_unix,
            dry_run=self.dry_run,
            waiter=self.waiter,
            scrub=self._scrub,
            namespace_created_here=self._namespace_is_new,
            health_overrides=self.health_overrides,
        )

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
        self, keys: Sequence[ResourceKey], each: Callable[[ResourceKey], None]
    ) -> list[ResourceOutcome]:
        """Prune the extraneous objects `keys` (one step's), behind prune_app's guards; `each` is
        called after each one."""
        if self.unreachable is not None:
            note = f"not attempted: {self.unreachable}"
            for key in keys:
                each(key)
            return [ResourceOutcome(key, ResourceAction.FAILED, note) for key in keys]
        return prune_app(
            self.adapter,
            self.app,
            self.desired,
            self.live,
            dry_run=self.dry_run,
            keys=keys,
            progress=lambda done, total, key: each(key),
            force=self.force,
        )

    def _namespace_created_here(self, key: ResourceKey) -> bool:
        return bool(key.namespace) and self._namespace_is_new(key.namespace)

    def _namespace_is_new(self, name: str) -> bool:
        """Whether this sync creates namespace `name`: Git declares it and it is not there, or
        `CreateNamespace=true` created it (a dry run: would create it)."""
        namespace = ResourceKey("", "Namespace", "", name)
        declared = namespace in self.desired.objects and namespace not in self.live
        return declared or (bool(name) and name == self.created_namespace)

    def _unserved_reason(self, key: ResourceKey, *, wait: bool = False) -> str | None:
        """Why the cluster cannot take `key` (its kind is not served), or None when it can.

        A kind whose CRD this sync applied is waited for, as is, with `wait`, any kind
        (`SkipDryRunOnMissingResource=true`: a controller may be adding its CRD)."""
        group_kind = (key.group, key.kind)
        awaited = group_kind in self.applied_crds or (wait and not self.dry_run)
        if group_kind in self.unserved and not awaited:
            return self.unserved[group_kind]
        deadline: float | None = None
        while True:
            try:
                self.adapter.resource_for(key.group, key.kind)
                return None
            except ApiError as error:
                if error.code != 404:
                    raise
                if not awaited:
                    self.unserved[group_kind] = error.message
                    return error.message
                # A CRD applied moments ago is served once the server has established it.
                deadline = deadline if deadline is not None else time.monotonic() + CRD_WAIT_SECONDS
                if time.monotonic() >= deadline:
                    why = (
                        "its CRD was applied by this sync but is not served yet"
                        if group_kind in self.applied_crds
                        else f"not served after {CRD_WAIT_SECONDS:g} s, with SkipDryRunOnMissingResource=true"
                    )
                    return f"{error.message} ({why})"
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
