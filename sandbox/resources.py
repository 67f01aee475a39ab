"""The API verbs with a real API server's semantics, shared by the HTTP handlers and the controllers.

Every write goes through one pipeline (type checks, defaulting, managedFields, strategy, validation,
store), so a controller's write looks exactly like a client's: same defaults, same watch events.
All methods are synchronous and must run on the server's event loop.

For controllers: `api.resource("apps/v1", "Deployment")` names a resource; `get`, `find`, `list`
read; `create`, `update`, `update_status`, `patch`, `apply`, `delete` write; `watch` subscribes
(`async for event in api.watch(...)`, each event with `.type`, `.new` and `.old` StoredObjects).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.conversion import convert, storage_type_of, to_storage
from sandbox.decoding import (
    check_fields,
    check_name,
    check_resource_version,
    check_secret_data,
    check_type_meta,
    decode_object,
    undeclared_fields,
)
from sandbox.errors import StatusError, bad_request, not_found, unreasoned_server_error
from sandbox.json_tree import copy_tree
from sandbox.kinds import KindRegistry, ResourceType
from sandbox.lifecycle import DeleteResult, Lifecycle
from sandbox.managedfields import server_side_apply
from sandbox.patch_types import APPLY, apply_patch
from sandbox.scale import scale_of, set_spec_replicas
from sandbox.schemas import schema_of
from sandbox.selectors import FieldSelector, LabelSelector
from sandbox.service_ips import ServiceIPAllocator
from sandbox.store import Store, StoredObject, Watcher, decode_continue, encode_continue
from sandbox.type_check import check_applied_types, check_patched_types
from sandbox.validation import FieldError, invalid_error
from sandbox.write_pipeline import WritePipeline


def rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manager_name(field_manager: str | None, user_agent: str) -> str:
    """The field manager of a write: `?fieldManager=`, else the User-Agent up to its first `/`."""
    if field_manager:
        return field_manager
    return (user_agent.split("/", 1)[0] or "unknown")[:128]


@dataclass(frozen=True)
class ListResult:
    items: list[StoredObject]
    resource_version: int
    continue_token: str | None = None
    remaining: int | None = None


class ResourceAPI:
    """get, list, watch, create, update, patch, apply and delete over one store."""

    def __init__(
        self,
        store: Store,
        registry: KindRegistry,
        *,
        clock: Callable[[], str] = rfc3339_now,
        service_cidr: str = "10.96.0.0/12",
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.service_ips = ServiceIPAllocator(service_cidr)
        self.lifecycle = Lifecycle(self)
        self.pipeline = WritePipeline(store, registry, self.lifecycle, self.service_ips, clock)

    # ---- reads ----

    def resource(self, api_version: str, kind: str) -> ResourceType:
        """The served resource for an apiVersion and kind (what controllers write through)."""
        found = self.registry.for_api_version(api_version, kind)
        if found is None:
            raise StatusError(404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"')
        return found

    def get(self, resource_type: ResourceType, namespace: str | None, name: str) -> StoredObject:
        found = self.find(resource_type, namespace, name)
        if found is None:
            raise not_found(resource_type.group_resource, name)
        return found

    def find(self, resource_type: ResourceType, namespace: str | None, name: str) -> StoredObject | None:
        found = self._find_stored(resource_type, namespace, name)
        return None if found is None else self.as_version(resource_type, found)

    def _find_stored(
        self, resource_type: ResourceType, namespace: str | None, name: str
    ) -> StoredObject | None:
        """The object as storage holds it (in the storage version of its kind)."""
        scope = (namespace or "") if resource_type.namespaced else ""
        return self.store.get(resource_type.storage_key, scope, name)

    def _get_stored(self, resource_type: ResourceType, namespace: str | None, name: str) -> StoredObject:
        found = self._find_stored(resource_type, namespace, name)
        if found is None:
            raise not_found(resource_type.group_resource, name)
        return found

    def list(
        self,
        resource_type: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        exact_version: int | None = None,
    ) -> ListResult:
        """Objects in key order; `limit` pages them with a continue token at the first page's version.
        Every page, and a list with `exact_version`, shows the state at that version (store history)."""
        key = resource_type.storage_key
        scope = namespace if resource_type.namespaced and namespace else None
        rv = exact_version or self.store.resource_version
        after = ""
        if continue_token:
            rv, after = decode_continue(continue_token, self.store, key)
        labels = label_selector or LabelSelector()
        fields = field_selector or FieldSelector()
        candidates = self.store.iter_objects(key, scope, after, at=rv)
        exact_name = fields.exact("metadata.name")
        if exact_name is not None:
            candidates = (o for o in candidates if o.name == exact_name)
        items: list[StoredObject] = []
        token: str | None = None
        remaining: int | None = None
        for stored in candidates:
            # Labels are kept beside each stored version, so only a field selector decodes objects.
            if not labels.matches(stored.labels) or not (fields.empty or fields.matches(stored.obj)):
                continue
            if limit and len(items) >= limit:
                last = items[-1]
                token = encode_continue(rv, last.namespace, last.name)
                if labels.empty and fields.empty:
                    # Like etcd's count, only exact without selectors (a real server omits it then too).
                    last_key = f"{last.namespace}/{last.name}" if last.namespace else last.name
                    remaining = self.store.count_after(key, scope, last_key, at=rv)
                break
            items.append(self.as_version(resource_type, stored))
        return ListResult(items, rv, token, remaining)

    def watch(self, resource_type: ResourceType, namespace: str | None = None) -> Watcher:
        """A watcher of every later change of this resource, for controllers (`async for event in ...`)."""
        return self.store.subscribe(
            resource_type.storage_key, namespace if resource_type.namespaced else None
        )

    def scale_of(self, resource_type: ResourceType, stored: StoredObject) -> dict[str, Any]:
        """The `autoscaling/v1` Scale view of a scalable object."""
        return scale_of(resource_type, stored.obj)

    # ---- writes ----

    def create(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        manager: str,
        dry_run: bool = False,
        field_validation: str = "Ignore",
        warnings: builtins.list[str] | None = None,
    ) -> StoredObject:
        """POST. `field_validation` (Ignore, Warn, Strict) decides what undeclared fields do; the
        warnings of Warn are appended to `warnings`."""
        obj = decode_object(self.registry, resource_type, body)
        check_fields(resource_type, obj, field_validation, warnings)
        storage_type = storage_type_of(self.registry, resource_type)
        stored = self.pipeline.create(
            storage_type,
            namespace,
            to_storage(storage_type, obj, None),
            manager=manager,
            dry_run=dry_run,
        )
        return self.as_version(resource_type, stored)

    def update(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        manager: str,
        dry_run: bool = False,
        subresource: str | None = None,
        field_validation: str = "Ignore",
        warnings: builtins.list[str] | None = None,
    ) -> StoredObject:
        """PUT: replace the object (or its status), with the resourceVersion precondition."""
        obj = decode_object(self.registry, resource_type, body)
        check_fields(resource_type, obj, field_validation, warnings)
        check_name(obj, name, namespace if resource_type.namespaced else None)
        old = self._get_stored(resource_type, namespace, name)
        requested = str(obj["metadata"].get("resourceVersion") or "")
        if not requested and (resource_type.custom or resource_type.kind == "CustomResourceDefinition"):
            # Custom resources and CRDs refuse unconditional updates (AllowUnconditionalUpdate false).
            raise invalid_error(
                resource_type,
                name,
                [FieldError.invalid("metadata.resourceVersion", 0, "must be specified for an update")],
            )
        check_resource_version(resource_type, old, requested)
        storage_type = storage_type_of(self.registry, resource_type)
        stored = self.pipeline.update(
            storage_type,
            old,
            to_storage(storage_type, obj, old),
            manager=manager,
            dry_run=dry_run,
            subresource=subresource,
        )
        return self.as_version(resource_type, stored)

    def update_status(self, obj: dict[str, Any], *, manager: str) -> StoredObject:
        """A controller's status write: the object's status replaces the stored one, and of its
        metadata what the kind's status strategy keeps (a Deployment's annotations, not its labels)."""
        resource_type = self.resource(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        subresource = "status" if resource_type.has_status else None
        return self.update(
            resource_type,
            metadata.get("namespace"),
            metadata["name"],
            obj,
            manager=manager,
            subresource=subresource,
        )

    def update_scale(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        scale: Any,
        *,
        manager: str,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PUT of the scale subresource: only `spec.replicas` of the object changes."""
        if not isinstance(scale, dict) or not isinstance((scale.get("spec") or {}).get("replicas", 0), int):
            raise bad_request("the object provided is unrecognized (must be of type Scale)")
        old = self.get(resource_type, namespace, name)
        check_resource_version(
            resource_type, old, str((scale.get("metadata") or {}).get("resourceVersion") or "")
        )
        replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        if replicas < 0:
            raise invalid_error(
                resource_type,
                name,
                [FieldError.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
            )
        scaled = old.copy()
        set_spec_replicas(resource_type, scaled, replicas)
        stored = self.pipeline.update(
            resource_type, old, scaled, manager=manager, dry_run=dry_run, subresource="scale"
        )
        return scale_of(resource_type, stored.obj)

    def patch(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: Any,
        *,
        manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
        field_validation: str = "Ignore",
        warnings: builtins.list[str] | None = None,
    ) -> StoredObject:
        """PATCH of the object or its status: JSON patch, merge patch, strategic merge, or apply."""
        if patch_type == APPLY:
            return self.apply(
                resource_type,
                namespace,
                name,
                body,
                manager=manager,
                force=force,
                dry_run=dry_run,
                subresource=subresource,
            )
        if force:
            raise invalid_error(
                resource_type,
                name,
                [FieldError.forbidden("force", "may not be specified for non-apply patch")],
            )
        old = self._get_stored(resource_type, namespace, name)
        # The patch applies to the object as the request's version shows it.
        patched = apply_patch(resource_type, self.as_version(resource_type, old).copy(), patch_type, body)
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise bad_request("the patched object is not a valid object")
        check_name(patched, name, namespace if resource_type.namespaced else None)
        # A resourceVersion the patch sets (kubectl diff, for one) is a precondition.
        check_resource_version(resource_type, old, str(patched["metadata"].get("resourceVersion") or ""))
        patched.setdefault("apiVersion", resource_type.api_version)
        patched.setdefault("kind", resource_type.kind)
        check_type_meta(self.registry, resource_type, patched)
        check_secret_data(resource_type, patched)
        check_patched_types(resource_type, patched)
        check_fields(resource_type, patched, field_validation, warnings)
        storage_type = storage_type_of(self.registry, resource_type)
        stored = self.pipeline.update(
            storage_type,
            old,
            to_storage(storage_type, patched, old),
            manager=manager,
            dry_run=dry_run,
            subresource=subresource,
        )
        return self.as_version(resource_type, stored)

    def patch_scale(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: Any,
        *,
        manager: str,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PATCH of the scale subresource (`kubectl scale` sends a merge patch here)."""
        if patch_type == APPLY:
            raise StatusError(
                415,
                "UnsupportedMediaType",
                "apply patches are not supported on the scale subresource of the sandbox",
            )
        old = self.get(resource_type, namespace, name)
        patched = apply_patch(None, scale_of(resource_type, old.obj), patch_type, body)
        return self.update_scale(resource_type, namespace, name, patched, manager=manager, dry_run=dry_run)

    def apply(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> StoredObject:
        """Server-side apply: create when missing, else merge the applied configuration with ownership."""
        if not manager:
            raise StatusError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        if not isinstance(body, dict):
            raise bad_request("error decoding YAML: the apply configuration must be an object")
        if not body.get("apiVersion") or not body.get("kind"):
            raise bad_request(
                f"invalid object type: {body.get('apiVersion', '')}, Kind={body.get('kind', '')}"
            )
        check_type_meta(self.registry, resource_type, body)
        applied_meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        if applied_meta.get("name") not in (None, name):
            raise bad_request(
                f"the name of the object ({applied_meta.get('name')}) does not match the name "
                f"on the URL ({name})"
            )
        undeclared = undeclared_fields(resource_type, copy_tree(body))
        label = f"{namespace}/{name}" if namespace and resource_type.namespaced else f"/{name}"
        if undeclared:
            # Apply needs every field typed, whatever fieldValidation says; a real server answers 500.
            raise unreasoned_server_error(
                f"failed to create typed patch object ({label}; {body['apiVersion']}, Kind={body['kind']}): "
                f".{undeclared[0]}: field not declared in schema"
            )
        wrong_type = check_applied_types(
            resource_type, body, f"{label}; {body['apiVersion']}, Kind={body['kind']}"
        )
        if wrong_type is not None:
            raise wrong_type
        existing_stored = self._find_stored(resource_type, namespace, name)
        existing = None if existing_stored is None else self.as_version(resource_type, existing_stored)
        storage_type = storage_type_of(self.registry, resource_type)
        now = self.clock()
        if existing is None:
            if subresource:
                raise not_found(resource_type.group_resource, name)
            created = server_side_apply(
                None,
                body,
                manager=manager,
                force=force,
                now=now,
                status_subresource=resource_type.has_status,
                field_type=schema_of(resource_type, body.get("apiVersion")),
            )
            created.setdefault("metadata", {}).setdefault("name", name)
            stored = self.pipeline.create(
                storage_type,
                namespace,
                to_storage(storage_type, created, None),
                manager=manager,
                dry_run=dry_run,
                applied=True,
            )
            return self.as_version(resource_type, stored)
        check_resource_version(resource_type, existing, str(applied_meta.get("resourceVersion") or ""))
        merged = server_side_apply(
            existing.copy(),
            body,
            manager=manager,
            force=force,
            now=now,
            subresource=subresource,
            status_subresource=resource_type.has_status,
            field_type=schema_of(resource_type, body.get("apiVersion")),
        )
        assert existing_stored is not None
        stored = self.pipeline.update(
            storage_type,
            existing_stored,
            to_storage(storage_type, merged, existing_stored),
            manager=manager,
            dry_run=dry_run,
            subresource=subresource,
            applied=True,
        )
        return self.as_version(resource_type, stored)

    def delete(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
        grace_period: int | None = None,
    ) -> DeleteResult:
        """DELETE with finalizers and propagation (Background when not given); a pod is deleted
        gracefully, for `grace_period` seconds or its terminationGracePeriodSeconds."""
        result = self.lifecycle.delete(
            resource_type,
            namespace,
            name,
            propagation=propagation,
            preconditions=preconditions or {},
            dry_run=dry_run,
            grace_period=grace_period,
        )
        return DeleteResult(self.as_version(resource_type, result.object), result.deleted)

    def delete_collection(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        propagation: str | None = None,
        dry_run: bool = False,
    ) -> builtins.list[StoredObject]:
        listed = self.list(
            resource_type, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return [
            self.delete(
                resource_type, item.namespace or None, item.name, propagation=propagation, dry_run=dry_run
            ).object
            for item in listed.items
        ]

    def as_version(self, resource_type: ResourceType, stored: StoredObject) -> StoredObject:
        """The object as the requested version of its resource shows it: converted for a built-in
        kind served in several versions, else only apiVersion differs (a CRD's conversion None)."""
        if stored.api_version == resource_type.api_version:
            return stored
        return StoredObject(convert(stored.obj, resource_type.api_version), stored.rv)
