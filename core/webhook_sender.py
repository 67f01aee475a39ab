"""Posting notifications to webhooks from the engine's event loop, without ever holding it up.

Each hook has its own bounded queue and one task draining it, so a slow or dead receiver delays
only its own notifications. `submit` never waits: when a hook's queue is full, its oldest
notification is dropped and counted (a warning says so). Each hook is rate limited (a token
bucket, 10 a minute with bursts of 10 by default); what the limit holds back is counted, and
one summary ("N more were not sent") goes out as soon as the limit lets one through.

A post that times out, cannot connect, or is answered 429 or 5xx is tried again with exponential
backoff and jitter, waiting what a `Retry-After` header asks instead when there is one; any other
answer (4xx: a wrong URL or token) is not retried. A post given up on is one warning.

Nothing here ever prints a hook's URL or header values: a webhook's path or token is its secret.
Warnings name the hook and its scheme and host (`oncall (https://hooks.slack.com)`), and any text
that could quote a secret (an exception's) has the hook's secret values scrubbed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

from core.notification_bodies import body_for, suppressed_body
from core.notification_config import Webhook
from core.notifications import Notification, TokenBucket
from core.redact import redact_text
from core.status_events import rfc3339_now

if TYPE_CHECKING:
    import aiohttp

QUEUE_SIZE: Final = 100
PER_MINUTE: Final = 10.0
BURST: Final = 10
TIMEOUT_SECONDS: Final = 10.0
ATTEMPTS: Final = 5
BACKOFF_SECONDS: Final = 1.0
MAX_BACKOFF_SECONDS: Final = 60.0
MAX_RETRY_AFTER_SECONDS: Final = 300.0
_USER_AGENT: Final = "kubedrift-notifications"

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How hard the sender tries and how much it lets through; tests make these small."""

    queue_size: int = QUEUE_SIZE
    per_minute: float = PER_MINUTE
    burst: int = BURST
    timeout: float = TIMEOUT_SECONDS
    attempts: int = ATTEMPTS
    backoff: float = BACKOFF_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS


@dataclass(slots=True)
class HookCounts:
    """What happened to one hook's notifications, for tests and a status line."""

    delivered: int = 0
    dropped: int = 0
    """Dropped because the queue was full."""
    suppressed: int = 0
    """Held back by the rate limit (each counted once, in a summary)."""
    failed: int = 0
    """Given up on: a 4xx, or every attempt failed."""


class _Channel:
    """One hook's queue, rate limit and counts."""

    def __init__(self, hook: Webhook, settings: SenderSettings, now: float) -> None:
        self.hook = hook
        self.queue: deque[dict[str, Any]] = deque()
        self.ready = asyncio.Event()
        self.bucket = TokenBucket(settings.per_minute, settings.burst, now)
        self.held_back = 0
        self.summary: asyncio.TimerHandle | None = None
        self.busy = False
        self.counts = HookCounts()

    @property
    def label(self) -> str:
        return f"{self.hook.name} ({self.hook.endpoint})"


class WebhookSender:
    """Posts notifications to their hooks from tasks on the running loop."""

    def __init__(
        self,
        hooks: Sequence[Webhook],
        warn: Warn,
        settings: SenderSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings or SenderSettings()
        self._clock = clock
        self._warn = warn
        self._channels = {hook.name: _Channel(hook, self._settings, clock()) for hook in hooks}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        """Start one draining task per hook on the running loop."""
        for channel in self._channels.values():
            self._tasks.append(asyncio.create_task(self._drain(channel)))

    def counts(self, hook: str) -> HookCounts:
        return self._channels[hook].counts

    def submit(self, notifications: Iterable[Notification]) -> None:
        """Queue each notification for every hook that wants it; never waits (call on the loop)."""
        for notification in notifications:
            for channel in self._channels.values():
                if channel.hook.config.wants(notification.app, notification.trigger):
                    self._offer(
                        channel, body_for(notification, channel.hook.name, channel.hook.config.format)
                    )

    def _offer(self, channel: _Channel, body: dict[str, Any]) -> None:
        now = self._clock()
        if not channel.bucket.take(now):
            channel.held_back += 1
            if channel.summary is None:
                wait = channel.bucket.seconds_until_token(now)
                channel.summary = asyncio.get_running_loop().call_later(wait, self._send_summary, channel)
            return
        self._enqueue(channel, body)

    def _send_summary(self, channel: _Channel) -> None:
        channel.summary = None
        if channel.held_back == 0:
            return
        if not channel.bucket.take(self._clock()):  # a clock that lags the loop's: look again soon
            channel.summary = asyncio.get_running_loop().call_later(1.0, self._send_summary, channel)
            return
        count, channel.held_back = channel.held_back, 0
        channel.counts.suppressed += count
        self._enqueue(
            channel, suppressed_body(channel.hook.name, count, rfc3339_now(), channel.hook.config.format)
        )

    def _enqueue(self, channel: _Channel, body: dict[str, Any]) -> None:
        if len(channel.queue) >= self._settings.queue_size:
            channel.queue.popleft()
            channel.counts.dropped += 1
            if channel.counts.dropped == 1 or channel.counts.dropped % 100 == 0:
                self._warn(
                    f"notifications to {channel.label} are not keeping up: dropped the oldest "
                    f"({channel.counts.dropped} so far); check that the receiver answers quickly"
                )
        channel.queue.append(body)
        channel.ready.set()

    async def _drain(self, channel: _Channel) -> None:
        while True:
            await channel.ready.wait()
            while channel.queue:
                channel.busy = True
                try:
                    await self._deliver(channel, channel.queue.popleft())
                except Exception as error:  # a bug loses this post, never the hook's later ones
                    channel.counts.failed += 1
                    self._warn(f"notification to {channel.label} failed ({type(error).__name__})")
                finally:
                    channel.busy = False
            channel.ready.clear()

    async def _deliver(self, channel: _Channel, body: dict[str, Any]) -> None:
        """Post `body`, trying again on what may pass later; one warning when given up."""
        import aiohttp

        settings = self._settings
        hook = channel.hook
        problem = ""
        for attempt in range(1, settings.attempts + 1):
            retry_after: float | None = None
            try:
                session = self._client()
                async with session.post(
                    hook.url,
                    json=body,
                    headers={"User-Agent": _USER_AGENT, **hook.headers},
                    timeout=aiohttp.ClientTimeout(total=settings.timeout),
                    allow_redirects=False,
                ) as response:
                    if 200 <= response.status < 300:
                        channel.counts.delivered += 1
                        return
                    problem = f"HTTP {response.status}"
                    if response.status != 429 and response.status < 500:
                        channel.counts.failed += 1
                        self._warn(
                            f"notification to {channel.label} was refused ({problem}); it is not sent "
                            "again: check the hook's URL and headers"
                        )
                        return
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))
            except TimeoutError:
                problem = f"no answer within {settings.timeout:g} s"
            except aiohttp.ClientError as error:
                problem = self._scrubbed(channel, _client_problem(error))
            if attempt < settings.attempts:
                await asyncio.sleep(retry_after if retry_after is not None else self._backoff(attempt))
        channel.counts.failed += 1
        self._warn(
            f"notification to {channel.label} was not delivered in {settings.attempts} attempts ({problem})"
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter on its upper half: spreads retries of many hooks."""
        ceiling = min(self._settings.max_backoff, self._settings.backoff * 2 ** (attempt - 1))
        return float(ceiling * (0.5 + random.random() / 2))  # jitter, not a secret

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    @staticmethod
    def _scrubbed(channel: _Channel, text: str) -> str:
        for secret in channel.hook.secrets:
            text = text.replace(secret, "***")
        return redact_text(text)

    def idle(self) -> bool:
        """Whether nothing is queued or being posted."""
        return all(not channel.queue and not channel.busy for channel in self._channels.values())

    async def close(self, grace: float = 3.0) -> None:
        """Give what is queued `grace` seconds to go out, then stop; what is left is one warning."""
        deadline = self._clock() + grace
        while not self.idle() and self._clock() < deadline:
            await asyncio.sleep(0.05)
        left = sum(len(channel.queue) + channel.busy for channel in self._channels.values())
        for channel in self._channels.values():
            if channel.summary is not None:
                channel.summary.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
        if left:
            self._warn(
                f"{left} notification{'s were' if left != 1 else ' was'} not sent before kubedrift stopped"
            )


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header's wait, in seconds (RFC 9110: a number, or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_SECONDS)


def _client_problem(error: Exception) -> str:
    """A connection failure in a few words; an OSError's reason, never the request's URL."""
    import aiohttp

    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect: {error.os_error.strerror or type(error.os_error).__name__}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(error).__name__
