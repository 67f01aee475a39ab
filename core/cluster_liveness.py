"""How the live engine keeps knowing a cluster: reconnect pacing, watch idleness, and lost state.

- A cluster that cannot be reached is retried with jittered exponential backoff, from start-up on.
- A watch that carries no byte for `watch_idle` seconds is dropped and resumed: a dead connection
  without a FIN (a NAT entry gone, packets dropped) would otherwise hang until its read timeout.
- A kind the cluster does not serve is looked for again every `kind_retry` seconds, so a CRD
  applied later is picked up.
- A server whose resourceVersion went backwards restarted without its state (a fresh etcd, a
  restored backup): what is cached is no longer what is there, and acting on it automatically
  could recreate or prune a whole cluster. Automation stops on it until a person syncs.

Pure values and functions; the engine and the kind watches hold the state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

WATCH_IDLE_SECONDS: Final = 45.0
WATCH_TIMEOUT_SECONDS: Final = 290
VANISHED_MINIMUM: Final = 3
"""A relist after an error that finds none of at least this many cached objects means lost state."""


@dataclass(frozen=True, slots=True)
class Liveness:
    """The live engine's timings; tests shrink them so each scenario runs in seconds."""

    connect_initial: float = 1.0
    """First wait before retrying a cluster that could not be reached; it doubles on each failure."""
    connect_max: float = 30.0
    """The longest wait between two connection attempts."""
    kind_retry: float = 10.0
    """How often kinds the cluster did not serve (a CRD not yet applied) are looked for again."""
    watch_idle: float = WATCH_IDLE_SECONDS
    """A watch that receives nothing for this long is dropped and resumed from its last version."""
    watch_timeout: int = WATCH_TIMEOUT_SECONDS
    """The server-side timeout of one watch request; the watch resumes from its last version after it."""


def backoff(failures: int, initial: float, cap: float) -> float:
    """The wait after `failures` failed attempts in a row: `initial` doubling to `cap`, jittered so
    many clients (or many watches) do not retry in lockstep."""
    return float(min(cap, initial * 2 ** min(max(failures, 1) - 1, 16)) * random.uniform(0.5, 1.0))


def went_back(newest: int | None, version: str) -> bool:
    """Whether a server's resourceVersion `version` is older than the newest one seen from it.

    resourceVersions are opaque by contract, but every real server (etcd's revision) and the
    sandbox count up; anything that is not a number is never judged.
    """
    return newest is not None and version.isdigit() and int(version) < newest


def as_version_number(version: str) -> int | None:
    return int(version) if version.isdigit() else None


def unusable(context: str | None) -> str:
    """The reason every resource of an unusable cluster shows; the app's error says why, once."""
    which = f"the cluster of context {context!r}" if context else "the app's cluster"
    return f"not judged: {which} cannot be used; the app's error says why"


def lost_by_version(context: str, before: int, after: str) -> str:
    return (
        f"cluster {context} restarted and lost its state (resourceVersion went back from {before} to {after})"
    )


def lost_by_relist(context: str, kind: str, count: int) -> str:
    return (
        f"cluster {context} seems to have lost its state (a relist after an error found none of the "
        f"{count} {kind} objects it held)"
    )


def lost_consequence(read_only: bool) -> str:
    """What kubedrift does about a lost state, to end the sentence that reports it."""
    if read_only:
        return "kubedrift is read-only there, so it shows what the cluster holds now and changes nothing"
    return "automation is paused on it until a person syncs an app there"
