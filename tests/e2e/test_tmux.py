"""The real `kubedrift` in a real terminal: tmux runs it against a sandbox started in this test,
keys go in through `send-keys`, and the screen comes back through `capture-pane`.

Each test gets its own tmux server (its own socket and config), a clean HOME and a KUBECONFIG
pointing at the sandbox, so nothing from the user's tmux or kube setup leaks in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from signal import SIGCHLD

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from core.cluster import ClusterAdapter
from core.kubeconfig import load_kubeconfig
from sandbox.handle import CONTEXT_NAME, SandboxThread
from tests.integration.gitops import deploy, shop_config

ROOT = Path(__file__).resolve().parent.parent.parent
WAIT_SECONDS = 15.0
"""How long the screen may take to show something before a test fails; never a pass/fail threshold."""
POLL_SECONDS = 0.2
TOAST_BORDER = "▌"
SCALE_PATH = "/apis/apps/v1/namespaces/shop/deployments/web/scale"

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed; the end-to-end test drives the real kubedrift in tmux "
    "(apt-get install tmux)",
)


def kubedrift_command() -> list[str]:
    """The installed console script beside this interpreter, else the module it runs."""
    script = Path(sys.executable).with_name("kubedrift")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui"]


def flattened(screen: str) -> str:
    """The screen as one line of words: a notification that wraps over rows reads as one sentence."""
    return " ".join(screen.replace(TOAST_BORDER, " ").split())


def row_of(screen: str, app: str) -> list[str]:
    """The words of the dashboard row whose first column is `app` (empty when there is none)."""
    for line in screen.splitlines():
        words = line.split()
        if words and words[0] == app:
            return words
    return []


@dataclass
class Deployed:
    """The sandbox with the shop app applied as a first sync would, and the files to reach it."""

    sandbox: SandboxThread
    kubeconfig: Path
    config: Path

    def scale_web(self, replicas: int) -> None:
        """`kubectl scale deploy/web`, through the official client: a change behind Git's back."""
        api_client = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), context=CONTEXT_NAME, persist_config=False
        )
        try:
            k8s_client.AppsV1Api(api_client).patch_namespaced_deployment_scale(
                "web", "shop", {"spec": {"replicas": replicas}}
            )
        finally:
            api_client.close()  # type: ignore[no-untyped-call]

    def writes(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.sandbox.request_log if r.is_write]


class TmuxTerminal:
    """One program in a detached tmux session of a fixed size, on a tmux server of its own."""

    def __init__(self, workdir: Path, *, term: str, environment: dict[str, str]) -> None:
        self.workdir = workdir
        # A short folder of its own for the socket: paths under pytest's tmp_path can pass 108 bytes.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="kubedrift-tmux-"))
        self.socket = str(self.socket_dir / "socket")
        self.config = workdir / "tmux.conf"
        # No tmux status line, so the program gets every row; a dead pane stays to report its exit.
        self.config.write_text(
            f'set -g default-terminal "{term}"\nset -g status off\nset -g remain-on-exit on\n'
        )
        self.environment = environment

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, "-f", str(self.config), *args],
            env=self.environment,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def start(self, command: list[str], *, size: tuple[int, int]) -> None:
        width, height = size
        self.tmux(
            "new-session", "-d", "-s", "kubedrift", "-x", str(width), "-y", str(height),
            "-c", str(self.workdir), *command,
        )  # fmt: skip

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "kubedrift")

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "kubedrift", *keys)

    def exit_status(self) -> int | None:
        """The program's exit status once it has exited (128 + N for signal N), else None."""
        dead, status, signal, server = (
            self.tmux(
                "list-panes", "-t", "kubedrift", "-F",
                "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}:#{pid}",
            )
            .strip()
            .split(":")
        )  # fmt: skip
        if status:
            return int(status)
        if signal:
            return 128 + int(signal)
        if dead == "1":
            # Output closed but the exit not yet reaped. With libutempter, tmux can miss the SIGCHLD
            # entirely and keep a zombie (tmux issue #311); a SIGCHLD to our own server makes it look.
            os.kill(int(server), SIGCHLD)
        return None

    def wait_for(self, condition: Callable[[str], bool], what: str) -> str:
        """The screen once `condition(screen)` holds; fail naming `what`, with the last screen, if never."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() >= deadline or self.exit_status() is not None:
                raise AssertionError(f"gave up waiting for {what}; the terminal shows:\n{screen}")
            time.sleep(POLL_SECONDS)

    def wait_for_exit(self) -> int:
        deadline = time.monotonic() + WAIT_SECONDS
        while (status := self.exit_status()) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"kubedrift did not exit; the terminal shows:\n{self.screen()}")
            time.sleep(POLL_SECONDS)
        return status

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", self.socket, "kill-server"], env=self.environment, capture_output=True, check=False
        )
        shutil.rmtree(self.socket_dir, ignore_errors=True)


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    with SandboxThread() as sandbox:
        kubeconfig = sandbox.kubeconfig(tmp_path / "kubeconfig")
        config = shop_config(tmp_path)
        adapter = ClusterAdapter(
            load_kubeconfig(str(kubeconfig), environ={}).api_client(CONTEXT_NAME), context=CONTEXT_NAME
        )
        deploy(adapter, config)
        assert config.path is not None
        yield Deployed(sandbox, kubeconfig, config.path)


@pytest.fixture
def terminal_for(tmp_path: Path, deployed: Deployed) -> Iterator[Callable[..., TmuxTerminal]]:
    """Makes a TmuxTerminal with a clean HOME and KUBECONFIG on the sandbox; closes them all after."""
    made: list[TmuxTerminal] = []

    def make(*, term: str, **variables: str) -> TmuxTerminal:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(deployed.kubeconfig),
            "LANG": "C.UTF-8",
            # Only for the `python -m tui` fallback, when no console script is installed.
            "PYTHONPATH": str(ROOT),
            **variables,
        }
        terminal = TmuxTerminal(tmp_path, term=term, environment=environment)
        made.append(terminal)
        return terminal

    yield make
    for terminal in made:
        terminal.close()


def test_a_live_cluster_change_appears_without_a_keypress(
    deployed: Deployed, terminal_for: Callable[..., TmuxTerminal]
) -> None:
    terminal = terminal_for(term="tmux-256color")
    terminal.start([*kubedrift_command(), "--config", str(deployed.config)], size=(100, 30))

    screen = terminal.wait_for(lambda s: "Synced" in row_of(s, "shop"), "the shop row to read Synced")
    assert "sandbox connected" in screen
    assert row_of(screen, "shop")[1] == CONTEXT_NAME

    deployed.scale_web(5)
    screen = terminal.wait_for(lambda s: "OutOfSync" in row_of(s, "shop"), "the shop row to turn OutOfSync")
    assert "≠1" in row_of(screen, "shop"), "one resource drifted: the Deployment"

    terminal.send("q")
    assert terminal.wait_for_exit() == 0


def test_read_only_over_ssh_at_80x24_refuses_actions_and_writes_nothing(
    deployed: Deployed, terminal_for: Callable[..., TmuxTerminal]
) -> None:
    deployed.sandbox.faults.clear_request_log()
    terminal = terminal_for(term="screen", NO_COLOR="1")
    terminal.start([*kubedrift_command(), "--config", str(deployed.config), "--read-only"], size=(80, 24))
    terminal.wait_for(lambda s: "Synced" in row_of(s, "shop"), "the shop row to read Synced")

    # Drift first, so each refused action would otherwise have had something to write.
    deployed.scale_web(4)
    screen = terminal.wait_for(lambda s: "OutOfSync" in row_of(s, "shop"), "the shop row to turn OutOfSync")
    assert "READ-ONLY" in screen

    for key, refusal in (
        ("s", "Read-only: sync refused for shop"),
        ("p", "Read-only: sync with prune refused for shop"),
        ("h", "Read-only: toggle self-heal refused for shop"),
        ("a", "Read-only: toggle auto-sync refused for shop"),
    ):
        terminal.send(key)
        terminal.wait_for(lambda s, refusal=refusal: refusal in flattened(s), f"{key!r} to be refused")

    terminal.send("q")
    assert terminal.wait_for_exit() == 0
    reads = [r for r in deployed.sandbox.request_log if not r.is_write]
    assert reads, "the log holds the TUI's lists and watches, so its writes are known too"
    assert deployed.writes() == [f"PATCH {SCALE_PATH}"], "the only write is this test's own scale"
