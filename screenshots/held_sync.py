"""Holding a sync of the TUI's mid-way, for a screenshot: at one of its waits, chosen by the phase or
wave event just before it, until the picture is taken.

`make_screenshots.py` makes every sync's waiter a `HeldWaiter` (through `core.actions`, which makes
one per sync); it holds only while a `HeldSync` is armed for the event reached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from core.sync_wait import SyncWaiter
from core.sync_waves import SyncProgress

if TYPE_CHECKING:
    from tui.app import KubedriftApp

T = TypeVar("T")


class HeldSync:
    """Holds a person's sync at the wait that follows one of its phase or wave events, until the
    picture is taken.

    The sync's worker hands each event to the TUI's feed and waits until the feed has it
    (`call_from_thread`), so the event is noted here before the sync's next wait begins: the hold
    lands on the same wait every run, however fast the sandbox is.
    """

    def __init__(self, *, hold_at_most: float) -> None:
        self.hold_at_most = hold_at_most
        """A picture that failed never leaves the sync held for good."""
        self.event = ""
        self.last_event = ""
        self.held = threading.Event()
        self.released = threading.Event()

    def arm(self, app: KubedriftApp, event: str) -> None:
        """Hold the next sync this app runs at the wait after its line starting with `event`."""
        self.event, self.last_event = event, ""
        self.held.clear()
        self.released.clear()
        forward = app.feed.sync_progressed

        def noted(name: str, progress: SyncProgress) -> None:
            if progress.event:
                self.last_event = progress.event
            forward(name, progress)

        app.feed.sync_progressed = noted  # type: ignore[method-assign,assignment]

    def release(self) -> None:
        self.event = ""
        self.released.set()

    def hold(self) -> None:
        """Called by the sync's waiter before each wait, on the sync's thread."""
        if self.event and self.last_event.startswith(self.event) and not self.released.is_set():
            self.held.set()
            self.released.wait(self.hold_at_most)

    def waiter(self, *, sleep: Callable[[float], None] = time.sleep) -> SyncWaiter:
        """What `core.actions.sync_app` makes its waiter with, while this script runs."""
        return HeldWaiter(sleep=sleep, hold=self.hold)


@dataclass(frozen=True, slots=True)
class HeldWaiter(SyncWaiter):
    """A sync's waiter that first asks the script whether to hold."""

    hold: Callable[[], None] = field(default=lambda: None)

    def until(self, check: Callable[[], T | None]) -> T | None:
        self.hold()
        return SyncWaiter.until(self, check)
