"""Waiting on a queue and a stop event at once, without leaving tasks behind when cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final, TypeVar

T = TypeVar("T")


class Nothing:
    """No item: the stop event was set, or the timeout passed first."""


NOTHING: Final = Nothing()


async def get_or_stop(
    queue: asyncio.Queue[T], stop: asyncio.Event, timeout: float | None = None
) -> T | Nothing:
    """The next item of `queue`, or NOTHING once `stop` is set or `timeout` passes.

    Both helper tasks are cancelled and awaited on every way out, cancellation of the caller
    included (a TUI closing cancels the engine's worker), so none is left pending.
    """
    getter = asyncio.ensure_future(queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        return NOTHING
    finally:
        for task in (getter, stopper):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
