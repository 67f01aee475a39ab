"""A multi-source app (Argo CD's `spec.sources`): each source rendered on its own, the union desired.

As Argo CD's repo-server does it:
- every source with a path or a chart renders with its own options, and the app's desired set is the
  union of theirs;
- a source with only a `ref` renders nothing: a chart's value file (or file parameter) written
  `$name/path` is read from the root of the repository of the source whose `ref` is `name`, at that
  source's targetRevision (`core.source_refs`);
- each source keeps its own revision; the first that renders gives the app's one revision (history,
  audit, `revision` in JSON), and a new commit in any of them renders the app again.

Kubedrift's own rules hold across sources: two sources declaring one object is an error naming both
(the last one's object is kept, as Argo CD keeps it), and a source that fails to load or render makes
the whole render not OK, so nothing is pruned.

`MultiSourceDesiredState` is an `AppDesiredState` that renders the first source itself and one
single-source `AppDesiredState` per other rendering source: each keeps its own source, render cache
and working-tree safeguards, exactly as a single-source app does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.desired_state import WORKING_TREE_SETTLE_SECONDS, AppDesiredState, DesiredState
from core.errors import GitSourceError
from core.helm_chart import NO_CAPABILITIES, Capabilities
from core.kinds import BUILTIN_SCOPE, NamespaceScope
from core.model import App, ResourceKey, Source, revision_label
from core.source_refs import references, repository_path
from core.unreadable_file import UnreadableFile

if TYPE_CHECKING:
    from core.gitsource import AppSource, GitRepository, SourceSnapshot

SourceFor = Callable[[Source], "AppSource"]
"""Binds a Source to its repository (the engine's binding shares one per repoURL across apps)."""


def loader_for(
    app: App,
    *,
    source_for: SourceFor | None = None,
    base_dir: Path | None = None,
    cache_dir: Path | None = None,
    scope: NamespaceScope = BUILTIN_SCOPE,
    clock: Callable[[], float] = time.monotonic,
    settle_seconds: float = WORKING_TREE_SETTLE_SECONDS,
    capabilities: Capabilities = NO_CAPABILITIES,
) -> AppDesiredState:
    """What loads and renders `app`: a MultiSourceDesiredState when it lists several sources."""
    if source_for is None:
        from core.gitsource import shared_source

        repositories: dict[str, GitRepository] = {}

        def source_for(source: Source) -> AppSource:
            return shared_source(source, repositories, base_dir=base_dir, cache_dir=cache_dir)

    options: dict[str, Any] = {
        "scope": scope,
        "clock": clock,
        "settle_seconds": settle_seconds,
        "capabilities": capabilities,
    }
    if app.sources:
        return MultiSourceDesiredState(app, source_for=source_for, **options)
    return AppDesiredState(app, source=source_for(app.source), **options)


@dataclass
class _Rendered:
    """One source that renders: its position in `sources`, its loader, and the refs it reads."""

    index: int
    loader: AppDesiredState
    refs: frozenset[str]
    revision: str | None = None
    """The revision its last load of the target revision rendered (what `settling` asks about)."""


@dataclass
class _Referenced:
    """A source other sources read `$name/` files from: its whole repository, at its targetRevision."""

    index: int
    name: str
    source: AppSource
    snapshot: SourceSnapshot | None = None
    """What its last load gave (or the last good one, when a load failed)."""
    first_read: tuple[str, float] | None = None
    """A working tree's snapshot, and when a read first found it (see AppDesiredState.settling)."""


class MultiSourceDesiredState(AppDesiredState):
    """Loads and renders an app with several sources: the first that renders is this loader's own
    `source` (and `renderer`), so history, rollback and the dashboard read it as a single source."""

    def __init__(
        self,
        app: App,
        *,
        source_for: SourceFor,
        scope: NamespaceScope = BUILTIN_SCOPE,
        clock: Callable[[], float] = time.monotonic,
        settle_seconds: float = WORKING_TREE_SETTLE_SECONDS,
        capabilities: Capabilities = NO_CAPABILITIES,
    ) -> None:
        options: dict[str, Any] = {
            "scope": scope,
            "clock": clock,
            "settle_seconds": settle_seconds,
            "capabilities": capabilities,
        }
        bound: dict[Source, AppSource] = {}

        def bind(source: Source) -> AppSource:
            """One AppSource per distinct source: a ref source at `.` that also renders is read once."""
            if source not in bound:
                bound[source] = source_for(source)
            return bound[source]

        super().__init__(app, source=bind(app.source), **options)
        self._labels = tuple(_label(index, source) for index, source in enumerate(app.sources))
        wanted: set[str] = set()
        self._rendered: list[_Rendered] = []
        for index, source in enumerate(app.sources):
            if not source.renders:
                continue
            refs = frozenset(name for _, name, _ in references(source.options.helm))
            wanted |= refs
            if not self._rendered:
                loader: AppDesiredState = self  # the first renders through this loader itself
            else:
                alone = replace(app, source=source, sources=())
                loader = AppDesiredState(alone, source=bind(source), **options)
            self._rendered.append(_Rendered(index, loader, refs))
        # Only refs some value file reads are loaded, as Argo CD resolves only those: the whole
        # repository, whatever the source's path, since `$name/` paths start at its root.
        self._referenced = [
            _Referenced(index, source.ref, bind(replace(source, path=".")))
            for index, source in enumerate(app.sources)
            if source.ref in wanted
        ]

    @property
    def sources(self) -> tuple[AppSource, ...]:
        others = (part.loader.source for part in self._rendered if part.loader is not self)
        return (self.source, *others, *(referenced.source for referenced in self._referenced))

    def load(self, revision: str | None = None) -> DesiredState:
        """Render every source, `revision` applying to the first that renders (the app's revision);
        the others are read at their targetRevision."""
        if self.app.unrenderable:
            return DesiredState(revision=None, errors=(self.app.unrenderable,))
        errors = self._load_referenced()
        snapshots = {referenced.name: referenced.snapshot for referenced in self._referenced}
        states: list[tuple[_Rendered, DesiredState]] = []
        for part in self._rendered:
            unloaded = sorted(name for name in part.refs if snapshots.get(name) is None)
            if unloaded:
                # Rendered without its values the chart would declare other objects: it is not rendered.
                reason = f"not rendered, since the source whose ref is {unloaded[0]} did not load"
                states.append((part, DesiredState(revision=None, errors=(reason,))))
                continue
            part.loader.renderer.scope = self.renderer.scope  # the engine rescopes this loader's renderer
            part.loader.renderer.referenced = _referenced_files(part.loader.app.source, snapshots)
            state = super().load(revision) if part.loader is self else part.loader.load()
            if revision is None:
                part.revision = state.revision
            states.append((part, state))
        return self._union(errors, states)

    def _load_referenced(self) -> list[str]:
        """Load each ref source at its target revision; its errors, named by source."""
        errors = []
        now = self._clock()
        for referenced in self._referenced:
            try:
                referenced.snapshot = referenced.source.load()
            except GitSourceError as error:
                fallback = referenced.source.last_good
                still = f" (still reading revision {revision_label(fallback.revision)})" if fallback else ""
                errors.append(f"{self._labels[referenced.index]}: {error}{still}")
                referenced.snapshot = fallback
                continue
            revision = referenced.snapshot.revision
            if referenced.source.is_folder and (
                referenced.first_read is None or referenced.first_read[0] != revision
            ):
                referenced.first_read = (revision, now)
        return errors

    def _union(self, errors: list[str], states: list[tuple[_Rendered, DesiredState]]) -> DesiredState:
        objects: dict[ResourceKey, Mapping[str, Any]] = {}
        declared_by: dict[ResourceKey, _Rendered] = {}
        pending: dict[ResourceKey, str] = {}
        render_ok = not errors
        revisions = [""] * len(self.app.sources)
        for referenced in self._referenced:
            revisions[referenced.index] = referenced.snapshot.revision if referenced.snapshot else ""
        for part, state in states:
            label = self._labels[part.index]
            errors.extend(f"{label}: {error}" for error in state.errors)
            render_ok = render_ok and state.render_ok
            revisions[part.index] = state.revision or ""
            pending.update(state.pending)
            for key, obj in state.objects.items():
                first = declared_by.get(key)
                if first is not None:
                    errors.append(self._declared_twice(key, first, part))
                    render_ok = False
                objects[key] = obj  # the last source's object, as Argo CD keeps it
                declared_by[key] = part
        primary = states[0][1]
        return DesiredState(
            primary.revision,
            objects,
            tuple(errors),
            render_ok=render_ok,
            pending={key: why for key, why in pending.items() if key not in objects},
            hooks=tuple(hook for _, state in states for hook in state.hooks),
            source_revisions=tuple(revisions),
        )

    def _declared_twice(self, key: ResourceKey, first: _Rendered, then: _Rendered) -> str:
        def where(part: _Rendered) -> str:
            declared = part.loader.last_render.objects.get(key)
            file = f" {declared.file}" if declared is not None else ""
            return f"{self._labels[part.index]}{file}"

        return (
            f"{key} is declared by two sources, {where(first)} and {where(then)} (Argo CD applies the "
            "last one's); keep one"
        )

    def settling(self, revision: str | None) -> float:
        """What is left of the longest settle window among the sources read from working trees."""
        if revision is None:
            return 0.0
        left = 0.0
        for part in self._rendered:
            own = part.revision
            left = max(left, super().settling(own) if part.loader is self else part.loader.settling(own))
        now = self._clock()
        for referenced in self._referenced:
            if referenced.first_read is not None:
                left = max(left, referenced.first_read[1] + self.settle_seconds - now)
        return left

    def restart_settle(self) -> None:
        super().restart_settle()
        now = self._clock()
        for part in self._rendered:
            if part.loader is not self:
                part.loader.restart_settle()
        for referenced in self._referenced:
            if referenced.first_read is not None:
                referenced.first_read = (referenced.first_read[0], now)

    @property
    def confirm_in(self) -> float | None:
        pending = [self.vanished.next_check]
        pending += [part.loader.confirm_in for part in self._rendered if part.loader is not self]
        return min((seconds for seconds in pending if seconds is not None), default=None)


def _label(index: int, source: Source) -> str:
    """`sources[1] (chart podinfo)`: how errors name one source of the app."""
    if source.options.chart:
        what = f"chart {source.options.chart}"
    elif source.path:
        what = f"path {source.path}"
    else:
        what = f"ref {source.ref}"
    return f"sources[{index}] ({what})"


def _referenced_files(
    source: Source, snapshots: Mapping[str, SourceSnapshot | None]
) -> dict[str, bytes | None]:
    """The `$name/path` files `source`'s chart reads, from the snapshots of the sources they name."""
    found: dict[str, bytes | None] = {}
    for written, name, path in references(source.options.helm):
        snapshot = snapshots.get(name)
        key = repository_path(path)
        if snapshot is None:
            continue
        if key is None:
            found[written] = UnreadableFile(
                f"names no file inside the repository of the source whose ref is {name}; "
                f"write ${name}/<path from that repository's root>"
            )
            continue
        found[written] = snapshot.files.get(key)
    return found
