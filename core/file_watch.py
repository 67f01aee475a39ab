"""One watchfiles watcher for every local source of the engine; each follower hears only its own folder.

A watcher per app costs an inotify instance, and a thread that wakes every step to ask whether to
stop. Linux allows 128 inotify instances per user by default (fs.inotify.max_user_instances), and
anyio runs at most 40 such threads at once, so a fleet of a few hundred apps would stop seeing
saves, and every app would add to the idle CPU. Here one watcher covers the outermost folders of all
followers, and each batch of changes is routed by path to the followers it concerns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import watchfiles

from core.gitsource import WATCH_DEBOUNCE_MS, WATCH_POLL_DELAY_MS, WATCH_STEP_MS

Wanted = Callable[[watchfiles.Change, str], bool]
"""Whether a change (and its absolute path) counts for a follower."""

_WAKE_MS: Final = 1_000
"""How often the watcher thread hands control back when nothing happens."""
_FALLBACK_POLL_MS: Final = 1_000
"""Where no inotify instance is left and watchfiles must poll: once a second, not every 50 ms."""


@dataclass(frozen=True, eq=False, slots=True)
class _Follower:
    root: Path
    wanted: Wanted
    notify: Callable[[], None]


class FileWatch:
    """Watches the folders its followers name, with one watcher, until stopped."""

    def __init__(self) -> None:
        self._followers: dict[Path, list[_Follower]] = {}
        self._roots_changed = asyncio.Event()
        self._polling = False
        self.watching = asyncio.Event()
        """Set once a watcher runs: changes from then on are seen, those before were not."""

    def follow(self, root: Path, wanted: Wanted, notify: Callable[[], None]) -> Callable[[], None]:
        """Call `notify` (on the event loop) after each batch holding a `wanted` change under `root`.

        Returns the function that stops following. A root that does not exist is remembered but
        not watched until the set of roots changes again.
        """
        follower = _Follower(root.resolve(), wanted, notify)
        # A folder watched already (or inside one) needs no new watcher: restarting it would lose the
        # changes made meanwhile (a child app following its parent's repository, core.app_of_apps).
        covered = any(folder in self._followers for folder in (follower.root, *follower.root.parents))
        self._followers.setdefault(follower.root, []).append(follower)
        if not covered:
            self._roots_changed.set()

        def unfollow() -> None:
            followers = self._followers.get(follower.root, [])
            if follower in followers:
                followers.remove(follower)
                if not followers:
                    del self._followers[follower.root]
                    self._roots_changed.set()

        return unfollow

    @property
    def roots(self) -> list[Path]:
        """The folders watched: the existing followed roots, without those inside another one."""
        return outermost(root for root in self._followers if root.is_dir())

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set, restarting the watcher whenever the set of roots changes.

        Started after the followers' own tasks, it finds them all in and starts one watcher."""
        while not stop.is_set():
            self._roots_changed.clear()
            roots = self.roots
            if not roots:
                await _first_of(stop, self._roots_changed)
                continue
            try:
                await self._watch(roots, stop)
            except FileNotFoundError:
                continue  # a root went away as the watcher started: the next round leaves it out
            except RuntimeError:
                if self._polling:
                    raise
                # No inotify instance left (other programs hold them all): poll instead, gently.
                self._polling = True

    async def _watch(self, roots: list[Path], stop: asyncio.Event) -> None:
        changes = watchfiles.awatch(
            *roots,
            watch_filter=None,
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_STEP_MS,
            stop_event=_Until(stop, self._roots_changed),  # only is_set() and, when cancelled, set()
            force_polling=True if self._polling else None,
            poll_delay_ms=_FALLBACK_POLL_MS if self._polling else WATCH_POLL_DELAY_MS,
            rust_timeout=_WAKE_MS,
        )
        # The watcher is made as the iteration starts, before its first await; a callback queued
        # now runs at that await, when changes are already being collected.
        asyncio.get_running_loop().call_soon(self.watching.set)
        async for batch in changes:
            self.deliver(batch)

    def deliver(self, batch: Iterable[tuple[watchfiles.Change, str]]) -> None:
        """Notify, once each, the followers with a wanted change in `batch`."""
        notified: set[_Follower] = set()
        for change, path in batch:
            for folder in (Path(path), *Path(path).parents):
                for follower in self._followers.get(folder, ()):
                    if follower not in notified and follower.wanted(change, path):
                        notified.add(follower)
        for follower in notified:
            follower.notify()


def outermost(roots: Iterable[Path]) -> list[Path]:
    """`roots` without any that lies inside another (a recursive watch of the outer one covers it)."""
    wanted = set(roots)
    return sorted(root for root in wanted if not any(parent in wanted for parent in root.parents))


class _Until:
    """An event that reads as set once `stop` or `restart` is; watchfiles polls it every step."""

    def __init__(self, stop: asyncio.Event, restart: asyncio.Event) -> None:
        self._events = (stop, restart)
        self._cancelled = False

    def is_set(self) -> bool:
        return self._cancelled or any(event.is_set() for event in self._events)

    def set(self) -> None:
        # Called by watchfiles when the task is cancelled, so its thread stops too.
        self._cancelled = True


async def _first_of(*events: asyncio.Event) -> None:
    waits: list[asyncio.Task[Any]] = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
