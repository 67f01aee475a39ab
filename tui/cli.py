"""The `kubedrift` command line: parse, dispatch, and turn user errors into one sentence.

Each subcommand lives in its own module and is registered here. With no subcommand kubedrift
opens the TUI; `kubedrift PATH` (an existing folder) opens it on that folder of manifests.
Errors a user can cause derive from `core.errors.KubedriftError`; they print as one line on stderr
with exit code 2, and only `--debug` shows a traceback. Running out of memory is blamed on the input
(exit code 2); any other exception is a bug, printed as one line too (exit code 1).
"""

from __future__ import annotations

import argparse
import gc
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import KubedriftError
from core.redact import redact_text
from tui.commands import agent, attach, check, demo, diff, rollback, sync, watch
from tui.commands.setup import add_cluster_options

EXIT_ERROR = 2
EXIT_BUG = 1
"""What Python itself exits with for an unhandled exception."""

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    return _build_parser()[0]


def _build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser, and the names of its subcommands (for telling a command from a folder)."""
    parser = argparse.ArgumentParser(
        prog="kubedrift",
        description="Live drift between Git and Kubernetes, explained field by field.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    add_cluster_options(parser)
    parser.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS, help="TUI theme to start with")
    parser.set_defaults(run=_run_tui)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (check, diff, sync, watch, demo, rollback, agent, attach):
        command.register(commands)

    sandbox = commands.add_parser("sandbox", help="run the local Kubernetes-compatible API server")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    sandbox.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    sandbox.add_argument("--write-kubeconfig", type=Path, metavar="FILE", help="write a kubeconfig for it")
    sandbox.set_defaults(run=_run_sandbox)
    return parser, list(commands.choices)


def _run_tui(args: argparse.Namespace) -> int:
    # Imported here, so the headless commands never pay for loading Textual.
    from tui.app import run_tui
    from tui.commands.setup import load_settings
    from tui.settings import TuiSettings

    # What is imported by now lives as long as the process: frozen, the collector's full passes
    # (several during start-up, while config, rows and widgets are built) no longer walk it.
    gc.freeze()
    settings = TuiSettings(
        load_settings(args),
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        read_only=bool(getattr(args, "read_only", False)),
        theme=getattr(args, "theme", None),
    )
    return run_tui(settings)


# Top-level options that take a value, so the scan for `kubedrift PATH` can step over their values.
_VALUE_OPTIONS = frozenset({"--config", "--kubeconfig", "--context", "--theme"})


def split_folder_argument(argv: Sequence[str], commands: Sequence[str]) -> tuple[list[str], str | None]:
    """`kubedrift [options] PATH`: the arguments without PATH, and PATH (None when a command is given).

    argparse cannot hold a positional beside subcommands, so the first positional that is not a
    command and names an existing path is taken out here; anything else is left for argparse to
    report (a mistyped command gets its "invalid choice" message).
    """
    args = list(argv)
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            index += 1
            break
        if token.startswith("-"):
            index += 2 if token in _VALUE_OPTIONS else 1
            continue
        break
    if index >= len(args) or args[index] in commands or not Path(args[index]).expanduser().exists():
        return args, None
    folder = args.pop(index)
    if index > 0 and args[index - 1] == "--":
        args.pop(index - 1)
    return args, folder


def _run_sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import run

    return int(run(args.host, args.port, args.write_kubeconfig))


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = _build_parser()
    arguments, folder = split_folder_argument(sys.argv[1:] if argv is None else argv, commands)
    args = parser.parse_args(arguments)
    if folder is not None:
        args.path = folder
    command: Command = args.run
    try:
        return command(args)
    except KubedriftError as error:
        if args.debug:
            _print_traceback()
        print(f"kubedrift: {redact_text(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kubedrift check | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    except MemoryError:
        # Memory the failed allocation wanted is free again once the stack has unwound, so printing works.
        if args.debug:
            _print_traceback()
        print(
            "kubedrift: ran out of memory: the input is too large (a manifest, setting or cluster far "
            "bigger than kubedrift can hold); run again with --debug to see where, and make it smaller",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except Exception as error:
        # A bug: one sentence, never with a credential in it; --debug adds the traceback to report.
        if args.debug:
            _print_traceback()
        print(f"kubedrift: {unexpected_error_sentence(error)}", file=sys.stderr)
        return EXIT_BUG


def unexpected_error_sentence(error: Exception) -> str:
    """A bug as one redacted line: the exception's type and first 300 characters, and what to do."""
    said = " ".join(redact_text(str(error)).split())
    said = said if len(said) <= 300 else said[:297] + "..."
    what = f"{type(error).__name__}: {said}" if said else type(error).__name__
    return (
        f"unexpected error ({what}); this is a bug in kubedrift: run again with --debug "
        "for the traceback and report it"
    )


def _print_traceback() -> None:
    """The current exception's traceback on stderr, with every URL in it redacted.

    Chained causes print too, and GitPython's errors quote the git command line and git's stderr,
    which mask a URL's user info but not a token in its query (`?private_token=...`).
    """
    print(redact_text(traceback.format_exc()), end="", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
