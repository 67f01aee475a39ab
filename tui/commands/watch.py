"""`kubedrift watch [-o jsonl|text]`: one line per status change, flushed as it happens, for alerting."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any, TypeGuard

from core.status_events import AppStatusChange, ResourceStatusChange, RevisionChange, StatusChange
from tui.commands.setup import add_cluster_options, build_engine, load_settings, only_app
from tui.commands.terminal import Style


def register(commands: Any) -> None:
    parser = commands.add_parser("watch", help="headless: one line per status change, for alerting")
    add_cluster_options(parser)
    parser.add_argument("--app", metavar="NAME", help="only this app")
    parser.add_argument("-o", "--output", choices=("jsonl", "text"), default="text", help="output format")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = only_app(load_settings(args), args.app)
    engine = build_engine(args, config)
    style = Style()

    def publish(changes: list[StatusChange]) -> None:
        for change in changes:
            if not is_transition(change):
                continue
            line = json.dumps(change.to_json()) if args.output == "jsonl" else change_line(change, style)
            sys.stdout.write(line + "\n")
        sys.stdout.flush()  # alert pipelines read line by line: never hold a change in a buffer

    asyncio.run(_watch(engine, publish))
    return 0


async def _watch(engine: Any, publish: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await engine.run(publish, stop)


def is_transition(change: StatusChange) -> TypeGuard[AppStatusChange | ResourceStatusChange]:
    """Whether a change is an alert: a status or health transition (not a revision or detail move)."""
    if isinstance(change, RevisionChange):
        return False
    return not isinstance(change, ResourceStatusChange) or change.status_changed


def change_line(change: AppStatusChange | ResourceStatusChange, style: Style) -> str:
    """`<time>  <subject>  <sync> <health> (was ...)`: the text form of a transition."""
    before: tuple[object, object]
    if isinstance(change, AppStatusChange):
        subject = change.app
        now = f"{style.status(str(change.sync))} {style.status(str(change.health))}"
        before = change.previous_sync, change.previous_health
    else:
        subject = f"{change.app}: {change.key}"
        now = f"{style.status(str(change.status))} {style.status(str(change.health))}"
        before = change.previous_status, change.previous_health
    was = "" if before == (None, None) else style(f" (was {before[0]} {before[1]})", "dim")
    return f"{change.ts}  {subject}  {now}{was}"
