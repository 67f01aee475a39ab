"""A real Prometheus for the tests, scraping a tiny exporter whose values the test sets, or an agent.

`prometheus_binary()` finds Debian's `prometheus` (the package of that name); tests skip, saying
why, where it is absent. `Prometheus` starts it as a child process on a free loopback port, with its
own configuration and its own TSDB folder under the test's tmp folder (never the system's :9090),
scraping its targets (`Exporter`, or a running agent) every second and evaluating the rule files it
is given as often; it waits for `/-/ready` with a bound, and stops it after.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

READY_SECONDS = 30.0
SCRAPE_INTERVAL = "1s"


def prometheus_binary() -> str | None:
    """The `prometheus` server binary: `$KUBEDRIFT_PROMETHEUS`, else on PATH, else Debian's path."""
    named = os.environ.get("KUBEDRIFT_PROMETHEUS")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("prometheus") or next(
        (path for path in ("/usr/bin/prometheus",) if Path(path).is_file()), None
    )


NOT_INSTALLED = (
    "Prometheus is not installed: the rollback analysis test runs against a real one "
    "(apt-get install prometheus, or set KUBEDRIFT_PROMETHEUS to the binary)"
)


class Exporter:
    """An HTTP server answering `/metrics` in Prometheus's text format with the gauges `set` gives."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.text().encode() if self.path.startswith("/metrics") else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="test-exporter", daemon=True
        )
        self._thread.start()

    @property
    def target(self) -> str:
        port = self._server.server_address[1]
        return f"127.0.0.1:{port}"

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self._values[name] = value

    def text(self) -> str:
        with self._lock:
            values = dict(self._values)
        return "".join(f"# TYPE {name} gauge\n{name} {value!r}\n" for name, value in sorted(values.items()))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Prometheus:
    """A Prometheus child process scraping `targets`, on its own port and storage."""

    def __init__(
        self,
        binary: str,
        folder: Path,
        targets: list[str],
        *,
        job: str = "exporter",
        rule_files: tuple[Path, ...] = (),
    ) -> None:
        self.binary = binary
        self.folder = folder
        self.targets = targets
        self.job = job
        self.rule_files = rule_files
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "prometheus.yml"
        config.write_text(
            json.dumps(  # JSON is YAML: no YAML writer needed
                {
                    "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
                    "rule_files": [str(path) for path in self.rule_files],
                    "scrape_configs": [{"job_name": self.job, "static_configs": [{"targets": self.targets}]}],
                }
            )
        )
        for _ in range(3):  # a free port can be taken between finding it and Prometheus binding it
            self.port = _free_port()
            log = (self.folder / "prometheus.log").open("wb")
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError(f"Prometheus did not get ready: {self.log()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.address}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def api(self, path: str) -> Any:
        """The `data` of a GET of Prometheus's HTTP API (`alerts`, `rules`, `query?query=...`)."""
        with urllib.request.urlopen(f"{self.address}/api/v1/{path}", timeout=5) as answer:
            return json.load(answer)["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now, as /api/v1/alerts lists them."""
        return list(self.api("alerts")["alerts"])

    def query(self, query: str) -> list[float]:
        data = self.api(f"query?{urllib.parse.urlencode({'query': query})}")
        if data["resultType"] == "scalar":
            return [float(data["result"][1])]
        return [float(sample["value"][1]) for sample in data["result"]]

    def wait_for(
        self, query: str, accept: Callable[[list[float]], bool], timeout: float = 20.0
    ) -> list[float]:
        """Poll `query` until `accept` takes its answer (a scrape has brought the exporter's value)."""
        deadline = time.monotonic() + timeout
        seen: list[float] = []
        while time.monotonic() < deadline:
            seen = self.query(query)
            if accept(seen):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"Prometheus never answered {query!r} as expected; last answer {seen}")

    def log(self) -> str:
        path = self.folder / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_prometheus(binary: str, folder: Path) -> Iterator[tuple[Prometheus, Exporter]]:
    """An exporter and a Prometheus scraping it, both stopped on leaving."""
    exporter = Exporter()
    prometheus = Prometheus(binary, folder, [exporter.target])
    try:
        prometheus.start()
        yield prometheus, exporter
    finally:
        prometheus.stop()
        exporter.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
