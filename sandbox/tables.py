"""Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for instead of objects."""

from __future__ import annotations

from typing import Any

from sandbox.kinds import ResourceType
from sandbox.printer_columns import columns_for
from sandbox.store import StoredObject


def _row_object(stored: StoredObject, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return stored.obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": stored.obj["metadata"],
    }


def to_table(
    resource_type: ResourceType,
    items: list[StoredObject],
    *,
    resource_version: str | None,
    continue_token: str | None = None,
    include_object: str = "Metadata",
    headers: bool = True,
) -> dict[str, Any]:
    columns = columns_for(resource_type)
    definitions = [
        {
            "name": name,
            "type": kind,
            "format": "name" if name == "Name" else "",
            "description": name,
            "priority": priority,
        }
        for name, kind, priority, _cell in columns
    ]
    rows = []
    for stored in items:
        row: dict[str, Any] = {"cells": [cell(stored.obj) for _n, _t, _p, cell in columns]}
        row_object = _row_object(stored, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    if headers:
        table["columnDefinitions"] = definitions
    table["rows"] = rows
    return table


def wants_table(accept: str) -> bool:
    """Whether the Accept header asks for a meta.k8s.io Table first (as `kubectl get` does)."""
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
        if parts[0] in ("application/json", "*/*", "application/yaml") and "as" not in params:
            return False
    return False
