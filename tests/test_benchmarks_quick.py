"""The benchmark harness: `python -m benchmarks --quick` measures every figure and writes the JSON CI
reads. No timing is judged here (machines are noisy); only that each figure is a number."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.fixtures import manifests
from benchmarks.report import FIGURES, Results
from benchmarks.summary import percentile, summarise

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL_KEYS = {"figures", "calibration", "scale", "machine"}


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
def test_quick_run_reports_every_figure_as_a_number(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(output.read_text())
    assert set(document) == TOP_LEVEL_KEYS
    assert set(document["figures"]) == set(FIGURES)
    not_numbers = {key: value for key, value in document["figures"].items() if not is_number(value)}
    assert not_numbers == {}
    # Issue 15: one real `kubedrift agent` process, its stream against the in-process figure.
    agent_keys = (
        "agent_event_to_stream_p95_ms",
        "agent_stream_ratio_vs_in_process",
        "agent_memory_per_object_kib",
    )
    assert {
        key: document["scale"].get(key) for key in agent_keys if not is_number(document["scale"].get(key))
    } == {}


def test_the_json_document_has_exactly_the_four_top_level_keys() -> None:
    results = Results(figures={key: 1.0 for key in FIGURES})
    assert set(results.document()) == TOP_LEVEL_KEYS


def test_percentiles_interpolate_between_ranks() -> None:
    ordered = [float(value) for value in range(1, 101)]
    assert percentile(ordered, 50) == pytest.approx(50.5)
    assert percentile(ordered, 95) == pytest.approx(95.05)
    summary = summarise([3.0, 1.0, 2.0])
    assert (summary.count, summary.median, summary.minimum, summary.maximum) == (3, 2.0, 1.0, 3.0)
    assert math.isnan(summarise([]).p95)


def test_the_fleet_is_a_deterministic_mix_of_kinds() -> None:
    fleet = manifests(200)
    kinds = [obj["kind"] for obj in fleet]
    assert fleet == manifests(200)
    assert (kinds.count("Deployment"), kinds.count("Service"), kinds.count("ConfigMap")) == (70, 50, 50)
    assert (kinds.count("Secret"), kinds.count("StatefulSet")) == (20, 10)
    names = {(obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in fleet}
    assert len(names) == len(fleet), "every object has its own identity"
