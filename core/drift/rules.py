"""The rules the drift comparator needs for one resource, compiled once: its schema and ignored paths.

The structure of a kind (list types and keys, map types, Quantity and int-or-string fields) comes
from its schema (core.drift.schema_source), never from tables keyed by field name. What stays here
is what no schema can say: the fields never compared (identity, status, server metadata) and
kubedrift's own tracking label and annotation, which kubedrift adds to every applied object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from core.drift.schema_source import SchemaSource, default_schema_source, split_api_version
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    FLUX_TRACKING_LABELS,
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    IgnoreDifference,
    ResourceKey,
)
from core.schema import DEDUCED_MAP, FieldType


class _IgnoreAll:
    """Marks a node of an ignore trie whose whole subtree is ignored."""

    def __repr__(self) -> str:
        return "IGNORE_ALL"


IGNORE_ALL: Final = _IgnoreAll()

IgnoreTrie = Mapping[str, Any]
"""Nested mapping of path segments; a value of IGNORE_ALL ends the walk."""

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
    *("/metadata/labels/" + label.replace("/", "~1") for label in FLUX_TRACKING_LABELS),
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
    schema: FieldType | None = None
    """The kind's type, from a SchemaSource. None: resolved from the desired object's apiVersion and
    kind through the default source (official 1.31 definitions). A kind no source knows gets
    DEDUCED_MAP: structure deduced from the values (maps granular, lists atomic), today's fallback."""


DEFAULT_RULES: Final = DiffRules()
SECRET_RULES: Final = DiffRules(secret=True)


def rules_for(
    key: ResourceKey,
    ignore_differences: tuple[IgnoreDifference, ...] = (),
    *,
    version: str = "",
    source: SchemaSource | None = None,
) -> DiffRules:
    """The compiled rules for one resource of an app.

    The kind's type comes from `source` (default: the official definitions of Kubernetes 1.31, see
    core.drift.schema_source); `version` is the object's API version, the preferred one when empty.
    Cached for the default source, since apps share few distinct rule sets.
    """
    pointers = tuple(p for rule in ignore_differences if rule.matches(key) for p in rule.json_pointers)
    secret = key.group == "" and key.kind == "Secret"
    if source is None:
        return _compiled(key.group, version, key.kind, pointers, secret)
    schema = source.kind_type(key.group, version, key.kind) or DEDUCED_MAP
    return DiffRules(ignore=_ignore_trie(pointers), secret=secret, schema=schema)


@lru_cache(maxsize=1024)
def _compiled(group: str, version: str, kind: str, pointers: tuple[str, ...], secret: bool) -> DiffRules:
    schema = default_schema_source().kind_type(group, version, kind) or DEDUCED_MAP
    return DiffRules(ignore=_ignore_trie(pointers), secret=secret, schema=schema)


@lru_cache(maxsize=1024)
def _ignore_trie(pointers: tuple[str, ...]) -> IgnoreTrie:
    return compile_ignore_trie(_BASE_IGNORED_POINTERS + pointers) if pointers else BASE_IGNORE_TRIE


@lru_cache(maxsize=1024)
def schema_of(api_version: str, kind: str) -> FieldType:
    """The type of a kind named by an object's apiVersion and kind, from the default source."""
    group, version = split_api_version(api_version)
    return default_schema_source().kind_type(group, version, kind) or DEDUCED_MAP


def schema_for(desired: Mapping[str, Any], rules: DiffRules) -> FieldType:
    """The kind's type: the rules' own, else the default source's for desired's apiVersion and kind."""
    if rules.schema is not None:
        return rules.schema
    return schema_of(str(desired.get("apiVersion") or ""), str(desired.get("kind") or ""))
