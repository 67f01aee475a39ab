"""A Textual `Tree` that can take thousands of nodes at once.

Textual's `Tree` schedules a new layout (and a repaint) after every node added or removed, and
each layout measures every line's label by rendering it; with 10,000 nodes and a few layouts
before the first frame, that is seconds. This tree lays out once for all the nodes changed inside
`one_layout()`, and keeps each label's width beside it, measured once (or given by whoever made
the label). Only `_invalidate` and the node fields `set_node_labels` writes are Tree internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Self, TypeVar

from rich.cells import cell_len
from rich.text import Text, TextType
from textual.widgets import Tree
from textual.widgets.tree import NodeID, TreeNode

NodeDataT = TypeVar("NodeDataT")


class BatchedTree(Tree[NodeDataT]):
    """A Tree whose node changes can be laid out together, with label widths measured once."""

    def __init__(self, label: TextType, *, id: str | None = None) -> None:
        self._in_batch = False
        self._layout_due = False
        self._cells: dict[NodeID, tuple[TextType, int]] = {}
        """Each node's label and its width in cells, as last measured."""
        super().__init__(label, id=id)

    @contextmanager
    def one_layout(self) -> Iterator[None]:
        """Nodes added or removed inside are laid out once, at the end."""
        outer = self._in_batch
        self._in_batch = True
        try:
            yield
        finally:
            self._in_batch = outer
            if not outer and self._layout_due:
                self._layout_due = False
                self._invalidate()

    def set_node_label(self, node: TreeNode[NodeDataT], label: Text, cells: int) -> None:
        """Relabel `node` with `label`, `cells` wide (so it is never measured)."""
        node.set_label(label)
        self._cells[node.id] = (node.label, cells)

    def set_node_labels(self, labels: Iterable[tuple[TreeNode[NodeDataT], Text, int]]) -> None:
        """Relabel many nodes (node, label, width in cells), then repaint the tree once.

        `TreeNode.set_label` schedules a repaint of its node's lines, one callback per node: for a
        new theme over 10,000 nodes that is seconds of callbacks for one screenful of lines."""
        for node, label, cells in labels:
            node._label = self.process_label(label)  # set_label without its own repaint
            node._updates += 1
            self._cells[node.id] = (node._label, cells)
        self._invalidate()

    def add_node(
        self,
        parent: TreeNode[NodeDataT],
        label: Text,
        cells: int,
        data: NodeDataT,
        *,
        before: int | None = None,
        expand: bool = False,
        allow_expand: bool = True,
    ) -> TreeNode[NodeDataT]:
        """`parent.add(...)` with the label's width given, at index `before` (the end when None)."""
        node = parent.add(label, data, before=before, expand=expand, allow_expand=allow_expand)
        self._cells[node.id] = (node.label, cells)
        return node

    def forget_node(self, node: TreeNode[NodeDataT]) -> None:
        """Drop what is kept about `node`, which is being removed."""
        self._cells.pop(node.id, None)

    def clear(self) -> Self:
        self._cells.clear()
        super().clear()
        return self

    # Textual's Tree hooks.

    def _invalidate(self) -> None:
        # Tree calls this after every node added or removed: it drops the line layout and
        # schedules a new one. Inside `one_layout` that happens once, at the end.
        if self._in_batch:
            self._layout_due = True
        else:
            super()._invalidate()

    def process_label(self, label: TextType) -> Text:
        # A one-line Text is kept as it is: Tree would copy it through a split into lines, twice
        # for every node added.
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def get_label_width(self, node: TreeNode[NodeDataT]) -> int:
        # Tree measures every line after each layout by rendering its label; the width is kept.
        label = node.label
        cached = self._cells.get(node.id)
        if cached is None or cached[0] is not label:
            text = label if isinstance(label, Text) else Text(label)
            cached = self._cells[node.id] = (label, text.cell_len)
        if not node.allow_expand:
            return cached[1]
        return cached[1] + cell_len(self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE)


__all__ = ["BatchedTree", "NodeDataT"]
