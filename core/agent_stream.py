"""Following one agent's watch stream (`GET /api/v1/watch`), resumed so that no line is lost or repeated.

`follow_stream` yields, until `stop` is set:
- each stream line, a dict: the `watch -o jsonl` object plus `seq` (gap-free per agent process) and
  `agent` (the agent's identity);
- `Connected()` each time the stream is (re)established, `Disconnected(reason)` each time it cannot
  be or drops; between the two it waits, backing off from `retry_initial` to `retry_max` seconds;
- `Resynced(status)` when lines were lost (the agent answered 410 because `since` is older than what
  it retains, a sequence number was skipped, or the agent restarted and counts from 1 again): the
  caller replaces its whole view with `status`, the `/api/v1/status` document, and the stream goes on
  from its `sequence`. A restarted agent is known by its stream id (the STREAM_ID_HEADER of each
  stream response, `agent.streamId` in its status): a new id means its numbers started again.

After a drop the stream resumes with `since=` the last sequence number seen, so the agent sends only
what came after it; a line at or below it is skipped if one comes anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from core import wire_json
from core.errors import KubedriftError

if TYPE_CHECKING:
    import aiohttp

    from core.agent_client import AgentClient

STREAM_ID_HEADER: Final = "Kubedrift-Stream-Id"
"""Names one agent process's numbering; the agent sends it with every stream response."""
MAX_LINE: Final = 16 * 1024 * 1024
"""A longer line is not a watch line: the stream is dropped and resumed."""


@dataclass(frozen=True, slots=True)
class Connected:
    """The stream is up; lines follow."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The stream could not be opened or dropped; it is retried after a pause."""

    reason: str
    """One sentence naming the agent and what went wrong."""


@dataclass(frozen=True, slots=True)
class Resynced:
    """Lines were lost: replace the whole view with `status`, the agent's `/api/v1/status` document."""

    status: dict[str, Any]


StreamEvent = dict[str, Any] | Connected | Disconnected | Resynced


class _Gap(Exception):
    """A line's sequence number skipped some: lines were lost."""


async def follow_stream(
    client: AgentClient, since: int | None, stop: asyncio.Event | None, *, app: str | None = None
) -> AsyncIterator[StreamEvent]:
    import aiohttp

    stop = stop or asyncio.Event()
    last = since
    stream_id: list[str | None] = [None]  # the first connection's, then kept: shared with each connection
    delay = client.retry_initial
    resumed = False
    while not stop.is_set():
        try:
            if resumed and last is not None:
                # A restarted agent counts from 1 again: `since=last` would wait for lines it never sends.
                status = await client.status()
                if _sequence(status) < last:
                    last = _sequence(status)
                    yield Resynced(status)
            elif resumed:
                status = await client.status()  # lines may have passed while we were away
                last = _sequence(status)
                yield Resynced(status)
            resumed = True
            resynced = False
            async for event in _one_connection(client, last, stop, app, stream_id):
                if isinstance(event, Resynced):
                    last = _sequence(event.status)
                    resynced = True
                elif isinstance(event, Connected):
                    delay = client.retry_initial
                elif isinstance(event, dict):
                    last = event["seq"] if isinstance(event.get("seq"), int) else last
                yield event
            if stop.is_set():
                return
            if resynced:  # a 410: go on from the status's sequence at once
                resumed = False
                continue
            reason = client.unreachable_sentence("it closed the stream")
        except _Gap:
            found = await _status_or_none(client)
            if found is not None:
                last = _sequence(found)
                yield Resynced(found)
                continue
            reason = client.unreachable_sentence("its stream skipped lines and its status could not be read")
        except KubedriftError as error:
            reason = str(error)
        except (aiohttp.ClientError, TimeoutError, OSError, ssl.SSLError, ValueError) as error:
            reason = client.describe_failure(error)
        if stop.is_set():
            return
        yield Disconnected(reason)
        await _pause(stop, delay)
        delay = min(delay * 2, client.retry_max)


async def _one_connection(
    client: AgentClient, since: int | None, stop: asyncio.Event, app: str | None, stream_id: list[str | None]
) -> AsyncIterator[StreamEvent]:
    """One GET of the stream: Connected, then its lines until it ends; Resynced (and end) on 410, or
    when the agent answering is another process than the one `since` counts in (its stream id)."""
    import aiohttp

    params = {"since": str(since)} if since is not None else {}
    if app is not None:
        params["app"] = app
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=client.request_timeout, sock_read=client.stream_idle_timeout
    )
    for attempt in (1, 2):
        async with client.session().get(
            client.url("/api/v1/watch"),
            params=params,
            headers={**client.headers(), "Accept": "application/x-ndjson"},
            timeout=timeout,
            ssl=client.ssl_setting(),
        ) as response:
            if response.status == 401 and attempt == 1 and client.reload_token():
                continue
            answering, stream_id[0] = response.headers.get(STREAM_ID_HEADER), stream_id[0]
            restarted = (
                since is not None and None not in (answering, stream_id[0]) and answering != stream_id[0]
            )
            stream_id[0] = answering or stream_id[0]
            if response.status == 410 or (restarted and response.status == 200):
                yield Resynced(await client.status())
                return
            if response.status != 200:
                raise client.answer_error(response.status, await response.read(), "GET /api/v1/watch")
            yield Connected()
            # Setting `stop` closes the response, which ends the read below at once.
            closer = asyncio.ensure_future(stop.wait())
            closer.add_done_callback(lambda _: response.close())
            try:
                async for line in _lines(response):
                    seq = line.get("seq")
                    if isinstance(seq, int) and since is not None:
                        if seq <= since:
                            continue  # already seen
                        if seq != since + 1:
                            raise _Gap
                    since = seq if isinstance(seq, int) else since
                    yield line
            except (aiohttp.ClientError, ValueError):
                if not stop.is_set():
                    raise
            finally:
                closer.cancel()
            return


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of an NDJSON body; blank keep-alive lines skipped."""
    pending = b""
    async for chunk in response.content.iter_any():
        pending += chunk
        if b"\n" not in chunk:
            if len(pending) > MAX_LINE:
                raise ValueError("a stream line is too long")
            continue
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            if raw.strip():
                line = wire_json.loads(raw)
                if isinstance(line, dict):
                    yield line


def _sequence(status: dict[str, Any]) -> int:
    sequence = status.get("sequence")
    return sequence if isinstance(sequence, int) else 0


async def _status_or_none(client: AgentClient) -> dict[str, Any] | None:
    try:
        return await client.status()
    except KubedriftError:
        return None


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
