"""Apps on two clusters side by side: each judged against its own context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync
from sandbox.handle import SandboxThread
from tests.integration.gitops import deploy, make_gitops


@pytest.fixture
def two_clusters(tmp_path: Path) -> Iterator[Path]:
    with SandboxThread(controllers=()) as dev, SandboxThread(controllers=()) as prod:
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": n, "cluster": {"server": s.url}} for n, s in (("dev", dev), ("prod", prod))
            ],
            "users": [{"name": "token", "user": {"token": "sandbox"}}],
            "contexts": [{"name": n, "context": {"cluster": n, "user": "token"}} for n in ("dev", "prod")],
            "current-context": "dev",
        }
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(document))
        yield path


def test_each_app_is_judged_on_its_own_cluster(two_clusters: Path, tmp_path: Path) -> None:
    config_path = make_gitops(tmp_path)
    config_path.write_text(
        "apps:\n"
        "  - name: shop-dev\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        "    destination: {name: dev, namespace: shop}\n"
        "  - name: shop-prod\n"
        "    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}\n"
        "    destination: {name: prod, namespace: shop}\n"
    )
    config = load_config(config_path)
    kubeconfig = load_kubeconfig(str(two_clusters), environ={})
    for app in config.apps:
        context = kubeconfig.context_for(app.destination)
        adapter = ClusterAdapter(kubeconfig.api_client(context), context=context)
        deploy(adapter, config.__class__(apps=(app,)))

    prod_apps = client.AppsV1Api(kubeconfig.api_client("prod"))
    prod_apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 3}})

    statuses = {status.name: status for status in Engine(config, kubeconfig).evaluate()}
    assert statuses["shop-dev"].sync is AppSync.SYNCED
    assert statuses["shop-prod"].sync is AppSync.OUT_OF_SYNC
    (drifted,) = [r for r in statuses["shop-prod"].resources if r.changes]
    assert [(c.path, c.desired, c.live) for c in drifted.changes] == [("/spec/replicas", 2, 3)]
