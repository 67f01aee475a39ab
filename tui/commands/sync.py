"""`kubedrift sync APP [--prune] [--dry-run] [--revision REV] [--yes]`: bring one app back to Git."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.actions import sync_app
from core.audit import append_audit, secret_values
from core.cluster import ReadOnlyError
from core.errors import KubedriftError
from core.model import ResourceAction, ResourceKey, SyncResult, SyncStatus
from tui.commands.report import EXIT_ERROR, EXIT_IN_SYNC
from tui.commands.setup import add_cluster_options, build_engine, load_settings, only_app
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = only_app(load_settings(args), args.app)
    engine = build_engine(args, config)
    runtime = engine.apps[args.app]
    if engine.read_only or (runtime.context is not None and config.is_read_only(runtime.context)):
        raise ReadOnlyError(f"refusing to sync {args.app}: kubedrift is read-only for this cluster")
    (status,) = engine.evaluate()
    cluster = engine.clusters.get(runtime.context or "")
    if cluster is None or cluster.adapter is None or cluster.error is not None:
        raise KubedriftError(status.errors[-1] if status.errors else f"no cluster for app {args.app}")
    desired = runtime.desired if args.revision is None else _at_revision(runtime, args.revision)
    if desired.revision is None:
        raise KubedriftError("; ".join(desired.errors) or f"app {args.app} did not render")
    style = Style()
    plan = _plan(runtime, args.prune, args.revision is not None)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    asked = interactive and not (args.dry_run or args.yes)
    if asked and not _confirm(args.app, desired.revision, plan, style):
        print("Nothing done.")
        return EXIT_IN_SYNC
    result = sync_app(
        cluster.adapter,
        runtime.app,
        desired,
        dict(runtime.reconciler.live),
        prune=args.prune,
        dry_run=args.dry_run,
        progress=_progress_line() if sys.stderr.isatty() else None,
    )
    append_audit(
        result, app=args.app, operation="sync", secret_values=secret_values(desired.objects.values())
    )
    print(_outcomes(result, style))
    return EXIT_ERROR if result.failed else EXIT_IN_SYNC


def _at_revision(runtime: Any, revision: str) -> Any:
    state = runtime.loader.load(revision)
    if state.errors:
        raise KubedriftError(f"cannot sync {runtime.app.name} at {revision}: {'; '.join(state.errors)}")
    return state


def _plan(runtime: Any, prune: bool, other_revision: bool) -> list[tuple[ResourceKey, str]]:
    """What will change, for the confirmation: drifted resources (all of them for another revision)."""
    plan: list[tuple[ResourceKey, str]] = []
    for key, result in sorted(runtime.reconciler.results.items()):
        if result.status is SyncStatus.EXTRANEOUS:
            if prune:
                plan.append((key, "delete"))
        elif result.status in (SyncStatus.OUT_OF_SYNC, SyncStatus.MISSING) or other_revision:
            plan.append((key, "create" if result.status is SyncStatus.MISSING else "apply"))
    return plan


def _confirm(app: str, revision: str, plan: list[tuple[ResourceKey, str]], style: Style) -> bool:
    if not plan:
        print(f"{app} matches revision {revision[:12]}; a sync will re-apply without changes.")
    else:
        print(f"Sync {app} to revision {revision[:12]}:")
        for key, verb in plan:
            print(f"  {style(verb, 'red' if verb == 'delete' else 'yellow')}  {key}")
    answer = input("Proceed? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _progress_line() -> Any:
    def report(done: int, total: int, key: ResourceKey) -> None:
        sys.stderr.write(f"\r\x1b[2K{done}/{total} {key}")
        if done == total:
            sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()

    return report


def _outcomes(result: SyncResult, style: Style) -> str:
    rows = [["RESOURCE", "RESULT", "MESSAGE"]]
    for outcome in result.outcomes:
        rows.append([str(outcome.key), str(outcome.action), outcome.message])
    heading = f"{'Dry run: would sync' if result.dry_run else 'Synced'} revision {result.revision[:12]}"
    failures = sum(1 for o in result.outcomes if o.action is ResourceAction.FAILED)
    footer = style(f"{failures} failed", "red") if failures else ""
    return "\n".join(part for part in (heading, table(rows, style, coloured_columns=(1,)), footer) if part)
