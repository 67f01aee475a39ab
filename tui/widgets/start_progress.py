"""The engine's start-up progress on the dashboard, until every app is evaluated.

At 100,000 objects the start-up lists take a while; the rows say Loading meanwhile, and this line
says how far the lists are (`listing 3/7 kinds · 41,500 objects judged`). It reads the engine's
`start_progress` (core.start_lists.StartProgress) a few times a second, and once every app is
evaluated (or the start failed, which the event log says) it hides and stops looking: an idle
dashboard has no timer of its own.
"""

from __future__ import annotations

from textual.timer import Timer
from textual.widgets import Static

from core.engine import Engine
from core.start_lists import StartProgress

POLL_SECONDS = 0.25


def start_progress_text(progress: StartProgress) -> str:
    """What the line says: the lists' progress, or that they have not begun yet."""
    if not progress.kinds_to_list:
        return "starting: reading Git and the clusters…"
    noun = "kind" if progress.kinds_to_list == 1 else "kinds"
    objects = "object" if progress.objects_judged == 1 else "objects"
    return (
        f"listing {progress.kinds_listed}/{progress.kinds_to_list} {noun} · "
        f"{progress.objects_judged:,} {objects} judged"
    )


class StartProgressLine(Static):
    """The start-up progress of the engine, shown until every app is evaluated."""

    DEFAULT_CSS = """
    StartProgressLine {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $accent;
    }
    StartProgressLine.-done {
        display: none;
    }
    """

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.engine = engine
        self._shown: str | None = None
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self.refresh_progress()
        if not self.has_class("-done"):
            self._timer = self.set_interval(POLL_SECONDS, self.refresh_progress, name="start-progress-poll")

    def refresh_progress(self) -> None:
        """Read the engine's progress again; repaint only when the line reads differently."""
        progress = self.engine.start_progress
        if progress.evaluated or progress.failed:
            self.set_class(True, "-done")
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            return
        text = start_progress_text(progress)
        if text != self._shown:
            self._shown = text
            self.update(text)
