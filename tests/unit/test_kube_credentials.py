"""Credentials a context cannot use: each is one sentence naming the context, the setting and what
to do, found when the client is built, with nothing logged or printed on the way."""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import kube_credentials
from core.kube_credentials import client_logs_kept
from core.kubeconfig import ClusterConfigError, load_kubeconfig

CONTEXT = "prod"


def kubeconfig(tmp_path: Path, user: dict[str, Any], server: str = "http://127.0.0.1:9") -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": "c", "user": "u"}}],
        "current-context": CONTEXT,
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document))
    return str(path)


def refusal(path: str) -> str:
    with pytest.raises(ClusterConfigError) as raised:
        load_kubeconfig(path, environ={}).api_client(CONTEXT)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"cannot use context '{CONTEXT}' from {path}: ")
    return message.split(": ", 1)[1]


def plugin(tmp_path: Path, script: str) -> str:
    path = tmp_path / "credential-helper"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("server", ["http://127.0.0.1:9", "https://127.0.0.1:9"])
def test_a_missing_client_certificate_names_the_setting_and_the_file(tmp_path: Path, server: str) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not read\n")
    path = kubeconfig(
        tmp_path, {"client-certificate": "/nonexistent/cert.pem", "client-key": str(key)}, server
    )
    # An http server does not use the certificate, but kubectl refuses the kubeconfig all the same.
    assert refusal(path) == (
        "its client-certificate file /nonexistent/cert.pem does not exist; fix the path or log in again"
    )


def test_a_missing_client_key_is_named_as_the_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not read\n")
    path = kubeconfig(
        tmp_path, {"client-certificate": "cert.pem", "client-key": "gone/key.pem"}, "https://x:1"
    )
    assert refusal(path).startswith("its client-key file ")
    assert "gone/key.pem does not exist" in refusal(path)


def test_certificate_data_that_is_not_base64_is_named(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, {"client-certificate-data": "not base64!!", "client-key-data": "eA=="})
    assert refusal(path).startswith("its client-certificate-data is not valid base64;")


def test_certificate_data_that_is_not_pem_is_refused_before_any_connection(tmp_path: Path) -> None:
    not_pem = base64.b64encode(b"not a certificate").decode()
    path = kubeconfig(
        tmp_path, {"client-certificate-data": not_pem, "client-key-data": not_pem}, "https://127.0.0.1:9"
    )
    reason = refusal(path)
    assert reason.startswith("its client certificate and key cannot be loaded (")
    assert "_ssl.c" not in reason


def test_a_failing_credential_plugin_is_one_sentence_and_logs_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    command = plugin(tmp_path, "echo 'starting' >&2; echo 'error: token expired, run sso login' >&2; exit 3")
    path = kubeconfig(
        tmp_path, {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command}}
    )
    handlers = list(logging.getLogger().handlers)

    reason = refusal(path)

    assert reason == (
        f"its credential plugin {command} failed (exit code 3: error: token expired, run sso login); "
        "run it yourself to see why, or log in again"
    )
    assert caplog.records == []
    assert capfd.readouterr().err == ""
    assert logging.getLogger().handlers == handlers


def test_a_credential_plugin_that_is_not_installed_says_so(tmp_path: Path) -> None:
    exec_config = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "no-such-credential-helper",
    }
    reason = refusal(kubeconfig(tmp_path, {"exec": exec_config}))
    assert reason.startswith(
        "its credential plugin no-such-credential-helper is not installed (not found on PATH)"
    )


def test_a_working_credential_plugin_still_gives_a_client(tmp_path: Path) -> None:
    credential = (
        '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", '
        '"status": {"token": "from-plugin"}}'
    )
    command = plugin(tmp_path, f"echo '{credential}'")
    path = kubeconfig(
        tmp_path, {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command}}
    )
    client = load_kubeconfig(path, environ={}).api_client(CONTEXT)
    assert client.configuration.api_key["BearerToken"] == "Bearer from-plugin"


def running(pid_file: Path, settle: float = 2.0) -> bool:
    """Whether the process whose id the plugin wrote is still running (a zombie is not).

    A SIGKILL is delivered asynchronously: on a busy machine the process may still be scheduled for a
    moment after killpg returns, so it gets `settle` seconds to die before it counts as running.
    """
    deadline = time.monotonic() + settle
    while True:
        try:
            stat = Path(f"/proc/{pid_file.read_text().strip()}/stat").read_text()
        except FileNotFoundError:
            return False
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)


def hanging_plugin(tmp_path: Path, after: str = "") -> str:
    """A plugin that starts a child and waits for it; `after` runs first, and may answer instead."""
    return plugin(
        tmp_path,
        f"{after}\necho $$ > {tmp_path}/plugin.pid\nsleep 100 &\necho $! > {tmp_path}/child.pid\nwait",
    )


def test_a_credential_plugin_that_hangs_is_stopped_with_what_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube_credentials, "PLUGIN_TIME_LIMIT", 0.5)
    command = hanging_plugin(tmp_path)
    path = kubeconfig(
        tmp_path, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}
    )

    reason = refusal(path)

    assert reason == (
        f"its credential plugin {command} gave no answer within 0.5 s and was stopped; run it yourself "
        "to see what it waits for (a login, a network), or log in again"
    )
    assert not running(tmp_path / "plugin.pid")
    assert not running(tmp_path / "child.pid"), "the plugin's child is killed with it, not orphaned"


def test_a_plugin_run_again_to_refresh_an_expired_token_is_bounded_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube_credentials, "PLUGIN_TIME_LIMIT", 0.5)
    expired = (
        '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
        '"status": {"token": "first", "expirationTimestamp": "2000-01-01T00:00:00Z"}}'
    )
    # The first run answers with a token that has expired; the next one, the refresh, hangs.
    first_run = f"if [ ! -e {tmp_path}/ran ]; then touch {tmp_path}/ran; echo '{expired}'; exit 0; fi"
    command = hanging_plugin(tmp_path, after=first_run)
    path = kubeconfig(
        tmp_path, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}
    )
    configuration = load_kubeconfig(path, environ={}).api_client(CONTEXT).configuration
    assert configuration.api_key["BearerToken"] == "Bearer first"

    configuration.refresh_api_key_hook(configuration)  # a hang fails the test run here

    assert (tmp_path / "plugin.pid").exists(), "the plugin was run again"
    assert not running(tmp_path / "plugin.pid") and not running(tmp_path / "child.pid")
    assert configuration.api_key["BearerToken"] == "Bearer first"


def test_only_the_clients_config_records_of_this_thread_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    client_code = str(Path("site-packages", "kubernetes", "config", "kube_config.py"))

    def record(message: str, pathname: str, thread: int | None = None) -> logging.LogRecord:
        made = logging.LogRecord("root", logging.ERROR, pathname, 1, message, None, None)
        made.thread = thread if thread is not None else made.thread
        return made

    with client_logs_kept() as kept:
        logging.getLogger().handle(record("exec: boom", client_code))
        logging.getLogger().handle(record("another thread's", client_code, thread=-1))
        logging.getLogger("kubedrift.test").warning("an unrelated warning")
    logging.getLogger().handle(record("after the call", client_code))

    assert kept == ["exec: boom"]
    assert [r.getMessage() for r in caplog.records] == [
        "another thread's",
        "an unrelated warning",
        "after the call",
    ]
