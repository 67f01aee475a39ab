"""The reconcile loop every simulated controller runs: watch, queue keys, reconcile one at a time.

It is client-go's informer plus work queue, reduced to what an in-process store needs. Watches are
subscribed and the initial resync is taken with no await in between, so no event is missed; a
watch the server drops (the "drop all watches" fault, or a slow consumer) is re-subscribed and
followed by a full resync, as an informer relists. Reconciles read the store directly, so they
always see the latest state and need no expectations bookkeeping.

A reconcile that raises is logged and retried with back-off; it never stops the loop or the server.
A failure outside a reconcile (at start, or in the watch loop) restarts the controller instead.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from sandbox.controllers.settings import ControllerSettings
from sandbox.controllers.workqueue import WorkQueue
from sandbox.errors import StatusError
from sandbox.store import Watcher, WatchEvent

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

logger = logging.getLogger("sandbox.controllers")

CONTROLLER_MANAGER = "kube-controller-manager"
# A controller whose start or watch loop fails starts over after this, doubling up to the maximum.
RESTART_DELAY = 0.1
MAX_RESTART_DELAY = 30.0

Key = Hashable
KeysOf = Callable[[WatchEvent], Iterable[Key]]


def split_key(key: Key) -> tuple[str, str]:
    """The two strings of a key: (namespace, name) for most controllers."""
    first, second = cast("tuple[str, str]", key)
    return first, second


@dataclass(frozen=True)
class Source:
    """A resource a controller watches, and which of its keys an event of that resource concerns."""

    api_version: str
    kind: str
    keys: KeysOf


class ReconcileLoop(ABC):
    """Base of the controllers: subclasses name their sources and reconcile one key at a time.

    An instance is a sandbox `Controller`: `await loop(api)` runs until cancelled.
    """

    name: ClassVar[str] = "controller"
    manager: ClassVar[str] = CONTROLLER_MANAGER

    def __init__(self, settings: ControllerSettings | None = None) -> None:
        self.settings = settings or ControllerSettings()
        self.queue = WorkQueue()
        self._api: ResourceAPI | None = None
        self._task_group: asyncio.TaskGroup | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def api(self) -> ResourceAPI:
        if self._api is None:
            raise RuntimeError(f"the {self.name} controller is not running")
        return self._api

    @property
    def running(self) -> bool:
        return self._api is not None

    # ---- what subclasses provide ----

    @abstractmethod
    def sources(self) -> list[Source]:
        """The watched resources; the first is usually the controller's own kind."""

    @abstractmethod
    def resync(self) -> Iterable[Key]:
        """Every key worth reconciling now: at start and after a dropped watch."""

    @abstractmethod
    def reconcile(self, key: Key) -> float | None:
        """Bring one key's objects towards their desired state; return seconds until a recheck is due."""

    def started(self) -> None:  # noqa: B027 - an optional hook; most controllers need nothing here
        """Called once the controller runs, before its first reconcile."""

    # ---- the loop ----

    async def __call__(self, api: ResourceAPI) -> None:
        self._api = api
        delay = RESTART_DELAY
        try:
            while True:
                try:
                    await self._run()
                except Exception:
                    logger.exception("%s stopped with an error (restarting in %.2fs)", self.name, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RESTART_DELAY)
        finally:
            self._api = None

    async def _run(self) -> None:
        self.queue = WorkQueue()
        try:
            self.started()
            watched = [(source, self._subscribe(source)) for source in self.sources()]
            self.queue.add_all(self.resync())
            async with asyncio.TaskGroup() as group:
                self._task_group = group
                for source, watcher in watched:
                    group.create_task(self._pump(source, watcher))
                group.create_task(self._work())
        finally:
            self._task_group = None
            self.queue.close()

    def watch_more(self, source: Source) -> None:
        """Start watching another resource while running (the garbage collector and new CRDs)."""
        if self._task_group is None:
            return
        watcher = self._subscribe(source)
        self._task_group.create_task(self._pump(source, watcher))

    def _subscribe(self, source: Source) -> Watcher:
        return self.api.watch(self.api.resource(source.api_version, source.kind))

    async def _pump(self, source: Source, watcher: Watcher) -> None:
        try:
            while True:
                while not watcher.closed:
                    await watcher.wait(None)
                    for event in watcher.pending():
                        self._enqueue(source, event)
                for event in watcher.pending():
                    self._enqueue(source, event)
                # The server closed the watch: subscribe again, then relist, with no await between.
                try:
                    watcher = self._subscribe(source)
                except StatusError:
                    return  # the resource is no longer served (its CRD was deleted)
                self.on_relist()
                self.queue.add_all(self.resync())
        finally:
            watcher.close()

    def on_relist(self) -> None:  # noqa: B027 - an optional hook
        """Called before the resync that follows a dropped watch (the garbage collector rebuilds)."""

    def _enqueue(self, source: Source, event: WatchEvent) -> None:
        try:
            self.queue.add_all(source.keys(event))
        except Exception:
            logger.exception("%s: cannot map a %s event of %s", self.name, event.type, source.kind)

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            self.process(key)
            # Let HTTP handlers and other controllers run between reconciles.
            await asyncio.sleep(0)

    def process(self, key: Key) -> None:
        """Reconcile one key now: a failure is logged and the key comes back after a back-off."""
        try:
            recheck = self.reconcile(key)
        except StatusError as error:
            if error.code == 404:
                self.queue.forget(key)
                return
            delay = self.queue.add_rate_limited(key)
            level = logging.DEBUG if error.code == 409 else logging.WARNING
            logger.log(level, "%s: %s: %s (retrying in %.2fs)", self.name, key, error.message, delay)
        except Exception:
            delay = self.queue.add_rate_limited(key)
            logger.exception("%s: reconciling %s failed (retrying in %.2fs)", self.name, key, delay)
        else:
            self.queue.forget(key)
            if recheck is not None:
                self.queue.add_after(key, recheck)
