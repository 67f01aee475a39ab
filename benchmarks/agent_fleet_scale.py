"""Four agents, 25,000 objects each, on one machine: time to all loaded, and event -> attached view.

Each agent has its own sandbox (a cluster of its own) holding one app of 25,000 objects, and runs
as its own `kubedrift agent` process. They start together; `agents_all_loaded_s` is from their start
until the last one's /readyz answers (every object listed and judged, on this machine's cores
shared by all four). The attached side is core.agent_fleet.AgentFleet, what `kubedrift attach`
and the attached TUI read through, following all four streams on its own thread;
`agents_event_to_attached_p95_ms` is from a write to one sandbox until the fleet hands the line
for that resource to its `on_change`.

The four sandboxes run on threads of this process (they are filled in-process, which HTTP could
not do in minutes), so while the agents list, one process serves all 100,000 objects: the
loading figure is the pessimistic one a single API server would give.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.agent_process import AgentProcess, write_folder_config
from benchmarks.fixtures import manifests, write_folder
from benchmarks.fleet import Fleet, populate
from benchmarks.summary import Summary, summarise
from benchmarks.verdict_log import VerdictLog, key_of_line
from core.agent_fleet import AgentFleet, FleetUpdate
from core.agents_config import AgentEndpoint
from core.model import ResourceKey, SyncStatus
from sandbox.handle import SandboxThread

READY_TIMEOUT = 1800.0
SAMPLE_TIMEOUT = 10.0
SETTLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class AgentFleetScale:
    agents: int
    objects_per_agent: int
    all_loaded_seconds: float
    each_ready_seconds: tuple[float, ...]
    latency: Summary
    rss_bytes: tuple[int, ...]
    timeouts: int


@contextmanager
def running_clusters(root: Path, agents: int, per_agent: int) -> Iterator[list[Fleet]]:
    """`agents` sandboxes, each with its own app `fleet-I` of `per_agent` objects."""
    objects = manifests(per_agent)
    with ExitStack() as stack:
        fleets = []
        for index in range(agents):
            app = f"fleet-{index}"
            folder = root / app
            write_folder(folder, objects)
            sandbox = stack.enter_context(SandboxThread(controllers=()))
            populate(sandbox, app, objects)
            kubeconfig = sandbox.kubeconfig(root / f"kubeconfig-{index}")
            fleets.append(Fleet(sandbox, kubeconfig, folder, objects, app=app))
        yield fleets


class FleetFollower:
    """AgentFleet.run on its own thread and loop; every resource line it hands on, timestamped."""

    def __init__(self, urls: list[str]) -> None:
        endpoints = [AgentEndpoint(name=f"agent-{i}", url=url) for i, url in enumerate(urls)]
        self.fleet = AgentFleet(endpoints)
        self._verdicts = VerdictLog()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="bench-fleet", daemon=True)

    def _changed(self, update: FleetUpdate) -> None:
        now = time.perf_counter()
        with self._verdicts.condition:
            for line in update.lines:
                if "kind" in line and "name" in line:
                    status = SyncStatus(line["status"]) if line.get("status") else None
                    self._verdicts.add(now, key_of_line(line), status)
            self._verdicts.condition.notify_all()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.fleet.run(self._changed, self._stop))
            self._loop.run_until_complete(self.fleet.close())
        finally:
            self._loop.close()

    def __enter__(self) -> FleetFollower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def wait_for(self, key: ResourceKey, status: SyncStatus, after: float, timeout: float) -> float | None:
        return self._verdicts.wait_for(key, status, after, timeout)


def measure_agent_fleet(root: Path, agents: int, per_agent: int, samples: int) -> AgentFleetScale:
    with running_clusters(root, agents, per_agent) as fleets, ExitStack() as stack:
        processes = []
        for index, fleet in enumerate(fleets):
            config = write_folder_config(root / f"agent-{index}.yaml", {fleet.app: fleet.folder})
            log = root / f"agent-{index}.log"
            agent = AgentProcess(config, fleet.kubeconfig, identity=f"agent-{index}", log=log)
            processes.append(stack.enter_context(agent))
        each = tuple(process.ready(READY_TIMEOUT) for process in processes)
        all_loaded = max(each)
        rng = random.Random(41)
        latencies: list[float] = []
        timeouts = 0
        with FleetFollower([process.url for process in processes]) as follower:
            time.sleep(SETTLE_SECONDS)
            for sample in range((samples + 1) // 2):
                fleet = fleets[sample % agents]
                index = fleet.drift_targets(1, seed=sample)[0]
                key = fleet.key_of(index)
                for drifted, status in ((True, SyncStatus.OUT_OF_SYNC), (False, SyncStatus.SYNCED)):
                    time.sleep(rng.uniform(0.02, 0.15))
                    sent = time.perf_counter()
                    fleet.set_drift(index, drifted)
                    arrived = follower.wait_for(key, status, sent, SAMPLE_TIMEOUT)
                    if arrived is None:
                        timeouts += 1
                        latencies.append(SAMPLE_TIMEOUT)
                    else:
                        latencies.append(arrived - sent)
        rss = tuple(process.rss_bytes() for process in processes)
        return AgentFleetScale(agents, per_agent, all_loaded, each, summarise(latencies), rss, timeouts)
