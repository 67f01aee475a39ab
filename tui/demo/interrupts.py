"""SIGTERM and SIGHUP handled as Ctrl+C, so `kill` or a dropped SSH session stops the demo cleanly.

Python's default for both ends the process at once: the sandbox thread dies mid-write and the temp
folder stays behind. Forwarding it to whatever handles SIGINT at that moment does the right thing
in every phase: outside an event loop it raises KeyboardInterrupt; under `asyncio.run` (the
Textual app) it cancels the main task, so the app restores the terminal before the interrupt
surfaces; the headless loop installs its own handlers and stops cleanly.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


def _forward_to_sigint(signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Within the block (main thread only), SIGTERM and SIGHUP act as SIGINT; old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _forward_to_sigint) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
