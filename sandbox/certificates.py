"""CertificateSigningRequests: who asked, and the approval subresource.

A new CSR records its requester (csrStrategy.PrepareForCreate sets `spec.username`, `uid` and
`groups` from the authenticated user, whatever the body said). The `approval` subresource changes
only the conditions (Approved, Denied, Failed), stamping their update and transition times as the
approval strategy does; Approved and Denied together are invalid. Nothing signs certificates: an
approved CSR stays without `status.certificate`, as on a cluster whose signer is not running.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from sandbox.authentication import UserInfo
from sandbox.errors import invalid
from sandbox.kinds import ResourceType
from sandbox.store import StoredObject

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI


def record_requester(body: dict[str, Any], user: UserInfo) -> None:
    """Set the requesting user on a CSR about to be created."""
    spec = body.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec["username"] = user.username
    spec["groups"] = list(user.groups)
    spec.pop("uid", None)
    spec.pop("extra", None)
    if user.uid:
        spec["uid"] = user.uid


def approve(
    api: ResourceAPI,
    resource_type: ResourceType,
    current: StoredObject,
    conditions: list[dict[str, Any]],
    *,
    manager: str,
    dry_run: bool,
) -> StoredObject:
    """Write the CSR with these conditions, through the approval subresource."""
    kinds = {c.get("type") for c in conditions if c.get("status", "True") == "True"}
    if {"Approved", "Denied"} <= kinds:
        raise invalid(
            resource_type.kind,
            current.name,
            [
                (
                    "status.conditions",
                    'Invalid value: "Approved": Approved and Denied conditions are mutually exclusive',
                )
            ],
            group=resource_type.group,
        )
    old = {
        (c.get("type"), c.get("status")): c for c in (current.obj.get("status") or {}).get("conditions") or []
    }
    now = api.clock()
    filled = []
    for condition in conditions:
        condition = dict(condition)
        condition.setdefault("status", "True")
        condition["lastUpdateTime"] = condition.get("lastUpdateTime") or now
        previous = old.get((condition.get("type"), condition.get("status")))
        condition["lastTransitionTime"] = condition.get("lastTransitionTime") or (
            previous.get("lastTransitionTime") if previous else now
        )
        filled.append(condition)
    updated = copy.deepcopy(current.obj)
    updated.setdefault("status", {})["conditions"] = filled
    return api.pipeline.update(
        resource_type, current, updated, manager=manager, dry_run=dry_run, subresource="approval"
    )
