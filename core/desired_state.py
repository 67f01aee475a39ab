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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import GitSourceError
from core.kinds import BUILTIN_SCOPE, NamespaceScope
from core.model import App, ResourceKey
from core.render import Renderer, RenderResult

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
    ) -> None:
        from core.gitsource import AppSource

        self.app = app
        self.source = source or AppSource(app.source, base_dir=base_dir, cache_dir=cache_dir)
        self.renderer = Renderer(
            default_namespace=app.destination.namespace, scope=scope, app_path=app.source.path
        )

    def load(self, revision: str | None = None) -> DesiredState:
        """Render the app at `revision` (None: its target revision, falling back to the last good one)."""
        try:
            snapshot = self.source.load(revision)
        except GitSourceError as error:
            fallback = self.source.last_good if revision is None else None
            if fallback is None:
                return DesiredState(revision=None, errors=(str(error),))
            note = f"{error} (still showing revision {fallback.revision[:12]})"
            return self._render(fallback, extra_errors=(note,))
        return self._render(snapshot)

    def _render(self, snapshot: SourceSnapshot, extra_errors: tuple[str, ...] = ()) -> DesiredState:
        with _Materializer(self.source, snapshot) as materialize:
            result: RenderResult = self.renderer.render(snapshot.files, materialize=materialize)
        errors = extra_errors + tuple(str(error) for error in result.errors)
        objects = {key: desired.obj for key, desired in result.objects.items()}
        return DesiredState(snapshot.revision, objects, errors, render_ok=result.ok and not extra_errors)


class _Materializer:
    """Puts the snapshot's tree on disk only if the renderer asks (kustomize), and removes it after."""

    def __init__(self, source: AppSource, snapshot: SourceSnapshot) -> None:
        self._source = source
        self._snapshot = snapshot
        self._scratch: Path | None = None

    def __enter__(self) -> _Materializer:
        return self

    def __call__(self) -> Path:
        if self._source.folder is not None:
            return self._source.folder.folder
        assert self._source.repository is not None
        self._scratch = Path(tempfile.mkdtemp(prefix="kubedrift-render-"))
        self._source.repository.export(self._snapshot.revision, self._scratch)
        return self._scratch / self._snapshot.root

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
