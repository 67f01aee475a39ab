"""Serving `?watch=true`: chunked JSON lines, one event per line, flushed as it happens.

The watcher is subscribed before the initial state is read, with no await in between, so no event is
lost or repeated. Selectors are applied per watcher, turning an object that starts or stops matching
into ADDED or DELETED as the real watch cache does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.errors import StatusError
from sandbox.kinds import ResourceType
from sandbox.list_options import too_large_resource_version
from sandbox.resources import ResourceAPI
from sandbox.selectors import FieldSelector, LabelSelector
from sandbox.store import ADDED, DELETED, MODIFIED, StoredObject, WatchEvent, encode_json
from sandbox.tables import to_table

DEFAULT_TIMEOUT_SECONDS = 1800.0
# How often an idle stream checks whether its client went away.
_LIVENESS_CHECK_SECONDS = 5.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_REPLAY_BATCH = 500


@dataclass(frozen=True)
class WatchRequest:
    resource_type: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    resource_version: str
    timeout_seconds: float
    allow_bookmarks: bool
    send_initial_events: bool | None
    table: bool
    include_object: str


class _EventWriter:
    """Encodes events for one stream: plain objects, or one-row Tables for `kubectl get -w`."""

    def __init__(self, watch: WatchRequest) -> None:
        self._watch = watch
        self._headers_sent = False

    def line(self, event_type: str, stored: StoredObject) -> bytes:
        if self._watch.table:
            table = to_table(
                self._watch.resource_type,
                [stored],
                resource_version=None,
                include_object=self._watch.include_object,
                headers=not self._headers_sent,
            )
            self._headers_sent = True
            payload = encode_json(table)
        else:
            payload = stored.full_json()
        return b'{"type":"' + event_type.encode() + b'","object":' + payload + b"}\n"

    def bookmark(self, rv: int, *, initial_events_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        resource_type = self._watch.resource_type
        obj = {"kind": resource_type.kind, "apiVersion": resource_type.api_version, "metadata": metadata}
        return b'{"type":"BOOKMARK","object":' + encode_json(obj) + b"}\n"

    @staticmethod
    def error(error: StatusError) -> bytes:
        return b'{"type":"ERROR","object":' + encode_json(error.to_status()) + b"}\n"


def _matches(watch: WatchRequest, stored: StoredObject) -> bool:
    if not watch.labels.matches(stored.labels):
        return False
    return watch.fields.empty or watch.fields.matches(stored.obj)


def translate(watch: WatchRequest, event: WatchEvent) -> tuple[str, StoredObject] | None:
    """The event this watcher should see, given its selectors, or None."""
    if watch.labels.empty and watch.fields.empty:
        return event.type, event.new
    now_matches = _matches(watch, event.new)
    before_matched = event.old is not None and _matches(watch, event.old)
    if event.type == ADDED:
        return (ADDED, event.new) if now_matches else None
    if event.type == DELETED:
        return (DELETED, event.new) if before_matched or now_matches else None
    if now_matches and before_matched:
        return MODIFIED, event.new
    if now_matches:
        return ADDED, event.new
    if before_matched:
        return DELETED, event.new
    return None


def _with_version(api: ResourceAPI, watch: WatchRequest, stored: StoredObject) -> StoredObject:
    if stored.api_version == watch.resource_type.api_version:
        return stored
    return api.as_version(watch.resource_type, stored)


async def serve_watch(
    request: web.Request,
    api: ResourceAPI,
    watch: WatchRequest,
    *,
    bookmark_interval: float,
    resource_version_wait: float,
    on_started: Callable[[int], None],
) -> web.StreamResponse:
    resource_type = watch.resource_type
    rv = watch.resource_version
    requested = int(rv) if rv.isdigit() else 0
    failure: StatusError | None = None
    # A watch-list waits for the version it asks for, as the watch cache does, and then fails as an
    # ERROR event in a 200 stream (errors after the version parsed are sent as events).
    if (
        watch.send_initial_events
        and requested > api.store.resource_version
        and not await api.store.wait_for_version(requested, resource_version_wait)
    ):
        failure = too_large_resource_version(requested, api.store.resource_version)
    watcher = api.store.subscribe(resource_type.storage_key, watch.namespace)
    writer = _EventWriter(watch)
    try:
        replay: Iterable[tuple[str, StoredObject]] = ()
        initial_end_rv: int | None = None
        wants_initial = watch.send_initial_events or (watch.send_initial_events is None and not requested)
        if failure is None and wants_initial:
            snapshot = api.list(
                resource_type, watch.namespace, label_selector=watch.labels, field_selector=watch.fields
            )
            replay = [(ADDED, item) for item in snapshot.items]
            if watch.send_initial_events and watch.allow_bookmarks:
                initial_end_rv = snapshot.resource_version
        elif failure is None and requested:
            try:
                since = api.store.events_since(resource_type.storage_key, requested)
            except StatusError as error:
                failure = error
            else:
                scoped = [e for e in since if not watch.namespace or e.namespace == watch.namespace]
                replay = [t for t in (translate(watch, e) for e in scoped) if t is not None]
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        on_started(200)
        if failure is not None:
            await response.write(writer.error(failure))
            return response
        # Written a batch at a time, so the initial state of 100,000 objects is never one buffer.
        replayed = list(replay)
        for start in range(0, len(replayed), _REPLAY_BATCH):
            batch = replayed[start : start + _REPLAY_BATCH]
            await response.write(b"".join(writer.line(t, _with_version(api, watch, o)) for t, o in batch))
        if initial_end_rv is not None:
            await response.write(writer.bookmark(initial_end_rv, initial_events_end=True))
        # A plain watch from a version the store has not reached sends only the events after it.
        skip_through = requested if not watch.send_initial_events else 0
        await _stream(request, response, api, watch, watcher, writer, bookmark_interval, skip_through)
        return response
    except ConnectionResetError:
        return response
    finally:
        watcher.close()


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    api: ResourceAPI,
    watch: WatchRequest,
    watcher: Any,
    writer: _EventWriter,
    bookmark_interval: float,
    skip_through: int,
) -> None:
    deadline = time.monotonic() + watch.timeout_seconds
    next_bookmark = time.monotonic() + bookmark_interval
    while True:
        now = time.monotonic()
        if now >= deadline:
            return
        wake_at = min(deadline, next_bookmark) if watch.allow_bookmarks else deadline
        await watcher.wait(max(0.0, min(wake_at - now, _LIVENESS_CHECK_SECONDS)))
        if request.transport is None or request.transport.is_closing():
            return
        events = watcher.pending()
        lines = []
        for event in events:
            if event.rv <= skip_through:
                continue
            translated = translate(watch, event)
            if translated is not None:
                lines.append(writer.line(translated[0], _with_version(api, watch, translated[1])))
        if watch.allow_bookmarks and time.monotonic() >= next_bookmark and not watcher.closed:
            # Composed while nothing is queued, so no event older than this version is still unsent.
            lines.append(writer.bookmark(api.store.resource_version))
            next_bookmark = time.monotonic() + bookmark_interval
        if lines:
            await response.write(b"".join(lines))
        if watcher.closed and not events:
            return
