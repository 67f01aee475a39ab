"""`kubedrift sync APP [--prune] [--force] [--dry-run] [--revision REV] [--yes]`: bring one app back to Git.

An object another app declares too is skipped, with the reason, unless `--force` takes it over.

The results table is always printed: when the sync ran but its audit line failed, the table
comes first, then the one-sentence audit error on stderr, and the exit code is 2. A sync refused
because the audit file cannot take a line sends nothing and prints only that sentence.

A sync is done only when what it applied is Synced (DESIGN drift rule 7): each applied resource is
judged again, by the same engine, in the object the server answered its apply with. One still
OutOfSync is listed with its changes (and `sync changes nothing` when they are the very changes
it had before), and the exit code is 1; an app with a render error exits 2 and lists the errors.

A sync with hooks or waves prints each phase and wave as it goes (`PreSync: Job/shop/db-migrate
created`, `Sync wave 1: Healthy`), then the results table, whose hooks are rows too; a failed hook,
a wave that turned Degraded, or any failed resource exits 2, after the reason the sync stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from core.audit import AuditWriteError
from core.errors import KubedriftError
from core.model import ResourceAction, SyncResult, revision_label
from core.operations import (
    PlannedChange,
    adapter_for,
    desired_at,
    plan_sync,
    refuse_if_nothing_rendered,
    refuse_if_read_only,
    sync_now,
)
from core.sync_verdict import Leftover
from core.sync_waves import SyncProgress
from tui.commands.report import EXIT_DRIFT, EXIT_ERROR, EXIT_IN_SYNC
from tui.commands.setup import add_cluster_options, build_engine_for_app, load_settings
from tui.commands.terminal import Style, table


def register(commands: Any) -> None:
    parser = commands.add_parser("sync", help="apply an app's Git state to its cluster (server-side apply)")
    add_cluster_options(parser)
    parser.add_argument("app", metavar="APP", help="the app to sync")
    parser.add_argument("--prune", action="store_true", help="also delete tracked objects Git no longer has")
    parser.add_argument(
        "--dry-run", action="store_true", help="ask the server what would change; write nothing"
    )
    parser.add_argument(
        "--revision", metavar="REV", help="sync this branch, tag or commit instead (a rollback)"
    )
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--force",
        action="store_true",
        help="take over objects another app declares too; with --prune, also delete a Namespace "
        "that holds objects the app does not track",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The apps on its cluster come too (detect-only): what they declare is not this sync's to take over.
    engine = build_engine_for_app(args, load_settings(args), args.app)
    refuse_if_read_only(engine, args.app)  # before any request: not even a read reaches the cluster
    engine.evaluate()
    adapter_for(engine, args.app)  # an unusable cluster is one sentence before anything is asked
    desired = desired_at(engine, args.app, args.revision)
    if desired.revision is None:
        raise KubedriftError("; ".join(desired.errors) or f"app {args.app} did not render")
    refuse_if_nothing_rendered(args.app, desired)  # before the prompt: there is nothing to confirm
    style = Style()
    plan = plan_sync(engine.apps[args.app], prune=args.prune, whole_app=args.revision is not None)
    asked = sys.stdin.isatty() and sys.stdout.isatty() and not (args.dry_run or args.yes)
    if asked and not _confirm(args.app, desired.revision, plan, style):
        print("Nothing done.")
        return EXIT_IN_SYNC
    try:
        result = sync_now(
            engine,
            args.app,
            prune=args.prune,
            dry_run=args.dry_run,
            revision=args.revision,
            force=args.force,
            progress=_progress_report(line=sys.stderr.isatty()),
        )
    except AuditWriteError as error:
        print(_outcomes(error.result, style), flush=True)  # what reached the cluster, before the error
        print(f"kubedrift: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(_outcomes(result, style))
    runtime = engine.apps[args.app]
    if result.dry_run:
        return EXIT_ERROR if result.failed else EXIT_IN_SYNC
    runtime.take_sync_verdicts()
    if args.revision is None:
        runtime.keep_sync_marks()  # so that a later `kubedrift check` shows the marking too
    leftovers = _leftovers_text(runtime.leftovers, style)
    if leftovers:
        print(leftovers)
    render_errors = [] if args.revision else list(desired.errors)
    for problem in render_errors:
        print(f"{args.app}: {style('render error', 'red')}: {problem}")
    if result.failed or render_errors:
        return EXIT_ERROR
    return EXIT_DRIFT if runtime.leftovers else EXIT_IN_SYNC


def _leftovers_text(leftovers: tuple[Leftover, ...], style: Style) -> str:
    """Each applied resource still OutOfSync right after the sync, with why and its changes."""
    if not leftovers:
        return ""
    lines = [style(f"{len(leftovers)} still OutOfSync after the sync:", "red")]
    for leftover in leftovers:
        lines.append(f"  {leftover.key}  {style.status('OutOfSync')}  ({leftover.reason})")
        lines.extend(f"    {change.path}" for change in leftover.changes if change.path)
    return "\n".join(lines)


def _confirm(app: str, revision: str, plan: list[PlannedChange], style: Style) -> bool:
    if not plan:
        print(f"{app} matches revision {revision_label(revision)}; a sync will re-apply without changes.")
    else:
        print(f"Sync {app} to revision {revision_label(revision)}:")
        for change in plan:
            print(f"  {style(change.verb, 'red' if change.verb == 'delete' else 'yellow')}  {change.key}")
    answer = input("Proceed? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _progress_report(*, line: bool) -> Callable[[SyncProgress], None]:
    """Each event of a sync with phases or waves as a line on stdout, as it happens; with `line`, a
    progress line on stderr (a terminal) that the events and the end clear."""

    def report(progress: SyncProgress) -> None:
        if progress.event:
            if line:
                sys.stderr.write("\r\x1b[2K")
                sys.stderr.flush()
            print(progress.event, flush=True)
            return
        if not line:
            return
        sys.stderr.write(f"\r\x1b[2K{progress.line} {progress.key or ''}")
        if progress.done == progress.total:
            sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()

    return report


def _outcomes(result: SyncResult, style: Style) -> str:
    rows = [["RESOURCE", "RESULT", "MESSAGE"]]
    for outcome in result.outcomes:
        rows.append([str(outcome.key), str(outcome.action), outcome.message])
    verb = "Dry run: would sync" if result.dry_run else "Synced"
    failures = sum(1 for o in result.outcomes if o.action is ResourceAction.FAILED)
    if failures and not result.dry_run:
        verb = "Sync failed at"
    heading = f"{verb} revision {revision_label(result.revision)}"
    if result.retries:
        heading += f" (after {result.retries} {'retry' if result.retries == 1 else 'retries'})"
    footer = style(f"{failures} failed", "red") if failures else ""
    if result.message and failures:
        footer += f"; stopped at {result.message}"
    return "\n".join(part for part in (heading, table(rows, style, coloured_columns=(1,)), footer) if part)
