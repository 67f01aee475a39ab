"""The actions of the attached TUI: each is sent to the agent that holds the app.

Sync and prune are confirmed first, with the list of what will change made from the agent's own
verdicts, as in-process; the toggles and refresh go at once. The agent decides: a read-only agent
refuses (403) and one that does not hold the app's Lease refuses too (409); its sentence is the
notification, word for word, and a line in the event log. Nothing is decided here on the agent's
behalf, so an agent whose settings changed is never second-guessed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from core.agent_client import AgentClient, AgentError, AgentRefused
from core.agent_fleet import AgentFleet
from core.redact import redact_text
from core.status_events import rfc3339_now
from tui.remote_view import policy_of, remote_plan
from tui.widgets.status_feed import LogEntry, LogLevel, StatusFeed


class RemoteActions(Widget):
    """Sends sync, prune, the toggles and refresh to the agent holding the app, and reports the answer."""

    DEFAULT_CSS = """
    RemoteActions {
        display: none;
    }
    """

    def __init__(
        self, fleet: AgentFleet, feed: StatusFeed, *, read_only: bool = False, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.fleet = fleet
        self.feed = feed
        self.read_only = read_only
        """Started with --read-only (or `readOnly: true`): sync and the toggles are sent to no agent."""
        self.policies: dict[str, tuple[bool, bool]] = {}
        """(auto-sync, self-heal) of each app as its agent last answered a policy request."""

    # Sync and prune: confirmed, then sent.

    def ask_to_sync(self, app: str, *, prune: bool = False) -> None:
        verb = "sync with prune" if prune else "sync"
        remote = self._reachable(app, verb)
        if remote is None:
            return
        changes = remote_plan(remote, prune=prune)
        if not changes:
            nothing = (
                "in sync and has no leftovers to prune" if prune else "in sync: there is nothing to apply"
            )
            self.notify(f"{app} is {nothing}.", title=verb, timeout=4)
            return
        from tui.screens.confirm import ConfirmScreen

        def confirmed(go: bool | None) -> None:
            if go:
                self.feed.sync_progress[app] = f"{verb} sent to its agent"
                self._send(app, verb, lambda client: client.sync(app, prune=prune), _describe_result)

        self.app.push_screen(ConfirmScreen(app, changes, prune=prune), confirmed)

    # Toggles and refresh: sent at once.

    def toggle_self_heal(self, app: str) -> bool:
        return self._toggle(app, self_heal=True)

    def toggle_auto_sync(self, app: str) -> bool:
        return self._toggle(app, self_heal=False)

    def refresh_app(self, app: str | None = None) -> None:
        """Ask the agent holding `app` (or each agent, for every app it holds) to fetch Git and judge
        again; one request at a time, so a refresh of thousands of apps does not flood the agents."""
        apps = [app] if app is not None else sorted(self.fleet.apps)
        reachable = [name for name in apps if self._reachable(name, "refresh", quiet=app is None) is not None]
        if not reachable:
            return

        async def refresh_each(client: AgentClient) -> None:
            for name in reachable:
                target = self.fleet.client_for(name)
                if target is not None:
                    await target.refresh(name)

        what = f" for {app}" if app is not None else f" for {len(reachable)} apps"
        self.feed.log_entry(
            LogEntry(rfc3339_now(), app or "", f"refresh: asked the agents to judge again{what}")
        )
        self.notify("Asked the agents to fetch Git and judge again…", title="refresh", timeout=3)
        self._send(reachable[0], "refresh", refresh_each, _nothing)

    def _toggle(self, app: str, *, self_heal: bool) -> bool:
        """Send the opposite of the app's policy; False when nothing was sent. The row shows the new
        policy once the agent answers (or its next status says)."""
        doing = "toggle self-heal" if self_heal else "toggle auto-sync"
        remote = self._reachable(app, doing)
        if remote is None:
            return False
        known = self.policies.get(app) or policy_of(remote)  # this session's last answer is the newer

        async def request(client: AgentClient) -> Mapping[str, Any]:
            current = known
            if current is None:  # an agent whose status carries no policy: ask for it, changing nothing
                current = _policy_pair(await client.set_policy(app))
            if self_heal:
                return await client.set_policy(app, self_heal=not current[1])
            return await client.set_policy(app, automated=not current[0])

        def done(answer: Mapping[str, Any]) -> str:
            automated, heal = self.policies[app] = _policy_pair(answer)
            return f"auto-sync {'on' if automated else 'off'}, self-heal {'on' if heal else 'off'}"

        self._send(app, doing, request, done)
        return True

    # Sending, and what came back.

    def _reachable(self, app: str, doing: str, *, quiet: bool = False) -> Mapping[str, Any] | None:
        """The app's status entry, or None after saying why nothing can be sent for it."""
        if self.read_only and doing != "refresh":
            self.notify(
                f"Read-only: {doing} refused for {app}; kubedrift runs read-only, so nothing was sent.",
                title="read-only",
                severity="warning",
            )
            return None
        remote = self.fleet.apps.get(app)
        if remote is None:
            if not quiet:
                self.notify(f"{app} is held by no agent now; nothing was sent.", severity="warning")
            return None
        if not remote.connected:
            if not quiet:
                self.notify(
                    f"{doing} not sent: the agent {remote.agent} holding {app} is disconnected.",
                    title=app,
                    severity="warning",
                )
            return None
        return remote.status

    def _send(
        self,
        app: str,
        doing: str,
        request: Callable[[AgentClient], Awaitable[Any]],
        describe: Callable[[Any], str],
    ) -> None:
        client = self.fleet.client_for(app)
        if client is None:
            return

        async def exchange() -> None:
            try:
                answer = await request(client)
            except AgentRefused as refusal:  # the agent's own sentence, word for word
                self._report(app, refusal.message, LogLevel.WARNING, title=f"{doing} refused")
                return
            except AgentError as error:
                self._report(app, error.message, LogLevel.ERROR, title=app)
                return
            finally:
                self.feed.sync_progress.pop(app, None)
            text = describe(answer)
            if text:
                failed = isinstance(answer, Mapping) and answer.get("ok") is False
                self._report(
                    app, f"{doing}: {text}", LogLevel.ERROR if failed else LogLevel.SUCCESS, title=app
                )
            self.feed.changed([app])

        self.run_worker(exchange(), name=doing, group="agent-action", exit_on_error=False)

    def _report(self, app: str, text: str, level: LogLevel, *, title: str) -> None:
        """An answer as a line of the event log and a notification."""
        text = redact_text(text)
        self.feed.log_entry(LogEntry(rfc3339_now(), app, text, level))
        severity: SeverityLevel = (
            "error" if level is LogLevel.ERROR else "warning" if level is LogLevel.WARNING else "information"
        )
        self.notify(text, title=title, severity=severity, timeout=5 if level is LogLevel.SUCCESS else 10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An action that failed in a way no agent answer explains: one sentence, not a traceback."""
        if event.worker.group != "agent-action" or event.state is not WorkerState.ERROR:
            return
        text = redact_text(f"{event.worker.name} failed unexpectedly: {event.worker.error!r}")
        self.feed.log_entry(LogEntry(rfc3339_now(), "", text, LogLevel.ERROR))
        self.notify(text, title="kubedrift", severity="error", timeout=10)


def _nothing(_: object) -> str:
    return ""


def _policy_pair(answer: Mapping[str, Any]) -> tuple[bool, bool]:
    """(auto-sync, self-heal) from a policy answer (`{"automated": .., "selfHeal": ..}`, maybe nested)."""
    policy = answer.get("policy", answer)
    if not isinstance(policy, Mapping):
        return False, False
    return bool(policy.get("automated")), bool(policy.get("selfHeal"))


def _describe_result(answer: Any) -> str:
    """A sync's result as the agent sent it: its own line (`synced shop to 1a2b3c4: 1 configured`)."""
    if isinstance(answer, Mapping) and isinstance(answer.get("message"), str) and answer["message"]:
        return str(answer["message"])
    failed = isinstance(answer, Mapping) and answer.get("ok") is False
    return "failed" if failed else "done"
