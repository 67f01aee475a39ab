"""What a sync sends: the applied form of each desired object, and the order objects are applied in.

`prepare_for_apply` turns a manifest from Git into the body of a server-side apply so that, after
the apply, the drift engine (`core.drift.comparator`) sees nothing left to change (DESIGN drift rule 7):

- tracking: the label and annotation that mark the object as the app's (DESIGN "Tracking");
- Secret `stringData` folded into base64 `data`, as the server stores it, so kubedrift's Apply
  entry in managedFields owns `data` keys (drift rule 2 reads those);
- fields under `ignoreDifferences` carry their live value (Argo CD's RespectIgnoreDifferences), so a
  sync never resets a field the user told kubedrift to leave alone;
- fields only the server writes (status, resourceVersion, uid, managedFields...) are dropped: an
  object exported with `kubectl get -o yaml` would otherwise fail to apply (managedFields must be
  nil, a stale resourceVersion is a precondition), and the drift engine never compares them.

Argo CD-tracked apps (`tracking: argocd`) are Argo CD's: kubedrift syncing one stands in for
Argo CD, so it writes Argo CD's tracking annotation (keeping the live value when there is one,
never rewriting what Argo CD wrote) and adds neither its own label nor its own annotation. The
label would misstate who manages the object, and a second tracking id would make it look owned by
a kubedrift app of the same name. Flux-tracked apps (`tracking: flux`) are Flux's in the same way: a
sync writes the labels Flux itself sets (`kustomize.toolkit.fluxcd.io/name` and `/namespace`, or
helm-controller's), and nothing of kubedrift's.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

from core.drift.keys import list_identity
from core.drift.rules import pointer_segments, schema_of
from core.model import (
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    TRACKING_LABEL_VALUE,
    App,
    ResourceKey,
    TrackingMethod,
)
from core.schema import FieldType, ListType, Shape

# Namespaces and CRDs first (everything else may live in or be one of them), then what workloads
# mount or run as, then the rest (DESIGN "Sync, prune, self-heal").
_FIRST: Final = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})
_SECOND: Final = frozenset({("", "ServiceAccount"), ("", "ConfigMap"), ("", "Secret")})

_SERVER_WRITTEN_METADATA: Final = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)
_MISSING: Final = object()


def apply_tier(key: ResourceKey) -> int:
    """0 for Namespaces and CRDs, 1 for ServiceAccounts, ConfigMaps and Secrets, 2 for the rest."""
    group_kind = (key.group, key.kind)
    if group_kind in _FIRST:
        return 0
    if group_kind in _SECOND:
        return 1
    return 2


def apply_order(keys: Iterable[ResourceKey]) -> list[ResourceKey]:
    """The keys in the order a sync applies them: by tier, then by key, so every run is the same."""
    return sorted(keys, key=lambda key: (apply_tier(key), key))


def prune_order(keys: Iterable[ResourceKey]) -> list[ResourceKey]:
    """The reverse of the apply order: workloads go before the config they use and the namespace last."""
    return sorted(keys, key=lambda key: (-apply_tier(key), key))


def is_secret(key: ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"


def prepare_for_apply(
    app: App, key: ResourceKey, desired: Mapping[str, Any], live: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The apply body for `desired`: a copy with tracking, folded Secret data and live ignored fields."""
    applied: dict[str, Any] = copy.deepcopy(dict(desired))
    applied.pop("status", None)
    metadata = applied.get("metadata")
    metadata = applied["metadata"] = dict(metadata) if isinstance(metadata, Mapping) else {}
    for name in _SERVER_WRITTEN_METADATA:
        metadata.pop(name, None)
    _add_tracking(app, key, metadata, live)
    if is_secret(key):
        _fold_string_data(applied)
    if live is not None:
        # On create there is no live value to keep: Git's value is the only one there is.
        for pointer in app.ignore_rules_for(key):
            _keep_live_value(applied, live, _secret_pointer(pointer) if is_secret(key) else pointer)
    return applied


def _add_tracking(
    app: App, key: ResourceKey, metadata: dict[str, Any], live: Mapping[str, Any] | None
) -> None:
    annotations = metadata.get("annotations")
    annotations = metadata["annotations"] = dict(annotations) if isinstance(annotations, Mapping) else {}
    labels = metadata.get("labels")
    labels = dict(labels) if isinstance(labels, Mapping) else {}
    if app.tracking is TrackingMethod.FLUX:
        if app.flux_owner is not None:
            metadata["labels"] = labels | app.flux_owner.labels
        return
    if app.tracking is TrackingMethod.ARGOCD:
        annotation = app.tracking.annotation
        live_annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
        annotations[annotation] = live_annotations.get(annotation) or key.tracking_id(app.name)
        return
    metadata["labels"] = labels
    labels[TRACKING_LABEL] = TRACKING_LABEL_VALUE
    annotations[TRACKING_ANNOTATION] = key.tracking_id(app.name)


def _fold_string_data(secret: dict[str, Any]) -> None:
    """`stringData` into base64 `data`, as the server does on write (stringData wins on a shared key)."""
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, Mapping) or not string_data:
        return
    data = secret.get("data")
    folded = dict(data) if isinstance(data, Mapping) else {}
    for name, value in string_data.items():
        # str() mirrors the drift engine, which compares a YAML number here by its text.
        folded[name] = base64.b64encode(str(value).encode()).decode()
    secret["data"] = folded


def _secret_pointer(pointer: str) -> str:
    """An ignored `/stringData/x` names the data key `x` once stringData is folded."""
    return "/data" + pointer[len("/stringData") :] if pointer.startswith("/stringData/") else pointer


# RespectIgnoreDifferences.


def _keep_live_value(applied: dict[str, Any], live: Mapping[str, Any], pointer: str) -> None:
    """Set the field at `pointer` to its live value, or drop it from `applied` when live lacks it."""
    try:
        segments = pointer_segments(pointer)
    except ValueError:
        return  # config loading reports malformed pointers; here one is simply not applied
    if not segments:
        return
    schema = schema_of(str(applied.get("apiVersion") or ""), str(applied.get("kind") or ""))
    value = _live_value(applied, live, segments, schema)
    if value is _MISSING:
        _remove(applied, segments)
    else:
        _set(applied, segments, copy.deepcopy(value))


def _live_value(applied: Any, live: Any, segments: tuple[str, ...], schema: FieldType) -> Any:
    """The live value at a pointer into the applied object; list indexes follow the drift engine.

    An index into a keyed list (the schema's list-map: containers, env, ports...) names the applied
    element, and the live element is the one with the same keys, wherever it sits in the live list.
    """
    for segment in segments:
        if isinstance(live, Mapping):
            applied = applied.get(segment) if isinstance(applied, Mapping) else None
            live = live.get(segment, _MISSING)
            schema = schema.child(segment)
        elif isinstance(live, list) and segment.isdigit():
            index = int(segment)
            element = applied[index] if isinstance(applied, list) and index < len(applied) else None
            live = _live_element(element, live, index, schema)
            applied = element
            schema = schema.item()
        else:
            return _MISSING
        if live is _MISSING:
            return _MISSING
    return live


def _live_element(element: Any, live_list: list[Any], index: int, list_type: FieldType) -> Any:
    if isinstance(element, Mapping) and list_type.shape is Shape.LIST and list_type.list_type is ListType.MAP:
        identity = list_identity(element, list_type)
        if identity is not None:
            for candidate in live_list:
                if isinstance(candidate, Mapping) and list_identity(candidate, list_type) == identity:
                    return candidate
            return _MISSING
    return live_list[index] if index < len(live_list) else _MISSING


def _set(applied: dict[str, Any], segments: tuple[str, ...], value: Any) -> None:
    node: Any = applied
    for segment in segments[:-1]:
        if isinstance(node, dict):
            child = node.get(segment)
            if not isinstance(child, dict | list):
                child = node[segment] = {}
            node = child
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return  # Git's list has no such element: there is nothing of Git's to override
    last = segments[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value


def _remove(applied: dict[str, Any], segments: tuple[str, ...]) -> None:
    node: Any = applied
    for segment in segments[:-1]:
        if isinstance(node, dict):
            node = node.get(segment)
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return
    # A list element is never removed: that would shift its neighbours onto other pointers.
    if isinstance(node, dict):
        node.pop(segments[-1], None)
