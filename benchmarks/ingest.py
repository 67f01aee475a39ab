"""`ingest_cost_ratio_vs_json_loads`: parse, store and judge one watch event, over parsing it alone.

Per event, the ingest path does what the watch thread and the engine do with a MODIFIED line:
`wire_json.loads` of the line (orjson), the KindWatch's key and LiveEvent, `LiveCache.apply`, and the
reconciler's verdict through `AppReconciler.live_changed` (the compiled checker, warmed up as it
is from an object's second verdict on, and the full comparator where it says no). Not included:
the HTTP stream, the hop onto the engine's loop, and building the published change.

Both sides run over the same bytes in the same run: one MODIFIED event per fleet object, each
with a new resourceVersion so that the cache really stores it. Each pass alternates the two
sides every CHUNK events, so a burst of other load on a shared machine (or a full garbage
collection, which a heap of 10,000 cached objects makes long) falls on both alike rather than on
whichever pass it happened to hit. Medians of several passes.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core import wire_json
from core.live_cache import LiveCache, LiveEvent
from core.model import App, ResourceKey, Source
from core.reconcile import AppReconciler

CHUNK = 100


@dataclass(frozen=True, slots=True)
class IngestCost:
    events: int
    ingest: float
    """Median seconds of one pass of the ingest path over every event."""
    json_loads: float
    """Median seconds of `json.loads` alone over the same lines."""
    mean_event_bytes: float

    @property
    def ratio(self) -> float:
        return self.ingest / self.json_loads


def watch_lines(live: Sequence[Mapping[str, Any]], generation: int) -> list[bytes]:
    """One MODIFIED watch event per object, as compact JSON lines with a resourceVersion of this pass."""
    lines = []
    for index, obj in enumerate(live):
        metadata = {**obj["metadata"], "resourceVersion": str(1_000_000 * generation + index)}
        event = {"type": "MODIFIED", "object": {**obj, "metadata": metadata}}
        lines.append(json.dumps(event, separators=(",", ":")).encode())
    return lines


def measure_ingest(
    app_name: str, desired: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]], repeat: int
) -> IngestCost:
    reconciler = AppReconciler(App(app_name, Source(".", "", ".")))
    reconciler.set_desired({ResourceKey.of(obj): obj for obj in desired}, render_ok=True)
    cache = LiveCache()

    def ingest(lines: Sequence[bytes]) -> None:
        for line in lines:
            event = wire_json.loads(line)
            obj = event.get("object") or {}
            key = ResourceKey.of(obj)
            live_event = LiveEvent(key, None if event.get("type") == "DELETED" else obj)
            if cache.apply(live_event):
                reconciler.live_changed(key, live_event.obj)

    def parse(lines: Sequence[bytes]) -> None:
        for line in lines:
            json.loads(line)

    # The first two passes are the start-up list and the first event: the checkers get compiled.
    first = watch_lines(live, 0)
    mean_bytes = statistics.fmean(len(line) for line in first)
    ingest(first)
    ingest(watch_lines(live, 1))
    del first
    ingest_times, parse_times = [], []
    for generation in range(2, repeat + 2):
        lines = watch_lines(live, generation)  # made per pass: all of them at once would be ~30 MB each
        parse_time = ingest_time = 0.0
        for start in range(0, len(lines), CHUNK):
            chunk = lines[start : start + CHUNK]
            parse_time += _timed(parse, chunk)
            ingest_time += _timed(ingest, chunk)
        parse_times.append(parse_time)
        ingest_times.append(ingest_time)
    return IngestCost(len(live), statistics.median(ingest_times), statistics.median(parse_times), mean_bytes)


def _timed(run: Any, lines: Sequence[bytes]) -> float:
    start = time.perf_counter()
    run(lines)
    return time.perf_counter() - start
