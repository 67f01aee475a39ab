"""`kubedrift agent` as a user runs it: a subprocess, its start line, SIGTERM, and what stops a start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.agent.agent_thread import TOKEN, wait_for
from tests.agent.conftest import ShopCluster

ROOT = Path(__file__).resolve().parent.parent.parent
KUBEDRIFT = [sys.executable, "-m", "tui.cli"]
START_LINE = re.compile(
    r"kubedrift agent: serving on (http://127\.0\.0\.1:\d+) \(read-only\), shard 0/1, 1 app\n"
)


def environment(shop: ShopCluster) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(shop.root / "home"),
        "KUBECONFIG": str(shop.kubeconfig),
        "PYTHONPATH": str(ROOT),
        "HOSTNAME": "kubedrift-agent-7",
    }


def test_the_agent_serves_until_sigterm_then_exits_0(shop: ShopCluster, token_file: Path) -> None:
    process = subprocess.Popen(
        [*KUBEDRIFT, "agent", "--listen", "127.0.0.1:0", "--token-file", str(token_file)],
        cwd=shop.root,
        env=environment(shop),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        started = START_LINE.fullmatch(process.stderr.readline())
        assert started is not None
        url = started.group(1)

        def ready() -> bool:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(ready, "the agent to be ready")
        request = urllib.request.Request(url + "/api/v1/status", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            status = response.read()
        assert b'"name":"kubedrift-agent-7"' in status, "the identity defaults to $HOSTNAME"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert process.stderr.read() == "", "a clean stop says nothing more"


@pytest.fixture
def port_in_use() -> socket.socket:
    taken = socket.create_server(("127.0.0.1", 0))
    return taken


@pytest.mark.parametrize(
    ("arguments", "config", "sentence"),
    [
        (
            ["--token-file", "missing-token"],
            "",
            r"kubedrift: cannot read the token file missing-token: No such file or directory; "
            r"check --token-file",
        ),
        (["--tls-cert", "tls.crt"], "", r"kubedrift: --tls-cert needs --tls-key too: .*"),
        (["--listen", "127.0.0.1:PORT_IN_USE"], "", r"kubedrift: cannot listen on 127\.0\.0\.1:\d+: .*"),
        (
            [],
            "agent: {allowWrites: yes please}\n",
            r"kubedrift: .*kubedrift-bad\.yaml.*agent\.allowWrites.*expected a boolean.*",
        ),
    ],
    ids=["unreadable-token-file", "cert-without-key", "port-in-use", "bad-agent-section"],
)
def test_a_start_that_cannot_work_is_one_sentence_and_exit_2(
    shop: ShopCluster, port_in_use: socket.socket, arguments: list[str], config: str, sentence: str
) -> None:
    port = str(port_in_use.getsockname()[1])
    arguments = [argument.replace("PORT_IN_USE", port) for argument in arguments]
    config_path = shop.with_config(config, "kubedrift-bad") if config else shop.config_path
    listen = [] if any(a == "--listen" for a in arguments) else ["--listen", "127.0.0.1:0"]
    done = subprocess.run(
        [*KUBEDRIFT, "agent", "--config", str(config_path), "--insecure-no-auth", *listen, *arguments],
        cwd=shop.root,
        env=environment(shop),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    port_in_use.close()
    assert done.returncode == 2, done.stderr
    assert re.fullmatch(sentence + "\n", done.stderr), done.stderr
    assert done.stdout == ""
