"""A real `kubedrift agent` process for the benchmarks, and a follower of its watch stream.

The agent runs as it would in a pod: its own Python process (`python -m tui agent`), its own core,
reading the benchmark's sandbox through a kubeconfig. `StreamFollower` reads `/api/v1/watch` on a
thread of the benchmark process, as an attached TUI's fleet reads it, and notes `perf_counter()`
for every resource line as it arrives, so a figure can tell how long after a write the line came.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from benchmarks.verdict_log import VerdictLog, key_of_line
from core.model import ResourceKey, SyncStatus

READY_POLL_SECONDS = 0.05


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_folder_config(path: Path, apps: dict[str, Path], context: str | None = None) -> Path:
    """A kubedrift.yaml with one app per folder, read from disk with subfolders (as `kubedrift PATH`)."""
    lines = ["apps:"]
    for name, folder in apps.items():
        lines += [
            f"  - name: {name}",
            f"    source: {{repoURL: {json.dumps(str(folder))}, targetRevision: '', path: .,"
            " directory: {recurse: true}}",
        ]
        if context is not None:
            lines.append(f"    destination: {{name: {context}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


class AgentProcess:
    """`kubedrift agent` on a free loopback port, without a token; `ready()` waits for /readyz."""

    def __init__(self, config: Path, kubeconfig: Path, *, identity: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started_at = 0.0
        self._log = log.open("wb")
        command = [
            sys.executable, "-m", "tui", "agent", "--config", str(config), "--kubeconfig", str(kubeconfig),
            "--listen", f"127.0.0.1:{self.port}", "--insecure-no-auth", "--identity", identity,
        ]  # fmt: skip
        # One agent serves the whole fleet: no shard from the environment.
        environ = {name: value for name, value in os.environ.items() if name != "KUBEDRIFT_SHARDS"}
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=environ)

    def ready(self, timeout: float) -> float:
        """Seconds from the process start until /readyz answers 200 (every object listed, judged)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the agent exited with {self.process.returncode}; see {self._log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - self.started_at
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(READY_POLL_SECONDS)
        raise TimeoutError(f"the agent was not ready within {timeout:.0f} s; see {self._log.name}")

    def rss_bytes(self) -> int:
        """Resident memory of the agent process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc: resident memory cannot be read on this system")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StreamFollower:
    """Reads one agent's `/api/v1/watch` (JSON lines) on a thread; `wait_for` as EngineThread's."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._verdicts = VerdictLog()
        self._connection: http.client.HTTPConnection | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="bench-stream", daemon=True)

    def _read(self) -> None:
        host_port = self._url.removeprefix("http://")
        connection = self._connection = http.client.HTTPConnection(host_port, timeout=None)
        connection.request("GET", "/api/v1/watch")
        response = connection.getresponse()
        try:
            while not self._closed:
                raw = response.readline()
                if not raw:
                    return
                if not raw.strip():
                    continue  # the stream's keep-alive
                now = time.perf_counter()
                line = json.loads(raw)
                if "kind" not in line:
                    continue  # an app's line, not a resource's
                status = SyncStatus(line["status"]) if line.get("status") else None
                with self._verdicts.condition:
                    self._verdicts.add(now, key_of_line(line), status)
                    self._verdicts.condition.notify_all()
        except (OSError, ValueError, http.client.HTTPException):
            return  # closed under it by stop()

    def start(self) -> StreamFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closed = True
        if self._connection is not None and self._connection.sock is not None:
            self._connection.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> StreamFollower:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def wait_for(self, key: ResourceKey, status: SyncStatus, after: float, timeout: float) -> float | None:
        """When a line saying `status` for `key` arrived after `after` (perf_counter); None on timeout."""
        return self._verdicts.wait_for(key, status, after, timeout)
