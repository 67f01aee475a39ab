"""The PATCH media types and the patch function each one selects."""

from __future__ import annotations

from typing import Any

from sandbox.errors import bad_request, unsupported_media_type
from sandbox.kinds import ResourceType
from sandbox.patching.jsonpatch import apply_json_patch
from sandbox.patching.merge import json_merge_patch
from sandbox.patching.strategic import strategic_merge_patch

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC_MERGE, APPLY)
# Custom resources have no Go struct tags to merge by, so a real server refuses strategic merge.
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE, APPLY)


def apply_patch(
    resource_type: ResourceType | None, original: dict[str, Any], patch_type: str, body: Any
) -> Any:
    """`original` with a non-apply patch applied; `resource_type` None patches an autoscaling/v1 Scale."""
    if patch_type == JSON_PATCH:
        if not isinstance(body, list):
            raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return apply_json_patch(original, body)
    if not isinstance(body, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    if patch_type == MERGE:
        return json_merge_patch(original, body)
    if patch_type == STRATEGIC_MERGE:
        if resource_type is not None and resource_type.custom:
            raise unsupported_media_type(CUSTOM_PATCH_TYPES)
        group, kind = (
            ("autoscaling", "Scale") if resource_type is None else (resource_type.group, resource_type.kind)
        )
        return strategic_merge_patch(original, body, group=group, kind=kind)
    raise unsupported_media_type(PATCH_TYPES)
