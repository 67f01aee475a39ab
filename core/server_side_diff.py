"""Opt-in server-side diff: a local OutOfSync verdict confirmed by a `dryRun=All` apply (drift rule 7).

Opted in per app (`compareOptions: {serverSideDiff: true}`) or per resource (Argo CD's annotation
`argocd.argoproj.io/compare-options: ServerSideDiff=true`; `ServerSideDiff=false` opts a resource out).
Only candidates are sent, never every object: resources the local comparison finds OutOfSync. The
request is the very apply a sync would send (`core.sync_plan.prepare_for_apply`, force, manager
kubedrift) with `dryRun=All`, so mutating webhooks and the server's defaulting count; its answer is
compared with the live object, server metadata and kubedrift's own tracking left out.

- The answer changes nothing: the resource is Synced, and its reason says the server was asked.
- The answer changes something: the local verdict stands, confirmed.
- Read-only mode never sends it: the local verdict stands, and the reason says so.
- The request fails: the local verdict stands, and the reason says why.

A verdict holds for one pair of objects: the desired object it was asked for and the live
resourceVersion it was compared with. The engine asks on a worker thread (`ServerSideDiffWorker`)
and hands the answers back to its loop, which alone changes the reconcilers.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.drift.object_compare import dry_run_changes
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    COMPARE_OPTIONS_ANNOTATION,
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    App,
    Change,
    ResourceKey,
)
from core.sync_plan import is_secret, prepare_for_apply

_OWN_PATHS: Final = tuple(
    "/metadata/" + where + "/" + name.replace("~", "~0").replace("/", "~1")
    for where, name in (
        ("labels", TRACKING_LABEL),
        ("annotations", TRACKING_ANNOTATION),
        ("annotations", ARGOCD_TRACKING_ANNOTATION),
    )
)
_OWN_MAPS: Final = ("/metadata/labels", "/metadata/annotations")
ASKED_REMEMBERED: Final = 10_000


@dataclass(frozen=True, slots=True)
class ServerVerdict:
    """What the server said of one local OutOfSync verdict."""

    key: ResourceKey
    desired: Mapping[str, Any]
    """The desired object asked about (by identity): a new one from Git makes the verdict stale."""
    resource_version: str
    """The live resourceVersion compared with: a newer live object makes the verdict stale."""
    changes: tuple[Change, ...] | None
    """What the dry-run apply would change; None when the server was not asked or did not answer."""
    reason: str

    @property
    def in_sync(self) -> bool:
        return self.changes is not None and not self.changes

    def holds_for(self, desired: Mapping[str, Any] | None, live: Mapping[str, Any] | None) -> bool:
        return (
            desired is self.desired and live is not None and resource_version(live) == self.resource_version
        )


def wants_server_side_diff(app: App, desired: Mapping[str, Any]) -> bool:
    """Whether `desired` is to be confirmed on the server: its annotation decides, else its app."""
    annotations = (desired.get("metadata") or {}).get("annotations") or {}
    options = [
        option.strip().replace(" ", "")
        for option in str(annotations.get(COMPARE_OPTIONS_ANNOTATION) or "").split(",")
    ]
    if "ServerSideDiff=true" in options:
        return True
    if "ServerSideDiff=false" in options:
        return False
    return app.server_side_diff


def confirm(
    adapter: ClusterAdapter,
    app: App,
    key: ResourceKey,
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
) -> ServerVerdict:
    """Ask the server what a sync of `key` would change now, with a dry-run apply (never on read-only)."""
    version = resource_version(live)
    if adapter.read_only:
        return ServerVerdict(
            key, desired, version, None, "server-side diff not sent: read-only (the local comparison stands)"
        )
    body = prepare_for_apply(app, key, desired, live)
    try:
        answer = adapter.apply(body, dry_run=True, force=True)
    except ReadOnlyError:
        return ServerVerdict(
            key, desired, version, None, "server-side diff not sent: read-only (the local comparison stands)"
        )
    except (ApiError, ClusterError) as error:
        return ServerVerdict(
            key, desired, version, None, f"server-side diff failed: {error} (the local comparison stands)"
        )
    changes = tuple(
        change for change in dry_run_changes(live, answer, secret=is_secret(key)) if not _own(change)
    )
    if not changes:
        reason = "server-side diff: a dry-run apply changes nothing (webhooks and defaults counted)"
    else:
        paths = sorted({change.path for change in changes})
        reason = f"confirmed by server-side diff: a dry-run apply would change {', '.join(paths[:5])}"
    return ServerVerdict(key, desired, version, changes, reason)


def resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _own(change: Change) -> bool:
    """kubedrift's own tracking, which the local comparison never compares either (drift rule 4)."""
    if change.path in _OWN_PATHS:
        return True
    # A live object without labels or annotations at all: the map added holds only tracking.
    if change.path in _OWN_MAPS and change.live is None and isinstance(change.desired, Mapping):
        return all(f"{change.path}/{name.replace('/', '~1')}" in _OWN_PATHS for name in change.desired)
    return False


@dataclass(frozen=True, slots=True)
class Candidate:
    """One resource to confirm: its app, cluster adapter and the pair of objects judged."""

    app: App
    adapter: ClusterAdapter
    key: ResourceKey
    desired: Mapping[str, Any]
    live: Mapping[str, Any]


class ServerSideDiffWorker:
    """Confirms candidates one at a time on a daemon thread; each answer goes to `deliver`.

    `deliver` is called on the worker thread: the engine passes one that hands the answer to its own
    loop. A candidate already asked about (same desired object, same live resourceVersion) or
    waiting is not asked again.
    """

    def __init__(self, deliver: Callable[[str, ServerVerdict], None]) -> None:
        self._deliver = deliver
        self._queue: queue.Queue[Candidate | None] = queue.Queue()
        self._asked: set[tuple[str, ResourceKey, int, str]] = set()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, candidate: Candidate) -> bool:
        """Queue `candidate` unless the same pair was asked about; True when queued."""
        if self._stopped:
            return False
        asked = (candidate.app.name, candidate.key, id(candidate.desired), resource_version(candidate.live))
        if asked in self._asked:
            return False
        if len(self._asked) >= ASKED_REMEMBERED:
            self._asked.clear()  # at worst a pair is asked about once more
        self._asked.add(asked)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="server-side-diff", daemon=True)
            self._thread.start()
        self._queue.put(candidate)
        return True

    def stop(self) -> None:
        """End the thread: candidates still queued are dropped, and no answer is delivered after."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            candidate = self._queue.get()
            if candidate is None or self._stopped:
                return
            verdict = confirm(
                candidate.adapter, candidate.app, candidate.key, candidate.desired, candidate.live
            )
            if self._stopped:
                return
            self._deliver(candidate.app.name, verdict)
