"""The audit trail: one JSON line per sync or prune, under the XDG state folder, and never a Secret value.

Lines are appended with O_APPEND in a single write, so two kubedrift processes (a TUI and a CI job
on one bastion host) never interleave half-lines. The file is private to its user (0600): it
names apps, objects and who touched them.

Outcome messages come from API server Status messages, and those can quote a value (a 422 on a
Secret says `Invalid value: "..."`). `secret_values` and `scrub_secret_values` let whoever holds
the Secrets mask their values before a message is kept anywhere.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from core.errors import KubedriftError
from core.model import SECRET_MASK, SyncResult

OPERATIONS: Final = frozenset({"sync", "prune", "self-heal", "auto-sync"})
FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
SHORT_SECRET: Final = 4
"""Values shorter than this are masked only where a message quotes them whole: masking every "ab"
inside other words would make messages unreadable without hiding anything more."""


class AuditError(KubedriftError):
    """The audit file cannot be written."""


def audit_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/kubedrift/audit.jsonl`, with the XDG default `~/.local/state`."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME") or ""
    # The XDG spec says a relative path there is invalid and must be ignored.
    if not os.path.isabs(state):
        home = env.get("HOME") or str(Path.home())
        state = os.path.join(home, ".local", "state")
    return Path(state) / "kubedrift" / "audit.jsonl"


def current_user(environ: Mapping[str, str] | None = None) -> str:
    """The login name, as getpass finds it; `$USER` or "unknown" in containers without a passwd entry."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        env = os.environ if environ is None else environ
        return env.get("USER") or "unknown"


def audit_record(
    result: SyncResult,
    *,
    app: str,
    operation: str,
    user: str,
    secret_values: Iterable[str] = (),
) -> dict[str, Any]:
    """The JSON object of one audit line; outcome messages are scrubbed of `secret_values`."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown audit operation {operation!r}; expected one of {sorted(OPERATIONS)}")
    masked = sorted(set(secret_values), key=len, reverse=True)
    return {
        "time": result.started_at,
        "user": user,
        "app": app,
        "operation": operation,
        "revision": result.revision,
        "dryRun": result.dry_run,
        "results": [
            {
                "group": outcome.key.group,
                "kind": outcome.key.kind,
                "namespace": outcome.key.namespace,
                "name": outcome.key.name,
                "action": str(outcome.action),
                "message": _scrub(outcome.message, masked),
            }
            for outcome in result.outcomes
        ],
    }


def append_audit(
    result: SyncResult,
    *,
    app: str,
    operation: str,
    user: str | None = None,
    path: Path | None = None,
    secret_values: Iterable[str] = (),
) -> None:
    """Append one line for `result` to the audit file (created 0600, folders as needed)."""
    record = audit_record(
        result, app=app, operation=operation, user=user or current_user(), secret_values=secret_values
    )
    line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    target = path or audit_path()
    try:
        target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            if stat.S_IMODE(os.fstat(descriptor).st_mode) & 0o077:
                os.fchmod(descriptor, FILE_MODE)  # a file someone loosened must not stay readable
            written = os.write(descriptor, line)
            while written < len(line):  # only a full disk or a signal splits a write; keep the rest
                written += os.write(descriptor, line[written:])
        finally:
            os.close(descriptor)
    except OSError as error:
        raise AuditError(
            f"cannot append to the audit file {target}: {error.strerror or error}; "
            "check its permissions, or set XDG_STATE_HOME to a writable folder"
        ) from None


# Secret values.


def secret_values(objects: Iterable[Mapping[str, Any] | None]) -> frozenset[str]:
    """Every value the Secrets among `objects` hold: base64 `data`, decoded, and `stringData` both ways."""
    found: set[str] = set()
    for obj in objects:
        if not obj or obj.get("kind") != "Secret" or "/" in str(obj.get("apiVersion") or ""):
            continue
        for value in _section(obj, "data"):
            found.add(value)
            decoded = _decoded(value)
            if decoded:
                found.add(decoded)
        for value in _section(obj, "stringData"):
            found.add(value)
            found.add(base64.b64encode(value.encode()).decode())
    found.discard("")
    # Go quotes values with %q: a value with quotes or backslashes appears escaped in a message.
    found |= {json.dumps(value, ensure_ascii=False)[1:-1] for value in found}
    return frozenset(found)


def scrub_secret_values(text: str, values: Iterable[str]) -> str:
    """`text` with every one of `values` replaced by `***`."""
    return _scrub(text, sorted(set(values), key=len, reverse=True))


def _scrub(text: str, longest_first: list[str]) -> str:
    if not text:
        return text
    for value in longest_first:
        if not value:
            continue
        if len(value) >= SHORT_SECRET:
            text = text.replace(value, SECRET_MASK)
        else:
            text = text.replace(f'"{value}"', f'"{SECRET_MASK}"')
            text = re.sub(rf"(Invalid value: ){re.escape(value)}(?!\w)", rf"\g<1>{SECRET_MASK}", text)
    return text


def _section(obj: Mapping[str, Any], name: str) -> list[str]:
    values = obj.get(name)
    if not isinstance(values, Mapping):
        return []
    return [str(value) for value in values.values() if value is not None]


def _decoded(value: str) -> str:
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode()
    except (binascii.Error, ValueError):
        return ""
