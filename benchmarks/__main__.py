"""`python -m benchmarks [--quick] [--agents] [--scale N] [--json PATH]`: every budget of DESIGN.md, measured.

`--agents` measures issue 15's fleet instead: four `kubedrift agent`s of 25,000 objects each, and
one attached view of them all (with `--quick`, two of 1,000).

`--scale N` measures issue 16's figures instead, with N objects in one kubedrift process (`100k`
for the budgets; `2k` checks the whole path quickly): see benchmarks.scale_run.

Prints each figure next to its budget and the run's calibration, and writes
`{"figures": ..., "calibration": ..., "scale": ..., "machine": ...}` to PATH when asked. Exits 1
when a figure could not be measured (never because a figure is over budget: machines are noisy,
and timing is not a pass/fail test).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import run_agent_fleet, run_all, stopwatch
from benchmarks.plan import Plan, ScalePlan
from benchmarks.report import print_report
from benchmarks.scale_run import run_scale


def object_count(text: str) -> int:
    """`100k`, `2k`, `1m` or a plain number of objects."""
    multipliers = {"k": 1_000, "m": 1_000_000}
    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    multiplier = multipliers.get(cleaned[-1:], 1)
    digits = cleaned[:-1] if cleaned[-1:] in multipliers else cleaned
    try:
        count = round(float(digits) * multiplier)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of objects (e.g. 100k, 2k, 5000)"
        ) from None
    if count < 20:
        raise argparse.ArgumentTypeError(f"{text!r}: the scale run needs at least 20 objects")
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 1,000 objects, within two minutes (CI)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    parser.add_argument(
        "--agents", action="store_true", help="4 agents x 25,000 objects: time to loaded, event -> attached"
    )
    parser.add_argument(
        "--scale",
        type=object_count,
        metavar="N",
        help="issue 16's figures with N objects in one process (100k; 2k for a quick check)",
    )
    args = parser.parse_args(argv)
    if args.scale is not None:
        results = run_scale(ScalePlan.of(args.scale), stopwatch())
    elif args.agents:
        results = run_agent_fleet(args.quick, stopwatch())
    else:
        plan = Plan.quick_run() if args.quick else Plan.default()
        results = run_all(plan, stopwatch())
    sys.stderr.flush()
    print_report(results, sys.stdout)
    sys.stdout.flush()
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results.document(), indent=2) + "\n")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
