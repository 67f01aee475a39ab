"""`kubedrift check [--app A] [-o text|json]`: one drift report; exit 0 in sync, 1 drift, 2 error."""

from __future__ import annotations

import argparse
from typing import Any

from tui.commands.report import check_json, check_text, drifted_events, exit_code
from tui.commands.setup import add_cluster_options, build_engine_for_app, load_settings
from tui.commands.terminal import Style


def register(commands: Any) -> None:
    parser = commands.add_parser("check", help="one-shot drift report (exit 0 in sync, 1 drift, 2 error)")
    add_cluster_options(parser)
    parser.add_argument("--app", metavar="NAME", help="only this app")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_settings(args)
    if config.agents:  # `agents:` in kubedrift.yaml: read the agents instead of the clusters
        from tui.commands.attach import check_agents

        return check_agents(config.agents, args.app, args.output)
    # With --app, the apps on its cluster are judged too, to tell which of its objects they declare.
    engine = build_engine_for_app(args, config, args.app)
    statuses = engine.evaluate()
    if any([runtime.restore_sync_marks() for runtime in engine.apps.values()]):
        statuses = engine.statuses()  # what an earlier `kubedrift sync` changed nothing for
    statuses = [status for status in statuses if args.app is None or status.name == args.app]
    if args.output == "json":  # each OutOfSync resource's recent Events, fetched only now
        print(check_json(statuses, drifted_events(engine, statuses)))
    else:
        print(check_text(statuses, Style()))
    return exit_code(statuses)
