"""`first_frame_s` and `idle_cpu_percent`: the TUI as a separate process, as a user starts it.

`benchmarks.tui_driver` runs the real `kubedrift` command headless and says when the dashboard
first paints (and when it has loaded). First frame is the process's age at its first dashboard
frame, read from /proc inside it (the time since spawning, seen from here, is kept as a check).
Idle CPU is the process's utime + stime from /proc/PID/stat over a quiet window after it loaded:
engine, watches, source watchers and TUI together, with nothing changing in the cluster or Git.
The sandbox runs in this process, so its own work is not counted.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from benchmarks.machine import process_rss_bytes

ROOT = Path(__file__).resolve().parent.parent
FIRST_FRAME_TIMEOUT = 120.0
LOADED_TIMEOUT = 900.0
SETTLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class FirstFrames:
    seconds: list[float]
    """Process age at the first dashboard frame, one per run."""
    since_spawn: list[float]
    """The same moment, measured from just before spawning (includes fork and exec)."""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass(frozen=True, slots=True)
class IdleCpu:
    percent: float
    """CPU time over wall time in the window, as a percentage of one core."""
    window_seconds: float
    loaded_seconds: float
    """Process age when the dashboard had loaded the whole fleet."""
    rss_bytes: int = 0
    """The process's resident memory at the end of the window (0 where there is no /proc)."""


class DriverProcess:
    """One headless kubedrift process and the events it prints."""

    def __init__(self, kubedrift_args: Sequence[str], *, size: str = "120x40") -> None:
        # Open as long as the process runs, for its error output; `close()` closes it.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.spawned_at = time.time()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.tui_driver", "--size", size, "--", *kubedrift_args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                continue  # not ours: the app printed something
        self._events.put(None)

    def wait_for(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the TUI process did not report {event} within {timeout:.0f} s")
            try:
                found = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            if found is None:
                raise RuntimeError(f"the TUI process ended before {event}: {self.stderr_tail()}")
            if found.get("event") == event:
                return found

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far, from /proc/PID/stat."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14 and 15

    def rss_bytes(self) -> int:
        """VmRSS of the process, from /proc (0 where there is none)."""
        assert self.process.pid is not None
        return process_rss_bytes(self.process.pid)

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].strip() or "(no output)"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._stderr.close()

    def __enter__(self) -> DriverProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def measure_first_frames(kubedrift_args: Sequence[str], runs: int) -> FirstFrames:
    seconds, since_spawn = [], []
    for _ in range(runs):
        with DriverProcess(kubedrift_args) as driver:
            frame = driver.wait_for("first_frame", FIRST_FRAME_TIMEOUT)
            since_spawn.append(frame["time"] - driver.spawned_at)
            seconds.append(frame["age"] if frame["age"] is not None else since_spawn[-1])
    return FirstFrames(seconds, since_spawn)


def measure_idle_cpu(kubedrift_args: Sequence[str], window_seconds: float) -> IdleCpu:
    with DriverProcess(kubedrift_args) as driver:
        loaded = driver.wait_for("loaded", LOADED_TIMEOUT)
        time.sleep(SETTLE_SECONDS)
        start_wall, start_cpu = time.monotonic(), driver.cpu_seconds()
        time.sleep(window_seconds)
        wall, cpu = time.monotonic() - start_wall, driver.cpu_seconds() - start_cpu
        if driver.process.poll() is not None:
            raise RuntimeError(f"the TUI process ended during the idle window: {driver.stderr_tail()}")
        rss = driver.rss_bytes()
    loaded_age = loaded["age"] if loaded["age"] is not None else loaded["time"] - driver.spawned_at
    return IdleCpu(100 * cpu / wall, wall, loaded_age, rss)
