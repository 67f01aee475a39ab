"""Full re-diff of 10,000 desired/live pairs against plain `==` loops over the same pairs.

Budget (DESIGN.md): a full re-diff is at most 3x a plain `==` loop. Two baselines are reported,
both measured in this run: `desired == live` (what a naive comparator would call; it stops early
because the sides differ in size) and `live == copy_of_live` (a full walk of every object, the
honest cost of looking at all fields once). Medians of several repetitions.

Run: python benchmarks/rediff.py [--pairs N] [--repeat R]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from core.diff import diff
from core.diff_compiled import compile_checker
from core.diff_rules import rules_for
from core.model import ResourceKey

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "drift"
BASES = [
    "deployment-defaults",
    "service-defaults",
    "configmap",
    "statefulset-defaults",
    "ingress-defaults",
    "secret-stringdata",
    "custom-resource",
]


def make_pairs(count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    loaded = [
        (
            yaml.safe_load((FIXTURES / b / "desired.yaml").read_text()),
            yaml.safe_load((FIXTURES / b / "live.yaml").read_text()),
        )
        for b in BASES
    ]
    pairs = []
    for index in range(count):
        desired, live = copy.deepcopy(loaded[index % len(loaded)])
        name = f"{desired['metadata']['name']}-{index}"
        desired["metadata"]["name"] = live["metadata"]["name"] = name
        if index % 10 == 0:  # one in ten drifted
            live["metadata"].setdefault("labels", {})["drifted"] = "yes"
            desired["metadata"].setdefault("labels", {})["drifted"] = "no"
        pairs.append((desired, live))
    return pairs


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    pairs = make_pairs(args.pairs)
    copies = [copy.deepcopy(live) for _, live in pairs]
    rules = [rules_for(ResourceKey.of(desired)) for desired, _ in pairs]

    def rediff() -> int:
        return sum(1 for (desired, live), rule in zip(pairs, rules, strict=True) if diff(desired, live, rule))

    compile_start = time.perf_counter()
    checkers = [compile_checker(desired, rule) for (desired, _), rule in zip(pairs, rules, strict=True)]
    t_compile = time.perf_counter() - compile_start

    def rediff_compiled() -> int:
        # What the reconciler does: the compiled in-sync check, and the comparator only when it fails.
        drifted = 0
        for (desired, live), rule, checker in zip(pairs, rules, checkers, strict=True):
            if not checker(live) and diff(desired, live, rule):
                drifted += 1
        return drifted

    def eq_desired_live() -> int:
        return sum(1 for desired, live in pairs if desired == live)

    def eq_full_walk() -> int:
        return sum(1 for (_, live), twin in zip(pairs, copies, strict=True) if live == twin)

    drifted = rediff()
    assert rediff_compiled() == drifted, "the fast path must not change a verdict"
    t_diff = median_seconds(rediff, args.repeat)
    t_fast = median_seconds(rediff_compiled, args.repeat)
    t_eq = median_seconds(eq_desired_live, args.repeat)
    t_walk = median_seconds(eq_full_walk, args.repeat)
    print(f"pairs: {args.pairs}, drifted: {drifted}, repeat: {args.repeat} (medians)")
    print(f"full re-diff:              {t_diff * 1000:8.1f} ms  ({t_diff / args.pairs * 1e6:.1f} us/pair)")
    print(f"== desired vs live:        {t_eq * 1000:8.1f} ms  ratio {t_diff / t_eq:6.1f}x")
    print(f"== live vs copy (walk):    {t_walk * 1000:8.1f} ms  ratio {t_diff / t_walk:6.1f}x")
    print(
        f"compiled re-diff:          {t_fast * 1000:8.1f} ms  ratio {t_fast / t_walk:6.1f}x vs walk, "
        f"{t_fast / t_eq:6.1f}x vs desired==live"
    )
    print(f"compiling {args.pairs} checkers once:  {t_compile * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
