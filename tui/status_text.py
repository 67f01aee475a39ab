"""How a status reads on screen: a glyph and a word, coloured from the theme.

The word and glyph carry the meaning on their own (NO_COLOR, monochrome SSH clients); the colour
comes from the theme's `success` / `warning` / `error` / `accent` variables, so every theme
colours statuses its own way and a stylesheet never needs a raw colour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from enum import StrEnum

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

from core.model import SyncResult, revision_label
from core.rollback import RollbackView
from core.shared_resources import SHARED_SKIP
from core.status_events import RollbackEvent
from core.sync_verdict import Leftover


class Tone(StrEnum):
    """The theme variable a status is coloured with; QUIET is dimmed instead of coloured."""

    GOOD = "success"
    DRIFT = "warning"
    BAD = "error"
    BUSY = "accent"
    QUIET = "quiet"


# Sync words (SyncStatus, AppSync) and health words (Health) share one table: the words never clash
# in meaning ("Missing" is a drift either way).
LOOKS: Mapping[str, tuple[str, Tone]] = {
    "Synced": ("✓", Tone.GOOD),
    "OutOfSync": ("≠", Tone.DRIFT),
    "Missing": ("∅", Tone.DRIFT),
    "Extraneous": ("+", Tone.DRIFT),
    "Unknown": ("?", Tone.QUIET),
    "Healthy": ("♥", Tone.GOOD),
    "Progressing": ("↻", Tone.BUSY),
    "Suspended": ("‖", Tone.QUIET),
    "Degraded": ("✗", Tone.BAD),
    "Loading": ("…", Tone.QUIET),
    "Shared": ("⚠", Tone.DRIFT),
}
SHARED = "Shared"
"""The word of an object another app declares too (core.shared_resources): a warning, not a status."""


def tone_style(tone: Tone, variables: Mapping[str, str]) -> Style:
    """The Rich style of `tone` in the current theme (`variables` is `App.theme_variables`)."""
    if tone is Tone.QUIET:
        return Style(dim=True)
    try:
        return Style(color=Color.parse(variables[tone.value]).rich_color)
    except (KeyError, ColorParseError):
        return Style(bold=True)


def status_label(word: str) -> str:
    """`✓ Synced`: the glyph and the word, uncoloured."""
    glyph, _ = LOOKS.get(word, ("·", Tone.QUIET))
    return f"{glyph} {word}"


def status_text(word: str, variables: Mapping[str, str]) -> Text:
    """`✓ Synced` coloured for the current theme."""
    _, tone = LOOKS.get(word, ("·", Tone.QUIET))
    return Text(status_label(word), style=tone_style(tone, variables), no_wrap=True)


def short_revision(revision: str | None) -> str:
    """A commit as its 7-character SHA; a plain folder's content digest as `folder`; a chart's version."""
    return revision_label(revision, 7)


def describe_sync(result: SyncResult) -> str:
    """`2 configured, 1 created, 1 pruned`, then the first failure's reason when there is one."""
    counts = Counter(outcome.action.value for outcome in result.outcomes)
    changed = [f"{count} {action}" for action, count in sorted(counts.items()) if action != "unchanged"]
    summary = ", ".join(changed) or "nothing to change"
    if result.dry_run:
        summary = f"dry run: {summary}"
    failures = [outcome for outcome in result.outcomes if outcome.action.value == "failed"]
    if failures:
        summary += f"; {failures[0].key}: {failures[0].message}"
    elif held := [outcome for outcome in result.outcomes if outcome.message.startswith(SHARED_SKIP)]:
        summary += f"; {held[0].key}: {held[0].message}"  # left to another app: say which, and why
    return summary


def describe_leftovers(leftovers: Sequence[Leftover]) -> str:
    """`1 still OutOfSync after the sync: ConfigMap/shop/x (sync changes nothing: ...)`, the first one."""
    first = leftovers[0]
    more = f" and {len(leftovers) - 1} more" if len(leftovers) > 1 else ""
    return f"{len(leftovers)} still OutOfSync after the sync: {first.key} ({first.reason}){more}"


ROLLED_BACK_GLYPH = "↶"


def rollback_label(view: RollbackView | None) -> str:
    """`↶ RolledBack: abc1234 -> def5678` while a rollback pins the app (`↶ would roll back
    (read-only): ...` where it only says what would happen); empty otherwise."""
    if view is None or view.rolled_back is None:
        return ""
    return f"{ROLLED_BACK_GLYPH} {view.rolled_back.label}"


def rollback_step_text(event: RollbackEvent) -> str:
    """The event-log line of an automated rollback step: `rollback <step>: <what happened>`."""
    return f"rollback {event.step}: {event.message}"
