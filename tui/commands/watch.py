"""`kubedrift watch [-o jsonl|text]`: one line per status change, flushed as it happens, for alerting."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange
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
            if isinstance(change, ResourceStatusChange) and not change.status_changed:
                continue
            line = json.dumps(change.to_json()) if args.output == "jsonl" else _text(change, style)
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


def _text(change: StatusChange, style: Style) -> str:
    data = change.to_json()
    if isinstance(change, AppStatusChange):
        subject = data["app"]
        now = f"{style.status(data['sync'])} {style.status(data['health'])}"
        before = data["previous"]["sync"], data["previous"]["health"]
    else:
        subject = f"{data['app']}: {change.key}"
        now = f"{style.status(str(data['status']))} {style.status(str(data['health']))}"
        before = data["previous"]["status"], data["previous"]["health"]
    was = "" if before == (None, None) else style(f" (was {before[0]} {before[1]})", "dim")
    return f"{data['ts']}  {subject}  {now}{was}"
