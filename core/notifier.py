"""The live engine's notifications: the triggers (core.notifications) fed from its publish path, and
the sender (core.webhook_sender) on its loop. Runs wherever the live engine runs: `kubedrift watch`,
the TUI.

Sync results are not status changes: each app's `last_sync` is looked at after every published
batch, and once a second besides, since a sync that failed to apply anything changes nothing in
the cluster, so no batch would follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from core.app_of_apps import root_of
from core.notification_config import Trigger, WebhookConfig, resolve_webhook
from core.notifications import Notification, NotificationTriggers
from core.status_events import ChildAppChange, StatusChange, rfc3339_now
from core.webhook_sender import SenderSettings, Warn, WebhookSender

if TYPE_CHECKING:
    from core.runtime import AppRuntime

SYNC_LOOK_SECONDS: Final = 1.0
Publish = Callable[[list[StatusChange]], None]


def warn_on_stderr(message: str) -> None:
    """The default for warnings: one line on stderr, as every other kubedrift message."""
    print(f"kubedrift: {message}", file=sys.stderr, flush=True)


class Notifier:
    """Notifications for one run of the live engine."""

    def __init__(
        self,
        hooks: Sequence[WebhookConfig],
        apps: Mapping[str, AppRuntime],
        *,
        warn: Warn = warn_on_stderr,
        environ: Mapping[str, str] | None = None,
        settings: SenderSettings | None = None,
        only: str | None = None,
    ) -> None:
        """Reads every hook's secret references now: a missing one is one ConfigError, at start.

        `only` (`watch --app`) keeps the notifications to that app and its child apps: the neighbours
        the engine also watches, to tell what they declare, are not what was asked about."""
        environment = os.environ if environ is None else environ
        self._apps = apps
        self._only = only
        self._warn = warn
        self.triggers = NotificationTriggers()
        self.sender = WebhookSender([resolve_webhook(hook, environment) for hook in hooks], warn, settings)
        self._look: asyncio.Task[None] | None = None
        self._wants_sync_results = any(Trigger.SYNC_FAILED in hook.triggers for hook in hooks)

    def start(self) -> None:
        """Start sending, and looking at sync results, on the running loop."""
        self.sender.start()
        if self._wants_sync_results:
            self._look = asyncio.create_task(self._look_at_syncs())

    def wrap(self, publish: Publish) -> Publish:
        """`publish`, then the notifications what it was given fires; never raises into the engine."""

        def publish_and_notify(changes: list[StatusChange]) -> None:
            publish(changes)
            try:
                self.observe(changes)
            except Exception as error:  # a notification bug must never stop the engine
                self._warn(
                    f"a notification could not be made ({type(error).__name__}); this is a bug in kubedrift"
                )

        return publish_and_notify

    def observe(self, changes: Sequence[StatusChange]) -> None:
        revisions = {change.app: self._revision(change.app) for change in changes}
        gone = [c.app for c in changes if isinstance(c, ChildAppChange) and c.change == "removed"]
        self.triggers.forget(gone)
        self._submit(self.triggers.changes(changes, revisions))
        self.look_at_syncs()

    def look_at_syncs(self) -> None:
        if not self._wants_sync_results:
            return
        now = rfc3339_now()
        for name, runtime in list(self._apps.items()):
            self._submit(self.triggers.sync_finished(name, runtime.last_sync, now))

    def _submit(self, notifications: list[Notification]) -> None:
        if self._only is not None:
            parents = {name: runtime.app.parent for name, runtime in self._apps.items()}
            notifications = [n for n in notifications if root_of(n.app, parents) == self._only]
        self.sender.submit(notifications)

    async def _look_at_syncs(self) -> None:
        while True:
            await asyncio.sleep(SYNC_LOOK_SECONDS)
            self.look_at_syncs()

    def _revision(self, app: str) -> str | None:
        runtime = self._apps.get(app)
        return None if runtime is None else runtime.desired.revision

    async def close(self) -> None:
        """Stop looking, and give what is queued a few seconds to go out."""
        if self._look is not None:
            self._look.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._look
        await self.sender.close()
