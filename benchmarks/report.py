"""The budgets of DESIGN.md, and how a run is shown: a table on stdout and the JSON document."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TextIO


@dataclass(frozen=True, slots=True)
class Budget:
    limit: float
    unit: str
    meaning: str
    timed: bool = False
    """A duration, shown next to the calibration loop's."""


FIGURES: Final[dict[str, Budget]] = {
    "event_to_model_p95_ms": Budget(50, "ms", "cluster change -> drift in the model, p95", timed=True),
    "event_to_screen_p95_ms": Budget(100, "ms", "cluster change -> painted on screen, p95", timed=True),
    "git_commit_to_drift_p50_ms": Budget(
        150, "ms", "one-file Git commit -> drift published, p50", timed=True
    ),
    "ingest_cost_ratio_vs_json_loads": Budget(4, "x", "parse + store + diff per event / json.loads"),
    "full_rediff_ratio_vs_eq_loop": Budget(3, "x", "full re-diff / plain == walk over the same pairs"),
    "memory_per_object_kib": Budget(12, "KiB", "live cache growth per ~3 KB object"),
    "idle_cpu_percent": Budget(1, "%", "engine + TUI, nothing changing, % of one core"),
    "first_frame_s": Budget(1, "s", "process start -> first painted dashboard", timed=True),
}
SCALE_RUN_FIGURES: Final[dict[str, Budget]] = {
    # Issue 16, `--scale N`: the same figures with N (100,000) objects, and the ratios of that issue.
    "scale_event_to_screen_p95_ms": Budget(100, "ms", "cluster change -> painted on screen, p95", timed=True),
    "scale_event_to_model_p95_ms": Budget(50, "ms", "cluster change -> drift in the model, p95", timed=True),
    "scale_memory_per_object_kib": Budget(5, "KiB", "live cache growth per ~3 KB object"),
    "scale_start_to_evaluated_ratio_vs_list": Budget(
        1.5, "x", "engine start -> every app evaluated / kubectl get -o json"
    ),
    "scale_idle_cpu_percent": Budget(1, "%", "engine + TUI, nothing changing, % of one core"),
    "scale_row_update_ratio": Budget(1.5, "x", "one row update at 5,000 apps / at 500"),
    "sync_ratio_vs_kubectl_apply": Budget(0.5, "x", "kubedrift sync / kubectl apply --server-side"),
}
"""Budgets of the scale run's figures (`scale_objects` is N, with no budget)."""
SCALE_BUDGETS: Final[dict[str, Budget]] = {
    "dashboard_first_frame_s": Budget(1, "s", "process start -> first frame, many apps", timed=True),
    "tree_first_frame_s": Budget(1, "s", "app screen's first frame with the whole fleet", timed=True),
    "update_row_ratio": Budget(1.5, "x", "one row update at rows_large / at rows_small"),
    # Issue 15: an attached TUI's stream through one agent, within 1.5x the in-process figure.
    "agent_stream_ratio_vs_in_process": Budget(1.5, "x", "event -> agent stream line p95 / in-process p95"),
}


@dataclass
class Results:
    """Everything one run measured."""

    figures: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float | int | None] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)
    """Lines that explain a figure (medians, p95s, sample counts, what else was measured)."""
    failures: dict[str, str] = field(default_factory=dict)

    def note(self, key: str, *lines: str) -> None:
        self.details.setdefault(key, []).extend(lines)

    def document(self) -> dict[str, Any]:
        return {
            "figures": dict(self.figures),
            "calibration": dict(self.calibration),
            "scale": dict(self.scale),
            "machine": dict(self.machine),
        }


def verdict(value: float | None, budget: Budget) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "ok" if value <= budget.limit else "OVER"


def print_report(results: Results, out: TextIO) -> None:
    machine = results.machine
    run = machine.get("run", {})
    calibration = results.calibration
    loop_ms = calibration.get("python_loop_ms", math.nan)
    kind = "scale" if run.get("scale") else "quick" if run.get("quick") else "default"
    out.write(
        f"\nkubedrift benchmarks: {run.get('objects', '?'):,} objects ({kind} "
        f"run) on {machine.get('cpu_count')} x {machine.get('cpu_model')}, Python {machine.get('python')}, "
        f"load {machine.get('load_average_1m', math.nan):.2f} at start\n"
        "This machine is shared and noisy: compare figures with the calibration of the same run.\n"
    )
    out.write(
        f"calibration: 1M-step Python loop {loop_ms:.1f} ms (start) / "
        f"{calibration.get('python_loop_ms_end', math.nan):.1f} ms (end); json.loads of a "
        f"{calibration.get('json_document_bytes', math.nan):.0f}-byte event "
        f"{calibration.get('json_loads_3kb_us', math.nan):.1f} us / "
        f"{calibration.get('json_loads_3kb_us_end', math.nan):.1f} us\n\n"
    )
    _table(out, "figure", results.figures, {**FIGURES, **SCALE_RUN_FIGURES}, results, loop_ms)
    out.write("\n")
    scale_budgets = {key: SCALE_BUDGETS.get(key) for key in results.scale}
    _table(out, "scale", results.scale, scale_budgets, results, loop_ms)
    if results.failures:
        out.write("\nfailed:\n")
        for key, error in results.failures.items():
            out.write(f"  {key}: {error}\n")


def _table(
    out: TextIO,
    title: str,
    values: dict[str, Any],
    budgets: Mapping[str, Budget | None],
    results: Results,
    loop_ms: float,
) -> None:
    width = max([34, *(len(key) for key in values)])
    out.write(f"{title:<{width}} {'value':>10}  {'budget':>10}  {'verdict':<7}  calibrated\n")
    for key, value in values.items():
        budget = budgets.get(key)
        shown = "n/a" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:.2f}"
        if budget is None:
            out.write(f"{key:<{width}} {shown:>10}\n")
        else:
            calibrated = ""
            if budget.timed and value is not None and not math.isnan(value):
                ms = value if budget.unit == "ms" else value * 1000
                calibrated = f"= {ms / loop_ms:.2f} x loop"
            limit = f"<= {budget.limit:g} {budget.unit}"
            out.write(f"{key:<{width}} {shown:>10}  {limit:>10}  {verdict(value, budget):<7}  {calibrated}\n")
        for line in results.details.get(key, []):
            out.write(f"    {line}\n")
