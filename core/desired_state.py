"""An app's desired state: its source loaded at a revision and rendered into objects.

This joins `core.gitsource` and `core.render`. A source that fails to load (unknown revision,
unreachable remote) is an error of the app, and the last good revision stays in use, so one bad
push or a network blip never empties the desired set.

`core.gitsource` (GitPython, watchfiles) is imported when the first app is loaded, not with this
module: `DesiredState` is a value the TUI needs for its first frame, long before any Git is read.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import GitSourceError
from core.helm_chart import NO_CAPABILITIES, Capabilities
from core.kinds import BUILTIN_SCOPE, NamespaceScope
from core.model import App, ResourceKey, revision_label
from core.render import Renderer, RenderResult
from core.unreadable_file import UnreadableFile

if TYPE_CHECKING:
    from core.gitsource import AppSource, SourceSnapshot


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What Git says an app should be, at one revision, with every error met on the way."""

    revision: str | None
    objects: Mapping[ResourceKey, Mapping[str, Any]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    render_ok: bool = False
    """True when every file rendered: only then may anything be judged Extraneous or pruned."""
    pending: Mapping[ResourceKey, str] = field(default_factory=dict)
    """Objects a working tree declared until its last read, not confirmed gone yet, with the reason.

    A file being saved can read as empty or missing for a moment; these keys are Unknown, never
    Extraneous, until a later read confirms them gone (see `VanishedKeys`).
    """
    hooks: tuple[Mapping[str, Any], ...] = ()
    """Hook manifests (Argo CD's, and Helm's mapped onto them; `core.sync_hooks`), run around a sync
    in their phase and wave, never compared and never pruned."""
    source_revisions: tuple[str, ...] = ()
    """A multi-source app's revision of each of its sources, in `sources` order ("" for one that did
    not load), as Argo CD lists them; empty for an app with one source. `revision` is then that of the
    first source that renders, for everything that shows or records one revision."""

    @property
    def revision_id(self) -> str | None:
        """What tells this revision from another: `revision`, or for a multi-source app every source's
        revision, so that a commit to any source (a values file in a `ref` source, say) is a new revision
        to auto-sync; None when nothing loaded."""
        if self.revision is None or not self.source_revisions:
            return self.revision
        return " ".join(self.source_revisions)


WORKING_TREE_SETTLE_SECONDS = 5.0
"""How long a working tree must read the same before automation acts on it, and how long an object
missing from it stays pending before a read may confirm it gone. Editors, sync tools and network
file systems can leave a file empty or missing for a second or two while they save."""


class VanishedKeys:
    """Keys that left a working tree's render, held as pending until a later read agrees.

    An editor that truncates a file and writes it again, or a save caught half-way, makes a file's
    objects vanish from one read. Pruning on that read would delete live objects Git still holds.
    A vanished key is therefore pending until a read at least `confirm_seconds` after the first one
    that missed it still misses it; a key that comes back is simply desired again.
    """

    def __init__(
        self, *, confirm_seconds: float = WORKING_TREE_SETTLE_SECONDS, clock: Callable[[], float]
    ) -> None:
        self.confirm_seconds = confirm_seconds
        self._clock = clock
        self._files: dict[ResourceKey, str] = {}
        """Every key the last read declared, with its file."""
        self._missing_since: dict[ResourceKey, tuple[float, str]] = {}

    def update(
        self, declared: Mapping[ResourceKey, str], files_read: Iterable[str], unreadable: Iterable[str] = ()
    ) -> dict[ResourceKey, str]:
        """Record a read's keys (key -> file); returns the pending keys with the reason for each."""
        now = self._clock()
        present, broken = set(files_read), set(unreadable)
        for key in self._files.keys() - declared.keys():
            self._missing_since.setdefault(key, (now, self._files[key]))
        pending: dict[ResourceKey, str] = {}
        for key, (since, file) in list(self._missing_since.items()):
            if key in declared or now - since >= self.confirm_seconds:
                del self._missing_since[key]
                continue
            how = "disappeared"
            if file in present:
                how = "no longer declares it"
            elif file in broken:
                how = "could not be read"
            pending[key] = (
                f"{file} {how} in the last read of the working tree; waiting "
                f"{self.confirm_seconds:g} s for the files to settle before calling it gone"
            )
        self._files = dict(declared)
        return pending

    @property
    def next_check(self) -> float | None:
        """Seconds until a pending key may be confirmed gone; None when none is pending."""
        if not self._missing_since:
            return None
        first = min(since for since, _ in self._missing_since.values())
        return max(0.0, first + self.confirm_seconds - self._clock())


class AppDesiredState:
    """Loads and renders one app; keeps the renderer's per-file cache between loads."""

    def __init__(
        self,
        app: App,
        *,
        base_dir: Path | None = None,
        cache_dir: Path | None = None,
        scope: NamespaceScope = BUILTIN_SCOPE,
        source: AppSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        settle_seconds: float = WORKING_TREE_SETTLE_SECONDS,
        capabilities: Capabilities = NO_CAPABILITIES,
    ) -> None:
        from core.gitsource import AppSource

        if app.sources and type(self) is AppDesiredState:
            raise TypeError(f"app {app.name} has several sources: load it with core.multi_source.loader_for")
        self.app = app
        self.source = source or AppSource(app.source, base_dir=base_dir, cache_dir=cache_dir)
        self.renderer = Renderer(
            default_namespace=app.destination.namespace,
            scope=scope,
            app_path=app.source.path,
            directory=app.source.options.directory,
            helm=app.source.options.helm,
            kustomize_options=app.source.options.kustomize,
            substitute=app.source.options.substitute,
            artifact=app.source.options.artifact,
            capabilities=capabilities,
            release_name=app.name,
        )
        self._last_render = RenderResult({}, ())
        self._clock = clock
        self.settle_seconds = settle_seconds
        self.vanished = VanishedKeys(confirm_seconds=settle_seconds, clock=clock)
        """Only a working tree's loads feed it: a commit is atomic, a save on disk is not."""
        self._first_read: tuple[str, float] | None = None
        """The working tree's current snapshot, and when a read first found it."""

    @property
    def sources(self) -> tuple[AppSource, ...]:
        """Every source the app reads, to watch, poll and fetch: its one source here; each of a
        multi-source app's (`core.multi_source`)."""
        return (self.source,)

    @property
    def last_render(self) -> RenderResult:
        """The objects of the last render with the file each came from, and its errors."""
        return self._last_render

    @property
    def confirm_in(self) -> float | None:
        """Seconds until objects that left a working tree may be confirmed gone; None when none is pending."""
        return self.vanished.next_check

    def restart_settle(self) -> None:
        """Count the settle window of the current working-tree snapshot from now (watching starts)."""
        if self._first_read is not None:
            self._first_read = (self._first_read[0], self._clock())

    def settling(self, revision: str | None) -> float:
        """Seconds until automation may act on `revision`: 0 for a commit, which is atomic; for a
        working tree, what is left of the settle window since a read first found this snapshot.

        Even the first read after start can catch a save half-way (an emptied file), and nothing
        before it can say which objects went missing; so nothing is acted on, and above all nothing
        pruned, until the same files have been read for the whole window."""
        if not self.source.is_folder or revision is None:
            return 0.0
        if self._first_read is None or self._first_read[0] != revision:
            return self.settle_seconds
        return max(0.0, self._first_read[1] + self.settle_seconds - self._clock())

    def load(self, revision: str | None = None) -> DesiredState:
        """Render the app at `revision` (None: its target revision, falling back to the last good one)."""
        if self.app.unrenderable:
            return DesiredState(revision=None, errors=(self.app.unrenderable,))
        try:
            snapshot = self.source.load(revision)
        except GitSourceError as error:
            fallback = self.source.last_good if revision is None else None
            if fallback is None:
                return DesiredState(revision=None, errors=(str(error),))
            note = f"{error} (still showing revision {revision_label(fallback.revision)})"
            return self._render(fallback, extra_errors=(note,))
        state = self._render(snapshot)
        if revision is None and self.source.is_folder:
            if self._first_read is None or self._first_read[0] != snapshot.revision:
                self._first_read = (snapshot.revision, self._clock())
            declared = {key: desired.file for key, desired in self._last_render.objects.items()}
            broken = [path for path, content in snapshot.files.items() if isinstance(content, UnreadableFile)]
            pending = self.vanished.update(declared, snapshot.files, broken)
            if pending:
                state = replace(state, pending=pending)
        return state

    def _render(self, snapshot: SourceSnapshot, extra_errors: tuple[str, ...] = ()) -> DesiredState:
        with _Materializer(self.source, snapshot) as materialize:
            result: RenderResult = self.renderer.render(
                snapshot.files, materialize=materialize, revision=snapshot.revision
            )
        self._last_render = result
        errors = extra_errors + tuple(str(error) for error in result.errors)
        objects = {key: desired.obj for key, desired in result.objects.items()}
        hooks = tuple(desired.obj for desired in result.hooks)
        return DesiredState(
            snapshot.revision, objects, errors, render_ok=result.ok and not extra_errors, hooks=hooks
        )


class _Materializer:
    """Puts the snapshot's tree on disk only if the renderer asks (kustomize), and removes it after."""

    def __init__(self, source: AppSource, snapshot: SourceSnapshot) -> None:
        self._source = source
        self._snapshot = snapshot
        self._scratch: Path | None = None

    def __enter__(self) -> _Materializer:
        return self

    def __call__(self) -> Path:
        if self._source.chart_folder is not None:
            return self._source.chart_folder  # the unpacked chart in the cache; rendering only reads it
        if self._source.folder is not None:
            return self._source.folder.folder
        assert self._source.repository is not None
        self._scratch = Path(tempfile.mkdtemp(prefix="kubedrift-render-"))
        self._source.repository.export(self._snapshot.revision, self._scratch)
        return self._scratch / self._snapshot.root

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
