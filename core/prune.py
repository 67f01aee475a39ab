"""Prune: deleting what the app tracks in the cluster but Git no longer has (DESIGN "Extraneous and prune").

The guards come first, because a prune that goes wrong deletes production:
- only objects carrying exactly this app's tracking id for their own key are candidates, so an
  untracked bystander, another app's object, or a copy with a pasted annotation is never touched;
- `kubedrift.io/prune: "false"` and Argo CD's `Prune=false` sync option keep an object;
- a failed render or an empty desired set refuses the whole prune (one bad file, a wrong path or an
  emptied branch must not read as "delete everything");
- deletes carry a uid precondition, so an object re-created since it was seen is left alone;
- a Namespace is deleted only when it holds nothing else than this app's leftovers (or `force`),
  since deleting it deletes everything in it (see core.namespace_contents);
- objects a working tree dropped in its last read are pending, not pruned, until a later read agrees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.desired_state import DesiredState
from core.errors import KubedriftError
from core.model import (
    ARGOCD_SYNC_OPTIONS_ANNOTATION,
    PRUNE_ANNOTATION,
    App,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
)
from core.namespace_contents import namespace_contents
from core.sync_hooks import is_hook
from core.sync_plan import prune_order

PROPAGATION = "Foreground"
"""Dependents (a Deployment's ReplicaSets and Pods) go before the owner, as Argo CD prunes by default."""


class PruneRefused(KubedriftError):
    """A prune that the guards refuse as a whole: nothing was deleted."""


def prune_candidates(
    app: App, desired: DesiredState, live: Mapping[ResourceKey, Mapping[str, Any]]
) -> tuple[list[ResourceKey], list[ResourceOutcome]]:
    """The extraneous objects to delete (in prune order), and those kept by an annotation (skipped)."""
    candidates: list[ResourceKey] = []
    kept: list[ResourceOutcome] = []
    for key, obj in live.items():
        if key in desired.objects or not is_tracked(app, key, obj) or is_hook(obj):
            continue  # a hook is run around a sync, and deleted by its own policy, never pruned
        metadata = obj.get("metadata") or {}
        reason = desired.pending.get(key) or _kept_because(app, metadata.get("annotations") or {})
        if reason is None and metadata.get("deletionTimestamp"):
            reason = "already being deleted"
        if reason is None:
            candidates.append(key)
        else:
            kept.append(ResourceOutcome(key, ResourceAction.SKIPPED, reason))
    return prune_order(candidates), sorted(kept, key=lambda outcome: outcome.key)


def is_tracked(app: App, key: ResourceKey, obj: Mapping[str, Any]) -> bool:
    """True when `obj` carries exactly this app's tracking id for its own key (or, for `tracking: flux`,
    Flux's labels naming the app's Kustomization or HelmRelease)."""
    return app.owns(key, obj)


def check_prune_allowed(app: App, desired: DesiredState) -> None:
    """Raise PruneRefused when the desired set cannot be trusted to say what is extraneous."""
    if not desired.render_ok:
        first = desired.errors[0] if desired.errors else "an unknown render error"
        raise PruneRefused(
            f"refusing to prune app {app.name!r}: its manifests failed to render ({first}); "
            "fix the render before pruning"
        )
    if not desired.objects:
        raise PruneRefused(
            f"Git has no objects for app {app.name!r} (check its source path and revision); "
            "refusing to prune everything"
        )


def prune_app(
    adapter: ClusterAdapter,
    app: App,
    desired: DesiredState,
    live: Mapping[ResourceKey, Mapping[str, Any]],
    *,
    dry_run: bool = False,
    keys: Iterable[ResourceKey] | None = None,
    progress: Callable[[int, int, ResourceKey], None] | None = None,
    force: bool = False,
) -> list[ResourceOutcome]:
    """Delete the app's extraneous objects (only those in `keys` when given); `pruned`, `skipped` or `failed`.

    A Namespace that holds anything this app does not track is skipped unless `force`.
    Raises PruneRefused before any request when the guards refuse, and ReadOnlyError on a
    read-only adapter.
    """
    if adapter.read_only:
        raise ReadOnlyError(
            f"cannot prune app {app.name!r}: kubedrift is read-only for context {adapter.context!r} "
            "(--read-only or readOnly in kubedrift.yaml)"
        )
    check_prune_allowed(app, desired)
    candidates, kept = prune_candidates(app, desired, live)
    if keys is not None:
        wanted = set(keys)
        candidates = [key for key in candidates if key in wanted]
        kept = [outcome for outcome in kept if outcome.key in wanted]
    outcomes: list[ResourceOutcome] = []
    unreachable: str | None = None
    for done, key in enumerate(candidates, start=1):
        if unreachable is not None:
            outcomes.append(ResourceOutcome(key, ResourceAction.FAILED, f"not attempted: {unreachable}"))
        else:
            try:
                held = None if force else namespace_holds_others(adapter, app, desired, key)
                if held is not None:
                    outcomes.append(ResourceOutcome(key, ResourceAction.SKIPPED, held))
                else:
                    propagation = app.sync_policy.sync_options.prune_propagation
                    outcomes.append(
                        delete_one(adapter, key, live[key], dry_run=dry_run, propagation=propagation)
                    )
            except ReadOnlyError:
                raise
            except ApiError as error:
                outcomes.append(ResourceOutcome(key, ResourceAction.FAILED, error.message or str(error)))
            except ClusterError as error:
                unreachable = str(error)
                outcomes.append(ResourceOutcome(key, ResourceAction.FAILED, unreachable))
        if progress is not None:
            progress(done, len(candidates), key)
    return outcomes + kept


def namespace_holds_others(
    adapter: ClusterAdapter, app: App, desired: DesiredState, key: ResourceKey
) -> str | None:
    """Why deleting Namespace `key` would lose objects that are not this app's leftovers, or None."""
    if (key.group, key.kind) != ("", "Namespace"):
        return None

    def is_ours(inside: ResourceKey, obj: Mapping[str, Any]) -> bool:
        # An object Git still declares, or one its annotation keeps from pruning, is not ours to
        # lose, even when this app applied it: deleting the namespace would delete it all the same.
        if inside in desired.objects or not is_tracked(app, inside, obj) or is_hook(obj):
            return False
        return _kept_because(app, (obj.get("metadata") or {}).get("annotations") or {}) is None

    contents = namespace_contents(adapter, key.name, is_ours)
    return None if contents.clear else contents.describe(key.name)


def delete_one(
    adapter: ClusterAdapter,
    key: ResourceKey,
    live: Mapping[str, Any],
    *,
    dry_run: bool,
    propagation: str = PROPAGATION,
) -> ResourceOutcome:
    """Delete one extraneous object (foreground propagation unless the app's `PrunePropagationPolicy`
    says otherwise), only if it is still the object seen."""
    resource = adapter.resource_for(key.group, key.kind)
    uid = (live.get("metadata") or {}).get("uid")
    try:
        answer = adapter.delete(
            resource,
            key.namespace or None,
            key.name,
            propagation=propagation,
            dry_run=dry_run,
            precondition_uid=str(uid) if uid else None,
        )
    except ApiError as error:
        if error.code == 409:
            return ResourceOutcome(
                key, ResourceAction.SKIPPED, "re-created since it was seen (its uid changed); left alone"
            )
        raise
    if answer is None:
        return ResourceOutcome(key, ResourceAction.PRUNED, "already gone")
    return ResourceOutcome(key, ResourceAction.PRUNED, "would be deleted" if dry_run else "")


def _kept_because(app: App, annotations: Mapping[str, Any]) -> str | None:
    """Why an extraneous object is kept: `kubedrift.io/prune: "false"`, or Argo CD's `Prune=false`
    (or `Prune=confirm`) from its annotation or, failing that, from the app's syncOptions."""
    if str(annotations.get(PRUNE_ANNOTATION, "")).strip().lower() == "false":
        return f'kept by its annotation {PRUNE_ANNOTATION}: "false"'
    prune = _annotation_prune_option(annotations)
    where = f"its annotation {ARGOCD_SYNC_OPTIONS_ANNOTATION}"
    if prune is None:
        prune = app.sync_policy.sync_options.get("Prune")
        where = "the app's syncOptions"
    if prune == "false":
        return f"kept by {where}: Prune=false"
    if prune == "confirm":
        return f"kept by {where}: Prune=confirm (kubedrift asks no confirmation per object; delete by hand)"
    return None


def _annotation_prune_option(annotations: Mapping[str, Any]) -> str | None:
    """The `Prune=` value an object's sync-options annotation sets (the last one wins), or None.

    Read by hand rather than with `core.sync_options`, so that a live object whose annotation names an
    option kubedrift does not know is still kept by its `Prune=false`: a prune errs on keeping."""
    found = None
    for option in str(annotations.get(ARGOCD_SYNC_OPTIONS_ANNOTATION, "")).split(","):
        name, _, value = option.strip().partition("=")
        if name.strip() == "Prune":
            found = value.strip()
    return found
