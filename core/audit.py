"""The audit trail: one JSON line per sync or prune, under the XDG state folder, and never a Secret value.

The audit line comes first. A sync that changes the cluster asks `ensure_audit_writable` before it
sends anything: the folder must exist or be creatable, the file must open for appending, and its
disk must have room for the line. A sync the trail could not record is refused, not run.

Each line is written whole:
- one `write` of the complete line under an exclusive `flock`, so two kubedrift processes (a TUI
  and a CI job on one bastion host) never interleave, then `fsync`;
- a file whose last byte is not a newline (a crash cut an earlier line short) gets a newline
  first, so the torn fragment stays a line of its own, which `read_audit` skips, and the new
  record is never glued onto it;
- a write cut short (a full disk) is cut back off the file, when nothing but our own bytes follows
  the old end, before AuditError is raised.
The file is private to its user (0600): it names apps, objects and who touched them.

Outcome messages come from API server Status messages, and those can quote a value (a 422 on a
Secret says `Invalid value: "..."`). A message that quotes a Secret value is hidden whole, never
masked in place: `namespaces "***" not found` would tell that the value is the namespace's name.
`secret_values`, `scrub_secret_values` and `mask_outcomes` let whoever holds the Secrets hide such
messages before they are kept anywhere.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import errno
import fcntl
import getpass
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from core.errors import KubedriftError
from core.model import SyncResult
from core.redact import redact_text

OPERATIONS: Final = frozenset({"sync", "prune", "self-heal", "auto-sync", "rollback", "analysis"})
"""`rollback` and `analysis` lines are automated rollback's (core.rollback): its sync, and its steps."""
FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
SHORT_SECRET: Final = 4
"""Values shorter than this count only where a message quotes them whole: hiding every message
with an "ab" inside some other word would hide nearly all of them."""
SPACE_MARGIN: Final = 64 * 1024
"""Free bytes the audit file's disk must keep, beyond the line itself, before a sync may write."""
BYTES_PER_RESOURCE: Final = 512
"""Room counted per resource a sync may touch: one result in the line, with its message."""
AUDIT_FIX: Final = "free some space or fix its permissions, or set XDG_STATE_HOME to a writable folder"
HIDDEN_MESSAGE: Final = "the server's message was hidden because it quoted a Secret value"


class AuditError(KubedriftError):
    """The audit file cannot take a line; `problem` is the what-and-where half of the sentence, for
    callers that word their own around it (a refused sync, a paused self-heal)."""

    def __init__(self, path: Path, reason: str, message: str | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(message or f"{self.problem}; {AUDIT_FIX}")

    @property
    def problem(self) -> str:
        return f"cannot append to the audit file {self.path} ({self.reason})"


class AuditWriteError(AuditError):
    """A sync ran, but its audit line could not be appended; `result` is what the sync did, so the
    results are still shown before this error."""

    def __init__(self, result: SyncResult, error: AuditError, *, app: str, operation: str) -> None:
        self.result = result
        if result.dry_run:
            what = f"the dry run of {app} wrote nothing to the cluster but was not audited"
        else:
            what = f"the {operation} of {app} reached the cluster but its audit line was not written"
        super().__init__(error.path, error.reason, f"{what}: {error.problem}; {AUDIT_FIX}")


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
    """The JSON object of one audit line; a message that quotes one of `secret_values` is hidden."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown audit operation {operation!r}; expected one of {sorted(OPERATIONS)}")
    masked = _longest_first(secret_values)
    results = [
        {
            "group": outcome.key.group,
            "kind": outcome.key.kind,
            "namespace": outcome.key.namespace,
            "name": outcome.key.name,
            "action": str(outcome.action),
            # Messages can quote a server or webhook URL, with whatever credential it carries.
            "message": redact_text(_hidden_if_quoting(outcome.message, masked)),
        }
        for outcome in result.outcomes
    ]
    for hook in result.hooks:  # a hook's entry also says its phase and how it ended
        if 0 <= hook.position < len(results):
            results[hook.position] |= {"hook": hook.hook, "hookPhase": hook.phase}
    return {
        "time": result.started_at,
        "user": user,
        "app": app,
        "operation": operation,
        "revision": result.revision,
        "dryRun": result.dry_run,
        "results": results,
    }


def ensure_audit_writable(path: Path | None = None, *, resources: int = 0) -> None:
    """Raise AuditError unless the audit file can take a line for a sync of `resources` objects now:
    its folder exists or is created, it opens for appending, and its disk has room to spare."""
    target = path or audit_path()
    try:
        os.close(_open_for_append(target))
        space = os.statvfs(target.parent)
    except OSError as error:
        raise AuditError(target, _reason(error)) from None
    free = space.f_bavail * space.f_frsize
    needed = SPACE_MARGIN + resources * BYTES_PER_RESOURCE
    if free < needed:
        raise AuditError(target, f"{free // 1024} KiB free on its disk, {needed // 1024} KiB needed")


def append_audit(
    result: SyncResult,
    *,
    app: str,
    operation: str,
    user: str | None = None,
    path: Path | None = None,
    secret_values: Iterable[str] = (),
) -> None:
    """Append one whole line for `result` to the audit file (created 0600, folders as needed)."""
    record = audit_record(
        result, app=app, operation=operation, user=user or current_user(), secret_values=secret_values
    )
    append_audit_record(record, path=path)


def append_audit_record(record: Mapping[str, Any], *, path: Path | None = None) -> None:
    """Append one whole line holding `record` (already free of Secret values), as `append_audit` does."""
    line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    target = path or audit_path()
    try:
        descriptor = _open_for_append(target)
        try:
            # The tail judged below is the tail written after. Where locks are not supported (some
            # network filesystems), O_APPEND's single write still keeps two writers' lines apart.
            with contextlib.suppress(OSError):
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            if stat.S_IMODE(os.fstat(descriptor).st_mode) & 0o077:
                os.fchmod(descriptor, FILE_MODE)  # a file someone loosened must not stay readable
            _write_whole(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # closing releases the lock
    except OSError as error:
        raise AuditError(target, _reason(error)) from None


def read_audit(path: Path | None = None) -> list[dict[str, Any]]:
    """The records of the audit file, oldest first; torn lines (a write cut short) are skipped."""
    target = path or audit_path()
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return []
    records: list[dict[str, Any]] = []
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:  # a torn fragment, or an empty line left by the repair of one
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _open_for_append(target: Path) -> int:
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    # Read as well as append: the last byte tells whether an earlier line was torn.
    descriptor = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # a device or a pipe: no line could be kept
        os.close(descriptor)
        raise OSError(errno.EINVAL, "not a regular file")
    return descriptor


def _write_whole(descriptor: int, line: bytes) -> None:
    """One write of `line` at the end; a torn tail gets its newline first; a short write is undone."""
    start = os.fstat(descriptor).st_size
    if start and os.pread(descriptor, 1, start - 1) != b"\n":
        line = b"\n" + line
    try:
        written = os.write(descriptor, line)
        if written != len(line):
            raise OSError(errno.ENOSPC, f"the disk took only {written} of {len(line)} bytes")
    except OSError:
        _cut_back(descriptor, start, line)
        raise


def _cut_back(descriptor: int, start: int, line: bytes) -> None:
    """Truncate the file to `start` when what follows it is a prefix of `line` (nobody else wrote)."""
    try:
        end = os.fstat(descriptor).st_size
        if (
            start < end <= start + len(line)
            and os.pread(descriptor, end - start, start) == line[: end - start]
        ):
            os.ftruncate(descriptor, start)
    except OSError:
        pass  # the next append starts with a newline, so the fragment still stays a line of its own


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


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


def scrub_secret_values(text: str, values: Iterable[str], *, status: str = "") -> str:
    """`text`, or when it quotes one of `values` a sentence saying it was hidden, with `status` (the
    HTTP code and reason, which quote nothing) kept."""
    return _hidden_if_quoting(text, _longest_first(values), status)


def mask_outcomes(result: SyncResult, values: Iterable[str]) -> SyncResult:
    """`result` with every outcome message that quotes one of `values` hidden."""
    masked = _longest_first(values)
    if not masked:
        return result
    outcomes = tuple(
        dataclasses.replace(outcome, message=_hidden_if_quoting(outcome.message, masked))
        for outcome in result.outcomes
    )
    return dataclasses.replace(result, outcomes=outcomes)


def _longest_first(values: Iterable[str]) -> list[str]:
    return sorted({value for value in values if value}, key=len, reverse=True)


def _hidden_if_quoting(text: str, values: list[str], status: str = "") -> str:
    if not text or text.startswith(HIDDEN_MESSAGE) or not _quotes_any(text, values):
        return text
    return f"{HIDDEN_MESSAGE} ({status})" if status else HIDDEN_MESSAGE


def _quotes_any(text: str, values: list[str]) -> bool:
    for value in values:
        if len(value) >= SHORT_SECRET:
            if value in text:
                return True
        elif f'"{value}"' in text or re.search(rf"Invalid value: {re.escape(value)}(?!\w)", text):
            return True
    return False


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
