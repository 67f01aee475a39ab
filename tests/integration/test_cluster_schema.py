"""The engine types kinds by the cluster's own /openapi/v3: a custom resource whose CRD is installed
outside the app is compared by the CRD's list-map keys, so another manager's list entry is not drift;
the official definitions answer when the cluster forbids its OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.cluster import ApiError, ClusterAdapter
from core.config import load_config
from core.drift.cluster_schema import forget_documents
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey, SyncStatus
from core.schema import ListType
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy
from tests.kubectl import Kubectl

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "routes.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Route", "plural": "routes", "singular": "route", "listKind": "RouteList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "required": ["name"],
                                            "properties": {
                                                "name": {"type": "string"},
                                                "port": {"type": "integer"},
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}
ROUTE_YAML = """\
apiVersion: example.com/v1
kind: Route
metadata: {name: web, namespace: shop}
spec:
  rules:
    - {name: http, port: 80}
"""
ROUTE = ResourceKey("example.com", "Route", "shop", "web")


@pytest.fixture(autouse=True)
def fresh_documents() -> None:
    forget_documents()


def engine_for(tmp_path: Path, kubeconfig_path: Path) -> Engine:
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "route.yaml").write_text(ROUTE_YAML)
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n  - name: routes\n    source: {repoURL: ., path: routes}\n"
        "    destination: {namespace: shop}\n"
    )
    config = load_config(tmp_path / "kubedrift.yaml")
    return Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=tmp_path)


def install_and_add_a_rule(adapter: ClusterAdapter, engine: Engine, kubectl: Kubectl) -> None:
    """The CRD is the platform team's (not in the app); an operator adds its own rule with its own
    field manager, which server-side apply merges into the keyed list."""
    adapter.apply(CRD)
    adapter.discover(refresh=True)
    deploy(adapter, engine.config)
    operator_rule = ROUTE_YAML.replace("{name: http, port: 80}", "{name: metrics, port: 9090}")
    kubectl.run("apply", "--server-side", "--field-manager=route-operator", "-f", "-", input=operator_rule)
    live = kubectl.json("get", "routes.example.com", "web", "-n", "shop")
    assert [rule["name"] for rule in live["spec"]["rules"]] == ["http", "metrics"], "merged by key"


def test_a_crd_list_map_from_the_clusters_openapi_keeps_another_managers_entry_out_of_drift(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, sandbox: SandboxThread, kubectl: Kubectl
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path)
    install_and_add_a_rule(adapter, engine, kubectl)
    sandbox.faults.clear_request_log()

    (status,) = engine.evaluate()

    results = {r.key: r for r in status.resources}
    assert results[ROUTE].status is SyncStatus.SYNCED, results[ROUTE].changes
    rules = engine.apps["routes"].reconciler.rules_for(ROUTE)
    assert rules.schema is not None
    assert rules.schema.child("spec").child("rules").list_type is ListType.MAP
    asked = [r.path for r in sandbox.request_log if r.path.startswith("/openapi/v3")]
    assert asked[0] == "/openapi/v3" and "/openapi/v3/apis/example.com/v1" in asked
    assert "/openapi/v3/apis/apps/v1" not in asked, "only the group-versions the app uses are fetched"


def test_a_change_to_kubedrifts_own_entry_is_still_drift(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, kubectl: Kubectl
) -> None:
    engine = engine_for(tmp_path, kubeconfig_path)
    install_and_add_a_rule(adapter, engine, kubectl)
    patch = '[{"op": "replace", "path": "/spec/rules/0/port", "value": 8080}]'
    kubectl.run("patch", "routes.example.com", "web", "-n", "shop", "--type=json", "-p", patch)

    (status,) = engine.evaluate()

    result = {r.key: r for r in status.resources}[ROUTE]
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert [c.path for c in result.changes] == ["/spec/rules/0/port"]


def test_forbidden_openapi_falls_back_to_the_official_definitions(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kubectl: Kubectl,
) -> None:
    def forbidden(self: ClusterAdapter, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", f'forbidden: User "viewer" cannot get path "{relative_url}"')

    monkeypatch.setattr(ClusterAdapter, "openapi_v3", forbidden)
    engine = engine_for(tmp_path, kubeconfig_path)
    install_and_add_a_rule(adapter, engine, kubectl)

    (status,) = engine.evaluate()

    # Without the cluster's schema nothing says the list is keyed: it is compared whole, as
    # structured-merge-diff compares an untyped list, and the operator's entry shows.
    result = {r.key: r for r in status.resources}[ROUTE]
    assert result.status is SyncStatus.OUT_OF_SYNC
    source = engine.clusters["sandbox"].schema_source
    assert source is not None and "cannot get path" in source.stats.fallbacks["/openapi/v3"]
