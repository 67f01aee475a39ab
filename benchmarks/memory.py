"""`memory_per_object_kib`: what the live cache grows by per cached object of about 3 KB.

The objects arrive as the watch delivers them, compact JSON lines, and are parsed and stored
exactly as the engine does (`wire_json.loads`, `ResourceKey.of`, `LiveCache.apply`, which shares
managedFields tries between objects), and each object the app's reconciler finds in sync is
compacted as the engine compacts it (core.engine_projection.compact_judged: its own metadata and
status, Git's objects for the rest). tracemalloc counts every byte allocated for what the cache
then holds, the parsed dicts, the keys and the sharing table included; the lines themselves are
made before tracing starts and are not counted, nor are the desired objects (they exist anyway),
nor the reconciler's verdicts (judged once before tracing, so the traced pass only re-finds them).
The same is then measured with the reconciler's share counted too, for the whole engine's share.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core import wire_json
from core.engine_projection import compact_judged
from core.live_cache import LiveCache, LiveEvent
from core.model import App, ResourceKey, Source
from core.reconcile import AppReconciler


@dataclass(frozen=True, slots=True)
class MemoryCost:
    objects: int
    mean_json_bytes: float
    cache_bytes_per_object: float
    with_reconciler_bytes_per_object: float
    """Cache plus the reconciler's verdicts (desired objects are not counted: they exist anyway)."""


def measure_memory(
    app_name: str, desired: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]
) -> MemoryCost:
    lines = [json.dumps(obj, separators=(",", ":")).encode() for obj in live]
    mean_bytes = sum(len(line) for line in lines) / len(lines)

    reconciler = AppReconciler(App(app_name, Source(".", "", ".")))
    reconciler.set_desired({ResourceKey.of(obj): obj for obj in desired}, render_ok=True)

    def fill_judged(cache: LiveCache, judge: AppReconciler) -> LiveCache:
        for line in lines:
            obj = wire_json.loads(line)
            key = ResourceKey.of(obj)
            cache.apply(LiveEvent(key, obj))
            judge.live_changed(key, obj)
            compact_judged(cache, judge, key, obj)
        return cache

    for _ in range(2):  # judged (and its in-sync checks compiled) untraced: the traced pass adds neither
        fill_judged(LiveCache(), reconciler)

    def fill_cache() -> Any:
        return fill_judged(LiveCache(), reconciler)

    def fill_both() -> Any:
        fresh = AppReconciler(App(app_name, Source(".", "", ".")))
        fresh.set_desired(reconciler.desired, render_ok=True)
        return fill_judged(LiveCache(), fresh), fresh

    cache_growth = _traced_growth(fill_cache)
    both_growth = _traced_growth(fill_both)
    count = len(lines)
    return MemoryCost(count, mean_bytes, cache_growth / count, both_growth / count)


def _traced_growth(fill: Any) -> int:
    """Bytes still allocated once `fill()` returned, kept alive by what it returned."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = fill()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before
