"""Following an app's source: new desired states as Git moves or files are saved.

- A plain folder is watched for saves (a save shows within 100 ms).
- A local repository is watched the same way, on its refs: a commit or a branch switch moves a
  ref, and the load that follows re-renders only the files that changed.
- A remote repository is fetched every `poll_seconds`, and at once on `request_refresh()`.
- A multi-source app (core.multi_source) follows each of its sources so: a change in any of them
  loads the whole app again.
Folders and refs are watched through the engine's one `FileWatch`, shared by every app. Once it
watches, `reload_moved` loads again the sources that may have moved since their first load (a ref
lookup, or file times), so a save or commit made while the engine was starting is not missed.
Loads run on a worker thread, since Git and rendering block.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

from core.desired_state import AppDesiredState, DesiredState
from core.errors import KubedriftError
from core.file_watch import FileWatch, Wanted
from core.queue_wait import Nothing, get_or_stop

if TYPE_CHECKING:
    from core.gitsource import SourceSnapshot


class SourceWatch:
    """Yields a new DesiredState whenever an app's source changes what it renders to."""

    def __init__(self, loader: AppDesiredState, files: FileWatch, *, poll_seconds: float = 30.0) -> None:
        self.loader = loader
        self.files = files
        """The watcher of local folders and repositories, shared with the engine's other apps."""
        self.poll_seconds = poll_seconds
        self._refresh = asyncio.Event()

    def request_refresh(self) -> None:
        """Fetch and reload now (the `r` key, or `kubedrift watch` on SIGHUP)."""
        self._refresh.set()

    async def updates(
        self, stop: asyncio.Event, *, known: DesiredState | None = None
    ) -> AsyncIterator[DesiredState]:
        """Each new desired state until `stop` is set; `known` is the one the caller has already
        (a load that renders the same is not yielded)."""
        current = self._snapshots()
        triggers: asyncio.Queue[bool] = asyncio.Queue()
        tasks = [asyncio.create_task(self._on_refresh_requests(triggers, stop))]
        unfollows: list[Callable[[], None]] = []
        for path, wanted in self._watched_paths():
            unfollows.append(self.files.follow(path, wanted, lambda: triggers.put_nowait(False)))
        if any(source.is_polled for source in self.loader.sources):
            tasks.append(asyncio.create_task(self._on_timer(triggers, stop)))
        try:
            previous = known
            while not stop.is_set():
                fetch = await _next(triggers, stop)
                if fetch is None:
                    return
                state = await asyncio.to_thread(self._load, fetch)
                snapshots = self._snapshots()
                if state == previous and all(map(operator.is_, snapshots, current)):
                    continue
                previous, current = state, snapshots
                confirm_in = self.loader.confirm_in
                if confirm_in is not None:
                    # Objects that left the working tree stay pending until a later read agrees.
                    asyncio.get_running_loop().call_later(confirm_in, triggers.put_nowait, False)
                yield state
        finally:
            for unfollow in unfollows:
                unfollow()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _snapshots(self) -> tuple[SourceSnapshot | None, ...]:
        """The last good snapshot of each source: a load that hands back the same objects read nothing new."""
        return tuple(source.last_good for source in self.loader.sources)

    def _load(self, fetch: bool) -> DesiredState:
        if fetch:
            fetched: set[int] = set()
            for source in self.loader.sources:
                # Sources of one repository share it: one fetch serves them all.
                shared = id(source.repository) if source.repository is not None else id(source)
                if shared in fetched:
                    continue
                fetched.add(shared)
                # A failed fetch is reported by the load below, which keeps the last good revision.
                with contextlib.suppress(KubedriftError):
                    source.refresh()
        return self.loader.load()

    @property
    def watched(self) -> bool:
        """Whether saves and commits reach this app (or one of its sources) through the file watch."""
        return not all(source.is_polled for source in self.loader.sources)

    def may_have_changed(self) -> bool:
        """Whether a watched source may render differently from its last load (see reload_moved)."""
        return any(source.may_have_changed() for source in self.loader.sources if not source.is_polled)

    def _watched_paths(self) -> list[tuple[Path, Wanted]]:
        """The folders to watch for this app, and which changes in each count; none for a remote."""
        watched: dict[Path, Wanted] = {}
        for source in self.loader.sources:
            if source.folder is not None:
                watched.setdefault(source.folder.folder, source.folder.watch_filter())
                continue
            repository = source.repository
            if repository is not None and not repository.is_remote:
                try:
                    watched.setdefault(Path(repository.open().git_dir), _moves_a_ref)
                except KubedriftError:
                    continue
        return list(watched.items())

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


async def reload_moved(sources: Iterable[SourceWatch], files: FileWatch) -> None:
    """Once `files` watches, have the watched sources that moved since their last load (a save
    or commit made while the engine started) load again. One thread checks them all in turn: a
    thousand checks at once on a thread each would spend more on the GIL than on the checks."""
    await files.watching.wait()
    watched = [source for source in sources if source.watched]
    moved = await asyncio.to_thread(lambda: [s for s in watched if s.may_have_changed()])
    for source in moved:
        source.request_refresh()


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
