"""The demo without a terminal UI: the live engine's status changes and the demo's drift, one line each.

Lines read like `kubedrift watch`: `<time>  <subject>  <sync> <health> (was ...)`, with the drift
the demo makes in between (`<time>  drift  kubectl -n shop scale ...`). It runs for `duration`
seconds, or until SIGINT, SIGTERM or SIGHUP, and then returns normally: stopping is the normal end.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import TextIO

from core.engine import Engine
from core.status_events import StatusChange, rfc3339_now
from tui.commands.terminal import Style
from tui.commands.watch import change_line, is_transition
from tui.demo.drift import DriftEvent


class HeadlessLog:
    """Writes status changes, drift and errors as lines; safe to call from the drift thread too."""

    def __init__(self, out: TextIO, style: Style | None = None) -> None:
        self.out = out
        self.style = style or Style(out)
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def changes(self, changes: list[StatusChange]) -> None:
        for change in changes:
            if is_transition(change):
                self.line(change_line(change, self.style))

    def drift(self, event: DriftEvent) -> None:
        self.line(f"{rfc3339_now()}  {self.style('drift', 'magenta')}  {event.command}")

    def error(self, message: str) -> None:
        self.line(f"{rfc3339_now()}  {self.style('error', 'red')}  {message}")


def watch_headless(engine: Engine, log: HeadlessLog, *, duration: float | None) -> None:
    """Run the live engine, printing each change, until `duration` passes or a signal arrives."""
    asyncio.run(_watch(engine, log, duration))


async def _watch(engine: Engine, log: HeadlessLog, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        for signum in signals:
            loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    try:
        await engine.run(log.changes, stop)
    finally:
        if in_main_thread:
            for signum in signals:
                loop.remove_signal_handler(signum)
