"""Reading Git trees and blobs by id, with caches.

Git objects never change once written, so the trees and blobs read are kept by id. After a
commit, only the folders on the way to a changed file and that file are read again: a subtree
with the same id as before is the same subtree, so it is neither reopened nor compared.

Symlinks are followed as a checkout would follow them, but only inside the repository. A link that
loops, leaves the repository or leads to nothing is not skipped: its path holds an `UnreadableFile`
saying so, which the renderer reports as that file's error, so the objects it was meant to hold
are never taken for objects Git dropped (and pruned).
"""

from __future__ import annotations

import posixpath
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from git.objects.fun import tree_entries_from_data

from core.errors import GitSourceError
from core.unreadable_file import UnreadableFile

BLOB_CACHE_BYTES = 64 * 1024 * 1024
TREE_CACHE_COUNT = 20_000
_MAX_LINK_HOPS = 40
"""Symlinks followed for one path before giving up, as Linux does (MAXSYMLINKS)."""

Entry = tuple[int, bytes]
"""A tree entry: (mode, binary object id). Modes are Unix modes; submodules match neither S_ISDIR,
S_ISREG nor S_ISLNK and are skipped."""
ObjectReader = Callable[[bytes, bytes], bytes]
"""Reads an object's content by (binary id, expected type such as b"tree")."""
_V = TypeVar("_V")


class _LruCache(Generic[_V]):
    """Least-recently-used cache keyed by object id, bounded by the summed weight of its values."""

    def __init__(self, capacity: int, weigh: Callable[[_V], int]) -> None:
        self._items: OrderedDict[bytes, _V] = OrderedDict()
        self._capacity = capacity
        self._weigh = weigh
        self._weight = 0

    def get(self, key: bytes) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: bytes, value: _V) -> None:
        if key in self._items:
            return
        self._items[key] = value
        self._weight += self._weigh(value)
        while self._weight > self._capacity and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self._weight -= self._weigh(evicted)


def _is_file(mode: int) -> bool:
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def inside_repository(path: str) -> bool:
    """True when a normalized path stays inside the repository (or the folder it is relative to)."""
    return path != ".." and not path.startswith(("../", "/"))


class TreeReader:
    """Files, folders and differences of commits, read through `read_object`. Not thread-safe.

    `where` names the repository in messages. Paths are normalized repository paths (`a/b`, or `.`).
    """

    def __init__(self, read_object: ObjectReader, where: str) -> None:
        self._read = read_object
        self._where = where
        self._blobs: _LruCache[bytes] = _LruCache(BLOB_CACHE_BYTES, len)
        self._trees: _LruCache[dict[str, Entry]] = _LruCache(TREE_CACHE_COUNT, lambda _: 1)
        self._commit_trees: _LruCache[bytes] = _LruCache(TREE_CACHE_COUNT, lambda _: 1)

    def blob(self, binsha: bytes) -> bytes:
        """A blob's content; the same bytes object each time while it stays cached."""
        data = self._blobs.get(binsha)
        if data is None:
            data = self._read(binsha, b"blob")
            self._blobs.put(binsha, data)
        return data

    def _tree(self, binsha: bytes) -> dict[str, Entry]:
        entries = self._trees.get(binsha)
        if entries is None:
            try:
                raw = tree_entries_from_data(self._read(binsha, b"tree"))
            except ValueError as error:  # GitPython refuses names such as ".." or ".git"
                raise GitSourceError(
                    f"tree {binsha.hex()} in {self._where} has an unsafe or corrupt entry ({error}): "
                    "fix the repository"
                ) from error
            entries = {name: (mode, sha) for sha, mode, name in raw}
            self._trees.put(binsha, entries)
        return entries

    def root_tree(self, commit_sha: str) -> bytes:
        """The id of a commit's top tree."""
        key = bytes.fromhex(commit_sha)
        tree = self._commit_trees.get(key)
        if tree is None:
            first_line = self._read(key, b"commit").split(b"\n", 1)[0]  # always "tree <hex>"
            tree = bytes.fromhex(first_line.split(b" ", 1)[1].decode())
            self._commit_trees.put(key, tree)
        return tree

    def lookup(self, root_tree: bytes, path: str) -> Entry | None:
        """The entry at `path` below `root_tree`, or None when there is none."""
        entry: Entry | None = (stat.S_IFDIR, root_tree)
        for name in [] if path == "." else path.split("/"):
            if entry is None or not stat.S_ISDIR(entry[0]):
                return None
            entry = self._tree(entry[1]).get(name)
        return entry

    def _subtree(self, root_tree: bytes, path: str) -> bytes | None:
        entry = self.lookup(root_tree, path)
        return entry[1] if entry is not None and stat.S_ISDIR(entry[0]) else None

    def walk(self, tree: bytes, prefix: str = "") -> Iterator[tuple[str, int, bytes]]:
        """(relative path, mode, id) of every file and symlink below `tree`."""
        for name, (mode, sha) in self._tree(tree).items():
            if stat.S_ISDIR(mode):
                yield from self.walk(sha, f"{prefix}{name}/")
            elif _is_file(mode):
                yield f"{prefix}{name}", mode, sha

    def _link_text(self, link_sha: bytes) -> str:
        return self.blob(link_sha).decode("utf-8", "surrogateescape")

    def _follow(self, root_tree: bytes, link_path: str, link_sha: bytes) -> bytes | str | None:
        """Where the symlink at `link_path` leads, resolved one name at a time as the kernel does
        (so links on the way, to folders too, are followed): the blob id of a file; None for a
        folder, which a walk of a checkout does not list as a file; or, when it leads nowhere, why,
        as the rest of a sentence that begins with the link's path."""
        written = self._link_text(link_sha)
        outside = f"is a symlink to {written}, outside the repository; kubedrift reads only files inside it"
        missing = f"is a symlink to {written}, which does not exist at this commit; fix or remove the link"
        parent = posixpath.dirname(link_path)
        where = parent.split("/") if parent else []
        current = self.lookup(root_tree, parent or ".")
        todo = list(reversed(written.split("/")))
        # (a link, the names left to resolve after it): meeting one twice means going round for ever.
        seen: set[tuple[str, tuple[str, ...]]] = {(link_path, ())}
        if written.startswith("/"):
            return outside
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if current is None or not stat.S_ISDIR(current[0]):
                return missing
            if name == "..":
                if not where:
                    return outside
                where.pop()
                current = self.lookup(root_tree, "/".join(where) or ".")
                continue
            child = self._tree(current[1]).get(name)
            if child is None or not stat.S_ISLNK(child[0]):
                where.append(name)
                current = child
                continue
            state = ("/".join([*where, name]), tuple(todo))
            if state in seen:
                return f"is a symlink loop ({written}); fix or remove the link"
            if len(seen) > _MAX_LINK_HOPS:
                return (
                    f"is a symlink through more than {_MAX_LINK_HOPS} links ({written}); link the file itself"
                )
            seen.add(state)
            text = self._link_text(child[1])
            if text.startswith("/"):
                return outside
            todo.extend(reversed(text.split("/")))  # relative to `where`, the folder of that link
        if current is None:
            return missing
        return current[1] if stat.S_ISREG(current[0]) else None

    def files(self, commit_sha: str, path: str) -> dict[str, bytes]:
        """Every file under `path`, keyed relative to it; symlinks read as the file they lead to,
        and one that leads nowhere as an `UnreadableFile` saying why."""
        root_tree = self.root_tree(commit_sha)
        entry = self.lookup(root_tree, path)
        if entry is None:
            raise GitSourceError(
                f"path {path!r} does not exist in {self._where} at {commit_sha[:12]}: check the app's path"
            )
        if not stat.S_ISDIR(entry[0]):
            raise GitSourceError(
                f"path {path!r} in {self._where} is a file, not a folder: set the app's path to its folder"
            )
        base = "" if path == "." else f"{path}/"
        files: dict[str, bytes] = {}
        for rel, mode, sha in self.walk(entry[1]):
            end = self._follow(root_tree, base + rel, sha) if stat.S_ISLNK(mode) else sha
            if isinstance(end, str):
                files[rel] = UnreadableFile(end)
            elif end is not None:
                files[rel] = self.blob(end)
        return files

    def changed(self, old_commit: str, new_commit: str, path: str) -> set[str]:
        """Files under `path` that differ between two commits, keyed relative to `path`."""
        old_root, new_root = self.root_tree(old_commit), self.root_tree(new_commit)
        new_tree = self._subtree(new_root, path)
        changed: set[str] = set()
        self._diff(self._subtree(old_root, path), new_tree, "", changed)
        # A symlink whose own blob is unchanged still changes when the file it leads to does.
        base = "" if path == "." else f"{path}/"
        for rel, mode, link in self.walk(new_tree) if new_tree is not None else ():
            if stat.S_ISLNK(mode) and rel not in changed:
                before = self._follow(old_root, base + rel, link)
                if before != self._follow(new_root, base + rel, link):
                    changed.add(rel)
        return changed

    def _diff(self, old: bytes | None, new: bytes | None, prefix: str, out: set[str]) -> None:
        if old == new:
            return
        old_entries = self._tree(old) if old is not None else {}
        new_entries = self._tree(new) if new is not None else {}
        for name in old_entries.keys() | new_entries.keys():
            before, after = old_entries.get(name), new_entries.get(name)
            if before == after:
                continue
            old_dir = before[1] if before is not None and stat.S_ISDIR(before[0]) else None
            new_dir = after[1] if after is not None and stat.S_ISDIR(after[0]) else None
            if old_dir is not None or new_dir is not None:
                self._diff(old_dir, new_dir, f"{prefix}{name}/", out)
            if any(entry is not None and _is_file(entry[0]) for entry in (before, after)):
                out.add(f"{prefix}{name}")
