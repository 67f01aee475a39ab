"""The README's key table lists every key in `tui.keys.KEYS`, with its default key, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from tui.keys import KEYS

README = Path(__file__).resolve().parent.parent.parent / "README.md"
# Textual key names the README writes as the character a person presses.
SHOWN_AS = {"slash": "/", "question_mark": "?"}


def readme_key_table() -> dict[str, list[str]]:
    """The `## Keys` table of the README: binding id -> the keys its row shows."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        rows[cells[1].strip("`")] = re.findall(r"`([^`]+)`", cells[0])
    return rows


def test_every_key_id_is_in_the_readme_with_its_default_key() -> None:
    table = readme_key_table()
    expected = {spec.id: [SHOWN_AS.get(key, key) for key in spec.key.split(",")] for spec in KEYS.values()}
    assert table == expected
