"""The three non-apply patch formats a real API server accepts on PATCH."""

from __future__ import annotations

from sandbox.patching.jsonpatch import apply_json_patch
from sandbox.patching.merge import json_merge_patch
from sandbox.patching.strategic import strategic_merge_patch

__all__ = ["apply_json_patch", "json_merge_patch", "strategic_merge_patch"]
