"""The agent's stream of `watch -o jsonl` lines: numbered, retained, and waited on by its readers.

Every line gets a sequence number, strictly increasing from 1 for the life of the process and
without gaps, so a reader that lost its connection asks for the lines after the last number it
saw (`since=N`) and misses nothing, and sees nothing twice. The newest `retained` lines are kept;
a reader asking for older ones is told so (StreamTooOld), refetches the status document and
resumes from the `sequence` it carries, as a Kubernetes client relists after a 410 Gone.

Readers keep no queue of their own: each holds the number of the last line it wrote and reads on
from the shared buffer when woken. A slow reader therefore costs nothing while it lags; once it
has fallen out of the window it is ended, and resumes as any late reader does. Everything here
runs on the agent's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import orjson

RETAINED_LINES: Final = 10_000
"""How many lines the agent keeps for readers that resume (the contract's window)."""


@dataclass(frozen=True, slots=True)
class StreamLine:
    """One line as sent: its number, the app it is about, and its JSON (no newline)."""

    seq: int
    app: str
    body: bytes


class StreamTooOld(Exception):
    """The lines after `since` are no longer all retained (or `since` is from another process)."""

    def __init__(self, since: int, oldest: int, last: int) -> None:
        if since > last:
            reason = (
                f"sequence {since} is ahead of this agent's last line {last}: the agent restarted since; "
                "fetch /api/v1/status and stream from its sequence"
            )
        else:
            reason = (
                f"the lines after {since} are gone: this agent keeps lines {oldest} to {last}; "
                "fetch /api/v1/status and stream from its sequence"
            )
        super().__init__(reason)
        self.since = since
        self.oldest = oldest
        self.last = last


class LineStream:
    """The numbered lines, the newest `retained` of them kept, and a wake-up for waiting readers."""

    def __init__(self, retained: int = RETAINED_LINES) -> None:
        if retained < 1:
            raise ValueError(f"a stream must retain at least one line, not {retained}")
        self._lines: deque[StreamLine] = deque(maxlen=retained)
        self._last = 0
        self._arrived: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def last(self) -> int:
        """The number of the newest line; 0 before the first."""
        return self._last

    @property
    def oldest(self) -> int:
        """The number of the oldest line kept; `last + 1` while there is none."""
        return self._lines[0].seq if self._lines else self._last + 1

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, document: dict[str, Any], app: str, *, agent: str | None = None) -> StreamLine:
        """Number `document` (its `seq` key is set here, then `agent` when given), keep it, and wake
        the readers."""
        self._last += 1
        document["seq"] = self._last
        if agent is not None:
            document["agent"] = agent
        line = StreamLine(self._last, app, orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS))
        self._lines.append(line)
        self._wake()
        return line

    def after(self, since: int) -> list[StreamLine]:
        """Every kept line numbered above `since`, oldest first; StreamTooOld when some are gone."""
        if since > self._last or since < self.oldest - 1:
            raise StreamTooOld(since, self.oldest, self._last)
        start = since - self.oldest + 1
        return list(itertools.islice(self._lines, start, None))

    async def wait_after(self, since: int, timeout: float) -> bool:
        """Wait until a line numbered above `since` exists; False when `timeout` passed first or the
        stream closed."""
        if self._last > since:
            return True
        if self._closed:
            return False
        if self._arrived is None:
            self._arrived = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._arrived), timeout)
        except TimeoutError:
            return False
        return self._last > since

    def close(self) -> None:
        """The agent is stopping: wake every reader, and let none wait again."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, None
        if arrived is not None and not arrived.done():
            arrived.set_result(None)
