"""A Go slice over a shared backing array, for the strategic merge patch.

The Go merge deletes list elements in place (`append(s[:i], s[i+1:]...)`) and then appends new
ones, which land in the freed slots of the same array while it has capacity. The caller's view of
the original list sees those writes, and `$setElementOrder` orders the result by that view. To give
the same order, this keeps the same aliasing: the caller's list is the backing array.
"""

from __future__ import annotations

from typing import Any


def append_capacity(length: int) -> int:
    """The capacity of a slice built by appending `length` elements one at a time (Go doubles)."""
    capacity = 0
    while capacity < length:
        capacity = max(1, capacity * 2)
    return capacity


class SharedSlice:
    """A slice whose first len(array) slots are the caller's list, written through in place."""

    def __init__(self, array: list[Any]) -> None:
        self._array = array
        self._spare: list[Any] = [None] * (append_capacity(len(array)) - len(array))
        self._length = len(array)

    def _get(self, index: int) -> Any:
        return self._array[index] if index < len(self._array) else self._spare[index - len(self._array)]

    def _set(self, index: int, value: Any) -> None:
        if index < len(self._array):
            self._array[index] = value
        else:
            self._spare[index - len(self._array)] = value

    def items(self) -> list[Any]:
        return [self._get(index) for index in range(self._length)]

    def replace(self, index: int, value: Any) -> None:
        self._set(index, value)

    def delete(self, index: int) -> None:
        """Shift the tail left by one; the last slot keeps its old value, as in Go."""
        for position in range(index, self._length - 1):
            self._set(position, self._get(position + 1))
        self._length -= 1

    def append(self, value: Any) -> None:
        if self._length < len(self._array) + len(self._spare):
            self._set(self._length, value)
        else:
            self._array = [*self.items(), value]
            self._spare = []
        self._length += 1
