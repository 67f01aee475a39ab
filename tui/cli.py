"""The `kubedrift` command line: parse, dispatch, and turn user errors into one sentence.

Each subcommand lives in its own module and is registered here. Errors a user can cause derive
from `core.errors.KubedriftError`; they print as one line on stderr with exit code 2, and only
`--debug` shows a traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import KubedriftError
from tui.commands import check, diff, sync, watch
from tui.commands.setup import add_cluster_options

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubedrift",
        description="Live drift between Git and Kubernetes, explained field by field.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    add_cluster_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (check, diff, sync, watch):
        command.register(commands)

    sandbox = commands.add_parser("sandbox", help="run the local Kubernetes-compatible API server")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    sandbox.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    sandbox.add_argument("--write-kubeconfig", type=Path, metavar="FILE", help="write a kubeconfig for it")
    sandbox.set_defaults(run=_run_sandbox)
    return parser


def _run_sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import run

    return int(run(args.host, args.port, args.write_kubeconfig))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: Command = args.run
    try:
        return command(args)
    except KubedriftError as error:
        if args.debug:
            traceback.print_exc()
        print(f"kubedrift: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kubedrift check | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
