"""YAML for people to diff: multi-line strings as block scalars, as `kubectl diff` writes them.

A ConfigMap file, a script or an embedded config is one string. Dumped as one quoted line, a
one-line change in it turns the whole value into a single `-`/`+` pair; written as a literal
block scalar (`|`, `|-`, `|+`, with an indentation indicator when the first line starts with a
space), each line of the value is a line of the YAML, and a unified diff shows only the line that
changed, with context. A string a block scalar cannot hold exactly (a carriage return, a trailing
space or tab on a line, a control character) is double-quoted instead, still broken after each
escaped `\\n`, so its diff is line by line too. Every string loads back exactly as it was.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_LINE_END = re.compile(r"(?<=\n)(?!$)")
"""Between the lines of a string: after each `\\n` that is not the last character."""

_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")
"""Characters YAML reads as line breaks."""


def yaml_text(obj: Any) -> str:
    """`obj` as block-style YAML, keys in their order, multi-line strings line by line."""
    return yaml.dump(obj, Dumper=_DiffDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def split_lines(text: str) -> list[str]:
    """`text` cut after each `\\n` only (not at `\\r` or U+2028 as `str.splitlines` cuts)."""
    return _LINE_END.split(text) if text else []


def fits_block_scalar(text: str) -> bool:
    """True when a literal block scalar reads back as exactly `text`.

    A block scalar folds every line break to `\\n` and cannot hold control characters, and
    whitespace at the end of a line, though kept, is invisible and lost by editors: such strings
    are quoted. Tabs inside a line are content and stay.
    """
    if "\n" not in text:
        return False
    if any(not _printable(ch) for ch in text):
        return False
    return not any(line.endswith((" ", "\t")) for line in text.split("\n"))


def _printable(ch: str) -> bool:
    # PyYAML's printable set (allow_unicode) without the breaks NEL, LS, PS and the BOM; plus tab and LF.
    return ch not in "\u2028\u2029" and (
        ch in "\n\t"
        or "\x20" <= ch <= "\x7e"
        or (
            ("\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or "\U00010000" <= ch <= "\U0010ffff")
            and ch != "\ufeff"
        )
    )


class _DiffDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings one line per YAML line."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if fits_block_scalar(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        if _BREAKS.search(data):
            # PyYAML would single-quote some of these and read them back changed (NEL, U+2028).
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)

    def choose_scalar_style(self) -> str:
        # PyYAML refuses block style for any tab; `fits_block_scalar` already said the string fits.
        event = self.event
        if (
            isinstance(event, yaml.ScalarEvent)
            and event.style == "|"
            and not self.flow_level
            and not self.simple_key_context
        ):
            return "|"
        style: str = super().choose_scalar_style()
        return style

    def determine_block_hints(self, text: str) -> str:
        hints: str = super().determine_block_hints(text)
        if text.startswith("\t"):
            # libyaml will not guess the indentation from a line that starts with a tab: say it.
            hints = str(self.best_indent) + hints
        return hints

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        lines = split_lines(text)
        if len(lines) <= 1 or self.simple_key_context or self.flow_level:
            super().write_double_quoted(text, split)
            return
        # One YAML line per line of the string: `\` escapes each break, the next line is indented
        # under the key, and a space that starts a line is escaped so it is not taken for indentation.
        self.write_indicator('"', True)
        indent = self.indent or 0
        for number, line in enumerate(lines):
            if number:
                self._write_raw("\\")
                self.indent, outer = indent, self.indent
                self.write_indent()
                self.indent = outer
                if line.startswith(" "):
                    self._write_raw("\\")
            self._write_raw("".join(_escaped(ch) for ch in line))
        self.write_indicator('"', False)

    def _write_raw(self, data: str) -> None:
        self.column += len(data)
        self.stream.write(data)
        self.whitespace = False
        self.indention = False


_DiffDumper.add_representer(str, _DiffDumper.represent_str)

_ESCAPES = yaml.emitter.Emitter.ESCAPE_REPLACEMENTS


def _escaped(ch: str) -> str:
    """`ch` as it stands inside a double-quoted scalar (PyYAML's escapes)."""
    if ch not in '"\\' and ch != "\n" and ch != "\t" and _printable(ch):
        return ch
    if ch in _ESCAPES:
        return "\\" + _ESCAPES[ch]
    if ch <= "\xff":
        return f"\\x{ord(ch):02X}"
    if ch <= "\uffff":
        return f"\\u{ord(ch):04X}"
    return f"\\U{ord(ch):08X}"
