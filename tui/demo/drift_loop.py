"""The demo's background drift: a thread that calls the Drifter every few tens of seconds.

The first step is always a manual scale of the shop's Deployment, half an interval in: a newcomer
sees the most readable drift (`/spec/replicas: 2 -> N`) within the first minute, on an app that
does not heal it, so it can be opened and synced. After that the steps are random (seeded), the
waits jittered. A failing step is reported and the loop goes on: the demo must never die of it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Final

import urllib3
from git.exc import GitError
from kubernetes.client.exceptions import ApiException

from core.errors import KubedriftError
from tui.demo.drift import Drifter, DriftEvent, DriftKind
from tui.demo.sample_repo import SHOP

DEFAULT_INTERVAL_SECONDS: Final = 20.0
INTERVAL_ENV_VAR: Final = "KUBEDRIFT_DEMO_DRIFT_SECONDS"
JITTER: Final = 0.4
"""Each wait is the interval times a random factor within 1 ± JITTER."""
FIRST_STEP: Final = (DriftKind.SCALE, SHOP.name)


def drift_interval(explicit: float | None, environ: Mapping[str, str] | None = None) -> float:
    """Seconds between drifts: `explicit`, else $KUBEDRIFT_DEMO_DRIFT_SECONDS, else 20; 0 turns drift off."""
    if explicit is not None:
        seconds = explicit
    else:
        text = (os.environ if environ is None else environ).get(INTERVAL_ENV_VAR, "").strip()
        if not text:
            return DEFAULT_INTERVAL_SECONDS
        try:
            seconds = float(text)
        except ValueError:
            raise KubedriftError(
                f"{INTERVAL_ENV_VAR}={text!r} is not a number of seconds: "
                "set it to e.g. 20, or to 0 for no drift"
            ) from None
    if seconds < 0 or seconds != seconds:  # NaN compares unequal to itself
        raise KubedriftError(f"the drift interval must be 0 or more seconds, not {seconds}")
    return seconds


class DriftLoop:
    """Runs `drifter` on its own thread until `stop()`; reports each step through the callbacks."""

    def __init__(
        self,
        drifter: Drifter,
        *,
        interval: float,
        on_event: Callable[[DriftEvent], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.drifter = drifter
        self.interval = interval
        self.on_event = on_event
        self.on_error = on_error
        self.steps = 0
        """Drift steps made so far."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubedrift-demo-drift", daemon=True)

    def start(self) -> DriftLoop:
        if self.interval > 0:
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the step in progress, if any; safe to call twice or before start."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._stop.wait(self.interval / 2):
            return
        self._step(lambda: self.drifter.perform(*FIRST_STEP))
        while not self._stop.wait(self._next_wait()):
            self._step(self.drifter.random_step)

    def _next_wait(self) -> float:
        return self.interval * self.drifter.random.uniform(1 - JITTER, 1 + JITTER)

    def _step(self, step: Callable[[], DriftEvent | None]) -> None:
        try:
            event = step()
        except (KubedriftError, ApiException, urllib3.exceptions.HTTPError, GitError, OSError) as error:
            if not self._stop.is_set():
                self.on_error(f"demo drift step failed: {_reason(error)}")
            return
        if event is not None:
            self.steps += 1
            self.on_event(event)


def _reason(error: BaseException) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return str(error) or type(error).__name__
