"""The app screen's tree: app → kind → resource → owned children, each labelled with sync and health.

The screen hands down `TreeEntry` values (see `tui.resource_entries`). The tree keeps one node per
resource key and, when the entries change, relabels, adds and removes only the nodes that changed,
so one event never rebuilds it. Only a new filter, typed by a person, rebuilds the tree.

An app may hold 10,000 resources. A kind of more than OPEN_KIND_LIMIT resources starts collapsed,
its label counting what it holds and what drifted, and its nodes are made only when it is opened
(by a person, or to put the cursor on one of its resources); its entries still follow every
update, so it opens on the latest state. Textual's `Tree` lays out its lines again after every node
added, measuring every label: nodes added together are laid out once (see `BatchedTree`), siblings
arriving in order are appended without a search, and each label's width is kept beside it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.model import ResourceKey
from tui.resource_entries import CHILD_KINDS, TreeEntry, kept_by_filter
from tui.status_text import LOOKS, SHARED, tone_style
from tui.widgets.resource_labels import Label, ResourceLabels
from tui.widgets.tree_batched import BatchedTree


@dataclass(frozen=True, slots=True)
class KindGroup:
    """The node that gathers an app's resources of one kind."""

    group: str
    kind: str


NodeData = TreeEntry | KindGroup
GroupKind = tuple[str, str]
OPEN_KIND_LIMIT = 100
"""A kind with more resources than this starts collapsed; its nodes are made when it is opened."""
_CHILD_ORDER = {kind: index for index, (_, kind) in enumerate(CHILD_KINDS)}


class ResourceTree(BatchedTree[NodeData]):
    """An app's resources by kind, with what they own in the cluster; updated node by node."""

    DEFAULT_CSS = """
    ResourceTree {
        background: $background;
        scrollbar-size-horizontal: 1;
    }
    """

    filter_text: reactive[str] = reactive("", init=False)
    """Only resources whose name or kind contains this (or whose children's do) are shown."""

    def __init__(self, app_name: str, namespace: str, *, id: str | None = None) -> None:
        super().__init__(Text(app_name, style=Style(bold=True)), id=id)
        self.app_name = app_name
        self.namespace = namespace
        """The app's destination namespace: resources there are labelled by name alone."""
        self.entries: dict[ResourceKey, TreeEntry] = {}
        """The latest entry of every resource and child, shown or filtered out, parents first."""
        self._given: list[TreeEntry] = []
        self._resource_nodes: dict[ResourceKey, TreeNode[NodeData]] = {}
        self._shown: dict[ResourceKey, TreeEntry] = {}
        """The entry each node in `_resource_nodes` was made or last labelled from."""
        self._kind_nodes: dict[GroupKind, TreeNode[NodeData]] = {}
        self._kind_labels: dict[GroupKind, str] = {}
        self._made: set[GroupKind] = set()
        """Kinds whose resource nodes exist; the others are collapsed and wait to be opened."""
        self._opened: dict[GroupKind, bool] = {}
        """Kinds a person expanded (True) or collapsed (False): kept through filters."""
        self._app_status = ("Loading", "Loading")
        self._labels: ResourceLabels | None = None
        self._shared: Mapping[ResourceKey, tuple[str, ...]] = {}
        """The app's objects other apps declare too: their nodes carry a warning."""
        self.root.expand()

    def on_mount(self) -> None:
        # The signal comes once the new theme's variables are in place (a watch on `theme` would
        # run before, and colour everything with the old theme).
        self.app.theme_changed_signal.subscribe(self, lambda _: self._restyle())

    # What the screen calls.

    def set_app_status(self, sync: str, health: str) -> None:
        """Label the root with the app's own sync and health."""
        if (sync, health) != self._app_status:
            self._app_status = (sync, health)
            self._set_label(self.root, self.labels.root(self.app_name, sync, health))

    def set_shared(self, shared: Mapping[ResourceKey, tuple[str, ...]]) -> None:
        """Mark the resources other apps declare too (`key -> those apps`); only the nodes whose mark
        changed are relabelled. The engine replaces the mapping when it changes, so the same one
        means nothing to do."""
        if shared is self._shared:
            return
        before, self._shared = self._shared, shared
        changed = [key for key in before.keys() | shared.keys() if before.get(key) != shared.get(key)]
        relabel = [(key, node) for key in changed if (node := self._resource_nodes.get(key)) is not None]
        if relabel:
            with self.one_layout():
                for key, node in relabel:
                    self._set_label(node, self._entry_label(self._shown[key]))

    def set_entries(self, entries: Iterable[TreeEntry]) -> None:
        """Show `entries` (parents before children): only nodes whose entry changed are touched."""
        given = list(entries)
        if len(given) == len(self._given) and all(a is b for a, b in zip(given, self._given, strict=True)):
            return  # the very same entries: the screen looks every few seconds, mostly at no change
        self._given = given
        self.entries = {entry.key: entry for entry in given}
        self._show_entries()

    @property
    def highlighted(self) -> NodeData | None:
        """The entry or kind group under the cursor; None for the app itself (or no cursor)."""
        node = self.cursor_node
        return None if node is None else node.data

    @property
    def highlighted_key(self) -> ResourceKey | None:
        data = self.highlighted
        return data.key if isinstance(data, TreeEntry) else None

    def highlight(self, key: ResourceKey) -> None:
        """Move the cursor to `key`'s node once the tree has laid out its lines, opening what
        hides it."""
        self.call_after_refresh(self._move_to, key)

    def visible_keys(self) -> list[ResourceKey]:
        """The resource keys with a node now, top to bottom (what a person sees, for tests too).

        The resources of a kind not opened yet have no node, so they are not listed."""
        keys: list[ResourceKey] = []

        def walk(node: TreeNode[NodeData]) -> None:
            for child in node.children:
                if isinstance(child.data, TreeEntry):
                    keys.append(child.data.key)
                walk(child)

        walk(self.root)
        return keys

    # Filtering: the one path that rebuilds.

    def watch_filter_text(self) -> None:
        keep = self.highlighted
        self.clear()
        self._resource_nodes.clear()
        self._kind_nodes.clear()
        self._shown.clear()
        self._kind_labels.clear()
        self._made.clear()
        self._show_entries()
        if isinstance(keep, TreeEntry) and self._is_visible(keep.key):
            self.highlight(keep.key)
        else:
            self.call_after_refresh(self._move_to, self._first_node())

    def _visible(self) -> set[ResourceKey] | None:
        """The keys the filter keeps; None when there is no filter and every key is kept."""
        return kept_by_filter(self.entries.values(), self.filter_text)

    def _is_visible(self, key: ResourceKey) -> bool:
        visible = self._visible()
        return key in self.entries and (visible is None or key in visible)

    # Nodes.

    def _show_entries(self) -> None:
        """Bring the nodes in line with `entries` and the filter, touching only what changed."""
        visible = self._visible()
        kinds = self._kinds(visible)
        fallback: ResourceKey | KindGroup | None = None
        with self.one_layout():
            for key, was in list(self._shown.items()):
                now = self.entries.get(key)
                if key in self._resource_nodes and (
                    now is None or (visible is not None and key not in visible) or was.parent != now.parent
                ):
                    fallback = self._drop(key) or fallback
            for group_kind in [group_kind for group_kind in self._kind_nodes if group_kind not in kinds]:
                self._drop_kind(group_kind)
            for group_kind, members in kinds.items():
                self._kind_node(group_kind, len(members))
            for entry in self.entries.values():
                if visible is not None and entry.key not in visible:
                    continue
                shown = self._shown.get(entry.key)
                if shown is None:
                    self._add(entry)
                elif shown is not entry and shown != entry:
                    self._shown[entry.key] = entry
                    node = self._resource_nodes[entry.key]
                    node.data = entry
                    self._set_label(node, self._entry_label(entry))
            for group_kind, members in kinds.items():
                self._label_kind(group_kind, members)
        if fallback is not None:
            self.call_after_refresh(self._move_to, fallback)

    def _kinds(self, visible: set[ResourceKey] | None) -> dict[GroupKind, list[TreeEntry]]:
        """The resources shown (not their children), by kind."""
        kinds: dict[GroupKind, list[TreeEntry]] = defaultdict(list)
        for entry in self.entries.values():
            if entry.parent is None and (visible is None or entry.key in visible):
                kinds[(entry.key.group, entry.key.kind)].append(entry)
        return kinds

    def _add(self, entry: TreeEntry) -> None:
        """A node for `entry`, unless its kind is not made yet or its owner is not shown."""
        if entry.parent is None:
            group_kind = (entry.key.group, entry.key.kind)
            found = self._kind_nodes.get(group_kind) if group_kind in self._made else None
        else:
            found = self._resource_nodes.get(entry.parent)
        if found is None:
            return
        parent = found
        if entry.parent is not None:
            parent.allow_expand = True
        # Siblings are kept in order. Entries mostly come in that order, so the last sibling is
        # looked at first; otherwise the place is a binary search (10k resources: no O(n²)).
        children = parent.children
        order = _order(entry)
        place: int | None = None
        if children and _order(children[-1].data) > order:
            place = bisect.bisect_right(children, order, key=lambda child: _order(child.data))
        label = self._entry_label(entry)
        node = self.add_node(
            parent, label.text, label.cells, entry, before=place, expand=True, allow_expand=False
        )
        self._resource_nodes[entry.key] = node
        self._shown[entry.key] = entry

    def _drop(self, key: ResourceKey) -> ResourceKey | KindGroup | None:
        """Remove `key`'s node and its children; where the cursor should go if it was among them."""
        node = self._resource_nodes[key]
        doomed: list[TreeNode[NodeData]] = []

        def collect(found: TreeNode[NodeData]) -> None:
            doomed.append(found)
            for child in found.children:
                collect(child)

        collect(node)
        parent = node.parent
        fallback: ResourceKey | KindGroup | None = None
        if self.cursor_node is not None and any(found is self.cursor_node for found in doomed):
            data = parent.data if parent is not None else None
            fallback = data.key if isinstance(data, TreeEntry) else data
            self.cursor_line = -1  # the cursor must not stay on a node that is gone
        for found in doomed:
            self.forget_node(found)
            if isinstance(found.data, TreeEntry):
                self._resource_nodes.pop(found.data.key, None)
                self._shown.pop(found.data.key, None)
        node.remove()
        if parent is not None and isinstance(parent.data, TreeEntry) and not parent.children:
            parent.allow_expand = False
        return fallback

    def _kind_node(self, group_kind: GroupKind, size: int) -> TreeNode[NodeData]:
        """The node of a kind of `size` resources; a new one is collapsed when the kind is big."""
        node = self._kind_nodes.get(group_kind)
        if node is None:
            data = KindGroup(*group_kind)
            before = next(
                (child for child in self.root.children if _order(child.data) > _order(data)),
                None,
            )
            opened = self._opened.get(group_kind, size <= OPEN_KIND_LIMIT)
            node = self.root.add(data.kind, data, before=before, expand=opened)
            self._kind_nodes[group_kind] = node
            if opened:
                self._made.add(group_kind)
        return node

    def _drop_kind(self, group_kind: GroupKind) -> None:
        node = self._kind_nodes.pop(group_kind)
        self._kind_labels.pop(group_kind, None)
        self._made.discard(group_kind)
        self.forget_node(node)
        if self.cursor_node is node:
            self.cursor_line = -1
            self.call_after_refresh(self._move_to, None)
        node.remove()

    def _make_kind(self, group_kind: GroupKind) -> None:
        """Make the nodes of a kind that was left collapsed, from the latest entries."""
        if group_kind in self._made or group_kind not in self._kind_nodes:
            return
        self._made.add(group_kind)
        visible = self._visible()
        with self.one_layout():
            for entry in self.entries.values():
                if entry.key not in self._shown and (visible is None or entry.key in visible):
                    self._add(entry)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, KindGroup):
            group_kind = (data.group, data.kind)
            if self._kind_nodes.get(group_kind) is event.node:
                self._opened[group_kind] = True
                self._make_kind(group_kind)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, KindGroup) and self._kind_nodes.get((data.group, data.kind)) is event.node:
            self._opened[(data.group, data.kind)] = False

    # The cursor.

    def _move_to(self, target: ResourceKey | KindGroup | None) -> None:
        if isinstance(target, ResourceKey):
            if self._reveal(target):
                # Nodes were made or expanded: move once their lines are laid out.
                self.call_after_refresh(self._move_to, target)
                return
            node = self._resource_nodes.get(target)
        elif isinstance(target, KindGroup):
            node = self._kind_nodes.get((target.group, target.kind))
        else:
            node = None
        self.move_cursor(node if node is not None else self.root)

    def _reveal(self, key: ResourceKey) -> bool:
        """Make and expand whatever hides `key`'s node; whether anything had to be."""
        changed = False
        top = self.entries.get(key)
        while top is not None and top.parent is not None:
            top = self.entries.get(top.parent)  # an owned child: its kind is its top owner's
        if top is not None:
            group_kind = (top.key.group, top.key.kind)
            if group_kind not in self._made and group_kind in self._kind_nodes:
                self._make_kind(group_kind)
                changed = True
        node = self._resource_nodes.get(key)
        parent = node.parent if node is not None else None
        while parent is not None:
            if not parent.is_expanded:
                parent.expand()
                changed = True
            parent = parent.parent
        return changed

    def _first_node(self) -> ResourceKey | KindGroup | None:
        """The first resource shown, or the first kind when it is collapsed."""
        for kind_node in self.root.children:
            if kind_node.is_expanded and kind_node.children:
                data = kind_node.children[0].data
                return data.key if isinstance(data, TreeEntry) else None
            return kind_node.data if isinstance(kind_node.data, KindGroup) else None
        return None

    # Labels.

    def _set_label(self, node: TreeNode[NodeData], label: Label) -> None:
        self.set_node_label(node, label.text, label.cells)

    def _entry_label(self, entry: TreeEntry) -> Label:
        """The entry's label, with `⚠ also in <apps>` when other apps declare the object too."""
        label = self.labels.entry(entry)
        others = None if entry.owned else self._shared.get(entry.key)
        if not others:
            return label
        glyph, tone = LOOKS[SHARED]
        mark = f"  {glyph} also in {', '.join(others)}"
        label.text.append(mark, style=tone_style(tone, self.app.theme_variables))
        return Label(label.text, label.cells + cell_len(mark))

    @property
    def labels(self) -> ResourceLabels:
        """The label maker for the current theme."""
        variables = self.app.theme_variables
        if self._labels is None or self._labels.variables is not variables:
            self._labels = ResourceLabels(variables, self.namespace)
        return self._labels

    def _label_kind(self, group_kind: GroupKind, members: list[TreeEntry], *, again: bool = False) -> None:
        label = self.labels.kind(group_kind[1], members)
        if again or self._kind_labels.get(group_kind) != label.text.plain:
            self._kind_labels[group_kind] = label.text.plain
            self._set_label(self._kind_nodes[group_kind], label)

    def _restyle(self) -> None:
        labels = self.labels
        sync, health = self._app_status
        self._set_label(self.root, labels.root(self.app_name, sync, health))
        made = [(node, self._entry_label(self._shown[key])) for key, node in self._resource_nodes.items()]
        self.set_node_labels((node, label.text, label.cells) for node, label in made)
        for group_kind, members in self._kinds(self._visible()).items():
            if group_kind in self._kind_nodes:
                self._label_kind(group_kind, members, again=True)


def _order(data: NodeData | None) -> tuple[object, ...]:
    """Where a node sits among its siblings: kinds by name; resources by namespace and name;
    owned children by kind (ReplicaSets, Jobs, then Pods) and name."""
    if isinstance(data, KindGroup):
        return (data.kind, data.group)
    if isinstance(data, TreeEntry):
        key = data.key
        if data.owned:
            return (_CHILD_ORDER.get(key.kind, len(_CHILD_ORDER)), key.name, key.namespace)
        return (key.namespace, key.name)
    return ()


__all__ = ["KindGroup", "NodeData", "ResourceTree"]
