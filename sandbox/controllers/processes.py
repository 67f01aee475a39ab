"""What a simulated container's process does: how long it runs, its exit code, and whether SIGTERM stops it.

The sandbox runs no containers. The kubelet reads a container's `command` and `args` the way a shell
would run them and plays the result out in time. The conventions, which are also how to write a pod
for the sandbox:

- `sleep N` runs N seconds (`30s`, `2m`, `1h` too); `sleep infinity` and `tail -f ...` run until stopped;
  a `while`/`until` loop runs until stopped.
- `exit N` ends the process with status N at once; `true` and `false` set the status to 0 and 1.
- Commands chain with `;` and newlines, `&&` (skipped after a failure) and `||` (skipped after a success).
- `sh -c 'script'` (also bash, ash, dash, with or without a path) runs the script; `exec cmd` runs cmd.
- On SIGTERM (the pod is deleted) a process ends with status 143 (128 + 15), as an unhandled signal
  leaves it; `trap 'exit N' TERM` makes it exit N instead, and `trap '' TERM` (or SIGTERM, 15) makes it
  ignore the signal: deleting the pod then waits the whole grace period and the kubelet kills it
  (exit code 137).
- Any other command takes no time and succeeds.
- A command line that says nothing about time (no sleep, exit, true, false, loop) is the image's own
  program: under restartPolicy Always a server that runs until stopped; in a run-to-completion pod
  (Never, OnFailure) work that takes the kubelet's `pod_run_duration` and exits 0.
- Image markers, for manifests without commands: an image whose name contains `crashloop` exits 1 at
  once (a crash-looping server); one containing `fail` exits 1 when its work is done.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from typing import Any

CRASH_MARKER = "crashloop"
FAIL_MARKER = "fail"
KILLED_EXIT_CODE = 137  # 128 + SIGKILL: what the runtime reports for a process killed at the deadline
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM: a process the signal ended
_SHELLS = ("sh", "bash", "ash", "dash", "zsh")
_SEPARATORS = (";", "&&", "||", "\n", "&", "|")
_FOREVER_COMMANDS = ("while", "until")
_TERM_NAMES = ("TERM", "SIGTERM", "15")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Process:
    """A container's simulated main process."""

    runs_for: float | None  # seconds until it exits by itself; None: until it is stopped
    exit_code: int
    ignores_sigterm: bool = False
    # Whether the command line said how long it runs; if not, the pod's restart policy decides.
    timed: bool = True
    sigterm_exit_code: int = TERMINATED_EXIT_CODE  # its status when SIGTERM stops it


def _duration(text: str) -> float | None:
    """`sleep`'s argument in seconds (None for `infinity` or anything unreadable)."""
    if not text or text.lower() in ("inf", "infinity"):
        return None
    unit = _UNITS.get(text[-1].lower())
    number = text[:-1] if unit is not None else text
    try:
        return float(number) * (unit or 1.0)
    except ValueError:
        return None


def _tokens(script: str) -> list[str]:
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: read the words plainly
        return script.split()


def _commands(script: str) -> list[tuple[str, list[str]]]:
    """(the separator before it, its words) of each simple command of a script."""
    commands: list[tuple[str, list[str]]] = []
    before = ";"
    words: list[str] = []
    for token in _tokens(script):
        if token in _SEPARATORS:
            if words:
                commands.append((before, words))
            before, words = token, []
        else:
            words.append(token)
    if words:
        commands.append((before, words))
    return commands


def _shell_script(words: list[str]) -> str | None:
    """The script of `sh -c 'script'`, or None when the words are not a shell invocation."""
    if len(words) >= 3 and os.path.basename(words[0]) in _SHELLS and words[1] == "-c":
        return words[2]
    return None


def _run(script: str) -> Process:
    elapsed = 0.0
    status = 0
    timed = False
    ignores_sigterm = False
    on_term = TERMINATED_EXIT_CODE

    def process(runs_for: float | None, code: int, is_timed: bool = True) -> Process:
        return Process(runs_for, code, ignores_sigterm, is_timed, on_term)

    for separator, words in _commands(script):
        if (separator == "&&" and status != 0) or (separator == "||" and status == 0):
            continue
        if words[0] == "exec" and len(words) > 1:
            words = words[1:]
        nested = _shell_script(words)
        if nested is not None:
            inner = _run(nested)
            ignores_sigterm = ignores_sigterm or inner.ignores_sigterm
            on_term = inner.sigterm_exit_code
            if inner.timed:
                timed = True
            if inner.runs_for is None:
                return process(None, 0, timed)
            elapsed += inner.runs_for
            status = inner.exit_code
            continue
        command = os.path.basename(words[0])
        if command == "sleep":
            timed = True
            seconds = _duration(words[1] if len(words) > 1 else "")
            if seconds is None:
                return process(None, 0)
            elapsed += seconds
            status = 0
        elif command == "exit":
            code = words[1] if len(words) > 1 else str(status)
            return process(elapsed, int(code) % 256 if code.lstrip("-").isdigit() else 2)
        elif command in ("true", ":"):
            timed = True
            status = 0
        elif command == "false":
            timed = True
            status = 1
        elif command in _FOREVER_COMMANDS or (command == "tail" and "-f" in words):
            return process(None, 0)
        elif command == "trap" and len(words) >= 3 and any(w.upper() in _TERM_NAMES for w in words[2:]):
            handler = _commands(words[1])
            ignores_sigterm = not handler
            exits = [w for _sep, w in handler if os.path.basename(w[0]) == "exit"]
            if exits:
                code = exits[0][1] if len(exits[0]) > 1 else "0"
                on_term = int(code) % 256 if code.isdigit() else 2
        else:
            status = 0
    return process(elapsed, status, timed)


def process_of(container: dict[str, Any]) -> Process:
    """The process a container runs, from its command, args and image."""
    image = str(container.get("image") or "")
    if CRASH_MARKER in image:
        return Process(0.0, 1)
    words = [str(w) for w in (container.get("command") or [])] + [str(w) for w in container.get("args") or []]
    script = _shell_script(words)
    if script is None:
        script = shlex.join(words) if words else ""
    process = _run(script)
    if FAIL_MARKER in image and process.exit_code == 0:
        process = replace(process, exit_code=1)
    return process


def planned(container: dict[str, Any], restart_policy: str, run_duration: float) -> Process:
    """The process with the pod's restart policy applied to a command that says nothing of time."""
    process = process_of(container)
    if process.timed:
        return process
    if restart_policy == "Always":
        return replace(process, runs_for=None)
    return replace(process, runs_for=run_duration)
