"""`kubedrift demo [--keep] [--headless [--duration S]]`: kubedrift on a sandbox cluster, no setup needed."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="a sandbox cluster, a sample Git repo and live drift, then the TUI",
        description=(
            "Start a sandbox Kubernetes API server in this process, write a Git repository with three "
            "apps, sync them, make drift happen every few tens of seconds, and open the TUI."
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (repo, config, kubeconfig)")
    parser.add_argument(
        "--headless", action="store_true", help="no TUI: print status changes as `kubedrift watch` does"
    )
    parser.add_argument(
        "--duration", type=_seconds, metavar="SECONDS", help="with --headless: stop after this long"
    )
    parser.add_argument(
        "--drift-seconds",
        type=_seconds,
        metavar="SECONDS",
        help="seconds between drifts (default $KUBEDRIFT_DEMO_DRIFT_SECONDS or 20; 0 turns drift off)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the drift's choices (same seed, same drift)"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on-call mode: watch the drift, refuse every action",
    )
    parser.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS, help="TUI theme to start with")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the demo pulls in the sandbox server, which no other command needs.
    from tui.demo import run_demo

    return run_demo(
        args.keep,
        open_tui=not args.headless,
        duration=args.duration,
        drift_seconds=args.drift_seconds,
        seed=args.seed,
        read_only=bool(getattr(args, "read_only", False)),
        theme=getattr(args, "theme", None),
    )


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more seconds")
    return seconds
