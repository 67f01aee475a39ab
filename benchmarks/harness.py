"""One run of every figure, in an order that builds the fleet once and shares it.

The fleet (sandbox, folder, live objects) serves every figure but the row updates; those run
last, once it is gone. A figure that fails is NaN in the results and its error is kept, so one
broken figure still leaves the others measured (and the run's exit code says it failed).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from benchmarks.agent_fleet_scale import measure_agent_fleet
from benchmarks.agent_latency import measure_agent_latency
from benchmarks.calibration import calibrate
from benchmarks.engine_latency import measure_engine_latency
from benchmarks.fleet import Fleet, running_fleet
from benchmarks.git_latency import measure_git_latency
from benchmarks.ingest import measure_ingest
from benchmarks.machine import machine_info
from benchmarks.memory import measure_memory
from benchmarks.plan import Plan
from benchmarks.rediff import mark_drift, measure_rediff
from benchmarks.render_cost import TEMPLATES, measure_render_cost
from benchmarks.report import Results
from benchmarks.schema_cost import count_server_side_diff_calls, measure_schema_cost
from benchmarks.screen_latency import measure_screen_latency
from benchmarks.tui_process import measure_first_frames, measure_idle_cpu
from benchmarks.tui_scale import MANIFESTS_PER_APP, measure_row_ratio, write_many_apps

Progress = Callable[[str], None]


def run_all(plan: Plan, progress: Progress) -> Results:
    results = Results()
    results.machine = {**machine_info(), "run": {"objects": plan.objects, "quick": plan.quick}}
    progress("calibrating")
    start_calibration = calibrate()
    with tempfile.TemporaryDirectory(prefix="kubedrift-bench-") as scratch, private_home(Path(scratch)):
        _fleet_figures(plan, Path(scratch), results, progress)
        _render_figures(Path(scratch), results, progress)
        gc.collect()
        _row_update_figures(plan, results, progress)
    gc.collect()  # so the closing calibration runs in a process as lean as the opening one
    end_calibration = calibrate()
    results.calibration = {
        **start_calibration,
        "python_loop_ms_end": end_calibration["python_loop_ms"],
        "json_loads_3kb_us_end": end_calibration["json_loads_3kb_us"],
    }
    return results


def run_agent_fleet(quick: bool, progress: Progress) -> Results:
    """`--agents`: four agents of 25,000 objects each (quick: two of 1,000), and one attached fleet."""
    agents, per_agent, samples = (2, 1_000, 20) if quick else (4, 25_000, 100)
    results = Results()
    results.machine = {**machine_info(), "run": {"objects": agents * per_agent, "quick": quick}}
    progress("calibrating")
    results.calibration = calibrate()
    keys = ["agents_all_loaded_s", "agents_event_to_attached_p95_ms", "agents_rss_mib_max"]
    scratch = tempfile.TemporaryDirectory(prefix="kubedrift-bench-")
    with scratch, private_home(Path(scratch.name)), figure(results, [], scale_keys=keys):
        progress(f"filling {agents} sandboxes with {per_agent:,} objects each, then {agents} agents")
        scale = measure_agent_fleet(Path(scratch.name), agents, per_agent, samples)
        results.scale["agents"] = agents
        results.scale["agents_objects_each"] = per_agent
        results.scale["agents_all_loaded_s"] = scale.all_loaded_seconds
        results.scale["agents_event_to_attached_p95_ms"] = scale.latency.p95 * 1000
        results.scale["agents_rss_mib_max"] = max(scale.rss_bytes) / 2**20
        results.note(
            "agents_all_loaded_s",
            "each agent's start -> /readyz: "
            + ", ".join(f"{seconds:.1f}" for seconds in scale.each_ready_seconds)
            + " s",
        )
        results.note(
            "agents_event_to_attached_p95_ms",
            f"a write to one sandbox -> the line in core.agent_fleet's on_change: "
            f"{scale.latency.describe('ms', 1000)}; timeouts: {scale.timeouts}",
        )
        results.note(
            "agents_rss_mib_max",
            "agents' RSS: " + ", ".join(f"{rss / 2**20:.0f}" for rss in scale.rss_bytes) + " MiB",
        )
    return results


def _fleet_figures(plan: Plan, root: Path, results: Results, progress: Progress) -> None:
    progress(f"filling the sandbox with {plan.objects:,} objects")
    with running_fleet(root, plan.objects) as fleet:
        _in_memory_figures(plan, fleet, results, progress)
        gc.collect()  # the parsed copies of the fleet are gone; their cycles go too
        _live_figures(plan, root, fleet, results, progress)
        _schema_figures(plan, fleet, results, progress)
        _process_figures(plan, root, fleet, results, progress)
        _agent_figures(plan, root, fleet, results, progress)


def _in_memory_figures(plan: Plan, fleet: Fleet, results: Results, progress: Progress) -> None:
    live = fleet.live_objects()
    with figure(results, ["memory_per_object_kib"]):
        progress("memory per cached object")
        memory = measure_memory(fleet.app, fleet.manifests, live)
        results.figures["memory_per_object_kib"] = memory.cache_bytes_per_object / 1024
        results.note(
            "memory_per_object_kib",
            f"{memory.objects:,} objects of {memory.mean_json_bytes:,.0f} bytes of JSON on average",
            "with the reconciler's verdicts too: "
            f"{memory.with_reconciler_bytes_per_object / 1024:.1f} KiB/object",
        )
    with figure(results, ["ingest_cost_ratio_vs_json_loads"]):
        progress("ingest cost per watch event")
        ingest = measure_ingest(fleet.app, fleet.manifests, live, plan.ingest_repeat)
        results.figures["ingest_cost_ratio_vs_json_loads"] = ingest.ratio
        per_event = 1e6 / ingest.events
        results.note(
            "ingest_cost_ratio_vs_json_loads",
            f"ingest {ingest.ingest * per_event:.1f} us/event, "
            f"json.loads {ingest.json_loads * per_event:.1f} us/event "
            f"({ingest.mean_event_bytes:,.0f}-byte events, {ingest.events:,} per pass, "
            f"median of {plan.ingest_repeat} passes)",
        )
    with figure(results, ["full_rediff_ratio_vs_eq_loop"]):
        progress("full re-diff")
        pairs = mark_drift(
            [(copy.deepcopy(d), copy.deepcopy(o)) for d, o in zip(fleet.manifests, live, strict=True)]
        )
        rediff = measure_rediff(pairs, plan.rediff_repeat)
        results.figures["full_rediff_ratio_vs_eq_loop"] = rediff.ratio
        results.note(
            "full_rediff_ratio_vs_eq_loop",
            f"re-diff {rediff.compiled * 1000:.1f} ms (checkers + comparator), "
            f"== walk {rediff.eq_walk * 1000:.1f} ms, "
            f"{rediff.pairs:,} pairs, {rediff.drifted:,} drifted, median of {plan.rediff_repeat}",
            f"comparator alone {rediff.comparator * 1000:.1f} ms "
            f"({rediff.comparator / rediff.eq_walk:.1f}x); "
            f"desired == live {rediff.eq_desired_live * 1000:.1f} ms; compiling every checker once "
            f"{rediff.compile_once * 1000:.0f} ms (with core's shape cache as the ingest figure left it); "
            f"first pass after compiling {rediff.first_pass * 1000:.1f} ms "
            f"({rediff.first_pass / rediff.eq_walk:.1f}x)",
        )


def _live_figures(plan: Plan, root: Path, fleet: Fleet, results: Results, progress: Progress) -> None:
    with figure(results, ["event_to_model_p95_ms"]):
        progress(f"cluster change -> model, {plan.engine_samples} samples")
        engine = measure_engine_latency(fleet, plan.engine_samples)
        results.figures["event_to_model_p95_ms"] = engine.latency.p95 * 1000
        results.note(
            "event_to_model_p95_ms",
            engine.latency.describe("ms", 1000),
            f"of which the sandbox's write: {engine.write.describe('ms', 1000)}",
            f"engine start (render, list, judge {plan.objects:,} objects): {engine.start_seconds:.1f} s; "
            f"timeouts: {engine.timeouts}",
        )
    with figure(results, ["event_to_screen_p95_ms"], scale_keys=["tree_first_frame_s"]):
        progress(f"cluster change -> screen, {plan.screen_samples} samples")
        screen = measure_screen_latency(fleet, plan.screen_samples)
        results.figures["event_to_screen_p95_ms"] = screen.latency.p95 * 1000
        results.note(
            "event_to_screen_p95_ms",
            screen.latency.describe("ms", 1000),
            f"of which to the table's cell: {screen.to_table.describe('ms', 1000)}",
            f"app start to a loaded dashboard (in-process): {screen.start_seconds:.1f} s; "
            f"timeouts: {screen.timeouts}",
        )
        results.scale["tree_resources"] = plan.objects
        results.scale["tree_first_frame_s"] = screen.tree_first_frame_seconds
        if screen.tree_error is not None:
            results.scale["tree_first_frame_s"] = math.nan
            results.failures["tree_first_frame_s"] = screen.tree_error
        elif screen.tree_first_frame_seconds is None:
            results.note("tree_first_frame_s", "this build has no app screen (tui.screens.app_detail)")
        else:
            results.note("tree_first_frame_s", "push of the app screen -> its first frame, in-process")
    with figure(results, ["git_commit_to_drift_p50_ms"]):
        progress(f"Git commit -> drift, {plan.git_samples} commits")
        git = measure_git_latency(root / "git", fleet, plan.git_manifests, plan.git_samples)
        results.figures["git_commit_to_drift_p50_ms"] = git.latency.median * 1000
        results.note(
            "git_commit_to_drift_p50_ms",
            f"{git.manifests:,} manifests: {git.latency.describe('ms', 1000)}",
            f"git add + commit itself (not counted): {git.commit.describe('ms', 1000)}",
            f"engine start: {git.start_seconds:.1f} s; timeouts: {git.timeouts}",
        )


def _render_figures(root: Path, results: Results, progress: Progress) -> None:
    keys = ["chart_rerender_ms", "kustomize_rerender_ms"]
    with figure(results, [], scale_keys=keys):
        progress(f"render a chart of {TEMPLATES} templates, and the same objects with kubectl kustomize")
        cost = measure_render_cost(root / "render")
        results.scale["chart_rerender_ms"] = cost.chart_rerender_s * 1000
        results.note(
            "chart_rerender_ms",
            f"load of a {TEMPLATES}-template chart after a one-file commit (git read, on disk, Helm's "
            f"engine, parse; {cost.objects} objects), median; first load {cost.chart_first_s * 1000:.0f} ms",
        )
        if cost.kustomize_rerender_s is None or cost.kustomize_first_s is None:
            results.scale["kustomize_rerender_ms"] = None
            results.note("kustomize_rerender_ms", "no kubectl installed")
        else:
            results.scale["kustomize_rerender_ms"] = cost.kustomize_rerender_s * 1000
            results.note(
                "kustomize_rerender_ms",
                f"the same {TEMPLATES} objects as a kustomization built by kubectl kustomize, median; "
                f"first load {cost.kustomize_first_s * 1000:.0f} ms (Git -> drift budget: 150 ms at p50)",
            )


def _schema_figures(plan: Plan, fleet: Fleet, results: Results, progress: Progress) -> None:
    with figure(results, [], scale_keys=["schema_first_use_official_s", "schema_first_use_cluster_s"]):
        progress("schema first use")
        cost = measure_schema_cost(fleet)
        results.scale["schema_first_use_official_s"] = cost.official_first_seconds
        results.scale["schema_first_use_cluster_s"] = cost.cluster_first_seconds
        results.note(
            "schema_first_use_official_s",
            f"kubernetes-validate's definitions read and the fleet's {cost.kinds} kinds typed, "
            "caches cleared",
        )
        results.note(
            "schema_first_use_cluster_s",
            f"the cluster's /openapi/v3 index and {cost.cluster_documents} group-version document(s) "
            "fetched and converted; a second source of the same server: "
            f"{cost.cluster_warm_seconds * 1000:.1f} ms",
        )
    with figure(results, [], scale_keys=["server_side_diff_dry_runs"]):
        drifted = max(10, plan.objects // 100)
        progress(f"server-side diff, {drifted} drifted objects")
        calls = count_server_side_diff_calls(fleet, drifted)
        results.scale["server_side_diff_dry_runs"] = calls.dry_runs
        results.note(
            "server_side_diff_dry_runs",
            f"one pass over {calls.resources:,} resources with serverSideDiff on, {calls.drifted} changed by "
            f"hand, {calls.out_of_sync} OutOfSync after confirmation: only candidates are sent",
        )


def _process_figures(plan: Plan, root: Path, fleet: Fleet, results: Results, progress: Progress) -> None:
    fleet_args = [str(fleet.folder), "--kubeconfig", str(fleet.kubeconfig)]
    with figure(results, ["first_frame_s"]):
        progress(f"first frame, {plan.first_frame_runs} process start(s)")
        frames = measure_first_frames(fleet_args, plan.first_frame_runs)
        results.figures["first_frame_s"] = frames.median
        results.note(
            "first_frame_s",
            "process age at the first dashboard frame: "
            + ", ".join(f"{s:.2f}" for s in frames.seconds)
            + " s",
            "since spawn, seen from outside: " + ", ".join(f"{s:.2f}" for s in frames.since_spawn) + " s",
        )
    with figure(results, ["idle_cpu_percent"]):
        progress(f"idle CPU over {plan.idle_seconds:.0f} s")
        idle = measure_idle_cpu(fleet_args, plan.idle_seconds)
        results.figures["idle_cpu_percent"] = idle.percent
        results.note(
            "idle_cpu_percent",
            f"utime + stime over {idle.window_seconds:.1f} s of a headless kubedrift process on the fleet; "
            f"it had loaded {plan.objects:,} objects {idle.loaded_seconds:.1f} s after it started",
        )
    with figure(results, [], scale_keys=["dashboard_first_frame_s"]):
        progress(f"first frame with {plan.dashboard_apps:,} apps")
        config = write_many_apps(root / "many-apps", plan.dashboard_apps)
        frames = measure_first_frames(
            ["--config", str(config), "--kubeconfig", str(fleet.kubeconfig)], plan.first_frame_runs
        )
        results.scale["dashboard_apps"] = plan.dashboard_apps
        results.scale["dashboard_first_frame_s"] = frames.median
        results.note(
            "dashboard_first_frame_s",
            f"{plan.dashboard_apps:,} apps of {MANIFESTS_PER_APP} manifests each: "
            + ", ".join(f"{s:.2f}" for s in frames.seconds)
            + " s",
        )


def _agent_figures(plan: Plan, root: Path, fleet: Fleet, results: Results, progress: Progress) -> None:
    keys = ["agent_event_to_stream_p95_ms", "agent_stream_ratio_vs_in_process", "agent_memory_per_object_kib"]
    with figure(results, [], scale_keys=keys):
        progress(f"cluster change -> an agent's stream, {plan.agent_samples} samples")
        agent = measure_agent_latency(fleet, root / "agent", plan.agent_samples)
        in_process = results.figures.get("event_to_model_p95_ms", math.nan)
        results.scale["agent_event_to_stream_p95_ms"] = agent.latency.p95 * 1000
        results.scale["agent_stream_ratio_vs_in_process"] = agent.latency.p95 * 1000 / in_process
        results.scale["agent_memory_per_object_kib"] = agent.memory_per_object_bytes / 1024
        results.note(
            "agent_event_to_stream_p95_ms",
            "a `kubedrift agent` process, a client reading /api/v1/watch: "
            + agent.latency.describe("ms", 1000),
            f"agent start -> /readyz with {plan.objects:,} objects: {agent.ready_seconds:.1f} s; "
            f"timeouts: {agent.timeouts}",
        )
        results.note(
            "agent_stream_ratio_vs_in_process",
            f"its p95 over event_to_model_p95_ms of this run ({in_process:.1f} ms, the engine's publish "
            "in-process)",
        )
        results.note(
            "agent_memory_per_object_kib",
            f"agent RSS {agent.loaded_rss_bytes / 2**20:.0f} MiB loaded, "
            f"{agent.baseline_rss_bytes / 2**20:.0f} MiB with a one-object app; "
            "the difference per object (cache, verdicts, stream)",
        )


def _row_update_figures(plan: Plan, results: Results, progress: Progress) -> None:
    with figure(results, [], scale_keys=["update_row_ratio"]):
        progress(f"one row updated among {plan.rows_small:,} and among {plan.rows_large:,} rows")
        rows = measure_row_ratio(plan.rows_small, plan.rows_large, plan.row_samples)
        small, large, small_again = rows.small, rows.large, rows.small_again
        results.scale.update(
            {
                "rows_small": small.rows,
                "rows_large": large.rows,
                "update_row_small_ms": (small.cpu_seconds + small_again.cpu_seconds) / 2 * 1000,
                "update_row_large_ms": large.cpu_seconds * 1000,
                "update_row_ratio": rows.ratio,
                "rows_large_first_frame_s": large.first_frame_seconds,
            }
        )
        results.note("update_row_ratio", *rows.describe())
        results.note(
            "rows_large_first_frame_s", "in-process app start -> first dashboard frame, imports done"
        )


@contextlib.contextmanager
def figure(results: Results, keys: Sequence[str], scale_keys: Sequence[str] = ()) -> Iterator[None]:
    """Measure one figure; if it fails, its keys become NaN and the error is kept for the report."""
    try:
        yield
    except Exception as error:
        for key in keys:
            results.figures[key] = math.nan
        for key in scale_keys:
            results.scale[key] = math.nan
        name = ", ".join([*keys, *scale_keys])
        results.failures[name] = f"{type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stderr)


@contextlib.contextmanager
def private_home(root: Path) -> Iterator[None]:
    """No user themes, audit files or Git caches from the real home folder, here or in the TUI process."""
    names = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ[name] = str(root / name.lower())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def stopwatch() -> Callable[[str], None]:
    """A progress printer on stderr, each line stamped with the seconds since the run began."""
    start = time.monotonic()

    def progress(text: str) -> None:
        print(f"[{time.monotonic() - start:6.1f} s] {text}", file=sys.stderr, flush=True)

    return progress
