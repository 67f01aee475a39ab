"""Running hooks: each is created fresh, followed to completion, and deleted as its policy says.

As in Argo CD (gitops-engine `sync_context.go`):
- a hook named by `generateName` gets its name from kubedrift, not the server: the generateName,
  then the revision's first 7 characters, the phase and the sync's start in Unix seconds
  (`upgrade-sql-schema` + `4f1c2a9-presync-1700000000`), so its name, and its tracking id, are
  known before it exists;
- a hook is created, never applied: a Job whose template changed in Git would otherwise be refused
  (`field is immutable`). One left by an earlier sync under the same name is deleted first when its
  policy is BeforeHookCreation (the default), and the creation waits until it is gone;
- a hook carries a finalizer of kubedrift's while it runs, so a Job that deletes itself when done
  (`ttlSecondsAfterFinished`) is not gone before its result is read; it is removed once it is;
- a hook has succeeded when its health says so: a Job that completes, a Pod that succeeds, another
  kind once it is Healthy (or has no health rule). Degraded or Unknown is a failure; Progressing or
  Suspended is still running;
- after the sync, a hook is deleted when it succeeded and has HookSucceeded, or failed and has HookFailed.

Hooks carry the app's tracking label and annotation like everything a sync writes. A live object
that is a hook is never compared and never pruned (`core.prune`, `core.reconcile`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.health import HealthOverrides, health_of
from core.model import Health, ResourceAction, ResourceKey, ResourceOutcome, revision_label
from core.sync_hooks import DeletePolicy, Hook, SyncPhase
from core.sync_wait import SyncWaiter

HOOK_FINALIZER: Final = "kubedrift.io/hook-finalizer"
HOOK_PROPAGATION: Final = "Background"
"""A hook (a Job) is deleted at once and its pods after: only its name has to be free again."""
MAX_NAME: Final = 63


class HookState(StrEnum):
    """Argo CD's operation phases for a hook."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class HookResult:
    """One run of a hook in one phase."""

    hook: Hook
    phase: SyncPhase
    key: ResourceKey
    """The hook as created: its generated name filled in."""
    state: HookState
    message: str = ""
    uid: str = ""
    created: bool = False
    deleted: str = ""
    """Why it was deleted after the sync (`HookSucceeded`, `HookFailed`), or empty."""

    @property
    def outcome(self) -> ResourceOutcome:
        action = ResourceAction.CREATED if self.state is HookState.SUCCEEDED else ResourceAction.FAILED
        message = f"{self.phase} hook {self.state}"
        if self.message:
            message += f": {self.message}"
        if self.deleted:
            message += f"; deleted ({self.deleted})"
        return ResourceOutcome(self.key, action, message)


def hook_name(hook: Hook, phase: SyncPhase, revision: str, started_unix: int) -> str:
    """The name a hook is created with: its own, or for `generateName`, Argo CD's formula."""
    if not hook.generate_name:
        return hook.key.name
    short = re.sub(r"[^a-z0-9]", "", revision_label(revision, 7).lower()) or "norev"
    postfix = f"{short}-{phase.value.lower()}-{started_unix}"
    return f"{hook.generate_name[: MAX_NAME - len(postfix)]}{postfix}"


class HookRunner:
    """Creates, follows and cleans up the hooks of one sync."""

    def __init__(
        self,
        adapter: ClusterAdapter,
        *,
        body_for: Callable[[ResourceKey, Mapping[str, Any]], dict[str, Any]],
        owns: Callable[[ResourceKey, Mapping[str, Any]], bool],
        revision: str,
        started_unix: int,
        dry_run: bool,
        waiter: SyncWaiter,
        scrub: Callable[[str], str] = lambda text: text,
        namespace_created_here: Callable[[str], bool] = lambda namespace: False,
        health_overrides: HealthOverrides | None = None,
    ) -> None:
        self.adapter = adapter
        self.body_for = body_for
        """The body to create for a hook's key and manifest (tracking added, `core.sync_plan`)."""
        self.owns = owns
        self.revision = revision
        self.started_unix = started_unix
        self.dry_run = dry_run
        self.waiter = waiter
        self.scrub = scrub
        self.namespace_created_here = namespace_created_here
        self.health_overrides = health_overrides
        """The user's health checks: a hook of a kind they judge completes by their rule."""

    def start(self, hook: Hook, phase: SyncPhase) -> HookResult:
        """Create the hook for `phase` (a dry run only asks the server); Running, or Failed with why."""
        name = hook_name(hook, phase, self.revision, self.started_unix)
        key = dataclasses.replace(hook.key, name=name)
        result = HookResult(hook, phase, key, HookState.RUNNING)
        try:
            resource = self.adapter.resource_for(key.group, key.kind)
            leftover = self.adapter.get(resource, key.namespace or None, name)
            note = ""
            if leftover is not None:
                refused = self._refuse_leftover(hook, key, leftover)
                if refused:
                    return dataclasses.replace(result, state=HookState.FAILED, message=refused)
                if self.dry_run:
                    note = "an earlier run would be deleted first (BeforeHookCreation)"
                else:
                    self._delete_leftover(resource, key, leftover)
            body = self.body_for(key, hook.obj)
            body["metadata"]["name"] = name
            if not self.dry_run:
                finalizers = list(body["metadata"].get("finalizers") or [])
                body["metadata"]["finalizers"] = [*finalizers, HOOK_FINALIZER]
            answer = self._create(body, note_if_exists=bool(note))
        except ReadOnlyError:
            raise
        except ApiError as error:
            if self.dry_run and error.code == 404 and self.namespace_created_here(key.namespace):
                message = f"would be created in namespace {key.namespace}, which this sync creates"
                return dataclasses.replace(result, state=HookState.SUCCEEDED, message=message)
            why = self.scrub(error.message or str(error))
            return dataclasses.replace(result, state=HookState.FAILED, message=f"not created: {why}")
        except ClusterError as error:
            return dataclasses.replace(result, state=HookState.FAILED, message=self.scrub(str(error)))
        if self.dry_run:
            message = "would be created" + (f"; {note}" if note else "")
            return dataclasses.replace(result, state=HookState.SUCCEEDED, message=message)
        uid = str((answer.get("metadata") or {}).get("uid") or "")
        return dataclasses.replace(result, uid=uid, created=True)

    def follow(self, results: Sequence[HookResult]) -> list[HookResult]:
        """Wait until every running hook of `results` has succeeded or failed, or the wait times out."""
        current = list(results)

        def settled() -> bool | None:
            for index, result in enumerate(current):
                if result.state is HookState.RUNNING:
                    current[index] = self._check(result)
            return True if all(result.state is not HookState.RUNNING for result in current) else None

        if self.waiter.until(settled) is None:
            timeout = self.waiter.timeout_text
            current = [
                dataclasses.replace(
                    result,
                    state=HookState.FAILED,
                    message=f"still running after {timeout}"
                    + (f" ({result.message})" if result.message else ""),
                )
                if result.state is HookState.RUNNING
                else result
                for result in current
            ]
        return [self._release(result) for result in current]

    def clean_up(self, results: Sequence[HookResult]) -> list[HookResult]:
        """Delete each created hook its policy says to delete, now that the sync is over."""
        cleaned: list[HookResult] = []
        for result in results:
            policy = (
                DeletePolicy.HOOK_SUCCEEDED
                if result.state is HookState.SUCCEEDED
                else DeletePolicy.HOOK_FAILED
            )
            if not result.created or not result.hook.deletes_on(policy):
                cleaned.append(result)
                continue
            try:
                resource = self.adapter.resource_for(result.key.group, result.key.kind)
                self.adapter.delete(
                    resource,
                    result.key.namespace or None,
                    result.key.name,
                    propagation=HOOK_PROPAGATION,
                    precondition_uid=result.uid or None,
                )
            except ReadOnlyError:
                raise
            except ClusterError as error:
                note = f"could not delete it ({policy}): {self.scrub(str(error))}"
                message = f"{result.message}; {note}" if result.message else note
                cleaned.append(dataclasses.replace(result, message=message))
                continue
            cleaned.append(dataclasses.replace(result, deleted=str(policy)))
        return cleaned

    # Steps.

    def _refuse_leftover(self, hook: Hook, key: ResourceKey, leftover: Mapping[str, Any]) -> str:
        """Why an object already named like the hook must not be deleted for it; empty when it may."""
        if not self.owns(key, leftover):
            return f"{key} already exists and is not this app's: left alone; rename the hook or delete it"
        if not hook.deletes_on(DeletePolicy.BEFORE_HOOK_CREATION):
            policies = ", ".join(sorted(hook.policies))
            return (
                f"{key} is left from an earlier sync and its delete policy ({policies}) keeps it: "
                "delete it, or add BeforeHookCreation to argocd.argoproj.io/hook-delete-policy"
            )
        return ""

    def _delete_leftover(self, resource: Any, key: ResourceKey, leftover: Mapping[str, Any]) -> None:
        """Delete an earlier run of the hook and wait until its name is free (BeforeHookCreation)."""
        metadata = leftover.get("metadata") or {}
        namespace = key.namespace or None
        self._drop_finalizer(resource, key, leftover)
        self.adapter.delete(
            resource,
            namespace,
            key.name,
            propagation=HOOK_PROPAGATION,
            precondition_uid=str(metadata.get("uid") or "") or None,
        )

        def gone() -> bool | None:
            return True if self.adapter.get(resource, namespace, key.name) is None else None

        if self.waiter.until(gone) is None:
            raise ApiError(
                409,
                "AlreadyExists",
                f"its earlier run is still being deleted after {self.waiter.timeout_text}",
            )

    def _create(self, body: dict[str, Any], *, note_if_exists: bool) -> dict[str, Any]:
        try:
            return self.adapter.create(body, dry_run=self.dry_run)
        except ApiError as error:
            if self.dry_run and error.code == 409 and note_if_exists:
                return body  # the earlier run a real sync deletes first is still there for a dry run
            raise

    def _check(self, result: HookResult) -> HookResult:
        """The hook's state now, read from the cluster."""
        try:
            resource = self.adapter.resource_for(result.key.group, result.key.kind)
            live = self.adapter.get(resource, result.key.namespace or None, result.key.name)
        except ClusterError as error:
            why = f"could not read it: {self.scrub(str(error))}"
            return dataclasses.replace(result, state=HookState.FAILED, message=why)
        if live is None:
            return dataclasses.replace(result, state=HookState.FAILED, message="deleted before it completed")
        health = health_of(live, self.health_overrides)
        if health.status in (Health.DEGRADED, Health.UNKNOWN):
            return dataclasses.replace(
                result, state=HookState.FAILED, message=health.message or str(health.status)
            )
        if health.status in (Health.PROGRESSING, Health.SUSPENDED):
            return dataclasses.replace(result, message=health.message)
        return dataclasses.replace(result, state=HookState.SUCCEEDED, message=health.message)

    def _release(self, result: HookResult) -> HookResult:
        """Take kubedrift's finalizer off a created hook, now that its result is read."""
        if not result.created:
            return result
        try:
            resource = self.adapter.resource_for(result.key.group, result.key.kind)
            live = self.adapter.get(resource, result.key.namespace or None, result.key.name)
            if live is not None:
                self._drop_finalizer(resource, result.key, live)
        except ReadOnlyError:
            raise
        except ClusterError as error:
            note = f"could not remove its finalizer {HOOK_FINALIZER}: {self.scrub(str(error))}"
            return dataclasses.replace(
                result, message=f"{result.message}; {note}" if result.message else note
            )
        return result

    def _drop_finalizer(self, resource: Any, key: ResourceKey, live: Mapping[str, Any]) -> None:
        finalizers = list((live.get("metadata") or {}).get("finalizers") or [])
        if HOOK_FINALIZER not in finalizers:
            return
        index = finalizers.index(HOOK_FINALIZER)
        path = f"/metadata/finalizers/{index}"
        operations = [{"op": "test", "path": path, "value": HOOK_FINALIZER}, {"op": "remove", "path": path}]
        try:
            self.adapter.json_patch(resource, key.namespace or None, key.name, operations)
        except ApiError as error:
            if error.code != 404:
                raise
