"""The one path every write takes into the store, whoever makes it (a client or a controller).

create: namespace checks, generateName, defaulting, managedFields, system fields, the kind's create
strategy, clusterIP allocation, validation, then the store. update: the same over the stored object,
plus the no-op check (a write that changes nothing is skipped) and the finalizer rule (an object being
deleted goes once its last finalizer is removed).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox import crds
from sandbox.admission import admit_create
from sandbox.defaults import apply_defaults
from sandbox.errors import already_exists, bad_request, unreasoned_server_error
from sandbox.graceful_deletion import should_delete_during_update
from sandbox.kinds import KindRegistry, ResourceType
from sandbox.managedfields import track_update
from sandbox.quantity_fields import canonicalize_quantities
from sandbox.schemas import schema_of
from sandbox.service_ips import ServiceIPAllocator
from sandbox.store import Store, StoredObject
from sandbox.strategies import prepare_for_create, prepare_for_update
from sandbox.validation import validate

if TYPE_CHECKING:
    from sandbox.lifecycle import Lifecycle

# Metadata the server owns: never taken from a client body.
SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what names.SimpleNameGenerator draws from


class WritePipeline:
    """Prepares objects for the store and writes them, emitting the watch events."""

    def __init__(
        self,
        store: Store,
        registry: KindRegistry,
        lifecycle: Lifecycle,
        service_ips: ServiceIPAllocator,
        clock: Callable[[], str],
    ) -> None:
        self.store = store
        self.registry = registry
        self.lifecycle = lifecycle
        self.service_ips = service_ips
        self.clock = clock

    def create(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        obj: dict[str, Any],
        *,
        manager: str,
        dry_run: bool,
        applied: bool = False,
    ) -> StoredObject:
        """Store a new object; `applied` means server-side apply already wrote its managedFields."""
        metadata = obj["metadata"]
        if resource_type.namespaced:
            if metadata.get("namespace") and namespace and metadata["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace or metadata.get("namespace") or ""
            self.lifecycle.check_namespace_accepts(
                resource_type, metadata["namespace"], str(metadata.get("name") or "")
            )
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and metadata.get("generateName"):
            suffix = "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
            metadata["name"] = f"{metadata['generateName']}{suffix}"
        requested_version = str(metadata.get("resourceVersion") or "")
        for field in SYSTEM_METADATA:
            metadata.pop(field, None)
        self.default(resource_type, obj)
        if not applied:
            metadata["managedFields"] = track_update(
                None,
                obj,
                manager=manager,
                now=self.clock(),
                status_subresource=resource_type.has_status,
                field_type=schema_of(resource_type, obj.get("apiVersion")),
            )
        _drop_empty_managed_fields(metadata)
        # Mutating admission runs after the field manager: what it adds belongs to nobody.
        admit_create(self.store, resource_type.group, resource_type.kind, obj)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = self.clock()
        # Defaulting again once the uid exists does what the create strategy does after the field
        # manager ran: a Job's selector and pod labels carry the uid, and nobody owns them.
        self.default(resource_type, obj)
        prepare_for_create(obj, resource_type)
        if (resource_type.group, resource_type.kind) == ("", "Service"):
            self.service_ips.allocate(obj, None, self._service)
        validate(obj, resource_type)
        if not dry_run and requested_version.isdigit() and int(requested_version):
            # Storage refuses a numeric version on create, as a plain error (500, no reason); any
            # other value is ignored, since it does not parse as one (a dry run never reaches storage).
            raise unreasoned_server_error("resourceVersion should not be set on objects to be created")
        name = str(metadata["name"])
        if self.store.get(resource_type.storage_key, metadata.get("namespace", ""), name) is not None:
            raise already_exists(resource_type.group_resource, name)
        obj["apiVersion"] = resource_type.api_version
        if dry_run:
            metadata.pop("resourceVersion", None)
            return StoredObject(obj, 0)
        stored = self.store.create(resource_type.storage_key, obj)
        self.lifecycle.after_create(resource_type, stored)
        # A hook (a CRD's establishment) may have written again; answer with the latest version.
        return self.store.get(resource_type.storage_key, stored.namespace, stored.name) or stored

    def update(
        self,
        resource_type: ResourceType,
        old: StoredObject,
        new: dict[str, Any],
        *,
        manager: str,
        dry_run: bool,
        subresource: str | None,
        applied: bool = False,
    ) -> StoredObject:
        """Replace a stored object (or only its status, for the `status` subresource)."""
        metadata = new["metadata"]
        old_metadata = old.obj["metadata"]
        for field in SYSTEM_METADATA:
            if field in old_metadata:
                metadata[field] = old_metadata[field]
            else:
                metadata.pop(field, None)
        metadata["name"] = old_metadata["name"]
        if resource_type.namespaced:
            metadata["namespace"] = old_metadata.get("namespace", "")
        else:
            metadata.pop("namespace", None)
        self.default(resource_type, new)
        if not applied:
            metadata["managedFields"] = track_update(
                old.obj,
                new,
                manager=manager,
                now=self.clock(),
                subresource=subresource,
                status_subresource=resource_type.has_status,
                field_type=schema_of(resource_type, new.get("apiVersion")),
            )
        _drop_empty_managed_fields(metadata)
        # A CSR's approval, like its status, keeps the spec (the caller changes only conditions).
        strategy = "status" if subresource in ("status", "approval") else None
        result = prepare_for_update(new, old.obj, resource_type, strategy)
        if (resource_type.group, resource_type.kind) == ("", "Service"):
            self.service_ips.allocate(result, old.obj, self._service)
        validate(result, resource_type, old.obj)
        result["apiVersion"] = resource_type.api_version
        if should_delete_during_update(resource_type, old.obj, result):
            if dry_run:
                return StoredObject(result, old.rv)
            return self.lifecycle.remove(resource_type, old)
        if _same_object(result, old.obj):
            return old
        if dry_run:
            return StoredObject(result, old.rv)
        stored = self.store.update(resource_type.storage_key, result)
        self.lifecycle.after_update(resource_type, stored, old)
        return stored

    def default(self, resource_type: ResourceType, obj: dict[str, Any]) -> None:
        """The defaulting of the kind (a custom resource's comes from its structural schema)."""
        if resource_type.custom:
            crds.prune_and_default(obj, resource_type.schema)
            return
        if resource_type.kind == "CustomResourceDefinition":
            crds.apply_crd_defaults(obj)
        canonicalize_quantities(resource_type, obj)
        apply_defaults(obj, group=resource_type.group, kind=resource_type.kind)

    def _service(self, namespace: str, name: str) -> dict[str, Any] | None:
        stored = self.store.get(("", "services"), namespace, name)
        return None if stored is None else stored.obj


def _drop_empty_managed_fields(metadata: dict[str, Any]) -> None:
    if not metadata.get("managedFields"):
        metadata.pop("managedFields", None)


def _same_object(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Equal apart from managedFields timestamps: a real server then skips the write entirely
    (IgnoreManagedFieldsTimestampsTransformer), so no resourceVersion moves and no event is sent."""
    if {k: v for k, v in new.items() if k != "metadata"} != {k: v for k, v in old.items() if k != "metadata"}:
        return False
    ignored = ("managedFields", "resourceVersion")
    new_meta = {k: v for k, v in new["metadata"].items() if k not in ignored}
    old_meta = {k: v for k, v in old["metadata"].items() if k not in ignored}
    if new_meta != old_meta:
        return False

    def untimed(entries: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in entry.items() if k != "time"} for entry in entries or []]

    return untimed(new["metadata"].get("managedFields")) == untimed(old["metadata"].get("managedFields"))
