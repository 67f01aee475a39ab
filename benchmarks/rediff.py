"""Full re-diff of 10,000 desired/live pairs against plain `==` loops over the same pairs.

Budget (DESIGN.md): a full re-diff is at most 3x a plain `==` loop. The re-diff is measured the way
the reconciler does it after a relist: each desired object's compiled in-sync checker
(`core.drift.compiled`, compiled once beforehand), and the full comparator only where the checker
says no. Two baselines are reported, both measured in this run: `live == copy_of_live` (a full
walk of every object, the honest cost of looking at all fields once; the figure's denominator)
and `desired == live` (what a naive comparator would call; it stops early because the sides
differ in size). The plain comparator alone, without checkers, is reported too. Medians of
several repetitions; one pair in ten is drifted.

Run: python benchmarks/rediff.py [--pairs N] [--repeat R]   (pairs from tests/fixtures/drift)
     python -m benchmarks                                  (pairs from the benchmark fleet)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.drift.comparator import diff
from core.drift.compiled import compile_checker
from core.drift.rules import rules_for
from core.model import ResourceKey

Pair = tuple[dict[str, Any], dict[str, Any]]
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
DRIFT_EVERY = 10


def make_pairs(count: int) -> list[Pair]:
    """`count` pairs cycling over the drift fixtures, each renamed, one in ten drifted."""
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
        pairs.append((desired, live))
    return mark_drift(pairs)


def mark_drift(pairs: list[Pair], every: int = DRIFT_EVERY) -> list[Pair]:
    """Drift one pair in `every` (in place): a label Git sets one way and the cluster another."""
    for index, (desired, live) in enumerate(pairs):
        if index % every == 0:
            live["metadata"].setdefault("labels", {})["drifted"] = "yes"
            desired["metadata"].setdefault("labels", {})["drifted"] = "no"
    return pairs


def interleaved_medians(runs: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each run, the runs taking turns in every round, so that a spell of load
    on a shared machine falls on all of them rather than on whichever was being measured."""
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, times in zip(runs, samples, strict=True):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


@dataclass(frozen=True, slots=True)
class RediffTimes:
    """Median seconds of one pass over every pair, for each way of comparing them."""

    pairs: int
    drifted: int
    compiled: float
    """Checkers (compiled beforehand) and the comparator where they say no: what the reconciler does."""
    comparator: float
    """`core.drift.comparator.diff` on every pair."""
    eq_walk: float
    """`live == copy_of_live`: a full walk of every object."""
    eq_desired_live: float
    """`desired == live`: stops early, as the two sides differ in size."""
    compile_once: float
    """Compiling every checker, once (not part of `compiled`)."""
    first_pass: float
    """The first pass after compiling, when each checker still checks kubedrift's ownership trie
    in full (later passes recognise the trie that already passed, as after a relist or refresh)."""

    @property
    def ratio(self) -> float:
        """The figure: the reconciler's re-diff over the full `==` walk."""
        return self.compiled / self.eq_walk


def measure_rediff(pairs: Sequence[Pair], repeat: int) -> RediffTimes:
    copies = [copy.deepcopy(live) for _, live in pairs]
    rules = [rules_for(ResourceKey.of(desired)) for desired, _ in pairs]

    def rediff() -> int:
        return sum(1 for (desired, live), rule in zip(pairs, rules, strict=True) if diff(desired, live, rule))

    compile_start = time.perf_counter()
    checkers = [compile_checker(desired, rule) for (desired, _), rule in zip(pairs, rules, strict=True)]
    compile_once = time.perf_counter() - compile_start

    def rediff_compiled() -> int:
        # What the reconciler does: the compiled in-sync check, and the comparator only when it
        # fails, over the sections the section checks could not vouch for.
        drifted = 0
        for (_, live), checker in zip(pairs, checkers, strict=True):
            if checker.drift(live):
                drifted += 1
        return drifted

    def eq_desired_live() -> int:
        return sum(1 for desired, live in pairs if desired == live)

    def eq_full_walk() -> int:
        return sum(1 for (_, live), twin in zip(pairs, copies, strict=True) if live == twin)

    first_start = time.perf_counter()
    drifted = rediff_compiled()
    first_pass = time.perf_counter() - first_start
    assert rediff() == drifted, "the fast path must not change a verdict"
    compiled, comparator, eq_walk, eq_both = interleaved_medians(
        [rediff_compiled, rediff, eq_full_walk, eq_desired_live], repeat
    )
    return RediffTimes(
        pairs=len(pairs),
        drifted=drifted,
        compiled=compiled,
        comparator=comparator,
        eq_walk=eq_walk,
        eq_desired_live=eq_both,
        compile_once=compile_once,
        first_pass=first_pass,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    times = measure_rediff(make_pairs(args.pairs), args.repeat)
    pairs = times.pairs
    print(f"pairs: {pairs}, drifted: {times.drifted}, repeat: {args.repeat} (medians)")
    print(
        f"full re-diff:              {times.comparator * 1000:8.1f} ms  "
        f"({times.comparator / pairs * 1e6:.1f} us/pair)"
    )
    print(
        f"== desired vs live:        {times.eq_desired_live * 1000:8.1f} ms  "
        f"ratio {times.comparator / times.eq_desired_live:6.1f}x"
    )
    print(
        f"== live vs copy (walk):    {times.eq_walk * 1000:8.1f} ms  "
        f"ratio {times.comparator / times.eq_walk:6.1f}x"
    )
    print(
        f"compiled re-diff:          {times.compiled * 1000:8.1f} ms  ratio {times.ratio:6.1f}x vs walk, "
        f"{times.compiled / times.eq_desired_live:6.1f}x vs desired==live"
    )
    print(f"compiling {pairs} checkers once:  {times.compile_once * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
