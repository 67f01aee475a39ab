"""The real `kubedrift` command, run headless, reporting when its dashboard paints.

`python -m benchmarks.tui_driver [--size 120x40] -- KUBEDRIFT-ARGS...` runs `tui.cli.main` with
those arguments exactly as the `kubedrift` console script does, except that the App runs headless
(no terminal) at a fixed size. It prints one JSON line on stdout for each of these moments:

- `first_frame`: the first frame of the dashboard was rendered;
- `loaded`: the first dashboard frame rendered once the engine had published every app's state
  and no row still read `Loading`.

Each line has `time` (time.time()) and `age` (seconds since this process started, from
/proc/self/stat, or null where there is no /proc). The driver runs until it is terminated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def process_age() -> float | None:
    """Seconds since this process started, from /proc (clock-tick resolution)."""
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
    except (OSError, ValueError, IndexError):
        return None
    start_ticks = int(fields[19])  # field 22, starttime, counted from field 3
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def emit(event: str, **values: Any) -> None:
    print(json.dumps({"event": event, "time": time.time(), "age": process_age(), **values}), flush=True)


def main(argv: Sequence[str]) -> int:
    own, kubedrift_args = _split(argv)
    parser = argparse.ArgumentParser(description="kubedrift's TUI, headless, reporting its first frames")
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    args = parser.parse_args(own)
    width, _, height = args.size.partition("x")
    size = (int(width), int(height))

    # The same modules the console script loads, in the order it would need them.
    from tui import cli
    from tui.app import KubedriftApp
    from tui.screens.dashboard import DashboardScreen
    from tui.widgets.app_table import AppTable

    original_run = KubedriftApp.run

    def headless_run(self: KubedriftApp, *run_args: Any, **options: Any) -> Any:
        _report_frames(self, DashboardScreen, AppTable)
        return original_run(self, *run_args, **{**options, "headless": True, "size": size})

    KubedriftApp.run = headless_run  # type: ignore[method-assign,assignment]
    return cli.main(kubedrift_args)


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The driver's own options, and the kubedrift arguments after `--`."""
    if "--" not in argv:
        return list(argv), []
    at = list(argv).index("--")
    return list(argv[:at]), list(argv[at + 1 :])


def _report_frames(app: Any, dashboard: type[Any], table_type: type[Any]) -> None:
    """Wrap the app's `_display` (where a headless app's rendered frames end) to emit the moments."""
    original = app._display
    seen = {"first_frame": False, "loaded": False}

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        if renderable is None or not isinstance(screen, dashboard) or seen["loaded"]:
            return
        if not seen["first_frame"]:
            seen["first_frame"] = True
            emit("first_frame", apps=len(app.engine.apps))
        rows = screen.query_one(table_type).rows_by_app.values()
        if app.feed.changes_seen >= len(app.engine.apps) and all(row.sync != "Loading" for row in rows):
            seen["loaded"] = True
            emit("loaded", apps=len(app.engine.apps))

    app._display = display


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
