"""The official definitions of a Kubernetes release, as the kubernetes-validate package ships them.

Each release folder (`v1.31.0-local`) holds `_definitions.json`: the API's OpenAPI definitions
converted to JSON schema, keeping the `x-kubernetes-*` markers. Kinds are found by their
`x-kubernetes-group-version-kind`. The file is read once per release, and each kind's type is built
on first use.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources.abc import Traversable
from typing import Any

import orjson

from core.schema.convert import OBJECT_META, SchemaConverter, SchemaError
from core.schema.model import FieldType

_PACKAGE = "kubernetes_validate"
_SCHEMA_FOLDER = "kubernetes-json-schema"
_RELEASE = re.compile(r"^v1\.(\d+)\.(\d+)-local$")

# Defaults of list-map keys that server-side apply needs and the shipped definitions lack: the Go
# types mark these `+default="TCP"` and a server's OpenAPI carries it, but the JSON-schema
# conversion in kubernetes-validate drops every `default`. Without them a port written without a
# protocol could not be keyed.
KEY_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}

GroupVersionKind = tuple[str, str, str]


def _package_files() -> Traversable:
    """The installed package's files. Found through its import spec rather than by importing it:
    the package's own import pulls in a JSON-schema validator (about 0.15 s) that is not needed."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None:
        raise SchemaError("kubernetes-validate is not installed: install kubedrift's dependencies")
    get_reader = getattr(spec.loader, "get_resource_reader", None)
    reader = get_reader(spec.name) if get_reader is not None else None
    files = getattr(reader, "files", None)
    if files is not None:
        found: Traversable = files()
        return found
    return importlib.resources.files(_PACKAGE)


@cache
def releases() -> dict[int, str]:
    """The shipped releases: Kubernetes minor version -> folder name."""
    found: dict[int, str] = {}
    for entry in (_package_files() / _SCHEMA_FOLDER).iterdir():
        match = _RELEASE.match(entry.name)
        if match:
            found[int(match.group(1))] = entry.name
    return dict(sorted(found.items()))


@cache
def release_for(minor: int | str) -> str:
    """The release folder for a Kubernetes minor version: that release, else the newest older one,
    else the oldest shipped."""
    wanted = int(re.sub(r"\D.*", "", str(minor)) or 0)
    shipped = releases()
    if not shipped:
        raise SchemaError("kubernetes-validate ships no schema releases")
    older = [found for found in shipped if found <= wanted]
    return shipped[max(older)] if older else shipped[min(shipped)]


class OfficialSchemas:
    """The typed kinds of one Kubernetes release."""

    def __init__(self, definitions: Mapping[str, Any], release: str = "") -> None:
        self.release = release
        self._converter = SchemaConverter(definitions, key_defaults=KEY_DEFAULTS)
        self._by_gvk: dict[GroupVersionKind, str] = {}
        for name, schema in definitions.items():
            for gvk in (
                (schema.get("x-kubernetes-group-version-kind") or []) if isinstance(schema, dict) else []
            ):
                key = (str(gvk.get("group") or ""), str(gvk.get("version") or ""), str(gvk.get("kind") or ""))
                self._by_gvk.setdefault(key, name)
        self._kinds: dict[GroupVersionKind, FieldType | None] = {}

    @classmethod
    def for_version(cls, minor: int | str) -> OfficialSchemas:
        """The release matching a Kubernetes minor version (`31`, `"31+"`), loaded once."""
        return _load(release_for(minor))

    def kinds(self) -> frozenset[GroupVersionKind]:
        return frozenset(self._by_gvk)

    def definition_of(self, group: str, version: str, kind: str) -> str | None:
        """The definition name of a kind (`io.k8s.api.apps.v1.Deployment`)."""
        return self._by_gvk.get((group, version, kind))

    def kind(self, group: str, version: str, kind: str) -> FieldType | None:
        """The type of a kind, or None when the release does not define it."""
        key = (group, version, kind)
        if key in self._kinds:
            return self._kinds[key]
        name = self._by_gvk.get(key)
        found = self._converter.definition(name) if name else None
        self._kinds[key] = found
        return found

    def definition(self, name: str) -> FieldType:
        """The type of a named definition (`io.k8s.api.core.v1.Container`)."""
        return self._converter.definition(name)

    def object_meta(self) -> FieldType:
        return self.definition(OBJECT_META)


@cache
def raw_definitions(release: str) -> Mapping[str, Any]:
    """The definitions of a release folder (`v1.31.0-local`) exactly as the package ships them.

    Shared with the sandbox, which serves them as its OpenAPI documents; treat it as read-only."""
    document = _package_files() / _SCHEMA_FOLDER / release / "_definitions.json"
    if not document.is_file():
        raise SchemaError(
            f"the installed kubernetes-validate has no definitions for Kubernetes {release}; "
            "install a release of it that still ships them"
        )
    parsed = orjson.loads(document.read_bytes())
    definitions: Mapping[str, Any] = parsed.get("$defs") or parsed.get("definitions") or {}
    return definitions


@cache
def _load(release: str) -> OfficialSchemas:
    return OfficialSchemas(raw_definitions(release), release)


def is_built_in_group(group: str) -> bool:
    """Whether `group` is one of Kubernetes' own API groups, in the newest or the oldest release
    shipped (or `extensions`, removed before those): a CRD is then never what a cluster that does
    not serve a kind there is missing. Gateway API and the like are CRDs in `*.k8s.io` groups, so
    the domain alone does not tell."""
    shipped = releases()
    if not shipped:
        return False
    groups = {"extensions"}
    for release in {shipped[max(shipped)], shipped[min(shipped)]}:
        groups |= {g for g, _, _ in _load(release).kinds()}
    return group in groups
