"""One stored version of one object, kept as its JSON encoding rather than as a Python dict.

A decoded Kubernetes object weighs about six times its JSON (a 5.6 KB Deployment is a 40 KB tree of
dicts, lists and strings), so a store of 100,000 objects held as dicts needs gigabytes. A stored
version therefore keeps the encoding a list item carries (without apiVersion and kind, as a real
server's list items), plus the few fields that lists, selectors and indexes read for every object:
name, namespace, uid, labels, apiVersion and kind. `obj` decodes the rest on demand; the most recently
decoded versions stay decoded (a bounded, process-wide set), so a write that reads the object it
replaces several times decodes it once.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Any, Final

import orjson

_TYPE_META: Final = ("apiVersion", "kind")
DECODED_KEPT: Final = 1024
"""How many stored versions stay decoded at once (a few MB at most), across every store."""

_recently_decoded: deque[StoredObject] = deque()
_type_prefixes: dict[tuple[Any, Any], bytes] = {}


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _type_prefix(api_version: Any, kind: Any) -> bytes:
    """`{"apiVersion":…,"kind":…,` (only the members present), shared by every object of one type."""
    key = (api_version, kind)
    prefix = _type_prefixes.get(key)
    if prefix is None:
        members = {name: value for name, value in zip(_TYPE_META, key, strict=True) if value is not None}
        prefix = encode_json(members)[:-1]
        if len(_type_prefixes) < 10_000:  # bounded even if clients invent kinds without end
            _type_prefixes[key] = prefix
    return prefix


class StoredObject:
    """One version of one object; never mutated once stored (writes store a new version)."""

    __slots__ = (
        "_decoded",
        "_item",
        "_strict_json",
        "api_version",
        "kind",
        "labels",
        "name",
        "namespace",
        "rv",
        "uid",
    )

    def __init__(self, obj: dict[str, Any], rv: int) -> None:
        metadata = obj.get("metadata") or {}
        self.rv = rv
        self.name = str(metadata.get("name") or "")
        self.namespace = sys.intern(str(metadata.get("namespace") or ""))
        self.uid = str(metadata.get("uid") or "")
        labels = metadata.get("labels")
        # A copy: the caller's dict may change later, the encoding below will not.
        self.labels: dict[str, str] | None = dict(labels) if isinstance(labels, dict) and labels else None
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        self.api_version = sys.intern(api_version) if isinstance(api_version, str) else api_version
        self.kind = sys.intern(kind) if isinstance(kind, str) else kind
        body = {key: value for key, value in obj.items() if key not in _TYPE_META}
        try:
            self._item = orjson.dumps(body)
            self._strict_json = False
        except TypeError:
            # Integers beyond 64 bits (or keys orjson refuses): encoded, and later decoded, by `json`,
            # which keeps them exact where orjson would round them to floats.
            self._item = encode_json(body)
            self._strict_json = True
        self._decoded: dict[str, Any] | None = None

    @property
    def obj(self) -> dict[str, Any]:
        """The object as a dict, shared by every reader while it stays decoded: never mutate it (`copy`
        gives a private one)."""
        decoded = self._decoded
        if decoded is None:
            decoded = self._decode()
            self._decoded = decoded
            _recently_decoded.append(self)
            if len(_recently_decoded) > DECODED_KEPT:
                _recently_decoded.popleft()._decoded = None
        return decoded

    def _decode(self) -> dict[str, Any]:
        text = self.full_json()
        decoded: dict[str, Any] = json.loads(text) if self._strict_json else orjson.loads(text)
        return decoded

    def full_json(self) -> bytes:
        """The object as a get or a watch event carries it, with apiVersion and kind."""
        if self.api_version is None and self.kind is None:
            return self._item
        prefix = _type_prefix(self.api_version, self.kind)
        if self._item == b"{}":
            return prefix + b"}"
        return prefix + b"," + self._item[1:]

    def item_json(self) -> bytes:
        """The object as a built-in list item: a real server drops apiVersion and kind there."""
        return self._item

    def copy(self) -> dict[str, Any]:
        """A private copy of the object, for a caller to change and write back."""
        return self._decode()

    def encoded_size(self) -> int:
        """The bytes this version's encoding holds (what it costs a store, beside a few small fields)."""
        return len(self._item)
