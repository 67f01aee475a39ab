"""List-then-watch of one kind, on its own thread, resilient to everything a real API server does.

- Resumes from the last resourceVersion it saw (bookmarks included) when a stream ends or drops.
  A stream that drops is resumed at once and reported to nobody: only a failure to reconnect or
  to list is (KindState with the reason), so normal operation never blinks.
- A stream silent for `idle_timeout` is dropped and resumed: a dead connection that sent no FIN
  would otherwise hang until its read timeout.
- Before resuming, it asks the server for its current resourceVersion (a one-item list): one that
  went back means the server restarted without its state (StateLost), and the kind is relisted.
- Relists on 410 Gone and on 504 "Too large resource version"; the relist is reported page by
  page as it arrives, its last page marked, so the cache can find the deletions it missed.
- Reconnects with jittered exponential backoff when the cluster is unreachable.
- A 403 reports the kind as unknowable with the server's reason, and retries later; every other
  kind keeps its own watch, so one forbidden kind never blinds the rest.

It knows nothing of apps or the UI: it hands plain messages to a sink (thread-safe by contract).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.api_resources import ApiResource
from core.cluster import READ_TIMEOUT, ApiError, ClusterAdapter, ClusterError, WatchBroken
from core.cluster_liveness import (
    WATCH_IDLE_SECONDS,
    WATCH_TIMEOUT_SECONDS,
    as_version_number,
    backoff,
    went_back,
)
from core.live_cache import LiveEvent
from core.model import ResourceKey

FORBIDDEN_RETRY_SECONDS: Final = 60.0
MAX_BACKOFF_SECONDS: Final = 30.0
QUICK_BREAK_SECONDS: Final = 1.0
"""A stream that breaks sooner than this after opening is not resumed at once again: it waits."""


@dataclass(frozen=True, slots=True)
class Relisted:
    """A fresh list of a kind (in one namespace, or everywhere), or one page of it: once its last
    page is in, the cache must hold exactly the objects of its pages there.

    A whole list is one message, both `first` and `last`. A paged one is applied page by page as
    it arrives; what the cache held and no page returned is deleted at the last page, and only then
    is the kind known again. A `first` page starts the list over (a list restarted after its
    continue token expired)."""

    group: str
    kind: str
    namespace: str | None
    objects: list[dict[str, Any]]
    recovering: bool = False
    """The list follows an error (a failure, a dropped stream, 410): one that finds none of what was
    cached may mean the server lost its state."""
    first: bool = True
    last: bool = True


@dataclass(frozen=True, slots=True)
class StateLost:
    """The server's resourceVersion went back from `newest` to `version`: it lost its state."""

    group: str
    kind: str
    namespace: str | None
    newest: int
    version: str


@dataclass(frozen=True, slots=True)
class KindState:
    """Whether a kind can be known: `error` is None when it can, else the one-sentence reason."""

    group: str
    kind: str
    namespace: str | None
    error: str | None
    forbidden: bool = False
    unreachable: bool = False
    """The watch cannot reach the server, or the server fails it (5xx): the connection is down, not
    just this kind (core.engine_observer.ConnectionTracker)."""


WatchMessage = LiveEvent | Relisted | KindState | StateLost
Sink = Callable[[WatchMessage], None]


class KindWatch:
    """The list+watch loop of one resource type; `start()` runs it on a daemon thread."""

    def __init__(
        self,
        adapter: ClusterAdapter,
        resource: ApiResource,
        sink: Sink,
        *,
        namespace: str | None = None,
        resource_version: str = "",
        watch_timeout: int = WATCH_TIMEOUT_SECONDS,
        forbidden_retry: float = FORBIDDEN_RETRY_SECONDS,
        idle_timeout: float = WATCH_IDLE_SECONDS,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        """`resource_version` is that of a list the caller already handled; empty: list first.
        `on_reconnect` is called (on this watch's thread) each time a stream opens after one broke
        or failed, for the agent's metrics."""
        self.adapter = adapter
        self.resource = resource
        self.namespace = namespace
        self._sink = sink
        self._watch_timeout = watch_timeout
        self._forbidden_retry = forbidden_retry
        self._idle_timeout = idle_timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.resource_version = resource_version
        """The version the watch resumes from (the last seen, bookmarks included)."""
        self._newest = as_version_number(resource_version)
        """The highest version seen from this server, to tell whether it went back."""
        self._verified = bool(resource_version)
        """Whether `resource_version` is known to be current (just listed, or checked since)."""
        self._troubled = False
        """Something went wrong since the last list (see Relisted.recovering)."""
        self._failing = False
        self._cut_stream: Callable[[], None] | None = None
        self._relist_requested = False
        self._on_reconnect = on_reconnect
        self._broken = False
        """A stream broke or an attempt failed since the last stream opened."""
        self._heard = 0.0
        """When the open stream last carried an event (bookmarks included), or opened."""

    def start(self) -> None:
        where = f"/{self.namespace}" if self.namespace else ""
        name = f"kubedrift-watch-{self.resource.plural}{where}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._cut()

    def relist(self) -> None:
        """List again now, as the `r` key asks: cut the open stream and start over from a list."""
        self._relist_requested = True
        self._wake.set()
        self._cut()

    def wake(self) -> None:
        """Retry now if waiting out a backoff (the cluster answers again, say)."""
        self._wake.set()

    def _cut(self) -> None:
        cut = self._cut_stream
        if cut is not None:
            with contextlib.suppress(Exception):  # the stream may be closing on its own right now
                cut()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """The loop: list, then watch until told to stop; never raises."""
        failures = 0
        quick_breaks = 0
        while not self._stop.is_set():
            self._wake.clear()  # a wake-up that came before this attempt is this attempt
            opened = time.monotonic()
            try:
                if self._relist_requested:
                    self._relist_requested = False
                    self.resource_version = ""
                if not self.resource_version:
                    self._relist()
                elif not self._verified:
                    self._verify_version()
                    if not self.resource_version:
                        continue  # the server went back: list again
                opened = time.monotonic()
                self._watch_until_closed()
                failures = 0
                ended_early = time.monotonic() - opened < self._watch_timeout - 1
                if ended_early and self.resource_version and not self._relist_requested:
                    self._broken = True  # the server ended it well before its timeout: a restart, a proxy
            except WatchBroken:
                if self._relist_requested or self._stop.is_set():
                    continue  # we cut the stream ourselves
                # Opened, then dropped (a restarting server, a proxy, the idle timeout): resume at
                # once and tell no one; only a stream that keeps breaking right away waits.
                self._troubled = True
                # A quiet kind's stream dropped by the idle guard is routine, not a reconnect to count.
                self._broken = self._broken or time.monotonic() - self._heard < self._idle_timeout
                quick_breaks = quick_breaks + 1 if time.monotonic() - opened < QUICK_BREAK_SECONDS else 0
                if quick_breaks:
                    self._sleep(backoff(quick_breaks, 0.5, MAX_BACKOFF_SECONDS))
            except ApiError as error:
                self._troubled = self._broken = True
                if error.code in (401, 403):
                    self._report(str(error), forbidden=True)
                    self._sleep(self._forbidden_retry)
                    continue
                failures += 1
                self._report(str(error), unreachable=error.code >= 500)
                self._sleep(backoff(failures, 0.5, MAX_BACKOFF_SECONDS))
            except ClusterError as error:
                if self._relist_requested or self._stop.is_set():
                    continue  # we cut the stream ourselves
                self._troubled = self._broken = True
                failures += 1
                self._report(str(error), unreachable=True)
                self._sleep(backoff(failures, 0.5, MAX_BACKOFF_SECONDS))
            except Exception as error:  # the watch thread must never die silently
                self._troubled = self._broken = True
                failures += 1
                problem = f"watching {self.resource.plural} failed unexpectedly: {error!r}"
                self._report(problem, unreachable=True)
                self._sleep(backoff(failures, 0.5, MAX_BACKOFF_SECONDS))

    def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if stopped, asked to relist, or woken."""
        self._wake.wait(seconds)

    def _relist(self) -> None:
        """List the kind, handing each page on as it arrives (core.live_cache.PagedRelist applies them); the
        watch resumes from the list's version once its last page is in."""
        recovering = self._troubled
        where = (self.resource.group, self.resource.kind, self.namespace)
        version = ""
        for page in self.adapter.list_pages(self.resource, self.namespace):
            if self._stop.is_set():
                return
            if page.first and went_back(self._newest, page.version):
                assert self._newest is not None
                self._sink(StateLost(*where, self._newest, page.version))
            version = page.version
            # No KindState(None) here: the last page tells the engine the kind is known again, and
            # sending it first would show the stale cache for a moment.
            self._sink(Relisted(*where, page.objects, recovering, first=page.first, last=page.last))
        self.resource_version = version
        self._newest = as_version_number(version)
        self._verified = True
        self._troubled = False
        self._failing = False

    def _verify_version(self) -> None:
        """Before resuming a watch: has the server gone back since? Then it lost its state: relist."""
        version = self.adapter.resource_version_now(
            self.resource, self.namespace, read_timeout=min(READ_TIMEOUT, self._idle_timeout)
        )
        if went_back(self._newest, version):
            assert self._newest is not None
            self._sink(
                StateLost(self.resource.group, self.resource.kind, self.namespace, self._newest, version)
            )
            self._newest = as_version_number(version)  # the relist that follows must not report it again
            self._troubled = True
            self.resource_version = ""
            return
        self._verified = True
        self._troubled = False

    def _watch_until_closed(self) -> None:
        self._verified = False  # whatever ends this stream, the server may have moved on without us
        events = self.adapter.watch(
            self.resource,
            self.resource_version,
            namespace=self.namespace,
            timeout_seconds=self._watch_timeout,
            on_open=self._opened,
            idle_timeout=self._idle_timeout,
        )
        try:
            for event in events:
                self._heard = time.monotonic()
                if self._stop.is_set():
                    return
                obj = event.get("object") or {}
                version = _version_of(obj)
                kind = event.get("type")
                if kind != "BOOKMARK":
                    obj.setdefault("apiVersion", self.resource.api_version)
                    obj.setdefault("kind", self.resource.kind)
                    key = ResourceKey.of(obj)
                    self._sink(LiveEvent(key, None if kind == "DELETED" else obj))
                if version:
                    self.resource_version = version
                    number = as_version_number(version)
                    if number is not None and (self._newest is None or number > self._newest):
                        self._newest = number
        except ApiError as error:
            if error.code == 410 or error.version_too_large:
                # Compacted away (410), or a version the server has not reached (504: its cache
                # lags, or it restarted without its state): start over from a list.
                self.resource_version = ""
                self._troubled = True
                return
            raise
        finally:
            events.close()

    def _opened(self, cut: Callable[[], None]) -> None:
        self._cut_stream = cut
        self._heard = time.monotonic()
        # The server answered: a kind reported failing is known again (the watch replays what it missed).
        self._recovered()
        if self._broken:
            self._broken = False
            if self._on_reconnect is not None:
                self._on_reconnect()
        if self._stop.is_set() or self._relist_requested:
            cut()

    def _report(self, error: str, *, forbidden: bool = False, unreachable: bool = False) -> None:
        self._failing = True
        where = (self.resource.group, self.resource.kind, self.namespace)
        self._sink(KindState(*where, error, forbidden, unreachable))

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            self._sink(KindState(self.resource.group, self.resource.kind, self.namespace, None))


def _version_of(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    return str(metadata.get("resourceVersion") or "") if isinstance(metadata, Mapping) else ""
