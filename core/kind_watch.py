"""List-then-watch of one kind, on its own thread, resilient to everything a real API server does.

- Resumes from the last resourceVersion it saw (bookmarks included) when a stream ends or drops.
- Relists on 410 Gone; the relist is reported whole so the cache can find deletions it missed.
- Reconnects with jittered exponential backoff when the cluster is unreachable.
- A 403 reports the kind as unknowable with the server's reason, and retries later; every other
  kind keeps its own watch, so one forbidden kind never blinds the rest.

It knows nothing of apps or the UI: it hands plain messages to a sink (thread-safe by contract).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.api_resources import ApiResource
from core.cluster import ApiError, ClusterAdapter, ClusterError
from core.live_cache import LiveEvent
from core.model import ResourceKey

WATCH_TIMEOUT_SECONDS: Final = 290
"""Server-side timeout of one watch request; the loop resumes from the last version after it."""
FORBIDDEN_RETRY_SECONDS: Final = 60.0
MAX_BACKOFF_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class Relisted:
    """A fresh list of a kind (in one namespace, or everywhere): the cache must hold exactly these."""

    group: str
    kind: str
    namespace: str | None
    objects: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class KindState:
    """Whether a kind can be known: `error` is None when it can, else the one-sentence reason."""

    group: str
    kind: str
    namespace: str | None
    error: str | None
    forbidden: bool = False


WatchMessage = LiveEvent | Relisted | KindState
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
    ) -> None:
        """`resource_version` is that of a list the caller already handled; empty: list first."""
        self.adapter = adapter
        self.resource = resource
        self.namespace = namespace
        self._sink = sink
        self._watch_timeout = watch_timeout
        self._forbidden_retry = forbidden_retry
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.resource_version = resource_version
        """The newest version seen; the watch resumes from it."""
        self._failing = False
        self._cut_stream: Callable[[], None] | None = None
        self._relist_requested = False

    def start(self) -> None:
        where = f"/{self.namespace}" if self.namespace else ""
        name = f"kubedrift-watch-{self.resource.plural}{where}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._cut()

    def relist(self) -> None:
        """List again now, as the `r` key asks: cut the open stream and start over from a list."""
        self._relist_requested = True
        self._cut()

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
        while not self._stop.is_set():
            try:
                if self._relist_requested:
                    self._relist_requested = False
                    self.resource_version = ""
                if not self.resource_version:
                    self._relist()
                self._watch_until_closed()
                failures = 0
            except ApiError as error:
                if error.code == 410:  # our version was compacted away: start over from a list
                    self.resource_version = ""
                    continue
                if error.code in (401, 403):
                    self._report(str(error), forbidden=True)
                    self._stop.wait(self._forbidden_retry)
                    continue
                failures += 1
                self._report(str(error))
                self._stop.wait(_backoff(failures))
            except ClusterError as error:
                if self._relist_requested or self._stop.is_set():
                    continue  # we cut the stream ourselves
                failures += 1
                self._report(str(error))
                self._stop.wait(_backoff(failures))
            except Exception as error:  # the watch thread must never die silently
                failures += 1
                self._report(f"watching {self.resource.plural} failed unexpectedly: {error!r}")
                self._stop.wait(_backoff(failures))

    def _relist(self) -> None:
        objects, version = self.adapter.list(self.resource, self.namespace)
        self.resource_version = version
        self._recovered()
        if not self._stop.is_set():
            self._sink(Relisted(self.resource.group, self.resource.kind, self.namespace, objects))

    def _watch_until_closed(self) -> None:
        events = self.adapter.watch(
            self.resource,
            self.resource_version,
            namespace=self.namespace,
            timeout_seconds=self._watch_timeout,
            on_open=self._opened,
        )
        try:
            for event in events:
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
                self._recovered()
        finally:
            events.close()

    def _opened(self, cut: Callable[[], None]) -> None:
        self._cut_stream = cut
        if self._stop.is_set() or self._relist_requested:
            cut()

    def _report(self, error: str, *, forbidden: bool = False) -> None:
        self._failing = True
        self._sink(KindState(self.resource.group, self.resource.kind, self.namespace, error, forbidden))

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            self._sink(KindState(self.resource.group, self.resource.kind, self.namespace, None))


def _version_of(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    return str(metadata.get("resourceVersion") or "") if isinstance(metadata, Mapping) else ""


def _backoff(failures: int) -> float:
    """0.5 s doubling to 30 s, with jitter so many watches do not reconnect in lockstep."""
    return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures - 1, 10)) * random.uniform(0.5, 1.0))
