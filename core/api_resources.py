"""What a cluster serves, from its discovery documents: kinds, plurals, scope, preferred versions, verbs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.kinds import BUILTIN_SCOPE, KindTable


@dataclass(frozen=True, slots=True)
class ApiResource:
    """One served resource type at its preferred version."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def watchable(self) -> bool:
        return {"list", "watch"} <= self.verbs

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection, or of one object when `name` is given."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{namespace}"
        path = f"{prefix}/{self.plural}"
        return f"{path}/{name}" if name else path


@dataclass(frozen=True, slots=True)
class Discovery:
    """The served resources by (group, kind), and a namespace scope table for rendering."""

    by_kind: Mapping[tuple[str, str], ApiResource]

    def api_versions(self) -> tuple[str, ...]:
        """What the cluster serves, as Helm's `.Capabilities.APIVersions` lists it: each group-version
        (`apps/v1`, `v1`) and each group-version/Kind (`apps/v1/Deployment`)."""
        found: set[str] = set()
        for resource in self.by_kind.values():
            found.add(resource.api_version)
            found.add(f"{resource.api_version}/{resource.kind}")
        return tuple(sorted(found))

    def kind_table(self) -> KindTable:
        """The built-in table overlaid with what this cluster says, for namespace defaulting."""
        table = BUILTIN_SCOPE.copy()
        for (group, kind), resource in self.by_kind.items():
            table.add(group, kind, resource.namespaced)
        return table


def parse_discovery(core_v1: Mapping[str, Any], group_versions: Mapping[str, Mapping[str, Any]]) -> Discovery:
    """Build the table from `/api/v1` and each group's preferred `/apis/{group}/{version}` list."""
    by_kind: dict[tuple[str, str], ApiResource] = {}
    for group_version, document in [("v1", core_v1), *group_versions.items()]:
        group, _, version = group_version.rpartition("/")
        for entry in document.get("resources") or []:
            name = str(entry.get("name") or "")
            if not name or "/" in name:  # subresources such as deployments/scale
                continue
            kind = str(entry.get("kind") or "")
            by_kind.setdefault(
                (group, kind),
                ApiResource(
                    group=group,
                    version=version,
                    kind=kind,
                    plural=name,
                    namespaced=bool(entry.get("namespaced")),
                    verbs=frozenset(str(v) for v in entry.get("verbs") or ()),
                ),
            )
    return Discovery(by_kind)
