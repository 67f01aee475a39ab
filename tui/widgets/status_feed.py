"""What every feed of statuses shares: the event log, and coalesced `Updated` messages to the screens.

A feed is told which apps changed and what is worth a line in the event log, as fast as changes
arrive, and delivers one `Updated` per screen at most `MAX_UPDATES_PER_SECOND` times a second, and
only while something is pending: a one-shot timer is armed by the first change after a delivery, so
an idle app has no timer at all and never repaints. Two feeds build on it: `EngineFeed` (the engine
in this process) and `FleetFeed` (the apps of `kubedrift agent`s, tui.remote_feed).
"""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

from tui.widgets.abstract_widget import AbstractWidgetMeta


class LogLevel(StrEnum):
    """How an event-log line is coloured; the words in the line carry the meaning on their own."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the event log."""

    ts: str
    """RFC 3339 UTC, as the engine stamps status changes."""
    app: str
    text: str
    level: LogLevel = LogLevel.INFO

    @property
    def clock(self) -> str:
        """The local wall-clock time of the entry, `HH:MM:SS`."""
        try:
            return datetime.fromisoformat(self.ts.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")
        except ValueError:
            return self.ts


class StatusFeed(Widget, metaclass=AbstractWidgetMeta):
    """Tells every screen what changed, coalesced; subclasses say where changes come from (`start`)."""

    DEFAULT_CSS = """
    StatusFeed {
        display: none;
    }
    """

    MAX_UPDATES_PER_SECOND = 20
    LOG_SIZE = 500

    # Posted to each screen directly, so it does not bubble on to the App, which has no use for it.
    # The namespace keeps the screens' handler `on_engine_feed_updated` whichever feed posts it.
    class Updated(Message, bubble=False, namespace="engine_feed"):
        """Apps whose state changed and log lines added since the receiving screen's last Updated."""

        def __init__(self, apps: frozenset[str], entries: tuple[LogEntry, ...]) -> None:
            super().__init__()
            self.apps = apps
            self.entries = entries

        def can_replace(self, message: Message) -> bool:
            # Textual asks the queued message whether the newer one may stand in for it. Folding this
            # message's apps and lines into the newer one makes that lossless: a screen busy for a
            # while gets one Updated covering everything it missed.
            if not isinstance(message, StatusFeed.Updated):
                return False
            message.apps = self.apps | message.apps
            message.entries = self.entries + message.entries
            return True

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.entries: deque[LogEntry] = deque(maxlen=self.LOG_SIZE)
        """The newest event-log lines, oldest first."""
        self.updates_sent = 0
        """How many deliveries were made (each is one Updated per listening screen)."""
        self.sync_progress: dict[str, str] = {}
        """The progress line of each person's sync under way (`PreSync 1/3 · wave 0 3/7`), shown by
        the status bar."""
        self._stop = asyncio.Event()
        self._pending_apps: set[str] = set()
        self._pending_entries: list[LogEntry] = []
        self._timer: Timer | None = None
        self._last_delivery = float("-inf")
        self._started = False

    def start(self) -> None:
        """Start reading statuses (once). The App calls this after the dashboard's first frame."""
        if not self._started:
            self._started = True
            self._begin()

    @abstractmethod
    def _begin(self) -> None:
        """Start the source of changes; each subclass has its own."""

    def on_unmount(self) -> None:
        self._stop.set()

    @abstractmethod
    def knows(self, app: str) -> bool:
        """Whether `app` is one of the apps shown, so a log line about it refreshes its row too."""

    def log_entry(self, entry: LogEntry) -> None:
        """Add a line to the event log (action results, errors); screens see it with the next Updated."""
        if self.knows(entry.app):
            self._pending_apps.add(entry.app)
        self._add(entry)
        self._schedule()

    def changed(self, apps: Iterable[str]) -> None:
        """`apps` changed: their rows and screens are worked out again with the next delivery."""
        self._pending_apps.update(apps)
        self._schedule()

    # Delivery.

    def _add(self, entry: LogEntry) -> None:
        self.entries.append(entry)
        self._pending_entries.append(entry)

    def _schedule(self) -> None:
        if self._timer is not None or not (self._pending_apps or self._pending_entries):
            return
        # Textual's timers cannot be armed for zero seconds; a millisecond is as good as now here.
        wait = max(0.001, self._last_delivery + 1 / self.MAX_UPDATES_PER_SECOND - time.monotonic())
        self._timer = self.set_timer(wait, self._deliver, name="engine-feed")

    def _deliver(self) -> None:
        self._timer = None
        self._last_delivery = time.monotonic()
        self._before_delivery(self._pending_apps)
        apps, entries = frozenset(self._pending_apps), tuple(self._pending_entries)
        self._pending_apps.clear()
        self._pending_entries.clear()
        self.updates_sent += 1
        # The feed sits on the hidden base screen; every screen above it gets its own message.
        for screen in self.app.screen_stack:
            if screen is not self.screen:
                screen.post_message(self.Updated(apps, entries))

    def _before_delivery(self, apps: Iterable[str]) -> None:
        """A last look at the apps about to be delivered (the engine feed logs automation results)."""
