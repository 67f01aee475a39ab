"""`kubedrift diff [--app A]`: a unified diff of every drifted resource, live (-) against Git (+).

After the diffs come the apps' errors and their Unknown resources with why, as `check` shows them:
a resource that cannot be judged has no diff, and a silent exit code 2 would not say why."""

from __future__ import annotations

import argparse
from typing import Any

from core.drift.text import drift_text, removal_text
from core.engine import Engine
from core.model import Change, Drift, SyncStatus
from core.redact import redact_text
from tui.commands.report import exit_code, unknown_lines
from tui.commands.setup import add_cluster_options, build_engine, load_settings, only_app
from tui.commands.terminal import Style

_LINE_COLOURS = {"+": "green", "-": "red", "@": "cyan"}


def register(commands: Any) -> None:
    parser = commands.add_parser("diff", help="coloured unified diff of the drift (exits as check)")
    add_cluster_options(parser)
    parser.add_argument("--app", metavar="NAME", help="only this app")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = only_app(load_settings(args), args.app)
    engine = build_engine(args, config)
    statuses = engine.evaluate()
    style = Style()
    blocks = [text for status in statuses for text in _app_diffs(engine, status.name, style)]
    for status in statuses:
        blocks.extend(f"{status.name}: {style('error', 'red')}: {redact_text(e)}" for e in status.errors)
        blocks.extend(unknown_lines(status, style))
    if blocks:
        print("\n".join(blocks))
    return exit_code(statuses)


def _app_diffs(engine: Engine, name: str, style: Style) -> list[str]:
    runtime = engine.apps[name]
    blocks: list[str] = []
    for key, result in sorted(runtime.reconciler.results.items()):
        rules = runtime.reconciler.rules_for(key)
        if result.status not in (SyncStatus.EXTRANEOUS, SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING):
            continue
        live = engine.full_live_object(name, key)  # the removal text shows all of it
        if result.status is SyncStatus.EXTRANEOUS and live is not None:
            text = removal_text(live, rules)
        elif result.status in (SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING):
            desired = runtime.desired.objects.get(key) or {}
            changes = result.changes or (Change("", None, None),)
            text = drift_text(desired, live, rules, Drift(changes))
        else:
            continue
        header = style(f"=== {name}: {key} ({result.status})", "bold")
        body = "\n".join(style(line, _LINE_COLOURS.get(line[:1], "")) for line in text.splitlines())
        blocks.append(f"{header}\n{body}")
    return blocks
