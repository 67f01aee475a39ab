"""Following an app's source: new desired states as Git moves or files are saved.

- A plain folder is watched with watchfiles (a save shows within 100 ms).
- A local repository is watched the same way, on its refs: a commit or a branch switch moves a
  ref, and the load that follows re-renders only the files that changed.
- A remote repository is fetched every `poll_seconds`, and at once on `request_refresh()`.
Loads run on a worker thread, since Git and rendering block.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import watchfiles

from core.desired_state import AppDesiredState, DesiredState
from core.errors import KubedriftError
from core.gitsource import WATCH_DEBOUNCE_MS, WATCH_STEP_MS
from core.queue_wait import Nothing, get_or_stop


class SourceWatch:
    """Yields a new DesiredState whenever an app's source changes what it renders to."""

    def __init__(self, loader: AppDesiredState, *, poll_seconds: float = 30.0) -> None:
        self.loader = loader
        self.poll_seconds = poll_seconds
        self._refresh = asyncio.Event()

    def request_refresh(self) -> None:
        """Fetch and reload now (the `r` key, or `kubedrift watch` on SIGHUP)."""
        self._refresh.set()

    async def updates(self, stop: asyncio.Event) -> AsyncIterator[DesiredState]:
        current = self.loader.source.last_good
        triggers: asyncio.Queue[bool] = asyncio.Queue()
        tasks = [asyncio.create_task(self._on_refresh_requests(triggers, stop))]
        watched = self._watched_path()
        if watched is not None:
            tasks.append(asyncio.create_task(self._on_file_changes(watched, triggers, stop)))
        elif self.loader.source.repository is not None:
            tasks.append(asyncio.create_task(self._on_timer(triggers, stop)))
        try:
            previous: DesiredState | None = None
            while not stop.is_set():
                fetch = await _next(triggers, stop)
                if fetch is None:
                    return
                state = await asyncio.to_thread(self._load, fetch)
                snapshot = self.loader.source.last_good
                if state == previous and snapshot is current:
                    continue
                previous, current = state, snapshot
                yield state
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _load(self, fetch: bool) -> DesiredState:
        if fetch:
            # A failed fetch is reported by the load below, which keeps the last good revision.
            with contextlib.suppress(KubedriftError):
                self.loader.source.refresh()
        return self.loader.load()

    def _watched_path(self) -> Path | None:
        source = self.loader.source
        if source.folder is not None:
            return source.folder.folder
        repository = source.repository
        if repository is not None and not repository.is_remote:
            try:
                return Path(repository.open().git_dir)
            except KubedriftError:
                return None
        return None

    async def _on_file_changes(self, path: Path, triggers: asyncio.Queue[bool], stop: asyncio.Event) -> None:
        folder = self.loader.source.folder
        if folder is not None:
            async for _ in folder.changes(stop):
                triggers.put_nowait(False)
            return
        # watchfiles' default filter skips .git, which is exactly what a repository is watched through.
        async for _ in watchfiles.awatch(
            path, stop_event=stop, step=WATCH_STEP_MS, debounce=WATCH_DEBOUNCE_MS, watch_filter=_moves_a_ref
        ):
            triggers.put_nowait(False)

    async def _on_timer(self, triggers: asyncio.Queue[bool], stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            triggers.put_nowait(True)

    async def _on_refresh_requests(self, triggers: asyncio.Queue[bool], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._refresh.wait()
            self._refresh.clear()
            triggers.put_nowait(True)


def _moves_a_ref(change: watchfiles.Change, path: str) -> bool:
    """Commits, checkouts, fetches and resets all end by writing HEAD, a ref, or packed-refs."""
    name = Path(path).name
    return not name.endswith(".lock") and ("/refs/" in path or name in ("HEAD", "packed-refs"))


async def _next(triggers: asyncio.Queue[bool], stop: asyncio.Event) -> bool | None:
    """The next trigger (True: fetch first), coalescing a burst; None once `stop` is set."""
    first = await get_or_stop(triggers, stop)
    if isinstance(first, Nothing):
        return None
    fetch = first
    while not triggers.empty():
        fetch = triggers.get_nowait() or fetch
    return fetch
