"""`kubedrift watch [-o jsonl|text]`: one line per status change, flushed as it happens, for alerting.

Beside DESIGN's two line shapes (an app's, a resource's), automated rollback's steps print as
`{"ts", "app", "rollback": {"step", "revision", "from"?, "to"?, "message", "readOnly"?}}`
(core.status_events.RollbackEvent), and an object that becomes declared by another app too, or stops
being so, as `{"ts", "app", "sharedResource": {"group", "kind", "namespace", "name", "sharedWith",
"previous", "message"}}` (core.status_events.SharedResourceChange). A child app (app of apps) that is
added, changed or removed prints as `{"ts", "app", "childApp": {"parent", "change", "message"}}`
(core.status_events.ChildAppChange).

A resource line whose status is OutOfSync may carry `"by": {"manager", "operation", "time"}`: the
newest owner, by managedFields, among its drifted fields' owners, as `check -o json` names them per
change; absent when nobody can be named. The text form ends such a line with `changed by ...`.

With `notifications:` in the config, the engine also posts to those webhooks (core.notifier); with
`--app`, only about that app and its child apps. A hook that refuses or does not answer is one
`kubedrift: ...` line on stderr, never on stdout, which alert pipelines read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import UTC, datetime
from typing import Any, TypeGuard

from core.drift.attribution import attribution_text
from core.status_events import (
    AppStatusChange,
    ChildAppChange,
    ResourceStatusChange,
    RevisionChange,
    RollbackEvent,
    SharedResourceChange,
    StatusChange,
)
from tui.commands.setup import add_cluster_options, build_engine_for_app, load_settings
from tui.commands.terminal import Style

_ALARMING = frozenset({"measurement-failed", "rollback-decided", "rolled-back", "rollback-failed"})


def register(commands: Any) -> None:
    parser = commands.add_parser("watch", help="headless: one line per status change, for alerting")
    add_cluster_options(parser)
    parser.add_argument("--app", metavar="NAME", help="only this app")
    parser.add_argument("-o", "--output", choices=("jsonl", "text"), default="text", help="output format")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_settings(args)
    if config.agents:  # `agents:` in kubedrift.yaml: the agents' streams instead of the clusters
        from tui.commands.attach import watch_agents

        return watch_agents(config.agents, args.app, args.output)
    # With --app, the apps on its cluster are watched too (detect-only), to tell what they declare.
    engine = build_engine_for_app(args, config, args.app)
    style = Style()

    def publish(changes: list[StatusChange]) -> None:
        for change in changes:
            if not is_transition(change) or (args.app is not None and change.app != args.app):
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


Transition = AppStatusChange | ResourceStatusChange | RollbackEvent | SharedResourceChange | ChildAppChange


def is_transition(change: StatusChange) -> TypeGuard[Transition]:
    """Whether a change is an alert: a status or health transition (not a revision or detail move),
    a step of automated rollback (a window opened, a measurement failed, a rollback), or an object
    becoming shared with another app, or no longer, or a child app coming, changing or going."""
    if isinstance(change, RevisionChange):
        return False
    return not isinstance(change, ResourceStatusChange) or change.status_changed


def change_line(change: Transition, style: Style) -> str:
    """`<time>  <subject>  <sync> <health> (was ...)`: the text form of a transition; a rollback
    step reads `<time>  <app>  rollback <step>: <message>`."""
    before: tuple[object, object]
    if isinstance(change, RollbackEvent):
        colour = "red" if change.step in _ALARMING else "cyan"
        return f"{change.ts}  {change.app}  {style(f'rollback {change.step}', colour)}: {change.message}"
    if isinstance(change, ChildAppChange):
        colour = "yellow" if change.change == "removed" else "cyan"
        return f"{change.ts}  {change.app}  {style(f'child app {change.change}', colour)}: {change.message}"
    if isinstance(change, SharedResourceChange):
        word = style("warning", "yellow") if change.shared_with else style("shared no more", "green")
        return f"{change.ts}  {change.app}: {change.key}  {word}: {change.message}"
    if isinstance(change, AppStatusChange):
        subject = change.app
        now = f"{style.status(str(change.sync))} {style.status(str(change.health))}"
        before = change.previous_sync, change.previous_health
    else:
        subject = f"{change.app}: {change.key}"
        now = f"{style.status(str(change.status))} {style.status(str(change.health))}"
        before = change.previous_status, change.previous_health
    was = "" if before == (None, None) else style(f" (was {before[0]} {before[1]})", "dim")
    by = ""
    if isinstance(change, ResourceStatusChange) and change.by is not None:
        by = "  " + style(attribution_text(change.by, _moment(change.ts)), "dim")
    return f"{change.ts}  {subject}  {now}{was}{by}"


def _moment(ts: str) -> datetime:
    """The line's own time, which `N min ago` counts from, so a line reads the same whenever it is read."""
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return datetime.now(UTC)
