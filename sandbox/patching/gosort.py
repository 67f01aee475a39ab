"""Go's `sort.SliceStable`, step for step.

The strategic merge patch orders list elements with a comparison that is not a strict weak order
(an element missing from the reference order is "less" than everything), so the result depends on
the exact algorithm: insertion sort over blocks of 20, then in-place symmetric merges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_BLOCK = 20


def stable_sort(items: list[Any], less: Callable[[int, int], bool]) -> None:
    """Sort `items` in place; `less(i, j)` compares the elements currently at positions i and j."""
    count = len(items)
    start, end = 0, _BLOCK
    while end <= count:
        _insertion_sort(items, less, start, end)
        start, end = end, end + _BLOCK
    _insertion_sort(items, less, start, count)
    block = _BLOCK
    while block < count:
        start, end = 0, 2 * block
        while end <= count:
            _sym_merge(items, less, start, start + block, end)
            start, end = end, end + 2 * block
        middle = start + block
        if middle < count:
            _sym_merge(items, less, start, middle, count)
        block *= 2


def _swap(items: list[Any], i: int, j: int) -> None:
    items[i], items[j] = items[j], items[i]


def _insertion_sort(items: list[Any], less: Callable[[int, int], bool], start: int, end: int) -> None:
    for i in range(start + 1, end):
        j = i
        while j > start and less(j, j - 1):
            _swap(items, j, j - 1)
            j -= 1


def _sym_merge(items: list[Any], less: Callable[[int, int], bool], a: int, m: int, b: int) -> None:
    if m - a == 1:
        i, j = m, b
        while i < j:
            h = (i + j) // 2
            if less(h, a):
                i = h + 1
            else:
                j = h
        for k in range(a, i - 1):
            _swap(items, k, k + 1)
        return
    if b - m == 1:
        i, j = a, m
        while i < j:
            h = (i + j) // 2
            if not less(m, h):
                i = h + 1
            else:
                j = h
        for k in range(m, i, -1):
            _swap(items, k, k - 1)
        return
    mid = (a + b) // 2
    n = mid + m
    if m > mid:
        start, r = n - b, mid
    else:
        start, r = a, m
    p = n - 1
    while start < r:
        c = (start + r) // 2
        if not less(p - c, c):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(items, start, m, end)
    if a < start < mid:
        _sym_merge(items, less, a, start, mid)
    if mid < end < b:
        _sym_merge(items, less, mid, end, b)


def _swap_range(items: list[Any], a: int, b: int, n: int) -> None:
    for i in range(n):
        _swap(items, a + i, b + i)


def _rotate(items: list[Any], a: int, m: int, b: int) -> None:
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(items, m - i, m, j)
            i -= j
        else:
            _swap_range(items, m - i, m + j - i, i)
            j -= i
    _swap_range(items, m - i, m, i)
