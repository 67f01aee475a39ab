"""The app screen's tree: app → kind → resource → owned children, each labelled with sync and health.

The screen hands down `TreeEntry` values (see `tui.resource_entries`). The tree keeps one node per
resource key and, when the entries change, relabels, adds and removes only the nodes that changed,
so one event never rebuilds it. Only a new filter, typed by a person, rebuilds the tree.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.model import ResourceKey
from tui.resource_entries import CHILD_KINDS, TreeEntry
from tui.status_text import LOOKS, status_text, tone_style


@dataclass(frozen=True, slots=True)
class KindGroup:
    """The node that gathers an app's resources of one kind."""

    group: str
    kind: str


NodeData = TreeEntry | KindGroup
_CHILD_ORDER = {kind: index for index, (_, kind) in enumerate(CHILD_KINDS)}


class ResourceTree(Tree[NodeData]):
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
        """The latest entry of every resource and child, shown or filtered out."""
        self._resource_nodes: dict[ResourceKey, TreeNode[NodeData]] = {}
        self._kind_nodes: dict[tuple[str, str], TreeNode[NodeData]] = {}
        self._shown: dict[ResourceKey, TreeEntry] = {}
        self._kind_labels: dict[tuple[str, str], str] = {}
        self._app_status = ("Loading", "Loading")
        self.root.expand()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._restyle, init=False)

    # What the screen calls.

    def set_app_status(self, sync: str, health: str) -> None:
        """Label the root with the app's own sync and health."""
        if (sync, health) != self._app_status:
            self._app_status = (sync, health)
            self.root.set_label(self._root_label())

    def set_entries(self, entries: Iterable[TreeEntry]) -> None:
        """Show `entries` (parents before children): only nodes whose entry changed are touched."""
        ordered = list(entries)
        self.entries = {entry.key: entry for entry in ordered}
        visible = self._visible()
        fallback: ResourceKey | KindGroup | None = None
        for key in list(self._resource_nodes):
            entry = self.entries.get(key)
            shown = self._shown.get(key)
            if key in self._resource_nodes and (
                entry is None or key not in visible or shown is None or shown.parent != entry.parent
            ):
                fallback = self._drop(key) or fallback
        for entry in ordered:
            if entry.key not in visible:
                continue
            node = self._resource_nodes.get(entry.key)
            if node is None:
                self._add(entry)
            elif self._shown.get(entry.key) != entry:
                self._shown[entry.key] = entry
                node.data = entry
                node.set_label(self._label(entry))
        self._tidy_kinds()
        if fallback is not None:
            self.call_after_refresh(self._move_to, fallback)

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
        """Move the cursor to `key`'s node once the tree has laid out its lines."""
        self.call_after_refresh(self._move_to, key)

    def visible_keys(self) -> list[ResourceKey]:
        """The resource keys with a node now, top to bottom (what a person sees, for tests too)."""
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
        self.set_entries(list(self.entries.values()))
        if isinstance(keep, TreeEntry) and keep.key in self._resource_nodes:
            self.highlight(keep.key)
        else:
            self.call_after_refresh(self._move_to, self._first_resource())

    def _visible(self) -> set[ResourceKey]:
        wanted = self.filter_text.strip().lower()
        if not wanted:
            return set(self.entries)
        children: dict[ResourceKey, list[ResourceKey]] = defaultdict(list)
        for entry in self.entries.values():
            if entry.parent is not None:
                children[entry.parent].append(entry.key)

        def family(key: ResourceKey) -> list[ResourceKey]:
            found = [key]
            for child in children.get(key, ()):
                found.extend(family(child))
            return found

        visible: set[ResourceKey] = set()
        for entry in self.entries.values():
            if entry.parent is None:
                keys = family(entry.key)
                if any(wanted in key.name.lower() or wanted in key.kind.lower() for key in keys):
                    visible.update(keys)
        return visible

    # Nodes.

    def _add(self, entry: TreeEntry) -> None:
        if entry.parent is None:
            parent = self._kind_node(entry.key.group, entry.key.kind)
        else:
            found = self._resource_nodes.get(entry.parent)
            if found is None:
                return  # its owner is not shown
            parent = found
        # Siblings are kept in order, so the place is a binary search (10k resources: no O(n²)).
        children = parent.children
        place = bisect.bisect_right(children, _order(entry), key=lambda child: _order(child.data))
        before = children[place] if place < len(children) else None
        node = parent.add(self._label(entry), entry, before=before, expand=True)
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
        fallback: ResourceKey | KindGroup | None = None
        if self.cursor_node is not None and any(found is self.cursor_node for found in doomed):
            parent = node.parent
            data = parent.data if parent is not None else None
            fallback = data.key if isinstance(data, TreeEntry) else data
            self.cursor_line = -1  # the cursor must not stay on a node that is gone
        for found in doomed:
            if isinstance(found.data, TreeEntry):
                self._resource_nodes.pop(found.data.key, None)
                self._shown.pop(found.data.key, None)
        node.remove()
        return fallback

    def _kind_node(self, group: str, kind: str) -> TreeNode[NodeData]:
        node = self._kind_nodes.get((group, kind))
        if node is None:
            data = KindGroup(group, kind)
            before = next(
                (child for child in self.root.children if _order(child.data) > _order(data)),
                None,
            )
            node = self.root.add(kind, data, before=before, expand=True)
            self._kind_nodes[(group, kind)] = node
        return node

    def _tidy_kinds(self) -> None:
        """Drop empty kind nodes, relabel the others, and let only nodes with children expand."""
        for group_kind, node in list(self._kind_nodes.items()):
            if not node.children:
                del self._kind_nodes[group_kind]
                self._kind_labels.pop(group_kind, None)
                node.remove()
                continue
            label = self._kind_label(node)
            if self._kind_labels.get(group_kind) != label.plain:
                self._kind_labels[group_kind] = label.plain
                node.set_label(label)
        for node in self._resource_nodes.values():
            has_children = bool(node.children)
            if node.allow_expand != has_children:
                node.allow_expand = has_children

    def _move_to(self, target: ResourceKey | KindGroup | None) -> None:
        if isinstance(target, ResourceKey):
            node = self._resource_nodes.get(target)
        elif isinstance(target, KindGroup):
            node = self._kind_nodes.get((target.group, target.kind))
        else:
            node = None
        self.move_cursor(node if node is not None else self.root)

    def _first_resource(self) -> ResourceKey | None:
        keys = self.visible_keys()
        return keys[0] if keys else None

    # Labels.

    def _root_label(self) -> Text:
        variables = self.app.theme_variables
        sync, health = self._app_status
        return Text.assemble(
            (self.app_name, Style(bold=True)),
            "  ",
            status_text(sync, variables),
            "  ",
            status_text(health, variables),
        )

    def _label(self, entry: TreeEntry) -> Text:
        variables = self.app.theme_variables
        key = entry.key
        if entry.owned:
            name = Text(f"{key.kind} {key.name}")
        else:
            shown = key.name if key.namespace in ("", self.namespace) else f"{key.namespace}/{key.name}"
            name = Text(shown, style=Style(bold=True))
        parts: list[Text | str] = [name]
        if entry.sync is not None:
            parts += ["  ", status_text(entry.sync, variables)]
        parts += ["  ", status_text(entry.health, variables)]
        return Text.assemble(*parts)

    def _kind_label(self, node: TreeNode[NodeData]) -> Text:
        entries = [child.data for child in node.children if isinstance(child.data, TreeEntry)]
        data = node.data
        assert isinstance(data, KindGroup)
        label = Text(f"{data.kind} ({len(entries)})", style=Style(bold=True))
        drifted: dict[str, int] = defaultdict(int)
        for entry in entries:
            if entry.sync in ("OutOfSync", "Missing", "Extraneous", "Unknown"):
                drifted[entry.sync] += 1
        variables = self.app.theme_variables
        for word, count in drifted.items():
            glyph, tone = LOOKS[word]
            label.append(f" {glyph}{count}", style=tone_style(tone, variables))
        return label

    def _restyle(self) -> None:
        self.root.set_label(self._root_label())
        for key, node in self._resource_nodes.items():
            node.set_label(self._label(self._shown[key]))
        for group_kind, node in self._kind_nodes.items():
            label = self._kind_label(node)
            self._kind_labels[group_kind] = label.plain
            node.set_label(label)


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
