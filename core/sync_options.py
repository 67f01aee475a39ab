"""Argo CD's sync options, its retry policy and its managed namespace metadata, as typed values.

Options come from an app's `syncPolicy.syncOptions` list and from the per-resource annotation
`argocd.argoproj.io/sync-options` (comma-separated, blanks trimmed), with Argo CD's names and
meanings. A resource's annotation wins over the app's list, option by option, as in Argo CD.

Every option Argo CD documents is known here, so a real Application reads without error. Most
change what a sync does (see `SyncOptions`); a few describe what kubedrift always does
(`ServerSideApply`, `RespectIgnoreDifferences`) or concern deleting a whole app, which kubedrift
never does (`Delete`): they are accepted and change nothing. Anything else is one clear error naming
where it was written, since a misspelt option silently ignored is a sync that does the wrong thing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

SYNC_OPTIONS_ANNOTATION: Final = "argocd.argoproj.io/sync-options"


class OptionScope(Enum):
    """Where an option may be written: only in the app's list, or also on a resource."""

    APP = "app"
    ANY = "any"


@dataclass(frozen=True, slots=True)
class _Known:
    values: tuple[str, ...]
    scope: OptionScope


_BOOLEAN: Final = ("true", "false")
KNOWN_OPTIONS: Final[Mapping[str, _Known]] = {
    "CreateNamespace": _Known(_BOOLEAN, OptionScope.APP),
    "Prune": _Known(("true", "false", "confirm"), OptionScope.ANY),
    "PruneLast": _Known(_BOOLEAN, OptionScope.ANY),
    "PrunePropagationPolicy": _Known(("foreground", "background", "orphan"), OptionScope.APP),
    "ApplyOutOfSyncOnly": _Known(_BOOLEAN, OptionScope.APP),
    "Replace": _Known(_BOOLEAN, OptionScope.ANY),
    "Force": _Known(_BOOLEAN, OptionScope.ANY),
    "Validate": _Known(_BOOLEAN, OptionScope.ANY),
    "SkipDryRunOnMissingResource": _Known(_BOOLEAN, OptionScope.ANY),
    "FailOnSharedResource": _Known(_BOOLEAN, OptionScope.APP),
    "ClientSideApplyMigration": _Known(_BOOLEAN, OptionScope.APP),
    # What kubedrift always does (server-side apply; ignoreDifferences kept on sync), and app deletion.
    "ServerSideApply": _Known(_BOOLEAN, OptionScope.ANY),
    "RespectIgnoreDifferences": _Known(_BOOLEAN, OptionScope.APP),
    "Delete": _Known(("true", "false", "confirm"), OptionScope.ANY),
}
"""Argo CD's sync options (docs `user-guide/sync-options.md`, gitops-engine `pkg/sync/common`)."""

_PROPAGATION: Final = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}


class SyncOptionError(ValueError):
    """An option kubedrift does not know, or a value the option does not take; the message says
    which, and what is accepted. The caller adds where it was written."""


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """The options in force, `Name -> value` as written (`Prune -> "false"`); an absent option has
    Argo CD's default."""

    values: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        for option, value in reversed(self.values):
            if option == name:
                return value
        return None

    def _true(self, name: str) -> bool:
        return self.get(name) == "true"

    def overridden_by(self, other: SyncOptions) -> SyncOptions:
        """These options with `other`'s (a resource's annotation) winning where both say something."""
        return SyncOptions(self.values + other.values) if other.values else self

    @property
    def create_namespace(self) -> bool:
        return self._true("CreateNamespace")

    @property
    def prune_disabled(self) -> bool:
        """`Prune=false`: never pruned, shown as kept."""
        return self.get("Prune") == "false"

    @property
    def prune_needs_confirmation(self) -> bool:
        return self.get("Prune") == "confirm"

    @property
    def prune_last(self) -> bool:
        return self._true("PruneLast")

    @property
    def prune_propagation(self) -> str:
        """The deletion propagation a prune uses: Argo CD's default is foreground."""
        return _PROPAGATION.get(self.get("PrunePropagationPolicy") or "", "Foreground")

    @property
    def apply_out_of_sync_only(self) -> bool:
        return self._true("ApplyOutOfSyncOnly")

    @property
    def replace(self) -> bool:
        return self._true("Replace")

    @property
    def force(self) -> bool:
        return self._true("Force")

    @property
    def validate(self) -> bool:
        return self.get("Validate") != "false"

    @property
    def skip_dry_run_on_missing_resource(self) -> bool:
        return self._true("SkipDryRunOnMissingResource")

    @property
    def fail_on_shared_resource(self) -> bool:
        return self._true("FailOnSharedResource")

    @property
    def client_side_apply_migration(self) -> bool:
        return self.get("ClientSideApplyMigration") != "false"

    def __str__(self) -> str:
        return ",".join(f"{name}={value}" for name, value in self.values)


NO_SYNC_OPTIONS: Final = SyncOptions()


def parse_sync_options(items: Iterable[str], *, scope: OptionScope) -> SyncOptions:
    """The options `items` name (`CreateNamespace=true`, ...); SyncOptionError for the first one
    kubedrift does not know, or one that cannot be written where `scope` says."""
    values: list[tuple[str, str]] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        name, equals, value = text.partition("=")
        name, value = name.strip(), value.strip()
        known = KNOWN_OPTIONS.get(name)
        if known is None or not equals:
            raise SyncOptionError(f"unknown sync option {text!r}{_did_you_mean(name, value)}")
        if value not in known.values:
            allowed = " or ".join(f"{name}={allowed}" for allowed in known.values)
            raise SyncOptionError(f"sync option {text!r} takes {allowed}")
        if scope is OptionScope.ANY and known.scope is OptionScope.APP:
            raise SyncOptionError(
                f"sync option {text!r} is an app option: write it in the app's syncPolicy.syncOptions, "
                "not on a resource"
            )
        values.append((name, value))
    return SyncOptions(tuple(values))


def annotation_sync_options(obj: Mapping[str, Any]) -> SyncOptions:
    """The options a manifest's `argocd.argoproj.io/sync-options` annotation sets; SyncOptionError
    when it names one kubedrift does not know."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, Mapping):
        return NO_SYNC_OPTIONS
    text = annotations.get(SYNC_OPTIONS_ANNOTATION)
    if not isinstance(text, str) or not text.strip():
        return NO_SYNC_OPTIONS
    return parse_sync_options(text.split(","), scope=OptionScope.ANY)


def sync_options_problem(obj: Mapping[str, Any]) -> str | None:
    """What is wrong with a manifest's sync-options annotation, for its render error; None when fine."""
    try:
        annotation_sync_options(obj)
    except SyncOptionError as error:
        return f"{error} in its annotation {SYNC_OPTIONS_ANNOTATION}"
    return None


def _did_you_mean(name: str, value: str) -> str:
    close = difflib.get_close_matches(name, KNOWN_OPTIONS, n=1, cutoff=0.6)
    if not close:
        close = [known for known in KNOWN_OPTIONS if known.lower() == name.lower()]
    if close:
        suggestion = close[0]
        values = KNOWN_OPTIONS[suggestion].values
        shown = value if value in values else values[0]
        return f"; did you mean {suggestion}={shown}?"
    return f"; Argo CD's options are {', '.join(sorted(KNOWN_OPTIONS))}"


# Retry.

DEFAULT_RETRY_SECONDS: Final = 5.0
DEFAULT_RETRY_FACTOR: Final = 2
DEFAULT_RETRY_MAX_SECONDS: Final = 180.0
"""Argo CD's defaults for a `retry` without `backoff` (`application_defaults.go`): 5 s, doubling,
at most 3 min."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`syncPolicy.retry`: how often a failed sync is tried again, and how long it waits before each."""

    limit: int = 0
    """How many retries after the first attempt; -1 (any negative) retries without end, 0 never."""
    duration: float = DEFAULT_RETRY_SECONDS
    factor: int = DEFAULT_RETRY_FACTOR
    max_duration: float = DEFAULT_RETRY_MAX_SECONDS

    def allows(self, retries_done: int) -> bool:
        return self.limit < 0 or retries_done < self.limit

    def delay(self, retries_done: int) -> float:
        """Seconds to wait before retry number `retries_done + 1`: duration * factor^retries_done, capped
        at max_duration (Argo CD's `NextRetryAt`)."""
        wait = self.duration * float(self.factor) ** retries_done
        return min(wait, self.max_duration) if self.max_duration > 0 else wait


_GO_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in an Argo CD backoff duration: a bare integer is seconds, else a Go duration
    (`5s`, `2m`, `1h30m`, `500ms`); ValueError for anything else."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        seconds = float(int(text))
    else:
        parts = _GO_DURATION.findall(text)
        if not text or "".join(number + unit for number, unit in parts) != text:
            raise ValueError(
                f"{text!r} is not a duration; write seconds (30) or a duration such as 5s, 2m or 1h"
            )
        seconds = sum(float(number) * _GO_UNITS[unit] for number, unit in parts)
    if seconds < 0:
        raise ValueError(f"{text!r} is negative; a backoff waits zero seconds or more")
    return seconds


# Managed namespace metadata.


@dataclass(frozen=True, slots=True)
class ManagedNamespaceMetadata:
    """`syncPolicy.managedNamespaceMetadata`: labels and annotations for the namespace `CreateNamespace=true`
    creates (and keeps on it at each sync)."""

    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
