"""`event_to_model_p95_ms`: a write to the cluster, until the engine publishes the new verdict.

The engine runs live against the fleet (one app of every object, zero-config folder), on its own
thread, exactly as `kubedrift watch` runs it. Each sample is one `kubectl`-style merge patch of a
ConfigMap's data or a Deployment's replicas, timed from just before the write is sent until the
engine's publish callback receives that resource's ResourceStatusChange: the sandbox's write, the
watch event over HTTP, the watch thread, the engine's queue, cache, reconciler and publish.
Samples alternate drift (-> OutOfSync) and repair (-> Synced) of objects spread over the fleet,
with a random pause between them so they arrive as independent events do.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from benchmarks.fleet import Fleet
from benchmarks.live_engine import EngineThread
from benchmarks.summary import Summary, summarise
from core.config import zero_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import SyncStatus

SAMPLE_TIMEOUT = 10.0
START_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class EngineLatency:
    latency: Summary
    """Seconds from write to published verdict."""
    write: Summary
    """Seconds the sandbox took to accept each write (part of `latency`)."""
    start_seconds: float
    """From `Engine.run` to its first publish: render, list and judge the whole fleet."""
    timeouts: int


def fleet_engine(fleet: Fleet) -> Engine:
    """The engine `kubedrift FOLDER` builds for the fleet's folder, against the fleet's sandbox."""
    return Engine(
        zero_config(fleet.folder), load_kubeconfig(str(fleet.kubeconfig), environ={}), watch_tree=True
    )


def measure_engine_latency(fleet: Fleet, samples: int, *, seed: int = 50) -> EngineLatency:
    rng = random.Random(seed)
    latencies: list[float] = []
    writes: list[float] = []
    timeouts = 0
    with EngineThread(fleet_engine(fleet)) as run:
        start_seconds = run.wait_started(START_TIMEOUT)
        time.sleep(1.0)  # let the watches open and the start-up burst settle
        for index in fleet.drift_targets((samples + 1) // 2, seed=seed):
            key = fleet.key_of(index)
            for drifted, status in ((True, SyncStatus.OUT_OF_SYNC), (False, SyncStatus.SYNCED)):
                time.sleep(rng.uniform(0.02, 0.15))
                sent = time.perf_counter()
                fleet.set_drift(index, drifted)
                writes.append(time.perf_counter() - sent)
                published = run.wait_for(key, status, sent, SAMPLE_TIMEOUT)
                if published is None:
                    timeouts += 1
                    latencies.append(SAMPLE_TIMEOUT)
                else:
                    latencies.append(published - sent)
    fleet.undo_drift()
    return EngineLatency(summarise(latencies), summarise(writes), start_seconds, timeouts)


def measure_engine_start(fleet: Fleet) -> float:
    """One start of the live engine on the fleet: seconds from `Engine.run` until its first publish,
    when every app has been rendered, listed and judged (what `start_seconds` above measures)."""
    with EngineThread(fleet_engine(fleet)) as run:
        return run.wait_started(START_TIMEOUT)
