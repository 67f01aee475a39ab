"""The engine's listing rules with a stand-in cluster: namespaced fallback and forbidden kinds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.api_resources import ApiResource, Discovery
from core.cluster import ApiError, ListPage
from core.config import zero_config
from core.engine import Engine
from core.kubeconfig import Kubeconfig
from core.model import ResourceKey, SyncStatus

CONFIGMAPS = ApiResource(
    "", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch", "get", "patch"})
)
SECRETS = ApiResource("", "v1", "Secret", "secrets", True, frozenset({"list", "watch", "get", "patch"}))


class NamespacedUserCluster:
    """A cluster where this user may list ConfigMaps only per namespace, and Secrets not at all."""

    read_only = True

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, str | None]] = []

    server = "https://dev.example"

    def server_version(self) -> Any:
        raise ApiError(403, "Forbidden", 'forbidden: User "dev" cannot get path "/version"')

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", f'forbidden: User "dev" cannot get path "{relative_url}"')

    def discover(self, *, refresh: bool = False) -> Discovery:
        return Discovery({("", "ConfigMap"): CONFIGMAPS, ("", "Secret"): SECRETS})

    def resource_for(self, group: str, kind: str) -> ApiResource:
        return self.discover().by_kind[(group, kind)]

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        yield ListPage(*self.list(resource, namespace))  # one page: the engine lists page by page

    def holds_any(self, resource: Any, *, label_selector: str) -> bool:
        return bool(self.list(resource, label_selector=label_selector)[0])

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        self.calls.append((resource.plural, namespace))
        if resource.plural == "secrets":
            raise ApiError(
                403, "Forbidden", 'secrets is forbidden: User "dev" cannot list resource "secrets"'
            )
        if namespace is None:
            raise ApiError(
                403, "Forbidden", 'configmaps is forbidden: User "dev" cannot list at the cluster scope'
            )
        found = [
            o for o in self.objects if o["kind"] == resource.kind and o["metadata"]["namespace"] == namespace
        ]
        return found, "7"


def test_namespaced_user_lists_the_apps_namespaces_and_forbidden_kinds_are_unknown(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {t: x}\n"
    )
    config = zero_config(tmp_path)
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "resourceVersion": "3"},
        "data": {"a": "1"},
    }
    cluster = NamespacedUserCluster([live])
    kubeconfig = Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None)
    engine = Engine(config, kubeconfig, adapter_factory=lambda context, read_only: cluster, watch_tree=False)  # type: ignore[arg-type,return-value]

    (status,) = engine.evaluate()

    results = {r.key: r for r in status.resources}
    assert results[ResourceKey("", "ConfigMap", "default", "settings")].status is SyncStatus.SYNCED
    secret = results[ResourceKey("", "Secret", "default", "token")]
    assert secret.status is SyncStatus.UNKNOWN and "forbidden" in secret.reason
    assert ("configmaps", None) in cluster.calls and ("configmaps", "default") in cluster.calls
