"""Where the drift comparator gets each kind's structure (DESIGN "Drift rules": the schema, never
tables keyed by field name).

A `SchemaSource` answers one question: the `FieldType` of a group-version-kind, or None when it does
not know the kind. Today's source is `OfficialSchemaSource`: the official definitions of the cluster's
minor version (1.31 when the version is unknown), plus the CRD schemas it has been given for custom
resources (from the app's desired objects, or by the caller). The engine can later plug in the
cluster's own `/openapi/v3` behind the same protocol.

An unknown kind gets no type: the comparator then deduces the structure from the values, as
structured-merge-diff does for untyped objects (maps granular, lists atomic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Final, Protocol

from core.schema import FieldType, OfficialSchemas, SchemaError, crd_schemas

DEFAULT_MINOR: Final = 31
"""The Kubernetes minor version whose definitions are used when the cluster's is not known."""

# Versions tried, in order, when a caller names a kind without its version (a ResourceKey keeps none).
_VERSION_PREFERENCE: Final = ("v1", "v2", "v1beta2", "v1beta1", "v2beta2", "v2beta1", "v1alpha1")


class SchemaSource(Protocol):
    """The type of a kind, or None when the source does not know it."""

    def kind_type(self, group: str, version: str, kind: str) -> FieldType | None: ...


class OfficialSchemaSource:
    """The official definitions of one Kubernetes minor version, and the CRDs it has been given."""

    def __init__(self, minor: int | str = DEFAULT_MINOR, crds: Iterable[Mapping[str, Any]] = ()) -> None:
        self.minor = minor
        self._official = OfficialSchemas.for_version(minor)
        self._custom: dict[tuple[str, str, str], FieldType] = {}
        for crd in crds:
            self.add_crd(crd)

    def add_crd(self, crd: Mapping[str, Any]) -> None:
        """Learn the custom resources a CustomResourceDefinition defines (all its versions)."""
        self._custom.update(custom_resource_types(crd, self._official.object_meta()))

    def kind_type(self, group: str, version: str, kind: str) -> FieldType | None:
        found = self._custom.get((group, version, kind))
        if found is not None:
            return found
        if not version:
            version = self._version_of(group, kind)
        try:
            return self._official.kind(group, version, kind)
        except SchemaError:
            return None

    def object_meta(self) -> FieldType:
        return self._official.object_meta()

    def _version_of(self, group: str, kind: str) -> str:
        versions = {v for g, v, k in self._official.kinds() if g == group and k == kind}
        versions |= {v for g, v, k in self._custom if g == group and k == kind}
        return preferred_version(versions)


class WithCustomResources:
    """A source, and on top of it the custom resources of the CRDs an app declares."""

    def __init__(self, base: SchemaSource, crds: Iterable[Mapping[str, Any]], object_meta: FieldType) -> None:
        self.base = base
        self._custom: dict[tuple[str, str, str], FieldType] = {}
        for crd in crds:
            self._custom.update(custom_resource_types(crd, object_meta))

    def kind_type(self, group: str, version: str, kind: str) -> FieldType | None:
        if not version:
            version = preferred_version({v for g, v, k in self._custom if g == group and k == kind})
        found = self._custom.get((group, version, kind))
        return found if found is not None else self.base.kind_type(group, version, kind)


def custom_resource_types(
    crd: Mapping[str, Any], object_meta: FieldType
) -> dict[tuple[str, str, str], FieldType]:
    """The types of the custom resources a CRD defines; none when its schema cannot be read (the
    kind is then deduced from values)."""
    try:
        return crd_schemas(crd, object_meta=object_meta)
    except SchemaError:
        return {}


def preferred_version(versions: Iterable[str]) -> str:
    found = set(versions)
    for preferred in _VERSION_PREFERENCE:
        if preferred in found:
            return preferred
    return min(found) if found else ""


@cache
def default_schema_source() -> OfficialSchemaSource:
    """The official definitions of Kubernetes 1.31 (the default when the cluster's version is unknown)."""
    return OfficialSchemaSource(DEFAULT_MINOR)


def split_api_version(api_version: str) -> tuple[str, str]:
    """(group, version) of an `apiVersion` (`apps/v1` -> ("apps", "v1"), `v1` -> ("", "v1"))."""
    group, _, version = api_version.rpartition("/")
    return group, version
