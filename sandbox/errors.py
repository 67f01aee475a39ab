"""API errors that the sandbox answers as `Status` objects, shaped like the real API server's.

The constructors mirror `k8s.io/apimachinery/pkg/api/errors` (NewNotFound, NewConflict, NewInvalid, ...),
so a client sees the same `reason`, `code`, `message` and `details` it would see from a real cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

# The precondition message of a resourceVersion mismatch (storage.NewResourceVersionConflictsError).
OBJECT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)

# NewGenericServerResponse replaces the server's own text with these for the codes it knows; the
# JSON patch, JSON merge patch and strategic merge patch handlers answer through it.
GENERIC_UNPROCESSABLE = "the server rejected our request due to an error in our request"

# field.ErrorType strings, by the prefix they give a cause's message (field.Error.ErrorBody).
_CAUSE_TYPES = (
    ("Required value", "FieldValueRequired"),
    ("Invalid value", "FieldValueInvalid"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Not found", "FieldValueNotFound"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Internal error", "InternalError"),
)


class StatusError(Exception):
    """An API error that the server answers as a Status object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def to_status(self) -> dict[str, Any]:
        """The Status object, with the keys in the order a real server writes them."""
        status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            status["message"] = self.message
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def split_group_resource(group_resource: str) -> tuple[str, str]:
    """("deployments.apps") -> ("apps", "deployments"); a core resource has no group."""
    resource, _, group = group_resource.partition(".")
    return group, resource


def _object_details(group_resource: str, name: str) -> dict[str, Any]:
    group, resource = split_group_resource(group_resource)
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return details


def not_found(group_resource: str, name: str) -> StatusError:
    """404: `deployments.apps "web" not found` (also a namespace that does not exist)."""
    return StatusError(
        404, "NotFound", f'{group_resource} "{name}" not found', details=_object_details(group_resource, name)
    )


def already_exists(group_resource: str, name: str) -> StatusError:
    """409 on a POST of a name that is taken."""
    return StatusError(
        409,
        "AlreadyExists",
        f'{group_resource} "{name}" already exists',
        details=_object_details(group_resource, name),
    )


def conflict(message: str = OBJECT_MODIFIED, *, group_resource: str = "", name: str = "") -> StatusError:
    """409 Conflict; given the object, worded as NewConflict: 'Operation cannot be fulfilled on ...'."""
    if group_resource:
        message = f'Operation cannot be fulfilled on {group_resource} "{name}": {message}'
        return StatusError(409, "Conflict", message, details=_object_details(group_resource, name))
    return StatusError(409, "Conflict", message)


def _cause_type(body: str) -> str:
    for prefix, cause_type in _CAUSE_TYPES:
        if body.startswith(prefix):
            return cause_type
    return "FieldValueInvalid"


def invalid(kind: str, name: str, causes: Iterable[tuple[str, str]], *, group: str = "") -> StatusError:
    """422 Invalid. Each cause is (field, body) with body as field.Error.ErrorBody writes it,
    for example ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")."""
    qualified_kind = f"{kind}.{group}" if group else kind
    cause_list = list(causes)
    unique: list[str] = []
    for field, body in cause_list:
        text = f"{field}: {body}" if field else body
        if text not in unique:
            unique.append(text)
    message = f'{qualified_kind} "{name}" is invalid'
    if len(unique) == 1:
        message += f": {unique[0]}"
    elif unique:
        message += ": [" + ", ".join(unique) + "]"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details["causes"] = [
        {"reason": _cause_type(body), "message": body, "field": field} for field, body in cause_list
    ]
    return StatusError(422, "Invalid", message, details=details)


def unprocessable() -> StatusError:
    """422 as NewGenericServerResponse writes it: a failing JSON patch `test`, a bad patch path."""
    return StatusError(422, "Invalid", GENERIC_UNPROCESSABLE, details={})


def bad_request(message: str) -> StatusError:
    """400: a malformed body, or a kind or apiVersion that does not match the URL."""
    return StatusError(400, "BadRequest", message)


def rbac_forbidden_message(user: str, verb: str, resource: str, group: str = "", namespace: str = "") -> str:
    """The authorizer's sentence, as kube-apiserver's forbiddenMessage words it."""
    if namespace:
        return (
            f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" '
            f'in the namespace "{namespace}"'
        )
    return f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" at the cluster scope'


def forbidden(group_resource: str, name: str, message: str) -> StatusError:
    """403: `deployments.apps "web" is forbidden: <message>`, or without a name
    `deployments.apps is forbidden: <message>`."""
    if not group_resource:
        text = f"forbidden: {message}"
    elif name:
        text = f'{group_resource} "{name}" is forbidden: {message}'
    else:
        text = f"{group_resource} is forbidden: {message}"
    return StatusError(403, "Forbidden", text, details=_object_details(group_resource, name))


def too_many_requests(
    retry_after: int, message: str = "Too many requests, please try again later."
) -> StatusError:
    """429 with a Retry-After header and details.retryAfterSeconds."""
    return StatusError(
        429,
        "TooManyRequests",
        message,
        details={"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def expired(message: str) -> StatusError:
    """410 Expired: a watch from a compacted resourceVersion ('too old resource version: 5 (90)')."""
    return StatusError(410, "Expired", message)


def internal_error(message: str) -> StatusError:
    """500 as NewInternalError writes it."""
    return StatusError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def unreasoned_server_error(message: str) -> StatusError:
    """500 with no reason: what the server answers for a plain Go error (ErrorToAPIStatus)."""
    return StatusError(500, "", message)


def unsupported_media_type(accepted: Sequence[str]) -> StatusError:
    """415, for example a strategic merge patch sent to a custom resource."""
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def method_not_supported(group_resource: str, action: str) -> StatusError:
    """405, as NewMethodNotSupported words it."""
    group, resource = split_group_resource(group_resource)
    details: dict[str, Any] = {"group": group, "kind": resource} if group else {"kind": resource}
    return StatusError(
        405,
        "MethodNotAllowed",
        f'{action} is not supported on resources of kind "{group_resource}"',
        details=details,
    )
