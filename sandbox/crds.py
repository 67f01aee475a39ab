"""CustomResourceDefinitions: the types they serve, their status, and structural pruning and defaults.

A CRD's served versions become registry entries; its custom objects are pruned to the structural
schema and get the schema's defaults, as the apiextensions-apiserver does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sandbox.kinds import STANDARD_VERBS, Generation, ResourceType, ScalePaths

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key for Kubernetes' version priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo."""
    match = _KUBE_VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)


def apply_crd_defaults(crd: dict[str, Any]) -> None:
    """The defaults apiextensions sets on a CRD: names, conversion and version flags."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})
    if spec.get("preserveUnknownFields") is False:
        # A plain bool with omitempty: false is never written back.
        del spec["preserveUnknownFields"]


def served_types(crd: dict[str, Any]) -> list[ResourceType]:
    """A registry entry for each served version of the CRD, highest priority first."""
    spec = crd["spec"]
    names = spec["names"]
    found: list[ResourceType] = []
    versions = sorted(
        (v for v in spec.get("versions") or [] if v.get("served")),
        key=lambda v: version_priority(str(v["name"])),
    )
    for version in versions:
        subresources = version.get("subresources") or {}
        scale_spec = subresources.get("scale")
        scale_paths = None
        if scale_spec is not None:
            scale_paths = ScalePaths(
                spec_replicas=scale_spec.get("specReplicasPath", ".spec.replicas"),
                status_replicas=scale_spec.get("statusReplicasPath", ".status.replicas"),
                label_selector=scale_spec.get("labelSelectorPath"),
            )
        found.append(
            ResourceType(
                group=str(spec["group"]),
                version=str(version["name"]),
                kind=str(names["kind"]),
                plural=str(names["plural"]),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                verbs=STANDARD_VERBS,
                subresources=tuple(sorted(name for name in ("status", "scale") if name in subresources)),
                generation=Generation.NOT_METADATA,
                returns_deleted_object=True,
                custom=True,
                scale_paths=scale_paths,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return found


def established_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """The status the naming and establishing controllers give an accepted CRD."""
    spec = crd["spec"]
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    previous = (crd.get("status") or {}).get("storedVersions") or []
    stored = list(previous) + [v for v in storage if v not in previous]

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": copy.deepcopy(spec["names"]),
        "storedVersions": stored,
    }


def terminating_condition(now: str) -> dict[str, Any]:
    return {
        "type": "Terminating",
        "status": "True",
        "lastTransitionTime": now,
        "reason": "InstanceDeletionInProgress",
        "message": "CustomResource deletion is in progress",
    }


def prune_and_default(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Drop fields the structural schema does not know and fill in its defaults, in place; the paths
    of the dropped fields are returned (for `fieldValidation` warnings and errors)."""
    if not schema:
        return []
    pruned: list[str] = []
    properties = schema.get("properties") or {}
    for key in list(obj):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key in properties:
            obj[key] = _walk(obj[key], properties[key], key, pruned)
            _settle_null(obj, key, properties[key])
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            del obj[key]
            pruned.append(key)
    _fill_defaults(obj, properties, skip=("apiVersion", "kind", "metadata"))
    return pruned


def _settle_null(container: dict[str, Any], key: str, schema: Any) -> None:
    """A null where the schema does not allow one: its default replaces it, or it is dropped
    (PruneNonNullableNullsWithoutDefaults, then Default); an allowed or list null stays for validation."""
    if container.get(key, 0) is not None or not isinstance(schema, dict) or schema.get("nullable"):
        return
    if "default" in schema:
        container[key] = _walk(copy.deepcopy(schema["default"]), schema, key, [])
    else:
        del container[key]


def _walk(value: Any, schema: dict[str, Any], path: str, pruned: list[str]) -> Any:
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        if properties is not None:
            for key in list(value):
                if key in properties:
                    value[key] = _walk(value[key], properties[key], f"{path}.{key}", pruned)
                    _settle_null(value, key, properties[key])
                elif isinstance(additional, dict):
                    value[key] = _walk(value[key], additional, f"{path}.{key}", pruned)
                    _settle_null(value, key, additional)
                elif not preserve and additional is not True:
                    del value[key]
                    pruned.append(f"{path}.{key}")
            _fill_defaults(value, properties)
        elif isinstance(additional, dict):
            for key in list(value):
                value[key] = _walk(value[key], additional, f"{path}.{key}", pruned)
                _settle_null(value, key, additional)
        return value
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        walked = [_walk(item, items, f"{path}[{index}]", pruned) for index, item in enumerate(value)]
        if "default" in items and not items.get("nullable"):
            # A null item is defaulted, never dropped (list positions matter).
            default = items["default"]
            walked = [_walk(copy.deepcopy(default), items, path, []) if v is None else v for v in walked]
        return walked
    return value


def _fill_defaults(value: dict[str, Any], properties: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    for key, sub_schema in properties.items():
        if key in skip or key in value or not isinstance(sub_schema, dict):
            continue
        if "default" in sub_schema:
            value[key] = _walk(copy.deepcopy(sub_schema["default"]), sub_schema, key, [])


def read_path(obj: dict[str, Any], json_path: str) -> Any:
    """The value at a simple `.a.b.c` JSON path (what CRD scale paths and printer columns use)."""
    current: Any = obj
    for part in json_path.lstrip(".").split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def write_path(obj: dict[str, Any], json_path: str, value: Any) -> None:
    parts = json_path.lstrip(".").split(".")
    current = obj
    for part in parts[:-1]:
        current = current.setdefault(part, {})
    current[parts[-1]] = value
