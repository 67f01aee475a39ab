"""When a headless Textual app paints, and what.

Textual renders every frame (the compositor's update) and hands it to `App._display`, which a
headless driver then discards. The probe wraps that method on one app instance, so a benchmark
learns the moment a frame was rendered and, when it asks, whether the frame shows some text. The
app's code is not changed; the probe only watches.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.screen import Screen


@dataclass
class _Expectation:
    text: str | None
    screen_type: type[Screen[Any]] | None
    after: float
    future: asyncio.Future[float]


@dataclass
class PaintProbe:
    """Installed on one app; `next_paint` resolves with the perf_counter time of a matching frame."""

    app: App[Any]
    paints: int = 0
    _expectations: list[_Expectation] = field(default_factory=list)

    def __post_init__(self) -> None:
        original = self.app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                self._painted(time.perf_counter(), screen, renderable)

        self.app._display = display  # type: ignore[method-assign]

    def next_paint(
        self,
        text: str | None = None,
        *,
        screen_type: type[Screen[Any]] | None = None,
        after: float | None = None,
    ) -> asyncio.Future[float]:
        """A future for the first frame from now (or `after`) on, of a screen of `screen_type` and
        showing `text`, when they are given."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        start = time.perf_counter() if after is None else after
        self._expectations.append(_Expectation(text, screen_type, start, future))
        return future

    def _painted(self, at: float, screen: Any, renderable: Any) -> None:
        self.paints += 1
        if not self._expectations:
            return
        shown: str | None = None
        for expectation in list(self._expectations):
            if expectation.future.done():
                self._expectations.remove(expectation)
                continue
            if at < expectation.after:
                continue
            if expectation.screen_type is not None and not isinstance(screen, expectation.screen_type):
                continue
            if expectation.text is not None:
                if shown is None:
                    shown = _text_of(self.app, renderable)
                if expectation.text not in shown:
                    continue
            expectation.future.set_result(at)
            self._expectations.remove(expectation)


def _text_of(app: App[Any], renderable: Any) -> str:
    render = getattr(renderable, "render_segments", None)
    return str(render(app.console)) if render is not None else ""


async def wait_painted(future: asyncio.Future[float], timeout: float) -> float | None:
    """The paint time, or None when no such frame came within `timeout` seconds."""
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        future.cancel()
        return None
