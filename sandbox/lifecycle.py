"""Deletion and the lifecycle of containers of objects: finalizers, propagation, graceful deletion of
pods, namespaces and CRDs.

What a real cluster spreads over the API server, the namespace controller and the CRD finalizer is done
here synchronously, so a namespace or CRD deletion has finished (or is held only by finalizers or by
terminating pods) by the time the DELETE answers, with the namespace controller's status conditions.
A pod is deleted gracefully as the pod strategy decides (rest.BeforeDelete with CheckGracefulDelete):
a scheduled, unfinished pod gets `deletionTimestamp` (now plus the grace period) and
`deletionGracePeriodSeconds`, and stays until its kubelet has stopped it and deletes it with grace 0.
Ownership-based garbage collection of Background and Foreground deletes is the garbage-collector
controller's job; this module only does the bookkeeping a real server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox import crds
from sandbox.errors import StatusError, bad_request, conflict
from sandbox.graceful_deletion import grace_period_for, later
from sandbox.kinds import Generation, ResourceType
from sandbox.namespace_conditions import namespace_conditions
from sandbox.store import StoredObject

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND_FINALIZER = "foregroundDeletion"
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")
SYSTEM_MANAGER = "kube-apiserver"
GC_MANAGER = "kube-controller-manager"


@dataclass(frozen=True)
class DeleteResult:
    """What a delete answers: the object (still present when finalizers hold it) and whether it is gone."""

    object: StoredObject
    deleted: bool


@dataclass
class Lifecycle:
    api: ResourceAPI

    # ---- create-side checks and hooks ----

    def check_namespace_accepts(self, resource_type: ResourceType, namespace: str, name: str) -> None:
        """404 when the namespace does not exist, 403 while it is being terminated."""
        if not namespace:
            raise bad_request("an empty namespace may not be set during creation of a namespaced object")
        found = self.api.store.get(NAMESPACES, "", namespace)
        if found is None:
            raise StatusError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            )
        if found.obj["metadata"].get("deletionTimestamp"):
            raise StatusError(
                403,
                "Forbidden",
                f'{resource_type.group_resource} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                details={
                    "name": name,
                    "group": resource_type.group,
                    "kind": resource_type.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "field": "metadata.namespace",
                            "message": f"namespace {namespace} is being terminated",
                        }
                    ],
                },
            )

    def after_create(self, resource_type: ResourceType, stored: StoredObject) -> None:
        if resource_type.storage_key == CRDS:
            self._serve_crd(stored)

    def after_update(self, resource_type: ResourceType, stored: StoredObject, old: StoredObject) -> None:
        if (
            resource_type.storage_key == CRDS
            and stored.obj.get("spec") != old.obj.get("spec")
            and not stored.obj["metadata"].get("deletionTimestamp")
        ):
            self._serve_crd(stored)

    # ---- delete ----

    def delete(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None,
        preconditions: dict[str, Any],
        dry_run: bool,
        grace_period: int | None = None,
    ) -> DeleteResult:
        """DELETE; `grace_period` is DeleteOptions.gracePeriodSeconds (None: the object's default)."""
        current = self.api.get(resource_type, namespace, name)
        metadata = current.obj["metadata"]
        for field, actual in (("uid", metadata.get("uid")), ("resourceVersion", str(current.rv))):
            expected = preconditions.get(field)
            if expected and str(expected) != actual:
                label = "UID" if field == "uid" else "ResourceVersion"
                raise conflict(
                    f"Precondition failed: {label} in precondition: {expected}, "
                    f"{label} in object meta: {actual}",
                    group_resource=resource_type.group_resource,
                    name=name,
                )
        if resource_type.storage_key == NAMESPACES and name in PROTECTED_NAMESPACES:
            raise StatusError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )
        policy = propagation or "Background"
        if policy not in PROPAGATION_POLICIES:
            raise StatusError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                f'Unsupported value: "{policy}": supported values: "Foreground", "Background", '
                '"Orphan", "nil"',
            )
        if metadata.get("deletionTimestamp"):
            return self._delete_again(resource_type, current, grace_period, dry_run)
        if resource_type.storage_key == NAMESPACES:
            return self._delete_namespace(current, dry_run)
        if resource_type.storage_key == CRDS:
            return self._delete_crd(current, dry_run)
        finalizers = list(metadata.get("finalizers") or [])
        if policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
            finalizers.append(FOREGROUND_FINALIZER)
        if policy == "Orphan" and not dry_run:
            # What the garbage collector does for the `orphan` finalizer, done before the owner goes.
            self._orphan_dependents(metadata.get("uid", ""))
        period = grace_period_for(resource_type, current.obj, grace_period)
        if period is not None:
            # A graceful strategy always writes the deletion mark first, even with grace 0, so a
            # watcher sees the pod MODIFIED with its deletionTimestamp before it is DELETED.
            marked = self._mark_deleting(resource_type, current, finalizers, dry_run, grace=period)
            if period > 0 or finalizers:
                return DeleteResult(marked, False)
            if dry_run:
                return DeleteResult(marked, True)
            return DeleteResult(self.remove(resource_type, marked), True)
        if finalizers:
            marked = self._mark_deleting(resource_type, current, finalizers, dry_run)
            return DeleteResult(marked, False)
        if dry_run:
            return DeleteResult(current, True)
        return DeleteResult(self.remove(resource_type, current), True)

    def _delete_again(
        self, resource_type: ResourceType, current: StoredObject, requested: int | None, dry_run: bool
    ) -> DeleteResult:
        """A DELETE of an object already being deleted: it may only shorten a graceful deletion, and
        a grace period of 0 (`kubectl delete --force`) removes it unless finalizers hold it."""
        metadata = current.obj["metadata"]
        running = int(metadata.get("deletionGracePeriodSeconds") or 0)
        if not running or requested is None or requested >= running:
            return DeleteResult(current, False)
        period = max(requested, 0)
        now = self.api.clock()
        deadline = later(str(metadata["deletionTimestamp"]), period - running)
        if deadline < now:
            # The grace period has already run out: the shortest graceful deletion is one second.
            deadline = now
            period = min(period, 1)
        shortened = current.copy()
        shortened["metadata"]["deletionTimestamp"] = deadline
        shortened["metadata"]["deletionGracePeriodSeconds"] = period
        if dry_run:
            return DeleteResult(StoredObject(shortened, current.rv), False)
        stored = self.api.store.update(resource_type.storage_key, shortened)
        if period == 0 and not metadata.get("finalizers"):
            return DeleteResult(self.remove(resource_type, stored), True)
        return DeleteResult(stored, False)

    def remove(self, resource_type: ResourceType, current: StoredObject) -> StoredObject:
        """Take the object out of the store now, then let its namespace or CRD finish terminating."""
        gone = self.api.store.delete(resource_type.storage_key, current.namespace, current.name)
        if resource_type.namespaced and current.namespace:
            self._finish_namespace(current.namespace)
        if resource_type.custom:
            self._finish_crd(resource_type.group, resource_type.plural)
        return gone

    def _mark_deleting(
        self,
        resource_type: ResourceType,
        current: StoredObject,
        finalizers: list[str],
        dry_run: bool,
        *,
        grace: int = 0,
    ) -> StoredObject:
        marked = current.copy()
        metadata = marked["metadata"]
        metadata["deletionTimestamp"] = later(self.api.clock(), grace)
        metadata["deletionGracePeriodSeconds"] = grace
        if finalizers:
            metadata["finalizers"] = finalizers
        if resource_type.generation is not Generation.NONE and "generation" in metadata:
            metadata["generation"] += 1
        if dry_run:
            return StoredObject(marked, current.rv)
        return self.api.store.update(resource_type.storage_key, marked)

    def _orphan_dependents(self, owner_uid: str) -> None:
        if not owner_uid:
            return
        for dependent_type, dependent in self._all_objects():
            references = dependent.obj["metadata"].get("ownerReferences") or []
            kept = [r for r in references if r.get("uid") != owner_uid]
            if len(kept) == len(references):
                continue
            orphaned = dependent.copy()
            if kept:
                orphaned["metadata"]["ownerReferences"] = kept
            else:
                orphaned["metadata"].pop("ownerReferences", None)
            self.api.pipeline.update(
                dependent_type, dependent, orphaned, manager=GC_MANAGER, dry_run=False, subresource=None
            )

    def _all_objects(self) -> list[tuple[ResourceType, StoredObject]]:
        found: list[tuple[ResourceType, StoredObject]] = []
        for resource_type in self._storage_types():
            found.extend((resource_type, o) for o in self.api.store.iter_objects(resource_type.storage_key))
        return found

    def _storage_types(self, *, namespaced_only: bool = False) -> list[ResourceType]:
        """One registry entry per stored resource (the preferred version of each)."""
        seen: dict[tuple[str, str], ResourceType] = {}
        for resource_type in self.api.registry:
            if namespaced_only and not resource_type.namespaced:
                continue
            preferred = self.api.registry.preferred(resource_type.group, resource_type.plural)
            seen.setdefault(resource_type.storage_key, preferred or resource_type)
        return list(seen.values())

    # ---- namespaces ----

    def _delete_namespace(self, current: StoredObject, dry_run: bool) -> DeleteResult:
        terminating = current.copy()
        terminating["metadata"]["deletionTimestamp"] = self.api.clock()
        terminating["metadata"]["deletionGracePeriodSeconds"] = 0
        terminating.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return DeleteResult(StoredObject(terminating, current.rv), False)
        stored = self.api.store.update(NAMESPACES, terminating)
        namespace = current.name
        for resource_type in self._storage_types(namespaced_only=True):
            for item in list(self.api.store.iter_objects(resource_type.storage_key, namespace)):
                if not item.obj["metadata"].get("deletionTimestamp"):
                    self.delete(
                        resource_type,
                        namespace,
                        item.name,
                        propagation="Background",
                        preconditions={},
                        dry_run=False,
                    )
        self._finish_namespace(namespace)
        return DeleteResult(self.api.store.get(NAMESPACES, "", namespace) or stored, False)

    def finalize_namespace(self, name: str, body: dict[str, Any], *, dry_run: bool) -> StoredObject:
        """PUT namespaces/{name}/finalize: replace `spec.finalizers` (the namespace controller's step)."""
        current = self.api.get(self.api.resource("v1", "Namespace"), None, name)
        finalizers = list(((body.get("spec") or {}).get("finalizers")) or [])
        updated = current.copy()
        updated.setdefault("spec", {})["finalizers"] = finalizers
        if not finalizers:
            updated["spec"].pop("finalizers")
        if dry_run:
            return StoredObject(updated, current.rv)
        stored = self.api.store.update(NAMESPACES, updated)
        self._finish_namespace(name)
        return self.api.store.get(NAMESPACES, "", name) or stored

    def _finish_namespace(self, namespace: str) -> None:
        """Report what is left in a terminating namespace, and finalize it once nothing is (the
        namespace controller's job)."""
        found = self.api.store.get(NAMESPACES, "", namespace)
        if found is None or not found.obj["metadata"].get("deletionTimestamp"):
            return
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for resource_type in self._storage_types(namespaced_only=True):
            items = list(self.api.store.iter_objects(resource_type.storage_key, namespace))
            if items:
                remaining[f"{resource_type.plural}.{resource_type.group}"] = len(items)
            for item in items:
                for finalizer in item.obj["metadata"].get("finalizers") or []:
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        found = self._report_namespace_content(found, remaining, finalizers)
        if remaining:
            return
        finalized = found.copy()
        spec_finalizers = [
            f for f in (finalized.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"
        ]
        finalized.setdefault("spec", {})["finalizers"] = spec_finalizers
        if not spec_finalizers:
            finalized["spec"].pop("finalizers")
        if spec_finalizers or finalized["metadata"].get("finalizers"):
            if finalized != found.obj:
                self.api.store.update(NAMESPACES, finalized)
            return
        self.api.store.delete(NAMESPACES, "", namespace)

    def _report_namespace_content(
        self, found: StoredObject, remaining: dict[str, int], finalizers: dict[str, int]
    ) -> StoredObject:
        """Write the namespace controller's conditions when they change."""
        old_conditions = list((found.obj.get("status") or {}).get("conditions") or [])
        conditions = namespace_conditions(old_conditions, remaining, finalizers, self.api.clock())
        if conditions == old_conditions:
            return found
        reported = found.copy()
        reported.setdefault("status", {})["conditions"] = conditions
        return self.api.store.update(NAMESPACES, reported)

    # ---- CRDs ----

    def _serve_crd(self, stored: StoredObject) -> None:
        crd = stored.obj
        spec = crd["spec"]
        group, plural = str(spec["group"]), str(spec["names"]["plural"])
        self.api.registry.remove_resource(group, plural)
        for resource_type in crds.served_types(crd):
            self.api.registry.add(resource_type)
        versions = {rt.version for rt in self.api.registry if rt.group == group}
        self.api.registry.set_version_order(group, sorted(versions, key=crds.version_priority))
        crd_type = self.api.registry.preferred(*CRDS)
        assert crd_type is not None
        status_update = stored.copy()
        status_update["status"] = crds.established_status(crd, self.api.clock())
        metadata = status_update["metadata"]
        if CRD_CLEANUP_FINALIZER not in (metadata.get("finalizers") or []):
            with_finalizer = stored.copy()
            with_finalizer["metadata"].setdefault("finalizers", []).append(CRD_CLEANUP_FINALIZER)
            stored = self.api.pipeline.update(
                crd_type, stored, with_finalizer, manager=SYSTEM_MANAGER, dry_run=False, subresource=None
            )
            status_update["metadata"] = stored.copy()["metadata"]
        self.api.pipeline.update(
            crd_type, stored, status_update, manager=SYSTEM_MANAGER, dry_run=False, subresource="status"
        )

    def _delete_crd(self, current: StoredObject, dry_run: bool) -> DeleteResult:
        terminating = current.copy()
        terminating["metadata"]["deletionTimestamp"] = self.api.clock()
        terminating["metadata"]["deletionGracePeriodSeconds"] = 0
        if "generation" in terminating["metadata"]:
            terminating["metadata"]["generation"] += 1
        conditions = terminating.setdefault("status", {}).setdefault("conditions", [])
        conditions.append(crds.terminating_condition(self.api.clock()))
        if dry_run:
            return DeleteResult(StoredObject(terminating, current.rv), False)
        if not terminating["metadata"].get("finalizers"):
            self._remove_crd(current)
            return DeleteResult(current, True)
        stored = self.api.store.update(CRDS, terminating)
        spec = current.obj["spec"]
        group, plural = str(spec["group"]), str(spec["names"]["plural"])
        custom_type = self.api.registry.preferred(group, plural)
        if custom_type is not None:
            for item in list(self.api.store.iter_objects(custom_type.storage_key)):
                if not item.obj["metadata"].get("deletionTimestamp"):
                    self.delete(
                        custom_type,
                        item.namespace or None,
                        item.name,
                        propagation="Background",
                        preconditions={},
                        dry_run=False,
                    )
        self._finish_crd(group, plural)
        return DeleteResult(stored, False)

    def _finish_crd(self, group: str, plural: str) -> None:
        found = self.api.store.get(CRDS, "", f"{plural}.{group}")
        if found is None or not found.obj["metadata"].get("deletionTimestamp"):
            return
        if self.api.store.count((group, plural)):
            return
        finalizers = [f for f in found.obj["metadata"].get("finalizers") or [] if f != CRD_CLEANUP_FINALIZER]
        if finalizers:
            if finalizers != found.obj["metadata"].get("finalizers"):
                updated = found.copy()
                updated["metadata"]["finalizers"] = finalizers
                self.api.store.update(CRDS, updated)
            return
        self._remove_crd(found)

    def _remove_crd(self, found: StoredObject) -> None:
        spec = found.obj["spec"]
        self.api.registry.remove_resource(str(spec["group"]), str(spec["names"]["plural"]))
        self.api.store.delete(CRDS, "", found.name)
