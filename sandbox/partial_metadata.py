"""`as=PartialObjectMetadata(List)` responses: only the metadata of objects, for metadata-only clients
(the dynamic client, metadata informers), as the API server's transformResponseObject answers them."""

from __future__ import annotations

from typing import Any

from sandbox.store import StoredObject, encode_json

_GROUP = "meta.k8s.io"
_VERSIONS = ("v1", "v1beta1")


def wants_partial_metadata(accept: str) -> str | None:
    """The meta.k8s.io group-version of the PartialObjectMetadata the Accept header asks for first,
    or None when it asks for full objects (or a Table) first."""
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = {
            key.strip().lower(): value.strip()
            for key, _, value in (p.partition("=") for p in parts[1:] if "=" in p)
        }
        kind = params.get("as", "")
        if kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            if params.get("g") == _GROUP and params.get("v") in _VERSIONS:
                return f"{_GROUP}/{params['v']}"
            continue
        if parts[0].lower() in ("application/json", "*/*", "application/yaml") or kind:
            return None
    return None


def partial_object(stored: StoredObject, api_version: str) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": stored.obj["metadata"]}


def partial_list(
    items: list[StoredObject],
    api_version: str,
    *,
    resource_version: int,
    continue_token: str | None,
    remaining: int | None,
) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return encode_json(
        {
            "kind": "PartialObjectMetadataList",
            "apiVersion": api_version,
            "metadata": metadata,
            "items": [partial_object(item, api_version) for item in items],
        }
    )
