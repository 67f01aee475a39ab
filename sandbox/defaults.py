"""Defaulting as the sandbox's decoder does it: the server defaults of a built-in kind
(`core.schema.server_defaults`, shared with the drift engine), a malformed quantity answered with the
API server's 400, and the result encoded as Go encodes it (`sandbox.omitempty`): empty maps and slices
dropped, embedded ObjectMeta's null `creationTimestamp` written.
"""

from __future__ import annotations

from typing import Any

from core.schema.go_types import is_built_in
from core.schema.server_defaults import QuantityError, default_object, drop_nulls
from sandbox.errors import bad_request
from sandbox.omitempty import encode_as_go

__all__ = ["apply_defaults", "drop_nulls"]


def apply_defaults(obj: dict[str, Any], *, group: str, kind: str) -> None:
    """Fill in the server defaults of a built-in kind in place; a custom resource is left alone.
    Raises a 400 Status error for a malformed quantity, as decoding would."""
    if not is_built_in(group):
        return
    version = str(obj.get("apiVersion") or "").rpartition("/")[2]
    try:
        default_object(obj, group=group, kind=kind)
    except QuantityError as error:
        message = f'{kind} in version "{version}" cannot be handled as a {kind}: {error}'
        raise bad_request(message) from None
    encode_as_go(obj, group=group, version=version, kind=kind)
