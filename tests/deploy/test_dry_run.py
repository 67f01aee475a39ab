"""Every built-in kind deploy/ installs, sent to the sandbox as `kubectl apply --server-side
--dry-run=server` with strict field validation: the API server checks each object against the official
schemas of its version (an unknown or misspelt field, a wrong type, a bad probe or selector fails).

ServiceMonitor and PrometheusRule are left out: they are the Prometheus Operator's CRDs, which the
sandbox does not serve, and a stand-in CRD written here would only check what its author typed. Their
shape is asserted in test_installs.py and their rules by promtool (test_alerts.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.handle import SandboxThread
from tests.deploy.manifests import VARIANTS, Install
from tests.kubectl import Kubectl, newest_kubectl

OPERATOR_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    """The newest real kubectl on one sandbox for the module, with the namespaces installs go into
    (dry-run creates nothing, so the namespaced objects need them to exist)."""
    folder = tmp_path_factory.mktemp("deploy-sandbox")
    with SandboxThread(controllers=()) as sandbox:
        found = newest_kubectl(sandbox.kubeconfig(folder / "kubeconfig"), folder / "home")
        if found is None:
            pytest.skip("no kubectl 1.29+ is installed")
        for namespace in {variant().namespace for variant in VARIANTS.values()}:
            found.run("create", "namespace", namespace)
        yield found


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_built_in_kinds_validate_on_the_api_server(
    variant: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    install: Install = VARIANTS[variant]()
    objects = [obj for obj in install.objects if obj["kind"] not in OPERATOR_KINDS]
    manifest = tmp_path / "objects.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    applied = kubectl.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "--field-manager=kubedrift-deploy-test",
        "-f",
        str(manifest),
        "-o",
        "json",
    )
    answered = json.loads(applied.stdout)
    items = answered["items"] if answered.get("kind") == "List" else [answered]
    sent = sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects)
    assert sorted((obj["kind"], obj["metadata"]["name"]) for obj in items) == sent
    # The server filled in its defaults, so it parsed the objects as their kinds, not as opaque maps.
    statefulset = next(obj for obj in items if obj["kind"] == "StatefulSet")
    assert statefulset["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert "warning" not in applied.stderr.lower(), applied.stderr
