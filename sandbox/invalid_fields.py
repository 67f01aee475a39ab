"""The field errors the built-in kinds' validation reports (sandbox.validation, sandbox.pod_validation),
worded as k8s.io/apimachinery's field.Error.ErrorBody writes them for Kubernetes 1.31, and the name
formats whose messages they quote."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


@dataclass(frozen=True)
class FieldError:
    """One cause of a 422: the field path and the message after it (its prefix, such as "Required
    value", gives the cause's reason)."""

    field: str
    detail: str

    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldError:
        return cls(field, "Required value" + (f": {detail}" if detail else ""))

    @classmethod
    def invalid(cls, field: str, value: Any, detail: str) -> FieldError:
        return cls(field, f"Invalid value: {go_value(value)}: {detail}")

    @classmethod
    def duplicate(cls, field: str, value: Any) -> FieldError:
        return cls(field, f"Duplicate value: {go_value(value)}")

    @classmethod
    def not_found(cls, field: str, value: Any) -> FieldError:
        return cls(field, f"Not found: {go_value(value)}")

    @classmethod
    def forbidden(cls, field: str, detail: str) -> FieldError:
        return cls(field, f"Forbidden: {detail}")

    @classmethod
    def too_long(cls, field: str, max_bytes: int) -> FieldError:
        """field.TooLong of 1.31 (later releases say "may not be more than N bytes")."""
        return cls(field, f"Too long: must have at most {max_bytes} bytes")

    @classmethod
    def not_supported(cls, field: str, value: Any, allowed: list[str]) -> FieldError:
        quoted = ", ".join(json.dumps(v) for v in allowed)
        return cls(
            field,
            f"Unsupported value: {go_value(value)}: supported values: {quoted}",
        )

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


def go_value(value: Any) -> str:
    """A bad value as ErrorBody prints it: strings as Go's %q (printable unicode kept), maps as Go's
    %#v of a map[string]string."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{inner}}}"
    return json.dumps(value)
