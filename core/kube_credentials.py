"""Why a context's credentials cannot be used, in one sentence, where the kubernetes client is terse.

The official client, building a client for a context:

- reports a missing certificate or key as "File does not exist: <path>", without saying which
  setting named it, and invalid `*-data` as a bare base64 error;
- accepts a client certificate or key that is not PEM at all; the TLS handshake fails later, far
  from the kubeconfig, as a connection error;
- when an exec credential plugin fails or is not installed, calls `logging.error` on the root logger
  and carries on without credentials. With no handler configured, that call installs one
  (`logging.basicConfig`), so the user sees "ERROR:root:..." and, from then on, every warning of
  every library (urllib3's retries among them).

`client_logs_kept` keeps those records while kubedrift builds a client (only the records the
client's config code logs on the calling thread; logging is otherwise untouched), and the other
functions turn each failure into one sentence naming the context, the setting and what to do.

The client also waits for an exec plugin for as long as it runs: one that hangs (waiting on a
network, or for input no one will give) would hang kubedrift. `bound_plugin_runs` gives each run
`PLUGIN_TIME_LIMIT` seconds (see `_PluginProcess` for how, and why that way).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import signal
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

PLUGIN_TIME_LIMIT = 15.0
"""Seconds an exec credential plugin may run. A one-shot command gives up on a cluster within 20 s;
a plugin that has not answered in 15 is waiting for something that will not come (a browser login
started from a terminal that is not watched, a network that does not answer)."""
_PLUGIN_TIMED_OUT = "exec: the plugin gave no answer within"

_CLIENT_CONFIG_CODE = os.path.join("kubernetes", "config", "")
_EXEC_EXIT = re.compile(r"exec: process returned (\d+)(?:\. (.*))?", re.DOTALL)
_SSL_NOISE = re.compile(r"^\[[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$")
_FILE_SETTINGS = (
    ("user", "client-certificate"),
    ("user", "client-key"),
    ("cluster", "certificate-authority"),
)


class _ClientRecords(logging.Filter):
    """Takes the records the client's config code logs on one thread, so no handler prints them."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread == self.thread and _CLIENT_CONFIG_CODE in record.pathname:
            if record.levelno >= logging.ERROR:
                self.messages.append(record.getMessage())
            return False
        return True


@contextmanager
def client_logs_kept() -> Iterator[list[str]]:
    """While inside, the kubernetes client's config messages on this thread are not printed, and
    the errors among them are kept in the list yielded.

    A do-nothing handler sits on the root logger meanwhile: `logging.error()` configures logging
    (for good, for every library) when the root logger has no handler at all.
    """
    root = logging.getLogger()
    records = _ClientRecords()
    guard = logging.NullHandler()
    root.addFilter(records)
    root.addHandler(guard)
    try:
        yield records.messages
    finally:
        root.removeHandler(guard)
        root.removeFilter(records)


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """The `user` and `cluster` mappings a context names, as kubectl merges a path list (first wins)."""

    user: Mapping[str, Any] = field(default_factory=dict)
    cluster: Mapping[str, Any] = field(default_factory=dict)
    bases: tuple[str, ...] = ()
    """The folders a relative path may be read from: those of the files holding the user and the
    cluster (kubectl reads it from the first, the Python client from the second)."""

    @property
    def has_plugin(self) -> bool:
        return isinstance(self.user.get("exec"), dict)

    @property
    def exec_command(self) -> str:
        plugin = self.user.get("exec")
        command = plugin.get("command") if isinstance(plugin, dict) else None
        return str(command) if command else "with no command"


def context_settings(config_file: str | None, context: str) -> ContextSettings:
    """What the kubeconfig files say about `context`'s user and cluster; empty when unreadable
    (this only words an error, which is reported either way)."""
    documents: list[tuple[str, dict[str, Any]]] = []
    for path in (config_file or "").split(os.pathsep):
        try:
            with open(Path(path).expanduser(), encoding="utf-8") as file:
                document = yaml.load(file, Loader=_SafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(document, dict):
            documents.append((path, document))
    _, entry = _named(documents, "contexts", context)
    names = entry.get("context")
    names = names if isinstance(names, dict) else {}
    user_file, user_entry = _named(documents, "users", str(names.get("user") or ""))
    cluster_file, cluster_entry = _named(documents, "clusters", str(names.get("cluster") or ""))
    user, cluster = user_entry.get("user"), cluster_entry.get("cluster")
    bases = tuple(
        os.path.dirname(os.path.abspath(os.path.expanduser(path)))
        for path in (user_file, cluster_file)
        if path
    )
    return ContextSettings(
        user if isinstance(user, dict) else {}, cluster if isinstance(cluster, dict) else {}, bases
    )


def _named(
    documents: list[tuple[str, dict[str, Any]]], section: str, name: str
) -> tuple[str, dict[str, Any]]:
    """(file, entry) of the first entry of `section` called `name`; ("", {}) when there is none."""
    for path, document in documents:
        entries = document.get(section)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and str(entry.get("name")) == name:
                return path, entry
    return "", {}


def explain_config_error(message: str, settings: ContextSettings) -> str:
    """What the client's complaint about a context means, as the end of a sentence that starts
    "cannot use context X from F: "."""
    if message.startswith("File does not exist: "):
        path = message.removeprefix("File does not exist: ")
        return (
            f"its {_setting_naming(path, settings)} file {path} does not exist; fix the path or log in again"
        )
    return settings_problem(settings) or " ".join(message.split())


def settings_problem(settings: ContextSettings) -> str | None:
    """A certificate or key setting that cannot be read: a file that is missing, or `*-data` that is
    not base64. The client checks these only for an https server; kubectl (client-go) checks them
    for every server, and so does kubedrift, so a kubeconfig that kubectl refuses is refused here."""
    for part, setting in _FILE_SETTINGS:
        section = _section(settings, part)
        data, path = section.get(f"{setting}-data"), section.get(setting)
        if isinstance(data, str) and data:
            if not _is_base64(data):
                return (
                    f"its {setting}-data is not valid base64; put the base64 of the PEM file there, "
                    f"or the file's path in {setting}"
                )
            continue
        # As both readers do, "~" is not expanded: it would be a folder named "~".
        if (
            isinstance(path, str)
            and path
            and not any(_is_file(base, path) for base in settings.bases or ("",))
        ):
            return f"its {setting} file {path} does not exist; fix the path or log in again"
    return None


def _is_file(base: str, path: str) -> bool:
    return os.path.isfile(os.path.join(base, path))


def plugin_failure(messages: list[str], settings: ContextSettings) -> str:
    """What a failed exec credential plugin means, from the client's kept log messages, as the end
    of a sentence that starts "cannot use context X from F: "."""
    command = settings.exec_command
    last = " ".join(messages[-1].split()) if messages else "it failed"
    if last.startswith(_PLUGIN_TIMED_OUT):
        return (
            f"its credential plugin {command} gave no answer within {PLUGIN_TIME_LIMIT:g} s and was "
            "stopped; run it yourself to see what it waits for (a login, a network), or log in again"
        )
    exited = _EXEC_EXIT.match(messages[-1]) if messages else None
    if exited is not None:
        said = [line.strip() for line in (exited.group(2) or "").splitlines() if line.strip()]
        detail = f"exit code {exited.group(1)}" + (f": {said[-1]}" if said else "")
        return (
            f"its credential plugin {command} failed ({detail}); run it yourself to see why, or log in again"
        )
    if "No such file or directory" in last:
        return (
            f"its credential plugin {command} is not installed (not found on PATH); install it, "
            "or fix the command of the user's exec in the kubeconfig"
        )
    if "Permission denied" in last:
        return f"its credential plugin {command} cannot be run (permission denied); make it executable"
    return f"its credential plugin {command} failed ({last}); run it yourself to see why, or log in again"


def tls_problem(cert_file: str | None, key_file: str | None, ca_file: str | None) -> str | None:
    """Why the client certificate and key, or the certificate authority, cannot be loaded (the TLS
    handshake would fail on them later, as a connection error); None when they load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cert_file:
        try:
            # A password callback, so that an encrypted key fails here instead of prompting on the terminal.
            context.load_cert_chain(cert_file, key_file, password=lambda: b"")
        except (ssl.SSLError, OSError) as error:
            return (
                f"its client certificate and key cannot be loaded ({_ssl_reason(error)}); check that "
                "client-certificate(-data) and client-key(-data) hold a PEM certificate and its key"
            )
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError) as error:
            return (
                f"its certificate-authority cannot be loaded ({_ssl_reason(error)}); check that "
                "certificate-authority(-data) holds PEM certificates"
            )
    return None


def _ssl_reason(error: Exception) -> str:
    """ "[X509: KEY_VALUES_MISMATCH] key values mismatch (_ssl.c:3907)" as "key values mismatch"."""
    return _SSL_NOISE.sub("", " ".join(str(error).split())) or type(error).__name__


def _section(settings: ContextSettings, part: str) -> Mapping[str, Any]:
    return settings.user if part == "user" else settings.cluster


def _setting_naming(path: str, settings: ContextSettings) -> str:
    """Which kubeconfig setting names `path` (as the client resolved it), for the message."""
    for part, setting in _FILE_SETTINGS:
        written = _section(settings, part).get(setting)
        if isinstance(written, str) and written and os.path.basename(written) == os.path.basename(path):
            return setting
    return "credentials"


def _is_base64(data: str) -> bool:
    try:
        base64.standard_b64decode(data)
    except (binascii.Error, ValueError):
        return False
    return True


class PluginTimedOut(Exception):
    """An exec credential plugin that ran past `PLUGIN_TIME_LIMIT` (and has been killed)."""


class _PluginProcess(subprocess.Popen[str]):
    """The plugin's process, as the client starts it, but waited for at most `PLUGIN_TIME_LIMIT`.

    The client runs a plugin in `ExecProvider.run` with `subprocess.Popen(...).communicate()` and no
    timeout: when a client is built, and again inside a request whenever its token has expired. The
    module's `subprocess` name is the one seam that covers both without copying the client's code:
    it is pointed at `_PLUGIN_SUBPROCESS`, where only `Popen` differs, and the client's own parsing,
    errors and environment for the plugin stay as they are. The alternatives were worse: replacing
    `ExecProvider.run` copies the client's body, and running each plugin through a wrapper command
    means rewriting the kubeconfig the client reads (with its relative paths) and starting a second
    interpreter per token. Should a client release stop calling `communicate`, the unit test of a
    hanging plugin fails rather than kubedrift hanging unnoticed.

    A plugin that is not given the terminal (`stdin` None) starts in its own session, so that on
    expiry its whole process group is killed: a shell script's children (a `curl`, a `sleep`) would
    otherwise outlive it, holding the output pipe open. One given the terminal (for a prompt; it has
    the same time to be answered) stays in kubedrift's session, since a new one would take the
    terminal from it; on expiry only the plugin itself is killed.
    """

    def __init__(self, args: Any, **kwargs: Any) -> None:
        self.own_group = os.name == "posix" and kwargs.get("stdin") is None
        if self.own_group:
            kwargs["start_new_session"] = True
        super().__init__(args, **kwargs)

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        try:
            return super().communicate(input, PLUGIN_TIME_LIMIT if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self._stop()
            raise PluginTimedOut(f"{_PLUGIN_TIMED_OUT} {PLUGIN_TIME_LIMIT:g} s") from None

    def _stop(self) -> None:
        """Kill the plugin (and, in its own group, everything it started), and reap it without
        reading its pipes again: a descendant that left the group may hold them open."""
        with suppress(OSError):  # gone already; or setuid, not ours to kill (nor then to reap)
            if self.own_group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self.kill()
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        with suppress(subprocess.TimeoutExpired):
            self.wait(timeout=1.0)


class _SubprocessForPlugins:
    """The `subprocess` module as the client's exec_provider sees it: the same, but for `Popen`."""

    Popen = _PluginProcess

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)


_PLUGIN_SUBPROCESS = _SubprocessForPlugins()


def bound_plugin_runs() -> None:
    """Give every exec credential plugin the client runs, from now on, `PLUGIN_TIME_LIMIT` seconds."""
    from kubernetes.config import exec_provider

    exec_provider.subprocess = _PLUGIN_SUBPROCESS  # type: ignore[attr-defined,assignment]
