"""The rollout panel: where the highlighted Argo Rollouts `Rollout` or Flagger `Canary` stands.

The screen sets `status` to the facts core.rollout_status reads from the live object (None hides the
panel); the panel only lays them out, a few short lines under the tree and the diff:

    Canary · step 1/8: pause until promoted · weight 21% (router 19%)
    ‖ paused: CanaryPauseStep
    stable rollouts-demo-77f4f8ff97 · canary rollouts-demo-8566c77b97
    replicas 5 desired · 6 current · 2 updated · 6 ready · 6 available

Words carry the meaning without colour; the theme colours the stable side good, the canary side
busy, a pause quiet and an abort bad.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from core.rollout_status import RolloutStatus
from tui.status_text import Tone, tone_style

_SEPARATOR = " · "
_PHASE_TONES = {
    "Healthy": Tone.GOOD,
    "Succeeded": Tone.GOOD,
    "Initialized": Tone.GOOD,
    "Progressing": Tone.BUSY,
    "Promoting": Tone.BUSY,
    "Finalising": Tone.BUSY,
    "Degraded": Tone.BAD,
    "Failed": Tone.BAD,
}


class RolloutPanel(Static):
    """Strategy, step, weights, pause and ReplicaSets of one progressive delivery."""

    DEFAULT_CSS = """
    RolloutPanel {
        display: none;
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $background;
        border-top: solid $panel;
        border-title-color: $foreground;
    }
    RolloutPanel.-shown {
        display: block;
    }
    """

    status: reactive[RolloutStatus | None] = reactive(None, init=False)
    """What to show; None hides the panel."""

    class Resized(Message):
        """The panel appeared or changed height, so the widgets beside it have fewer rows."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines_shown: list[str] = []
        """The text of every line shown, uncoloured (what a person reads; tests read it too)."""

    def on_mount(self) -> None:
        self.border_title = "rollout"
        self.app.theme_changed_signal.subscribe(self, lambda _: self._show())

    def watch_status(self) -> None:
        self._show()

    def on_resize(self, event: Resize) -> None:
        self.post_message(self.Resized())

    def _show(self) -> None:
        status = self.status
        self.set_class(status is not None, "-shown")
        lines = [] if status is None else self._lines(status)
        self.lines_shown = [line.plain for line in lines]
        self.update(Text("\n").join(lines))

    def _lines(self, status: RolloutStatus) -> list[Text]:
        variables = self.app.theme_variables

        def toned(text: str, tone: Tone | None) -> Text:
            return Text(text, style=tone_style(tone, variables) if tone else Style())

        heading = Text(status.strategy or status.kind, style=Style(bold=True))
        if status.kind == "Canary":
            heading.append(" (Flagger)", style=Style(bold=True))
        if status.phase:
            heading.append(_SEPARATOR)
            heading.append_text(toned(status.phase, _PHASE_TONES.get(status.phase, Tone.QUIET)))
        if status.step is not None:
            # As `kubectl argo rollouts get` counts: the index of the current step, of all steps.
            heading.append(f"{_SEPARATOR}step {status.step}/{status.steps}")
            if status.current_step:
                heading.append(f": {status.current_step}")
        if status.set_weight is not None:
            heading.append(f"{_SEPARATOR}{_weight(status)}")
        lines = [heading]

        # The controller's message is the Rollout's health message, which the diff pane shows.
        if status.aborted:
            lines.append(toned(f"✗ aborted{': ' + status.message if status.message else ''}", Tone.BAD))
        if status.paused:
            lines.append(toned(f"‖ paused: {', '.join(status.pause_reasons)}", Tone.QUIET))
        if status.failed_checks is not None:
            checks = f"checks {status.failed_checks} failed"
            if status.failure_threshold is not None:
                checks += f" of {status.failure_threshold} allowed"
            lines.append(Text(checks))

        sides = Text()
        for label, name, tone in self._sides(status):
            if name:
                if sides:
                    sides.append(_SEPARATOR)
                sides.append(f"{label} ")
                sides.append_text(toned(name, tone))
        if sides:
            lines.append(sides)
        if status.replicas is not None:
            counts = status.replicas
            lines.append(
                Text(
                    f"replicas {counts.desired} desired · {counts.current} current · {counts.updated} updated"
                    f" · {counts.ready} ready · {counts.available} available"
                )
            )
        return lines

    @staticmethod
    def _sides(status: RolloutStatus) -> list[tuple[str, str, Tone]]:
        if status.strategy == "BlueGreen":
            return [("active", status.active, Tone.GOOD), ("preview", status.preview, Tone.BUSY)]
        stable = "primary" if status.kind == "Canary" else "stable"
        return [(stable, status.stable, Tone.GOOD), ("canary", status.canary, Tone.BUSY)]


def _weight(status: RolloutStatus) -> str:
    words = f"weight {status.set_weight}%"
    if status.max_weight is not None:
        words += f" of {status.max_weight}%"
    if status.actual_weight is not None and status.actual_weight != status.set_weight:
        words += f" (router {status.actual_weight}%)"
    return words
