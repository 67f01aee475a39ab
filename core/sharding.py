"""Which `kubedrift agent` shard owns which app: a stable hash of the root app's name.

Argo CD spreads clusters over controller replicas by a stable hash; we spread apps the same way.
The hash must give the same answer in every process and every Python version (two agents that
disagree would both act on an app, or neither would), so it is FNV-1a 32-bit over the UTF-8 name,
never the salted built-in `hash()`. A child app is placed by its root app's name, so a family of
apps always lands on one shard together.

When a shard's agent is gone, its apps move to the live shards by rendezvous (highest random
weight) hashing: every agent computes the same winner from the same set of live shards, and when
one more shard dies only that shard's apps move.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.errors import ConfigError

_FNV_OFFSET_BASIS = 0x811C9DC5
_FNV_PRIME = 0x01000193
_UINT32 = 0xFFFFFFFF

SHARDS_ENVIRONMENT_VARIABLE = "KUBEDRIFT_SHARDS"

_SHARD_TEXT = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
# A StatefulSet pod is named `<statefulset>-<ordinal>`; the ordinal is the last dash-separated part.
_STATEFULSET_ORDINAL = re.compile(r"^.+-(\d+)$")


@dataclass(frozen=True)
class Shard:
    """One agent's slice of the apps: shard `index` of `count`, numbered from 0."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard index {self.index} is outside 0..{self.count - 1}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, root_app_name: str) -> bool:
        """Whether this shard's own share (live shards aside) holds the app."""
        return app_shard(root_app_name, self.count) == self.index


def fnv1a_32(text: str) -> int:
    """The FNV-1a 32-bit hash of the text's UTF-8 bytes."""
    value = _FNV_OFFSET_BASIS
    for byte in text.encode("utf-8"):
        value ^= byte
        value = (value * _FNV_PRIME) & _UINT32
    return value


def _avalanche(value: int) -> int:
    """MurmurHash3's 32-bit finalizer: every input bit flips about half of the output bits."""
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & _UINT32
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & _UINT32
    value ^= value >> 16
    return value


def app_shard(root_app_name: str, count: int) -> int:
    """The shard index (0..count-1) that owns the app whose root app has this name."""
    if count < 1:
        raise ValueError(f"a shard count must be at least 1, not {count}")
    return fnv1a_32(root_app_name) % count


def parse_shard(text: str) -> Shard:
    """`"1/3"` -> Shard(1, 3); anything else is one sentence naming `--shard`."""
    match = _SHARD_TEXT.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"--shard {text!r} is not of the form I/N (for example 0/3):"
            " give this agent's shard index and the shard count"
        )
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ConfigError(
            f"--shard {text!r} is out of range: the index I in I/N counts from 0"
            f" and must be below the shard count N (for example 0/{max(count, 1)})"
        )
    return Shard(index, count)


def shard_from_environment(environ: Mapping[str, str]) -> Shard | None:
    """The shard from `KUBEDRIFT_SHARDS=N` and the StatefulSet ordinal in `$HOSTNAME`; None when unsharded.

    Without `KUBEDRIFT_SHARDS` (or with it at 1) the agent watches every app, as a single replica.
    """
    count_text = environ.get(SHARDS_ENVIRONMENT_VARIABLE, "").strip()
    if not count_text:
        return None
    if not count_text.isdigit() or int(count_text) < 1:
        raise ConfigError(
            f"{SHARDS_ENVIRONMENT_VARIABLE}={count_text!r} is not a positive whole number:"
            " set it to the StatefulSet's replica count"
        )
    count = int(count_text)
    if count == 1:
        return Shard(0, 1)
    hostname = environ.get("HOSTNAME", "").strip()
    match = _STATEFULSET_ORDINAL.match(hostname)
    if match is None:
        raise ConfigError(
            f"{SHARDS_ENVIRONMENT_VARIABLE}={count} needs the shard index from a StatefulSet pod name"
            " like kubedrift-3 in $HOSTNAME,"
            f" but $HOSTNAME is {hostname!r}: run the agent in a StatefulSet or pass --shard I/{count}"
        )
    index = int(match.group(1))
    if index >= count:
        raise ConfigError(
            f"$HOSTNAME {hostname!r} has ordinal {index}, outside {SHARDS_ENVIRONMENT_VARIABLE}={count}:"
            f" set {SHARDS_ENVIRONMENT_VARIABLE} to the StatefulSet's replica count"
        )
    return Shard(index, count)


def rendezvous_shard(root_app_name: str, candidate_indexes: Iterable[int]) -> int | None:
    """The candidate shard with the highest rendezvous weight for the app; None without candidates.

    Ties (two different inputs with one 32-bit hash) go to the lower index, so every agent agrees.
    """
    best: tuple[int, int] | None = None
    for index in sorted(set(candidate_indexes)):
        # The index goes first, so that every byte of the name mixes it in; FNV-1a alone lets a last
        # byte change little, so the weights are finished with an avalanche (MurmurHash3's fmix32).
        weight = _avalanche(fnv1a_32(f"{index}:{root_app_name}"))
        if best is None or weight > best[0]:
            best = (weight, index)
    return None if best is None else best[1]


def serving_shard(root_app_name: str, count: int, live_indexes: Iterable[int]) -> int | None:
    """The shard that serves the app now: its own shard while that is live, else a live one by rendezvous.

    None when no shard is live (nobody can serve it).
    """
    live = set(live_indexes)
    own = app_shard(root_app_name, count)
    if own in live:
        return own
    return rendezvous_shard(root_app_name, (index for index in live if 0 <= index < count))
