"""`kubedrift rollback APP [--revert] [--yes]`: sync an app back to its last good revision.

The good revision is the one automated rollback keeps for the app (core.rollback_book): the
revision of the rollback in force, else the newest good revision other than Git's; when kubedrift
never watched the app, the newest other revision a whole sync applied without a failure, per the
audit file. The sync is one audited `rollback` sync, as an automated rollback's.

Without `--revert` the app is then pinned at that revision, exactly as after an automated rollback:
a running kubedrift neither auto-syncs nor self-heals it until Git moves past the revision it was
rolled back from. With `--revert` (a local repository only) kubedrift first commits the app's folder
as it was at the good revision (core.git_revert), then syncs that new commit: Git and the cluster
agree again and nothing needs pinning. Read-only mode refuses both before anything is read or sent.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.audit import AuditWriteError, append_audit_record, current_user, read_audit
from core.errors import KubedriftError
from core.git_revert import revert_app_path
from core.model import ResourceAction, SyncResult
from core.operations import adapter_for, read_only_reason_for, sync_now
from core.redact import redact_url
from core.rollback import RolledBack, Step, rollback_target, short, step_record, timestamp
from core.rollback_book import RollbackBook
from core.status_events import RollbackEvent
from tui.commands.report import EXIT_ERROR, EXIT_IN_SYNC
from tui.commands.setup import add_cluster_options, build_engine, load_settings, only_app
from tui.commands.terminal import Style, table


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "rollback", help="sync an app back to its last good revision; --revert commits a revert"
    )
    add_cluster_options(parser)
    parser.add_argument("app", metavar="APP", help="the app to roll back")
    parser.add_argument(
        "--revert",
        action="store_true",
        help="in a local repository, first commit the app's folder as it was at that revision",
    )
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = only_app(load_settings(args), args.app)
    engine = build_engine(args, config)
    reason = read_only_reason_for(engine, args.app)
    if reason is not None:  # before any request: not even a read reaches the cluster
        raise KubedriftError(f"refusing to roll back {args.app}: {reason}; nothing was sent to the cluster")
    if args.revert:
        _refuse_revert_of_remote(engine, args.app)
    engine.evaluate()
    adapter_for(engine, args.app)  # an unusable cluster is one sentence before anything is asked
    runtime = engine.apps[args.app]
    current = runtime.desired.revision
    if current is None:
        raise KubedriftError("; ".join(runtime.desired.errors) or f"app {args.app} did not render")
    if current.startswith("folder:"):
        raise KubedriftError(
            f"cannot roll back {args.app}: it is read from a working tree, which has no earlier "
            "revision; give it a targetRevision"
        )
    book = RollbackBook()
    good = rollback_target(args.app, book.state(args.app), current, read_audit())
    if good is None:
        raise KubedriftError(
            f"no earlier good revision of {args.app} is known (no rollback history and no earlier sync "
            f"in the audit file); choose one with `kubedrift sync {args.app} --revision REV`"
        )
    style = Style()
    asked = sys.stdin.isatty() and sys.stdout.isatty() and not args.yes
    if asked and not _confirm(args.app, current, good, revert=args.revert):
        print("Nothing done.")
        return EXIT_IN_SYNC
    target = good
    if args.revert:
        loader = runtime.loader
        repository = loader.source.repository if loader is not None else None
        if loader is None or repository is None:
            raise KubedriftError(f"cannot commit a revert for {args.app}: its source is not a Git repository")
        commit = revert_app_path(
            repository,
            app=args.app,
            root=loader.source.root,
            target_revision=runtime.app.source.target_revision,
            good=good,
        )
        print(f"Committed {short(commit.sha)}: {args.app} as at {short(good)}, undoing:")
        for sha, subject in commit.undone:
            print(f"  {short(sha)} {subject}")
        target = commit.sha
    try:
        result = sync_now(engine, args.app, revision=target, operation="rollback")
    except AuditWriteError as error:
        print(_outcomes(error.result, style), flush=True)  # what reached the cluster, before the error
        print(f"kubedrift: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(_outcomes(result, style))
    if result.failed:
        return EXIT_ERROR
    how = (
        f"with the revert commit {short(target)}"
        if args.revert
        else f"pinned until Git moves past {short(current)}"
    )
    message = f"rolled back by hand to {short(good)}, {how}"
    event = RollbackEvent(timestamp(book.clock()), args.app, str(Step.ROLLED_BACK), current, message, good)
    append_audit_record(step_record(event, current_user()))
    if args.revert:
        book.release(args.app)  # Git moved past the bad revision: nothing to pin
    else:
        book.pin(args.app, RolledBack(current, good, f"kubedrift rollback by {current_user()}"))
        print(
            f"{args.app}: RolledBack: {short(current)} -> {short(good)}; auto-sync and self-heal leave it "
            f"there until Git moves past {short(current)} (`kubedrift rollback {args.app} --revert` "
            "moves it)"
        )
    return EXIT_IN_SYNC


def _refuse_revert_of_remote(engine: Any, app: str) -> None:
    from core.git_remote import is_remote_url

    source = engine.apps[app].app.source
    if source.options.chart or source.options.oci_artifact is not None or is_remote_url(source.repo_url):
        raise KubedriftError(
            f"cannot commit a revert for {app}: its source {redact_url(source.repo_url)} is not a local Git "
            "repository; revert in a clone and push, or run `kubedrift rollback` without --revert"
        )


def _confirm(app: str, current: str, good: str, *, revert: bool) -> bool:
    how = "commit a revert of its folder and sync it" if revert else "sync it back and pin it there"
    print(f"Roll {app} back from {short(current)} to {short(good)}: {how}.")
    answer = input("Proceed? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _outcomes(result: SyncResult, style: Style) -> str:
    rows = [["RESOURCE", "RESULT", "MESSAGE"]]
    rows += [[str(outcome.key), str(outcome.action), outcome.message] for outcome in result.outcomes]
    failures = sum(1 for outcome in result.outcomes if outcome.action is ResourceAction.FAILED)
    footer = style(f"{failures} failed", "red") if failures else ""
    heading = f"Rolled back to revision {short(result.revision)}"
    return "\n".join(part for part in (heading, table(rows, style, coloured_columns=(1,)), footer) if part)
