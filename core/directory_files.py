"""Which files of a plain folder are an app's manifests: Argo CD's `directory` options.

- `recurse: false` (Argo CD's default) reads the folder's own files only, not its subfolders.
- `include` and `exclude` are globs matched against a file's path in the folder; `exclude` wins.
  As Argo CD's globs: `*` and `**` match any run of characters, `/` included (`*.yaml` matches
  `team/web.yaml` when recursing), `?` one character, `[abc]` a class, and `{a,b}` either pattern
  (`{config.yaml,env-use2/*}`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from core.source_options import DirectoryOptions


def selected_paths(paths: Iterable[str], options: DirectoryOptions) -> list[str]:
    """The paths (relative, `/`-separated) the options select, in the order given."""
    include = _compiled(options.include) if options.include else None
    exclude = _compiled(options.exclude) if options.exclude else None
    chosen = []
    for path in paths:
        if not options.recurse and "/" in path:
            continue
        if exclude is not None and exclude.fullmatch(path):
            continue
        if include is not None and not include.fullmatch(path):
            continue
        chosen.append(path)
    return chosen


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_regex(pattern), re.DOTALL)


def _regex(pattern: str) -> str:
    out: list[str] = []
    index = 0
    depth = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            while index + 1 < len(pattern) and pattern[index + 1] == "*":
                index += 1
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end]
                negated = body.startswith("!")
                body = re.escape(body[1:] if negated else body).replace("\\-", "-")
                out.append(f"[{'^' if negated else ''}{body}]")
                index = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    out.append(")" * depth)  # an unclosed `{` closes at the end rather than failing the app
    return "".join(out)
