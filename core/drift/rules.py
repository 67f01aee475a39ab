"""The static knowledge the drift comparator needs, compiled once: merge keys, ignored paths, quantities.

Everything here is decided per field name (and the name of the field that holds it) so the hot
comparison loop does dictionary look-ups and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    IgnoreDifference,
    ResourceKey,
)


class _IgnoreAll:
    """Marks a node of an ignore trie whose whole subtree is ignored."""

    def __repr__(self) -> str:
        return "IGNORE_ALL"


IGNORE_ALL: Final = _IgnoreAll()

IgnoreTrie = Mapping[str, Any]
"""Nested mapping of path segments; a value of IGNORE_ALL ends the walk."""

# Lists of objects merged by key, as strategic merge and server-side apply merge them. The key is
# the field name; `ports` is keyed only where the API types give it a merge key (containers and the
# Service spec), other `ports` lists (NetworkPolicy) are atomic.
MERGE_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": ("name",),
}
PORT_LIST_OWNERS: Final = frozenset({"containers", "initContainers", "ephemeralContainers", "spec"})
# Port protocols default to TCP on the server, so a desired port without one matches a live TCP port.
DEFAULT_PROTOCOL: Final = "TCP"

# Lists of scalars that behave as sets (`v:` entries in managedFields): others may add elements.
SET_LISTS: Final = frozenset({"finalizers"})

# Maps whose values are resource quantities, compared by value.
QUANTITY_MAPS: Final = frozenset({"requests", "limits", "capacity", "hard", "overhead", "allocatable"})
QUANTITY_FIELDS: Final = frozenset({"sizeLimit"})

# Non-pointer fields that the API server drops when they hold their zero value (Go `omitempty`),
# so a desired `false` or `0` there reads back as absent. Pointer fields such as
# `automountServiceAccountToken` keep an explicit `false` and are deliberately not listed.
OMITTED_WHEN_ZERO: Final = frozenset(
    {
        "readOnly",
        "stdin",
        "stdinOnce",
        "tty",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "hostUsers",
        "initialDelaySeconds",
        "paused",
        "minReadySeconds",
        "externalTrafficPolicy",
        "publishNotReadyAddresses",
        "allowVolumeExpansion",
        "optional",
    }
)

# Never compared: identity, status, and what the server or kubedrift itself writes.
_BASE_IGNORED_POINTERS: Final = (
    "/apiVersion",
    "/kind",
    "/status",
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/generateName",
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/creationTimestamp",
    "/metadata/deletionTimestamp",
    "/metadata/deletionGracePeriodSeconds",
    "/metadata/managedFields",
    "/metadata/selfLink",
    "/metadata/ownerReferences",
    "/metadata/labels/" + TRACKING_LABEL.replace("/", "~1"),
    "/metadata/annotations/" + TRACKING_ANNOTATION.replace("/", "~1"),
    "/metadata/annotations/" + ARGOCD_TRACKING_ANNOTATION.replace("/", "~1"),
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
)


def pointer_segments(pointer: str) -> tuple[str, ...]:
    """The unescaped segments of an RFC 6901 pointer (`/a~1b/c` -> ("a/b", "c"))."""
    if pointer in ("", "/"):
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))


def escape_segment(segment: str) -> str:
    """One segment escaped for an RFC 6901 pointer."""
    if "~" in segment or "/" in segment:
        return segment.replace("~", "~0").replace("/", "~1")
    return segment


def compile_ignore_trie(pointers: Iterable[str]) -> IgnoreTrie:
    """A trie of path segments from JSON pointers; a pointer covers the whole subtree it names."""
    root: dict[str, Any] = {}
    for pointer in pointers:
        segments = pointer_segments(pointer)
        if not segments:
            continue
        node = root
        for segment in segments[:-1]:
            child = node.get(segment)
            if child is IGNORE_ALL:
                break
            if child is None:
                child = node[segment] = {}
            node = child
        else:
            node[segments[-1]] = IGNORE_ALL
    return MappingProxyType(root)


BASE_IGNORE_TRIE: Final = compile_ignore_trie(_BASE_IGNORED_POINTERS)


@dataclass(frozen=True, slots=True)
class DiffRules:
    """What the comparator needs to know about one resource beyond the two objects."""

    ignore: IgnoreTrie = field(default_factory=lambda: BASE_IGNORE_TRIE)
    secret: bool = False
    """Secret data is compared but never shown."""


DEFAULT_RULES: Final = DiffRules()
SECRET_RULES: Final = DiffRules(secret=True)


def rules_for(key: ResourceKey, ignore_differences: tuple[IgnoreDifference, ...] = ()) -> DiffRules:
    """The compiled rules for one resource of an app; cached, since apps share few distinct rule sets."""
    pointers = tuple(p for rule in ignore_differences if rule.matches(key) for p in rule.json_pointers)
    secret = key.group == "" and key.kind == "Secret"
    if not pointers:
        return SECRET_RULES if secret else DEFAULT_RULES
    return _compiled(pointers, secret)


@lru_cache(maxsize=1024)
def _compiled(pointers: tuple[str, ...], secret: bool) -> DiffRules:
    return DiffRules(ignore=compile_ignore_trie(_BASE_IGNORED_POINTERS + pointers), secret=secret)


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def is_keyed_list(field: str, owner_field: str) -> bool:
    """True when list `field`, held by an object in `owner_field`, merges by key rather than whole."""
    if field == "ports":
        return owner_field in PORT_LIST_OWNERS
    return field in MERGE_KEYS


def element_identity(element: Mapping[str, Any], field: str) -> tuple[Any, ...] | None:
    """The identity of a list-map element: its merge key values, with the server's defaults applied.

    None when the element has none, or when a key is not a scalar (`name: {}` in a bad manifest):
    such an element matches no other, rather than breaking the comparison.
    """
    if field == "ports":
        number = element.get("containerPort", element.get("port"))
        if number is None:
            return None
        identity: tuple[Any, ...] = (number, element.get("protocol") or DEFAULT_PROTOCOL)
    else:
        keys = MERGE_KEYS.get(field)
        if keys is None:
            return None
        identity = tuple(element.get(k) for k in keys)
    for part in identity:
        if part.__class__ not in _SCALARS:
            return None
    return identity


def identity_fields(element: Mapping[str, Any], field: str) -> dict[str, Any]:
    """The key fields as managedFields writes them in a `k:{...}` entry."""
    if field == "ports":
        name = "containerPort" if "containerPort" in element else "port"
        return {name: element.get(name), "protocol": element.get("protocol") or DEFAULT_PROTOCOL}
    return {k: element.get(k) for k in MERGE_KEYS.get(field, ()) if element.get(k) is not None}
