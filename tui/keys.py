"""Every key kubedrift binds, by the id users remap under `keymap:` in kubedrift.yaml.

Screens build their `BINDINGS` from this table, so a key, its id and its description are written
once, the help screen and the footer read the same words, and a keymap typo can be named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One remappable key: its id, its default key, a footer word and a help line."""

    id: str
    key: str
    """The default key, in Textual's key names (`slash`, `question_mark`, `H`)."""
    description: str
    help: str


KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        spec.id: spec
        for spec in (
            KeySpec("open", "enter", "Open", "open the highlighted app or resource"),
            KeySpec("back", "escape", "Back", "go back, or clear the filter"),
            KeySpec("diff", "d", "Diff", "show the diff of the selected resource"),
            KeySpec("sync", "s", "Sync", "sync: apply what Git says (asks first)"),
            KeySpec("prune", "p", "Prune", "sync and delete tracked leftovers (asks first)"),
            KeySpec("toggle_self_heal", "h", "Self-heal", "turn self-heal on or off for this session"),
            KeySpec("toggle_auto_sync", "a", "Auto-sync", "turn auto-sync on or off for this session"),
            KeySpec("refresh", "r", "Refresh", "fetch Git now and relist the cluster"),
            KeySpec("filter", "slash", "Filter", "filter by name, kind or context"),
            KeySpec("history", "H", "History", "Git history of the app; roll back to a revision"),
            KeySpec("theme", "t", "Theme", "switch to the next theme"),
            KeySpec("help", "question_mark", "Help", "show the keys"),
            KeySpec("quit", "q", "Quit", "quit kubedrift"),
            KeySpec("confirm", "y,enter", "Yes", "go ahead with the action a confirmation lists"),
            KeySpec("cancel", "n", "No", "cancel the action a confirmation lists"),
        )
    }
)

# Keys that change a cluster or its automation: refused in read-only mode.
WRITE_KEYS = frozenset({"sync", "prune", "toggle_self_heal", "toggle_auto_sync"})


def binding(
    key_id: str,
    action: str | None = None,
    *,
    show: bool = True,
    priority: bool = False,
    description: str | None = None,
) -> Binding:
    """The Binding for `key_id` (its action defaults to the id itself)."""
    spec = KEYS[key_id]
    return Binding(
        spec.key,
        action or key_id,
        description or spec.description,
        show=show,
        priority=priority,
        tooltip=spec.help,
        id=spec.id,
    )


def keymap_problems(keymap: Mapping[str, str]) -> list[str]:
    """Entries of a `keymap:` that name no binding, as sentences; an empty list when all are known."""
    unknown = sorted(set(keymap) - set(KEYS))
    if not unknown:
        return []
    known = ", ".join(KEYS)
    return [f"keymap: there is no key with the id {name!r}; the ids are {known}" for name in unknown]
