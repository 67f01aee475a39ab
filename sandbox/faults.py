"""Faults on demand and the request log: how tests make the sandbox misbehave and watch what it was asked.

`Faults` holds plain state that the server's middleware consults on every request; the actions that
touch the store (dropping watches, compaction) go through callbacks the server installs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.errors import (
    StatusError,
    forbidden,
    internal_error,
    rbac_forbidden_message,
    too_many_requests,
)

_REASONS = {
    500: "InternalError",
    429: "TooManyRequests",
    403: "Forbidden",
    503: "ServiceUnavailable",
    504: "Timeout",
    401: "Unauthorized",
    409: "Conflict",
    404: "NotFound",
}


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it: enough to prove what a client read or wrote."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    status: int
    user_agent: str = ""

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Failure:
    resource: str
    remaining: int
    code: int
    retry_after: int
    verbs: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class RequestTarget:
    """What a request touches, as the fault matcher and Status messages need it."""

    verb: str  # get, list, watch, create, update, patch, delete, deletecollection
    group: str
    plural: str
    namespace: str = ""
    name: str = ""


@dataclass
class Faults:
    """The fault plan and the request log of one sandbox."""

    request_log: list[RequestRecord] = field(default_factory=list)
    delay_seconds: float = 0.0
    _failures: list[_Failure] = field(default_factory=list)
    _on_drop_watches: Callable[[], int] | None = None
    _on_compact: Callable[[], None] | None = None

    def fail_next(
        self,
        *,
        resource: str,
        count: int = 1,
        code: int = 500,
        retry_after: int = 1,
        verbs: tuple[str, ...] | list[str] = (),
        message: str = "",
    ) -> None:
        """Make the next `count` requests for `resource` (a plural such as `deployments`, or
        `deployments.apps`) fail with `code`: 500, 429 (with Retry-After) or 403 Forbidden."""
        self._failures.append(_Failure(resource, count, code, retry_after, tuple(verbs), message))

    def drop_watches(self) -> int:
        """Close every open watch now, as a restarting API server would; returns how many closed."""
        return self._on_drop_watches() if self._on_drop_watches else 0

    def compact(self) -> None:
        """Forget watch history, so every older resourceVersion gets 410 Gone."""
        if self._on_compact:
            self._on_compact()

    def latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` (0 turns it off)."""
        self.delay_seconds = max(0.0, float(seconds))

    def clear(self) -> None:
        """Cancel pending failures and latency."""
        self._failures.clear()
        self.delay_seconds = 0.0

    def clear_request_log(self) -> None:
        self.request_log.clear()

    def writes(self) -> list[RequestRecord]:
        return [record for record in self.request_log if record.is_write]

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        """Run one admin action given as JSON (the `/sandbox/faults` endpoint)."""
        name = action.get("action")
        if name == "fail_next":
            self.fail_next(
                resource=str(action["resource"]),
                count=int(action.get("count", 1)),
                code=int(action.get("code", 500)),
                retry_after=int(action.get("retryAfter", 1)),
                verbs=tuple(action.get("verbs") or ()),
                message=str(action.get("message", "")),
            )
            return {"ok": True}
        if name == "drop_watches":
            return {"ok": True, "dropped": self.drop_watches()}
        if name == "compact":
            self.compact()
            return {"ok": True}
        if name == "latency":
            self.latency(float(action.get("seconds", 0)))
            return {"ok": True}
        if name == "clear":
            self.clear()
            return {"ok": True}
        raise ValueError(
            f"unknown fault action {name!r}: use fail_next, drop_watches, compact, latency or clear"
        )

    def failure_for(self, target: RequestTarget, user: str) -> StatusError | None:
        """The injected error for this request, consuming one planned failure, or None."""
        for failure in self._failures:
            if failure.resource not in (target.plural, f"{target.plural}.{target.group}"):
                continue
            if failure.verbs and target.verb not in failure.verbs:
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            return _error_for(failure, target, user)
        return None


def _error_for(failure: _Failure, target: RequestTarget, user: str) -> StatusError:
    group_resource = f"{target.plural}.{target.group}" if target.group else target.plural
    if failure.code == 403:
        reason = failure.message or rbac_forbidden_message(
            user, target.verb, target.plural, target.group, target.namespace
        )
        return forbidden(group_resource, target.name, reason)
    if failure.code == 429:
        if failure.message:
            return too_many_requests(failure.retry_after, failure.message)
        return too_many_requests(failure.retry_after)
    if failure.code == 500:
        return internal_error(failure.message or "injected fault")
    return StatusError(
        failure.code,
        _REASONS.get(failure.code, "Unknown"),
        failure.message or f"injected fault with status {failure.code}",
    )
