"""`python -m benchmarks --scale N` (issue 16): the figures of one kubedrift process at N objects.

The fleet is the default run's (benchmarks.fixtures, one zero-config app of N objects), but its
sandbox runs in a process of its own (benchmarks.sandbox_process): kubedrift and the server each
get a core, as a real cluster is another machine, and the figures measure kubedrift rather than a
sandbox sharing its GIL. Each figure is measured by the code that measures it at 10,000 objects
(engine_latency, screen_latency, memory, tui_process, tui_scale), given N; the ratios put
kubedrift beside real kubectl on the same server (benchmarks.kubectl_timing), interleaved runs,
medians. `sync_ratio_vs_kubectl_apply` runs last, on a sandbox of its own (benchmarks.sync_speed).

The run is calibrated at its start and end, as the default run is, and the Python loop is timed
again just before each figure (`python_loop_ms_before_<figure>` in `calibration`), so each figure
stands beside the calibration of the moment it was measured.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

from benchmarks.calibration import calibrate, python_loop_ms
from benchmarks.engine_latency import measure_engine_latency, measure_engine_start
from benchmarks.fixtures import manifests, write_folder
from benchmarks.fleet import APP_NAME, Fleet
from benchmarks.harness import Progress, figure, private_home
from benchmarks.kubectl_timing import find_kubectl, list_command
from benchmarks.machine import machine_info
from benchmarks.memory import measure_memory
from benchmarks.plan import ScalePlan
from benchmarks.report import Results
from benchmarks.sandbox_process import SandboxProcess
from benchmarks.screen_latency import measure_screen_latency
from benchmarks.sync_speed import measure_sync_speed
from benchmarks.tui_process import measure_idle_cpu
from benchmarks.tui_scale import measure_row_ratio
from core.engine import TREE_KINDS

FILL_TIMEOUT = 7200.0
"""Today's sandbox applies a few hundred objects a second: 100,000 took 6 to 40 minutes (busy machine)."""


def run_scale(plan: ScalePlan, progress: Progress) -> Results:
    results = Results()
    results.machine = {**machine_info(), "run": {"objects": plan.objects, "quick": False, "scale": True}}
    progress("calibrating")
    results.calibration.update(calibrate())
    results.figures["scale_objects"] = plan.objects
    with tempfile.TemporaryDirectory(prefix="kubedrift-scale-") as scratch, private_home(Path(scratch)):
        root = Path(scratch)
        _fleet_figures(plan, root, results, progress)
        gc.collect()
        _sync_figure(plan, root / "sync", results, progress)
        _row_figure(plan, results, progress)
    results.scale["bench_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.note("bench_peak_rss_mib", "this benchmark process's peak RSS (manifests, live texts, engines)")
    gc.collect()
    end_calibration = calibrate()
    results.calibration["python_loop_ms_end"] = end_calibration["python_loop_ms"]
    results.calibration["json_loads_3kb_us_end"] = end_calibration["json_loads_3kb_us"]
    return results


def _fleet_figures(plan: ScalePlan, root: Path, results: Results, progress: Progress) -> None:
    # The sandbox fills on its own core while the folder is written here.
    with SandboxProcess(APP_NAME, plan.objects) as server:
        progress(f"filling a sandbox process with {plan.objects:,} objects; writing the folder meanwhile")
        objects = manifests(plan.objects)
        folder = root / APP_NAME
        write_folder(folder, objects)
        progress("  folder written")
        server.ready(FILL_TIMEOUT, progress=lambda done: progress(f"  {done:,} objects in the sandbox"))
        fleet = Fleet(server, server.kubeconfig(root / "kubeconfig"), folder, objects)
        results.scale["sandbox_fill_s"] = server.fill_seconds
        _memory_figure(plan, fleet, results, progress)
        gc.collect()
        _latency_figures(plan, fleet, results, progress)
        gc.collect()
        _start_figure(plan, root, fleet, results, progress)
        gc.collect()
        _idle_figure(plan, fleet, results, progress)
        results.scale["sandbox_rss_mib"] = server.rss_bytes() / 2**20
        results.note("sandbox_rss_mib", f"the sandbox process holding {plan.objects:,} objects, at the end")


def _record(results: Results, progress: Progress, key: str, value: float) -> None:
    """A figure into the results, and onto the progress lines: a long run shows each as it comes."""
    results.figures[key] = value
    progress(f"  {key} = {value:.2f}")


def _calibrated(results: Results, key: str) -> float:
    """The Python loop timed now, kept in the calibration beside the figure measured next."""
    loop_ms = python_loop_ms()
    results.calibration[f"python_loop_ms_before_{key}"] = loop_ms
    return loop_ms


def _memory_figure(plan: ScalePlan, fleet: Fleet, results: Results, progress: Progress) -> None:
    key = "scale_memory_per_object_kib"
    with figure(results, [key]):
        progress(f"memory per cached object, {plan.objects:,} objects")
        loop_ms = _calibrated(results, key)
        live = ParsedOnRead(fleet.live_texts())  # one parsed object at a time, not N
        memory = measure_memory(fleet.app, fleet.manifests, live)
        del live
        _record(results, progress, key, memory.cache_bytes_per_object / 1024)
        results.note(
            key,
            f"benchmarks.memory over {memory.objects:,} live objects of {memory.mean_json_bytes:,.0f} "
            f"bytes of JSON on average (tracemalloc); loop {loop_ms:.1f} ms before",
            "with the reconciler's verdicts too: "
            f"{memory.with_reconciler_bytes_per_object / 1024:.1f} KiB/object",
        )


def _latency_figures(plan: ScalePlan, fleet: Fleet, results: Results, progress: Progress) -> None:
    key = "scale_event_to_model_p95_ms"
    with figure(results, [key], scale_keys=["engine_start_s"]):
        progress(f"cluster change -> model at {plan.objects:,} objects, {plan.engine_samples} samples")
        loop_ms = _calibrated(results, key)
        engine = measure_engine_latency(fleet, plan.engine_samples)
        _record(results, progress, key, engine.latency.p95 * 1000)
        results.scale["engine_start_s"] = engine.start_seconds
        results.note(
            key,
            engine.latency.describe("ms", 1000),
            f"of which the sandbox process's write: {engine.write.describe('ms', 1000)}",
            f"timeouts: {engine.timeouts}; loop {loop_ms:.1f} ms before",
        )
        results.note(
            "engine_start_s",
            f"Engine.run -> first publish (render, list, judge {plan.objects:,} objects), in the latency run",
        )
    key = "scale_event_to_screen_p95_ms"
    with figure(results, [key], scale_keys=["dashboard_loaded_s"]):
        progress(f"cluster change -> screen at {plan.objects:,} objects, {plan.screen_samples} samples")
        loop_ms = _calibrated(results, key)
        screen = measure_screen_latency(fleet, plan.screen_samples, with_tree=False)
        _record(results, progress, key, screen.latency.p95 * 1000)
        results.scale["dashboard_loaded_s"] = screen.start_seconds
        results.note(
            key,
            screen.latency.describe("ms", 1000),
            f"of which to the table's cell: {screen.to_table.describe('ms', 1000)}",
            f"timeouts: {screen.timeouts}; loop {loop_ms:.1f} ms before",
        )
        results.note(
            "dashboard_loaded_s",
            "in-process app start -> the fleet's row out of Loading (the app screen's tree is not "
            "measured at this scale)",
        )


def _start_figure(plan: ScalePlan, root: Path, fleet: Fleet, results: Results, progress: Progress) -> None:
    key = "scale_start_to_evaluated_ratio_vs_list"
    with figure(results, [key]):
        resources = _kubectl_resources(fleet)
        kubectl = find_kubectl(fleet.kubeconfig, root / "kubectl-home" / "cache")
        kubectl.timed("api-resources")  # discovery into its cache, as on a machine that used it before
        progress(f"engine start vs kubectl get, {plan.start_runs} runs each, interleaved")
        loop_ms = _calibrated(results, key)
        engine_seconds: list[float] = []
        list_seconds: list[float] = []
        for run in range(plan.start_runs):
            steps = ("list", "engine") if run % 2 == 0 else ("engine", "list")
            for step in steps:
                if step == "list":
                    list_seconds.append(kubectl.timed(*list_command(resources)))
                else:
                    engine_seconds.append(measure_engine_start(fleet))
                gc.collect()  # the engine's cache goes before the next run
                progress(f"  {step}: {(list_seconds if step == 'list' else engine_seconds)[-1]:.1f} s")
        _record(results, progress, key, statistics.median(engine_seconds) / statistics.median(list_seconds))
        results.note(
            key,
            f"engine start (Engine.run -> first publish: render, list, judge {plan.objects:,} objects): "
            + ", ".join(f"{s:.1f}" for s in engine_seconds)
            + f" s, median {statistics.median(engine_seconds):.1f} s",
            f"{kubectl.describe()} {' '.join(list_command(resources))} > /dev/null: "
            + ", ".join(f"{s:.1f}" for s in list_seconds)
            + f" s, median {statistics.median(list_seconds):.1f} s; loop {loop_ms:.1f} ms before",
        )


def _kubectl_resources(fleet: Fleet) -> list[str]:
    """The kinds the engine lists at start, as kubectl names them: the fleet's, and the tree's."""
    kinds = {(obj["apiVersion"].rpartition("/")[0], obj["kind"]) for obj in fleet.manifests}
    kinds.update(TREE_KINDS)
    # The fleet's kinds are all plain plurals (deployments, services, ...); core has no `s` to add.
    return sorted(f"{kind.lower()}s.{group}" if group else f"{kind.lower()}s" for group, kind in kinds)


def _idle_figure(plan: ScalePlan, fleet: Fleet, results: Results, progress: Progress) -> None:
    key = "scale_idle_cpu_percent"
    with figure(results, [key], scale_keys=["kubedrift_loaded_s", "kubedrift_rss_mib"]):
        progress(f"idle CPU over {plan.idle_seconds:.0f} s, {plan.objects:,} objects loaded")
        loop_ms = _calibrated(results, key)
        idle = measure_idle_cpu([str(fleet.folder), "--kubeconfig", str(fleet.kubeconfig)], plan.idle_seconds)
        _record(results, progress, key, idle.percent)
        results.scale["kubedrift_loaded_s"] = idle.loaded_seconds
        results.scale["kubedrift_rss_mib"] = idle.rss_bytes / 2**20
        results.note(
            key,
            f"utime + stime over {idle.window_seconds:.1f} s of a headless `kubedrift FOLDER` process; "
            f"loop {loop_ms:.1f} ms before",
        )
        results.note("kubedrift_loaded_s", "that process's age when its dashboard had loaded the fleet")
        results.note("kubedrift_rss_mib", "that process's RSS at the end of the idle window")


def _sync_figure(plan: ScalePlan, root: Path, results: Results, progress: Progress) -> None:
    key = "sync_ratio_vs_kubectl_apply"
    with figure(results, [key]):
        progress(f"kubedrift sync vs kubectl apply --server-side, {plan.sync_objects:,} objects")
        loop_ms = _calibrated(results, key)
        sync = measure_sync_speed(root, plan.sync_objects, plan.sync_runs, progress)
        _record(results, progress, key, sync.ratio)
        results.note(
            key,
            f"`kubedrift sync APP --yes` creating {sync.objects:,} objects (deleted before each run): "
            + ", ".join(f"{s:.1f}" for s in sync.kubedrift_seconds)
            + f" s, median {statistics.median(sync.kubedrift_seconds):.1f} s",
            f"{sync.kubectl} apply --server-side -f FOLDER -R of the same objects: "
            + ", ".join(f"{s:.1f}" for s in sync.kubectl_seconds)
            + f" s, median {statistics.median(sync.kubectl_seconds):.1f} s",
            f"{plan.sync_runs} runs each, interleaved, on an otherwise empty sandbox process; "
            f"loop {loop_ms:.1f} ms before",
        )


def _row_figure(plan: ScalePlan, results: Results, progress: Progress) -> None:
    key = "scale_row_update_ratio"
    with figure(results, [key]):
        progress(f"one row updated among {plan.rows_small:,} and among {plan.rows_large:,} apps")
        loop_ms = _calibrated(results, key)
        rows = measure_row_ratio(plan.rows_small, plan.rows_large, plan.row_samples)
        _record(results, progress, key, rows.ratio)
        results.scale["rows_small"] = plan.rows_small
        results.scale["rows_large"] = plan.rows_large
        results.note(key, *rows.describe(), f"loop {loop_ms:.1f} ms before")


class ParsedOnRead(Sequence[dict[str, Any]]):
    """JSON texts that read as parsed objects, each parsed when it is read: N objects are held once,
    as text, rather than as text and as dicts."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = texts

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [json.loads(text) for text in self._texts[index]]
        parsed: dict[str, Any] = json.loads(self._texts[index])
        return parsed
