"""The two glob dialects of Flux's ArtifactGenerator copy operations, as regular expressions.

- `from` globs are matched by Go's `fs.Glob`, segment by segment with `path.Match`: `*` and `?` within
  a segment (so `**` is no more than `*`), `[class]` (negated by `^`; `-` and `]` escaped inside), and
  `\\` escapes. `go_segment` reads one segment.
- `exclude` globs are doublestar's (bmatcuk/doublestar v4, `Match`) over a whole path: the same within a
  segment (a class negated by `^` or `!`), `**` as a whole segment spanning any number of folders
  (`a/**` matches `a` itself, `**/b` matches `b`, `**` everything), and `{a,b}` alternatives.

A malformed glob is a ValueError whose text completes "the glob has ..."; `glob_problem` and
`exclude_problem` say why a glob is refused, for an error that names its field.
"""

from __future__ import annotations

import re

GLOB_CHARACTERS = "*?[]"
"""What makes a `from` path a glob (source-watcher's `containsGlobChars`)."""
_MAX_ALTERNATIVES = 256
"""`{a,b}` groups multiply: past this many patterns, an exclude is refused rather than expanded."""


def glob_problem(pattern: str) -> str | None:
    """Why Go's `fs.Glob` refuses `pattern` (a `from` glob); None when it reads it."""
    try:
        for segment in pattern.split("/"):
            go_segment(segment)
    except ValueError as error:
        return f"{pattern!r} has {error}"
    return None


def exclude_problem(pattern: str) -> str | None:
    """Why doublestar refuses `pattern` (an `exclude` glob); None when it reads it."""
    try:
        doublestar(pattern)
    except ValueError as error:
        return f"{pattern!r} has {error}"
    return None


def go_segment(pattern: str) -> re.Pattern[str]:
    """One segment of a `from` glob, as Go's `path.Match` reads it. ValueError for a malformed one."""
    return _segment_regex(pattern, negations="^")


def _segment_regex(pattern: str, *, negations: str) -> re.Pattern[str]:
    """One segment of a glob as a regex: `*`, `?`, `[class]` (negated by a character of `negations`)
    and `\\` escapes, as Go's `path.Match` and doublestar read them. ValueError for a malformed one."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        character = pattern[index]
        if character == "*":
            out.append("[^/]*")
        elif character == "?":
            out.append("[^/]")
        elif character == "\\":
            if index + 1 == len(pattern):
                raise ValueError("a lone \\ at its end")
            index += 1
            out.append(re.escape(pattern[index]))
        elif character == "[":
            regex, index = _character_class(pattern, index, negations)
            out.append(regex)
            continue
        else:
            out.append(re.escape(character))
        index += 1
    return re.compile("".join(out))


def _character_class(pattern: str, start: int, negations: str) -> tuple[str, int]:
    """The `[...]` at `start` as a regex class, and the index after it (Go's `matchChunk` rules: a
    class holds at least one character or range, and `-` or `]` in it must be escaped)."""
    index = start + 1
    negated = index < len(pattern) and pattern[index] in negations
    index += negated
    ranges: list[str] = []

    def character() -> str:
        nonlocal index
        if index >= len(pattern) or pattern[index] in "-]":
            raise ValueError("a malformed [class]")
        if pattern[index] == "\\":
            index += 1
            if index >= len(pattern):
                raise ValueError("a malformed [class]")
        found = pattern[index]
        index += 1
        return found

    while True:
        if index < len(pattern) and pattern[index] == "]" and ranges:
            index += 1
            break
        low = character()
        high = low
        if index < len(pattern) and pattern[index] == "-":
            index += 1
            high = character()
        if high < low:
            raise ValueError("a backwards range in a [class]")
        ranges.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
    return f"[{'^/' if negated else ''}{''.join(ranges)}]", index


def doublestar(pattern: str) -> re.Pattern[str]:
    """A doublestar glob as one regex over a whole path: `{a,b}` expanded, then `**` segments matching
    any number of folders (`a/**` matches `a` itself too, `**` everything)."""
    alternatives = _expanded(pattern)
    return re.compile("|".join(f"(?:{_doublestar_path(alternative)})" for alternative in alternatives))


def _doublestar_path(pattern: str) -> str:
    parts = pattern.split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        first, last = index == 0, index == len(parts) - 1
        if part == "**":
            if last:
                out.append(".*" if first else "(?:/.*)?")
            else:
                out.append(("" if first else "/") + "(?:.*/)?")
            continue
        separator = "" if first or parts[index - 1] == "**" else "/"
        out.append(separator + _segment_regex(part, negations="^!").pattern)
    return "".join(out)


def _expanded(pattern: str) -> list[str]:
    """`pattern` with its first `{a,b,...}` group replaced by each alternative in turn, recursively."""
    depth, start, index = 0, 0, 0
    while index < len(pattern):
        character = pattern[index]
        if character == "\\":
            index += 2
            continue
        if character == "{":
            if depth == 0:
                start = index
            depth += 1
        elif character == "}" and depth:
            depth -= 1
            if depth == 0:
                head, tail = pattern[:start], pattern[index + 1 :]
                expanded = [
                    result
                    for option in _top_level_split(pattern[start + 1 : index])
                    for result in _expanded(head + option + tail)
                ]
                if len(expanded) > _MAX_ALTERNATIVES:
                    raise ValueError(f"more than {_MAX_ALTERNATIVES} {{a,b}} alternatives")
                return expanded
        index += 1
    if depth:
        raise ValueError("a { without its }")
    return [pattern]


def _top_level_split(inner: str) -> list[str]:
    """The comma-separated options of a `{...}` group, nested groups kept whole."""
    options, depth, current, index = [], 0, "", 0
    while index < len(inner):
        character = inner[index]
        if character == "\\":
            current += inner[index : index + 2]
            index += 2
            continue
        if character == "," and depth == 0:
            options.append(current)
            current = ""
        else:
            depth += {"{": 1, "}": -1}.get(character, 0)
            current += character
        index += 1
    return [*options, current]
