"""Latency samples summarised the way the budgets are stated: median and 95th percentile."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Summary:
    """The spread of one set of samples, in the samples' unit."""

    count: int
    median: float
    p95: float
    minimum: float
    maximum: float

    def describe(self, unit: str, scale: float = 1.0) -> str:
        """`median 12.3 ms, p95 40.1 ms, min 9.0 ms, max 55.2 ms, n=200`."""
        if not self.count:
            return "no samples"
        return (
            f"median {self.median * scale:.1f} {unit}, p95 {self.p95 * scale:.1f} {unit}, "
            f"min {self.minimum * scale:.1f} {unit}, max {self.maximum * scale:.1f} {unit}, n={self.count}"
        )


def summarise(samples: Sequence[float]) -> Summary:
    """The summary of `samples`; NaN everywhere when there are none, so a figure is still a number."""
    if not samples:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan)
    ordered = sorted(samples)
    return Summary(len(ordered), statistics.median(ordered), percentile(ordered, 95), ordered[0], ordered[-1])


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted samples, interpolated between the closest ranks."""
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
