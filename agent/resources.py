"""One resource of an app as the agent serves it: its verdict, its diff, and both objects, Secrets masked.

`GET /api/v1/apps/{app}/resources/{group}/{kind}/{namespace}/{name}` answers
`{"resource": <its check -o json entry>, "diff": <the text kubedrift diff prints, without colour>,
"live": <the live object or null>, "desired": <the desired object or null>}`.

Secret values never leave the agent (DESIGN drift rule 6). In `live` and `desired` every value under
`data` and `stringData` is `********`, as Argo CD masks them, and so is every value in the
`kubectl.kubernetes.io/last-applied-configuration` annotation's copy of the object, which holds the
values in plain text. The diff is `kubedrift diff`'s own, which shows `***`, and `*** (changed)` on a
key whose value drifted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from core.drift.last_applied import LAST_APPLIED
from core.drift.text import drift_text, removal_text
from core.model import Change, Drift, ResourceKey, ResourceResult, SyncStatus

if TYPE_CHECKING:
    from core.engine import Engine

SECRET_VALUE_MASK: Final = "********"
"""What every Secret value reads as in a resource document (Argo CD's mask)."""

CORE_GROUP: Final = "core"
"""How a path names the core group ("" in a ResourceKey), as `kubectl get` names it."""
CLUSTER_SCOPED: Final = "_"
"""How a path names the namespace of a cluster-scoped object."""


def key_from_path(group: str, kind: str, namespace: str, name: str) -> ResourceKey:
    """The key a resource path names: `core` is the core group, `_` no namespace."""
    return ResourceKey(
        "" if group == CORE_GROUP else group, kind, "" if namespace == CLUSTER_SCOPED else namespace, name
    )


def resource_path(key: ResourceKey) -> str:
    """The path segment after `/resources/` that names `key` (the inverse of key_from_path)."""
    return "/".join((key.group or CORE_GROUP, key.kind, key.namespace or CLUSTER_SCOPED, key.name))


def verdict_of(engine: Engine, app: str, key: ResourceKey) -> ResourceResult | None:
    """The resource's verdict as `check -o json` shows it (with the other apps declaring it too), or
    None when the app does not judge such a resource."""
    runtime = engine.apps[app]
    result = runtime.reconciler.results.get(key)
    if result is None:
        return None
    shared = runtime.shared_with.get(key)
    return dataclasses.replace(result, shared_with=shared) if shared else result


def resource_document(
    engine: Engine, app: str, key: ResourceKey, result: ResourceResult, live: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The document for one judged resource of `app`, `live` its whole live object
    (`Engine.full_live_object`). Reads the engine: call it on the engine's loop."""
    runtime = engine.apps[app]
    desired = runtime.desired.objects.get(key)
    secret = is_secret(key)
    return {
        "resource": result.to_json(),
        "diff": diff_text(engine, app, key, result, live, desired),
        "live": None if live is None else plain(masked_secret(live) if secret else live),
        "desired": None if desired is None else plain(masked_secret(desired) if secret else desired),
    }


def diff_text(
    engine: Engine,
    app: str,
    key: ResourceKey,
    result: ResourceResult,
    live: Mapping[str, Any] | None,
    desired: Mapping[str, Any] | None,
) -> str:
    """What `kubedrift diff` prints for the resource, without colour and without its `===` header:
    the removal for a prune candidate, live against Git for a drifted or missing one, else nothing."""
    rules = engine.apps[app].reconciler.rules_for(key)
    if result.status is SyncStatus.EXTRANEOUS and live is not None:
        return removal_text(live, rules)
    if result.status in (SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING):
        changes = result.changes or (Change("", None, None),)
        return drift_text(desired or {}, live, rules, Drift(changes))
    return ""


def is_secret(key: ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"


def masked_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with every value under `data` and `stringData` replaced by the mask, its copy in the
    last-applied annotation too; keys stay, so a reader sees which keys there are."""
    masked = dict(obj)
    for section in ("data", "stringData"):
        values = masked.get(section)
        if isinstance(values, Mapping):
            masked[section] = dict.fromkeys(values, SECRET_VALUE_MASK)
    metadata = masked.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if isinstance(metadata, Mapping) and isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        annotations = {**annotations, LAST_APPLIED: _masked_last_applied(annotations[LAST_APPLIED])}
        masked["metadata"] = {**metadata, "annotations": annotations}
    return masked


def _masked_last_applied(text: Any) -> str:
    """The annotation's JSON with its values masked; the whole annotation masked when it is not a
    JSON object (a hand-written one could hold a value anywhere)."""
    try:
        applied = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        applied = None
    if not isinstance(applied, dict):
        return SECRET_VALUE_MASK
    inner = {
        section: dict.fromkeys(values, SECRET_VALUE_MASK)
        if isinstance(values, Mapping)
        else SECRET_VALUE_MASK
        for section, values in applied.items()
        if section in ("data", "stringData")
    }
    return json.dumps({**applied, **inner}, separators=(",", ":"))


def plain(value: Any) -> Any:
    """`value` as plain dicts and lists, for JSON: cached live objects share read-only mappings."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
