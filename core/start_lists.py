"""The start-up lists: every needed kind of every cluster, several at once, applied as pages arrive.

A small pool of threads fetches and parses the lists, a page (core.cluster.LIST_PAGE_SIZE objects)
at a time, and hands each page on as a `Relisted` message; one thread (the engine's loop in the
live form, the caller's in a one-shot run) applies them, because the engine's state is not
thread-safe: workers only fetch and parse. The pages of one kind arrive in order, each kind's end
is marked (`KindListed`), and at most PAGES_IN_FLIGHT pages wait to be applied, so a slow applier
holds the workers back instead of letting the lists pile up in memory.

Where a kind may not be listed cluster-wide (403), the apps' namespaces are listed one by one, as
a namespaced user can. A kind not served, or a list that fails, is a `KindState` with the reason;
anything else a worker raises (the cluster unreachable) is handed to the applying thread, which
raises it, as the lists did one after another before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from core.cluster import ApiError
from core.kind_watch import KindState, Relisted, WatchMessage
from core.runtime import ClusterRuntime

START_LIST_WORKERS: Final = 4
"""Lists fetched at once. A list is mostly the server's time and JSON parsing on our side; parsing
holds the GIL, so beyond a few workers they only compete with the applying thread. An API server's
priority and fairness also queues one client's concurrent reads: four keeps several kinds moving
without looking like a storm (client-go's informers start a handful of lists the same way)."""
PAGES_IN_FLIGHT: Final = 2 * START_LIST_WORKERS
"""Pages fetched but not applied yet, at most (8 x 500 objects): memory stays bounded at any size."""
_STOP_CHECK_SECONDS: Final = 0.1


@dataclass(frozen=True, slots=True)
class StartProgress:
    """How far the start-up is: kinds listed of those to list, objects judged (stored and judged,
    page by page), and whether every app is evaluated (the lists are done, the first statuses out)."""

    kinds_to_list: int = 0
    kinds_listed: int = 0
    objects_judged: int = 0
    evaluated: bool = False
    failed: bool = False
    """The start-up ended in an error before every app was evaluated (the engine raised it)."""


@dataclass(frozen=True, slots=True)
class ListJob:
    """One kind of one cluster to list; `namespaces` are listed instead when it is forbidden cluster-wide."""

    cluster: ClusterRuntime
    group: str
    kind: str
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListedMessage:
    """A message of a list (a page, or a KindState) for the applying thread."""

    context: str
    message: WatchMessage


@dataclass(frozen=True, slots=True)
class KindListed:
    """A job is done: every message of it came before this."""

    job: ListJob


@dataclass(frozen=True, slots=True)
class ListFailed:
    """A worker raised what a list does not turn into a KindState (the cluster unreachable)."""

    error: BaseException


Listed = ListedMessage | KindListed | ListFailed


class _Stopped(Exception):
    """The lists were stopped: the worker drops its job."""


class StartLists:
    """Runs list jobs on a bounded pool of daemon threads; `deliver` (thread-safe) receives each
    job's messages in order, then its `KindListed`. The applying thread calls `page_applied` after
    each page it applied, and `stop` when it gives up (or is done)."""

    def __init__(
        self, jobs: Sequence[ListJob], deliver: Callable[[Listed], None], *, workers: int | None = None
    ) -> None:
        """`workers`: at most START_LIST_WORKERS (read now, so a test may set it), fewer for fewer jobs."""
        self._jobs: queue.SimpleQueue[ListJob] = queue.SimpleQueue()
        for job in jobs:
            self._jobs.put(job)
        self._count = len(jobs)
        self._deliver = deliver
        self._workers = max(1, min(START_LIST_WORKERS if workers is None else workers, len(jobs)))
        self._in_flight = threading.BoundedSemaphore(PAGES_IN_FLIGHT)
        self._stopping = threading.Event()

    def start(self) -> None:
        for number in range(self._workers if self._count else 0):
            # Daemon threads: a worker waiting on a silent server never holds the process open.
            threading.Thread(target=self._work, name=f"kubedrift-list-{number}", daemon=True).start()

    def page_applied(self) -> None:
        self._in_flight.release()

    def stop(self) -> None:
        self._stopping.set()

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            try:
                self._list(job)
            except _Stopped:
                return
            except Exception as error:  # the applying thread raises it; a worker must not die silently
                self._deliver(ListFailed(error))
                return
            self._deliver(KindListed(job))

    def _list(self, job: ListJob) -> None:
        """List one kind (per namespace where only that is allowed); the lists' versions go to
        `cluster.listed`, so its watches start where the lists ended."""
        cluster, group, kind = job.cluster, job.group, job.kind
        adapter = cluster.adapter
        assert adapter is not None
        context = cluster.context
        try:
            resource = adapter.resource_for(group, kind)
        except ApiError as error:
            self._deliver(ListedMessage(context, KindState(group, kind, None, str(error))))
            return
        namespaces: list[str | None] = [None]
        while namespaces:
            namespace = namespaces.pop()
            paged = False
            try:
                for page in adapter.list_pages(resource, namespace):
                    paged = True
                    if page.last:
                        cluster.listed[(group, kind, namespace)] = page.version
                    message = Relisted(group, kind, namespace, page.objects, first=page.first, last=page.last)
                    self._hand_page(ListedMessage(context, message))
            except ApiError as error:
                if error.code == 403 and namespace is None and resource.namespaced and not paged:
                    # Not allowed cluster-wide: a namespaced user may still list the apps' namespaces.
                    namespaces.extend(job.namespaces)
                    continue
                state = KindState(group, kind, namespace, str(error), forbidden=error.code in (401, 403))
                self._deliver(ListedMessage(context, state))

    def _hand_page(self, page: ListedMessage) -> None:
        while not self._in_flight.acquire(timeout=_STOP_CHECK_SECONDS):
            if self._stopping.is_set():
                raise _Stopped
        if self._stopping.is_set():
            raise _Stopped
        self._deliver(page)
