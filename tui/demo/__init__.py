"""`kubedrift demo`: a sandbox cluster, a sample Git repository of three apps, live drift, then the TUI.

Everything runs in this process: no cluster, no kubectl and no network are needed. The steps:
start the sandbox (`lifecycle`), write the repository and kubedrift.yaml (`sample_repo`), sync the
apps so the first screen is green, start the drift thread (`drift_loop`), and open the TUI, or,
headless, print status changes as `kubedrift watch` does (`headless`). Whatever ends it (q,
Ctrl+C, SIGTERM, SIGHUP, an error), the drift stops, the sandbox stops, and the temp folder goes unless
`keep`.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, TextIO

from sandbox.handle import CONTEXT_NAME
from tui.commands.terminal import Style
from tui.demo.drift import DEFAULT_SEED, Drifter
from tui.demo.drift_loop import DriftLoop, drift_interval
from tui.demo.headless import HeadlessLog, watch_headless
from tui.demo.interrupts import stop_signals_as_interrupt
from tui.demo.lifecycle import DemoWorkspace
from tui.demo.sample_repo import DEMO_APPS

if TYPE_CHECKING:
    from tui.settings import TuiSettings

DRIFT_LOG_FILE = "drift.log"

__all__ = ["DEFAULT_SEED", "DemoWorkspace", "run_demo", "tui_settings"]


def run_demo(
    keep: bool,
    *,
    open_tui: bool = True,
    duration: float | None = None,
    drift_seconds: float | None = None,
    seed: int | None = None,
    read_only: bool = False,
    theme: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the demo until the user quits (or `duration` seconds, headless); the exit code.

    `open_tui=False`, or an `out` that is not a terminal, runs headless. `drift_seconds` (else
    $KUBEDRIFT_DEMO_DRIFT_SECONDS, else 20) spaces the drift; 0 turns it off. `seed` (default
    DEFAULT_SEED) makes the drift's choices reproducible.
    """
    out = out or sys.stdout
    interval = drift_interval(drift_seconds)
    log = HeadlessLog(out)
    if open_tui and not out.isatty():
        log.line("kubedrift demo: the output is not a terminal, so the demo runs headless")
        open_tui = False
    with stop_signals_as_interrupt():
        log.line("kubedrift demo: starting a sandbox cluster and writing a sample Git repository ...")
        workspace = DemoWorkspace.create(keep=keep)
        try:
            workspace.sync_all()
            workspace.wait_until_settled()
            _introduce(workspace, log, interval)
            return _run(
                workspace,
                log,
                open_tui=open_tui,
                duration=duration,
                interval=interval,
                seed=DEFAULT_SEED if seed is None else seed,
                read_only=read_only,
                theme=theme,
            )
        finally:
            workspace.close()
            # After SIGHUP or a closed pipe there is no one left to tell, and that is no error.
            with contextlib.suppress(OSError):
                log.line(_farewell(workspace))


def tui_settings(
    workspace: DemoWorkspace, *, read_only: bool = False, theme: str | None = None
) -> TuiSettings:
    """What the TUI needs to show the demo: its config, kubeconfig, banner and a ready engine factory."""
    from tui.settings import TuiSettings

    return TuiSettings(
        config=workspace.config,
        kubeconfig=str(workspace.kubeconfig_path),
        context=CONTEXT_NAME,
        read_only=read_only,
        theme=theme,
        banner=workspace.banner,
        engine_factory=lambda: workspace.engine(read_only=read_only, watch_tree=True),
    )


def _run(
    workspace: DemoWorkspace,
    log: HeadlessLog,
    *,
    open_tui: bool,
    duration: float | None,
    interval: float,
    seed: int,
    read_only: bool,
    theme: str | None,
) -> int:
    drifter = Drifter.for_kubeconfig(workspace.kubeconfig_path, workspace.repo, seed=seed)
    # Under the TUI the screen is the app's: the drift goes to a file the user can read afterwards.
    journal_file = None if not open_tui else (workspace.root / DRIFT_LOG_FILE).open("a", encoding="utf-8")
    journal = log if journal_file is None else HeadlessLog(journal_file, Style(journal_file, colour=False))
    drift = DriftLoop(drifter, interval=interval, on_event=journal.drift, on_error=journal.error)
    drift.start()
    try:
        if open_tui:
            from tui.app import run_tui

            code: int = run_tui(tui_settings(workspace, read_only=read_only, theme=theme))
            return code
        watch_headless(workspace.engine(read_only=read_only, watch_tree=False), log, duration=duration)
        return 0
    except KeyboardInterrupt:
        return 0  # Ctrl+C or SIGTERM is how a demo ends
    finally:
        drift.stop()
        drifter.close()
        if journal_file is not None:
            journal_file.close()


def _introduce(workspace: DemoWorkspace, log: HeadlessLog, interval: float) -> None:
    style = log.style
    log.line(
        f"kubedrift demo: a sandbox cluster at {workspace.sandbox.url}, "
        f"three apps from the Git repository {workspace.repo.root}"
    )
    width = max(len(app.name) for app in DEMO_APPS)
    for app in DEMO_APPS:
        mode = "self-heal" if "selfHeal" in app.sync_policy else "manual sync"
        log.line(f"  {app.name.ljust(width)}  namespace {app.namespace.ljust(width)}  {mode}")
    if interval > 0:
        log.line(f"Something drifts every ~{interval:g} s. To drift it yourself from another terminal:")
    else:
        log.line("Automatic drift is off. To drift it yourself from another terminal:")
    log.line(f"  {style(workspace.export_line, 'bold')}")
    log.line(f"  kubectl -n {DEMO_APPS[0].namespace} scale deploy/web --replicas=5")


def _farewell(workspace: DemoWorkspace) -> str:
    if not workspace.keep:
        return f"kubedrift demo: stopped the sandbox and removed {workspace.root}"
    kept = ["kubedrift.yaml", "kubeconfig"]
    if (workspace.root / DRIFT_LOG_FILE).exists():
        kept.append(f"{DRIFT_LOG_FILE} (what the demo changed)")
    return (
        f"kubedrift demo: stopped the sandbox; kept {workspace.root}: gitops/ (the Git repository), "
        + ", ".join(kept)
    )
