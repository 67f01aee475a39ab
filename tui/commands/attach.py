"""`kubedrift attach URL...`: the TUI, `check` or `watch`, fed by `kubedrift agent`s instead of clusters.

```
kubedrift attach URL... [--token-file F] [--ca-file F] [--insecure-skip-verify]
                        [--check | --watch] [--app A] [-o text|json|jsonl]
```
`check` and `watch` with `agents:` in kubedrift.yaml come here too (`check_agents`, `watch_agents`).
Their output keeps the in-process shapes exactly, plus `"agent": NAME` on each app of `check -o json`
and on each `watch -o jsonl` line (the agent's configured name, else its URL's host:port).

An agent that cannot be reached is one `kubedrift: agent NAME is unreachable: ...` sentence on stderr:
`check` then exits 2, since its verdict is incomplete; `watch` goes on, prints its apps as Unknown
once it has been gone a few seconds, and their statuses again when it is back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

from core.agent_fleet import AgentFleet, FleetUpdate
from core.agent_json import app_status_from_json, change_from_json
from core.agents_config import AgentEndpoint, endpoint_from_url
from core.config import Config
from core.errors import ConfigError
from core.redact import redact_text
from tui.commands.report import EXIT_ERROR, check_text, exit_code
from tui.commands.terminal import Style
from tui.commands.watch import change_line, is_transition


def register(commands: Any) -> None:
    parser = commands.add_parser("attach", help="the TUI (or --check, --watch) fed by kubedrift agents")
    parser.add_argument("urls", nargs="+", metavar="URL", help="an agent's base URL (https://HOST:PORT)")
    parser.add_argument("--token-file", metavar="FILE", help="file holding the agents' bearer token")
    parser.add_argument("--ca-file", metavar="FILE", help="CA bundle that signed the agents' certificates")
    parser.add_argument(
        "--insecure-skip-verify", action="store_true", help="accept any TLS certificate (never in production)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="one drift report, as `kubedrift check`")
    mode.add_argument("--watch", action="store_true", help="one line per status change, as `kubedrift watch`")
    parser.add_argument("--app", metavar="NAME", help="only this app (with --check or --watch)")
    parser.add_argument(
        "-o", "--output", choices=("text", "json", "jsonl"), default="text", help="output format"
    )
    parser.add_argument("--read-only", action="store_true", help="send no action to any agent (TUI)")
    parser.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS, help="TUI theme to start with")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.ca_file and args.insecure_skip_verify:
        raise ConfigError("--ca-file and --insecure-skip-verify contradict each other; keep one")
    endpoints = _endpoints(args)
    if args.check:
        if args.output == "jsonl":
            raise ConfigError("-o jsonl is for --watch; --check prints -o text or -o json")
        return check_agents(endpoints, args.app, args.output)
    if args.watch:
        if args.output == "json":
            raise ConfigError("-o json is for --check; --watch prints -o text or -o jsonl")
        return watch_agents(endpoints, args.app, args.output)
    if args.output != "text" or args.app:
        raise ConfigError("-o and --app go with --check or --watch; the TUI shows every app")
    from tui.attached_app import run_attached_tui
    from tui.settings import TuiSettings

    config = Config(apps=(), agents=endpoints)
    settings = TuiSettings(config, read_only=args.read_only, theme=getattr(args, "theme", None))
    return run_attached_tui(settings)


def _endpoints(args: argparse.Namespace) -> tuple[AgentEndpoint, ...]:
    endpoints: dict[str, AgentEndpoint] = {}
    for url in args.urls:
        endpoint = endpoint_from_url(
            url,
            token_file=args.token_file,
            ca_file=args.ca_file,
            insecure_skip_verify=args.insecure_skip_verify,
        )
        if endpoint.name in endpoints:
            raise ConfigError(f"the agent {endpoint.name} is given twice; give each agent's URL once")
        endpoints[endpoint.name] = endpoint
    return tuple(endpoints.values())


def check_agents(endpoints: Sequence[AgentEndpoint], app: str | None, output: str) -> int:
    """`check` over agents: every agent's status read once; exit 0 in sync, 1 drift, 2 error."""
    fleet = AgentFleet(endpoints)
    asyncio.run(_load(fleet))
    unreachable = [state.unreachable for state in fleet.agents.values() if state.unreachable]
    entries = [
        (name, remote.status)
        for name, state in fleet.agents.items()
        for app_name in state.claims
        if (remote := fleet.apps.get(app_name)) is not None and remote.agent == name
    ]
    if app is not None:
        entries = [(agent, entry) for agent, entry in entries if entry.get("name") == app]
        if not entries and not unreachable:
            known = ", ".join(sorted(fleet.apps)) or "none"
            raise ConfigError(f"there is no app named {app!r} on the agents (apps: {known}): check --app")
    statuses = [app_status_from_json(entry) for _, entry in entries]
    if output == "json":
        apps = [{**entry, "agent": agent} for agent, entry in entries]
        print(json.dumps({"apps": apps}, indent=2))
    elif statuses or not unreachable:
        print(check_text(statuses, Style()))
    sys.stdout.flush()
    for sentence in unreachable:
        print(f"kubedrift: {redact_text(sentence)}", file=sys.stderr)
    return EXIT_ERROR if unreachable else exit_code(statuses)


async def _load(fleet: AgentFleet) -> None:
    try:
        await fleet.load()
    finally:
        await fleet.close()


def watch_agents(endpoints: Sequence[AgentEndpoint], app: str | None, output: str) -> int:
    """`watch` over agents: the agents' lines as they come, until SIGINT or SIGTERM; exit 0."""
    fleet = AgentFleet(endpoints)
    style = Style()
    told: dict[str, str] = {}

    def publish(update: FleetUpdate) -> None:
        for name in update.agents:  # a lost or found agent: a sentence on stderr, never on stdout
            said = fleet.agents[name].unreachable
            if said != told.get(name, ""):
                back = f"agent {name} is reachable again"
                print(f"kubedrift: {redact_text(said) if said else back}", file=sys.stderr, flush=True)
                told[name] = said
        for line in update.lines:
            text = _line_text(line, output, style)
            if text and (app is None or line.get("app") == app):
                sys.stdout.write(text + "\n")
        sys.stdout.flush()  # alert pipelines read line by line

    asyncio.run(_watch(fleet, publish))
    return 0


def _line_text(line: dict[str, Any], output: str, style: Style) -> str:
    """The line as printed: JSON as the agent sent it (with `agent`), or the in-process text line
    marked with its agent; "" for a line of no shape this kubedrift knows."""
    if output == "jsonl":
        return json.dumps(line)
    change = change_from_json(line)
    if change is None or not is_transition(change):
        return ""
    agent = style(f"[{line.get('agent')}]", "dim")
    return f"{change_line(change, style)}  {agent}"


async def _watch(fleet: AgentFleet, publish: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await fleet.run(publish, stop)
    finally:
        await fleet.close()
