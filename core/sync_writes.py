"""The writes a sync option asks for instead of a server-side apply, and the checks before them.

- `Replace=true`: the object is created (POST) or replaced whole (PUT), as `kubectl create` and
  `kubectl replace` do. A Namespace or a CRD is replaced with its live resourceVersion and never
  deleted: deleting one would delete everything in it, or every object of its kind (gitops-engine
  `applyObject`).
- `Force=true`: with Replace, the object is deleted and created again (`kubectl replace --force`);
  with apply, only when the server refuses the change as invalid, such as a Job's template, which
  is immutable (`kubectl apply --force`).
- `CreateNamespace=true`: the destination namespace is applied first, with the app's
  `managedNamespaceMetadata`, unless Git declares it. It is not tracked (Argo CD's
  `syncNamespace`): the app neither compares nor prunes it.
- `FailOnSharedResource=true`: the sync fails before writing anything when an object Git
  declares is tracked in the cluster by another app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from core.cluster import ApiError, ClusterAdapter
from core.model import App, ResourceKey, TrackingMethod
from core.sync_options import ManagedNamespaceMetadata, SyncOptions
from core.sync_wait import SyncWaiter

RECREATE_PROPAGATION: Final = "Background"
"""How `Force=true` deletes before creating again: at once, as kubectl's default; dependents follow."""
_KEEP_ON_REPLACE: Final = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})


def field_validation(validate: bool) -> str | None:
    """The `fieldValidation` a write sends: `Ignore` for `Validate=false`, else the server's default."""
    return None if validate else "Ignore"


def write_with_options(
    adapter: ClusterAdapter,
    key: ResourceKey,
    body: dict[str, Any],
    live: Mapping[str, Any] | None,
    options: SyncOptions,
    *,
    dry_run: bool,
    waiter: SyncWaiter,
    scrub: Callable[[str], str] = lambda text: text,
) -> tuple[dict[str, Any], str]:
    """Write `body` as `options` say: a server-side apply, or Replace's create or PUT, deleting and
    creating again for Force. Returns the server's answer (`body` itself for a dry run that would
    delete first) and why the object was deleted and created again, or "" when it was not."""
    forced = options.force and live is not None and may_recreate(key)

    def recreate(why: str) -> tuple[dict[str, Any], str]:
        if dry_run or live is None:
            return body, why
        return recreate_object(
            adapter, key, body, live, waiter=waiter, replace=options.replace, validate=options.validate
        ), why

    if options.replace and forced:
        return recreate("Replace=true with Force=true replaces by deleting first")
    try:
        if options.replace:
            answer = replace_object(adapter, key, body, live, dry_run=dry_run, validate=options.validate)
        elif options.validate:
            answer = adapter.apply(body, dry_run=dry_run, force=True)
        else:
            answer = adapter.apply(
                body, dry_run=dry_run, force=True, field_validation=field_validation(False)
            )
    except ApiError as error:
        if not forced or error.code != 422:
            raise
        return recreate(f"the server refused the change: {scrub(error.message or str(error))}")
    return answer, ""


def replace_object(
    adapter: ClusterAdapter,
    key: ResourceKey,
    body: dict[str, Any],
    live: Mapping[str, Any] | None,
    *,
    dry_run: bool,
    validate: bool,
) -> dict[str, Any]:
    """Create `body` when there is no live object, else PUT it (Argo CD's `Replace=true`)."""
    validation = field_validation(validate)
    if live is None:
        return adapter.create(body, dry_run=dry_run, field_validation=validation)
    if (key.group, key.kind) in _KEEP_ON_REPLACE:
        version = (live.get("metadata") or {}).get("resourceVersion")
        body = {**body, "metadata": {**body["metadata"], "resourceVersion": version}}
    return adapter.replace(body, dry_run=dry_run, field_validation=validation)


def may_recreate(key: ResourceKey) -> bool:
    """Whether `Force=true` may delete the object to create it again: never a Namespace or a CRD."""
    return (key.group, key.kind) not in _KEEP_ON_REPLACE


def recreate_object(
    adapter: ClusterAdapter,
    key: ResourceKey,
    body: dict[str, Any],
    live: Mapping[str, Any],
    *,
    waiter: SyncWaiter,
    replace: bool,
    validate: bool,
) -> dict[str, Any]:
    """Delete the live object (only if it is still the one seen), wait until it is gone, and create
    `body` (`Force=true`): by POST with Replace, else by server-side apply, which creates it."""
    resource = adapter.resource_for(key.group, key.kind)
    namespace = key.namespace or None
    uid = (live.get("metadata") or {}).get("uid")
    adapter.delete(
        resource,
        namespace,
        key.name,
        propagation=RECREATE_PROPAGATION,
        precondition_uid=str(uid) if uid else None,
    )

    def gone() -> bool | None:
        return True if adapter.get(resource, namespace, key.name) is None else None

    if waiter.until(gone) is None:
        raise ApiError(
            409, "Conflict", f"deleted to be created again, but still there after {waiter.timeout_text}"
        )
    if replace:
        return adapter.create(body, field_validation=field_validation(validate))
    if validate:
        return adapter.apply(body, force=True)
    return adapter.apply(body, force=True, field_validation=field_validation(validate))


def apply_namespace(
    adapter: ClusterAdapter, name: str, metadata: ManagedNamespaceMetadata | None, *, dry_run: bool
) -> tuple[dict[str, Any] | None, dict[str, Any]] | None:
    """Apply namespace `name` with `metadata` (`CreateNamespace=true`): the live namespace before
    (None when there was none) and the server's answer; None, with nothing sent, when it exists and
    there is no metadata to keep on it."""
    resource = adapter.resource_for("", "Namespace")
    live = adapter.get(resource, None, name)
    if live is not None and metadata is None:
        return None
    return live, adapter.apply(namespace_body(name, metadata), dry_run=dry_run, force=True)


def namespace_body(name: str, metadata: ManagedNamespaceMetadata | None) -> dict[str, Any]:
    """The Namespace `CreateNamespace=true` applies: its name, with the managed labels and annotations."""
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    if metadata is not None:
        if metadata.labels:
            body["metadata"]["labels"] = dict(metadata.labels)
        if metadata.annotations:
            body["metadata"]["annotations"] = dict(metadata.annotations)
    return body


def other_owner(app: App, key: ResourceKey, live: Mapping[str, Any] | None) -> str | None:
    """The app that tracks the live object of `key`, when it is not `app`; None when it is `app`'s,
    nobody's, or `app` tracks by Flux's labels (whose owner is a Flux object, not an app)."""
    if live is None or app.tracking is TrackingMethod.FLUX:
        return None
    annotations = (live.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, Mapping):
        return None
    tracking_id = annotations.get(app.tracking.annotation)
    if not isinstance(tracking_id, str) or not tracking_id:
        return None
    owner = tracking_id.partition(":")[0]
    return owner if owner and owner != app.name else None
