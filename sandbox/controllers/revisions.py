"""Names for versions of a pod template: `pod-template-hash` and ControllerRevisions.

The real controllers hash a template with FNV-32a and spell the number with SafeEncodeString's
consonant-and-digit alphabet (so a hash never forms a word); the same is done here over the
template's canonical JSON. StatefulSets and DaemonSets also keep each template version in an
`apps/v1` ControllerRevision named `<owner>-<hash>`.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from sandbox.controllers.ownership import is_controlled_by, owner_reference
from sandbox.store import StoredObject

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

POD_TEMPLATE_HASH = "pod-template-hash"
CONTROLLER_REVISION_HASH = "controller-revision-hash"
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte becomes one of 27 characters that cannot spell a word."""
    return "".join(_SAFE_ALPHABET[byte % len(_SAFE_ALPHABET)] for byte in text.encode())


def compute_hash(value: Any, collision_count: int | None = None) -> str:
    """controller.ComputeHash: the template hash, salted by the collision count when there is one."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    return safe_encode(str(fnv32a(data)))


def without_hash_label(template: dict[str, Any]) -> dict[str, Any]:
    """The template with `pod-template-hash` removed, for EqualIgnoreHash comparisons."""
    labels = (template.get("metadata") or {}).get("labels") or {}
    if POD_TEMPLATE_HASH not in labels:
        return template
    stripped = copy.deepcopy(template)
    del stripped["metadata"]["labels"][POD_TEMPLATE_HASH]
    return stripped


def with_labels(template: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """A copy of the template with extra labels on its metadata."""
    copied = copy.deepcopy(template)
    metadata = copied.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return copied


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """What a StatefulSet or DaemonSet ControllerRevision stores: a replace patch of the template."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def template_of_revision(revision: dict[str, Any]) -> dict[str, Any]:
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def owned_revisions(api: ResourceAPI, owner: dict[str, Any]) -> list[StoredObject]:
    """The owner's ControllerRevisions, oldest revision first."""
    resource_type = api.resource("apps/v1", "ControllerRevision")
    namespace = owner["metadata"].get("namespace")
    uid = owner["metadata"]["uid"]
    found = [r for r in api.list(resource_type, namespace).items if is_controlled_by(r.obj, uid)]
    return sorted(found, key=lambda r: int(r.obj.get("revision") or 0))


def ensure_revision(
    api: ResourceAPI, owner: dict[str, Any], template: dict[str, Any], *, manager: str
) -> tuple[StoredObject, str]:
    """The ControllerRevision holding this template (created when missing), and its hash.

    An existing revision of the same template that is not the newest gets the next revision
    number, as a rollback does.
    """
    resource_type = api.resource("apps/v1", "ControllerRevision")
    collision_count = int((owner.get("status") or {}).get("collisionCount") or 0)
    data = revision_data(template)
    revision_hash = compute_hash(data, collision_count)
    name = f"{owner['metadata']['name']}-{revision_hash}"
    existing = owned_revisions(api, owner)
    newest = max((int(r.obj.get("revision") or 0) for r in existing), default=0)
    for stored in existing:
        if stored.name == name:
            if int(stored.obj.get("revision") or 0) < newest:
                bumped = stored.copy()
                bumped["revision"] = newest + 1
                stored = api.update(resource_type, stored.namespace, stored.name, bumped, manager=manager)
            return stored, revision_hash
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels[REVISION_HASH_LABEL] = revision_hash
    body = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "namespace": owner["metadata"].get("namespace"),
            "labels": labels,
            "ownerReferences": [owner_reference(owner)],
        },
        "data": data,
        "revision": newest + 1,
    }
    created = api.create(resource_type, owner["metadata"].get("namespace"), body, manager=manager)
    return created, revision_hash


def prune_revisions(api: ResourceAPI, owner: dict[str, Any], keep_names: set[str], *, limit: int) -> None:
    """Delete the oldest revisions not in use beyond `revisionHistoryLimit`."""
    resource_type = api.resource("apps/v1", "ControllerRevision")
    unused = [r for r in owned_revisions(api, owner) if r.name not in keep_names]
    for stored in unused[: max(0, len(unused) - limit)]:
        api.delete(resource_type, stored.namespace, stored.name)
