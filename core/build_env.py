"""Argo CD's build environment substituted into option values: `Env.Envsubst`, which is Go's os.Expand.

`$VAR` and `${VAR}` are replaced from the environment (an unknown name is empty), `$$` is `$`, a
malformed `${` is dropped, and a `$` with no name after it stays. Argo CD applies it to Jsonnet's
extVars and tlas and to kustomize's images and label values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

_SPECIAL_NAMES: Final = frozenset("*#$@!?-0123456789")


def expand(text: str, env: Mapping[str, str]) -> str:
    """`text` with every `$NAME` and `${NAME}` replaced as Go's os.Expand replaces them."""
    parts: list[str] = []
    start = position = 0
    while position < len(text):
        if text[position] == "$" and position + 1 < len(text):
            parts.append(text[start:position])
            name, width = _shell_name(text[position + 1 :])
            if name:
                parts.append("$" if name == "$" else env.get(name, ""))
            elif not width:
                parts.append("$")  # no name follows: the dollar stays
            position += width
            start = position + 1
        position += 1
    if not parts:
        return text
    parts.append(text[start:])
    return "".join(parts)


def _shell_name(text: str) -> tuple[str, int]:
    """Go's getShellName: the name after a `$` and how many characters it takes ("" and >0: bad syntax)."""
    if text[0] == "{":
        if len(text) > 2 and text[1] in _SPECIAL_NAMES and text[2] == "}":
            return text[1], 3
        closing = text.find("}", 1)
        if closing == 1:
            return "", 2
        return (text[1:closing], closing + 1) if closing > 0 else ("", 1)
    if text[0] in _SPECIAL_NAMES:
        return text[0], 1
    width = 0
    while width < len(text) and (text[width] == "_" or (text[width].isascii() and text[width].isalnum())):
        width += 1
    return text[:width], width
