"""A HelmRelease from a Helm repository rendered end to end: its values come from valuesFrom (a Secret
committed beside it) under `values`, and commonMetadata labels what the chart renders."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.argocd_apps import applications_at
from core.desired_state import AppDesiredState
from core.model import ResourceKey, TrackingMethod
from tests.unit.test_chart_repository import ChartServer


@pytest.fixture
def server() -> Iterator[ChartServer]:
    serving = ChartServer()
    yield serving
    serving.httpd.shutdown()
    serving.httpd.server_close()


def test_values_from_a_secret_and_common_metadata_reach_the_rendered_chart(
    server: ChartServer, tmp_path: Path
) -> None:
    server.publish("demo", "1.0.0", "1.2.0")
    colour = base64.b64encode(b"colour: amber\nunused: true\n").decode()
    (tmp_path / "release.yaml").write_text(
        f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: shop}}
spec: {{url: '{server.url}/charts'}}
---
apiVersion: v1
kind: Secret
metadata: {{name: demo-values, namespace: shop}}
data: {{values.yaml: {colour}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: demo, namespace: shop}}
spec:
  chart:
    spec:
      chart: demo
      version: 1.x
      sourceRef: {{kind: HelmRepository, name: charts}}
  valuesFrom: [{{kind: Secret, name: demo-values}}]
  values: {{unused: false}}
  commonMetadata: {{labels: {{team: shop}}}}
"""
    )
    ((app, _),) = applications_at(tmp_path, TrackingMethod.FLUX)
    assert app.unrenderable == ""

    state = AppDesiredState(app, cache_dir=tmp_path / "cache").load()

    assert state.errors == () and state.revision is not None and state.revision.startswith("1.2.0 ")
    configmap = state.objects[ResourceKey("", "ConfigMap", "shop", "demo-settings")]
    assert configmap["data"] == {"chartVersion": "1.2.0", "colour": "amber"}
    assert configmap["metadata"]["labels"] == {"team": "shop"}
