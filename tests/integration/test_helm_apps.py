"""Charts committed to Git as apps, rendered by Helm's own engine: Argo CD's `source.helm` options
apply, a synced chart is Synced at once, a kubectl change shows exactly as drift, hooks are not
compared, and a broken template is one sentence naming it while the app is Unknown, never Healthy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gitops import committed_repository
from tests.kubectl import Kubectl
from tui.cli import main

CHARTS = Path(__file__).resolve().parent.parent / "fixtures" / "charts"


def chart_repo(tmp_path: Path, helm: str) -> list[str]:
    """A Git repository with the guestbook chart under charts/guestbook and values in envs/, and a
    kubedrift.yaml app for it with `helm` options; the CLI's leading arguments."""
    repo = tmp_path / "gitops"
    shutil.copytree(CHARTS / "guestbook", repo / "charts" / "guestbook")
    (repo / "envs").mkdir()
    (repo / "envs" / "prod.yaml").write_text("replicaCount: 2\nimage: {tag: '2.1'}\n")
    committed_repository(repo, "chart")
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: guestbook\n"
        "    source:\n"
        "      repoURL: ./gitops\n"
        "      targetRevision: main\n"
        "      path: charts/guestbook\n"
        f"      helm: {helm}\n"
        "    destination: {namespace: web}\n"
    )
    return ["--config", str(tmp_path / "kubedrift.yaml")]


def check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "check", "-o", "json"])
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    return code, app


HELM = "{valueFiles: [/envs/prod.yaml], parameters: [{name: service.type, value: NodePort}]}"


def test_a_chart_syncs_and_is_synced_then_a_kubectl_change_is_exactly_the_drift(
    tmp_path: Path,
    kubeconfig_path: Path,
    state_home: Path,
    kubectl: Kubectl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [*chart_repo(tmp_path, HELM), "--kubeconfig", str(kubeconfig_path)]
    kubectl.run("create", "namespace", "web")
    assert main([*argv, "sync", "guestbook", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()

    code, app = check(argv, capsys)
    assert (code, app["sync"]) == (0, "Synced"), app
    kinds = sorted((r["kind"], r["name"]) for r in app["resources"])
    assert ("Deployment", "guestbook") in kinds and ("Service", "guestbook") in kinds
    deployment = kubectl.json("get", "deployment", "guestbook", "-n", "web")
    # The release is the app's name (the chart's fullname helper then gives `guestbook`), values come
    # from the repository's envs/prod.yaml, then parameters.
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.1")
    service = kubectl.json("get", "service", "guestbook", "-n", "web")
    assert service["spec"]["type"] == "NodePort"

    kubectl.run("scale", "deployment", "guestbook", "-n", "web", "--replicas=5")
    code, app = check(argv, capsys)
    assert code == 1
    (drifted,) = [r for r in app["resources"] if r["status"] != "Synced"]
    assert (drifted["kind"], [c["path"] for c in drifted["changes"]]) == ("Deployment", ["/spec/replicas"])


def test_a_broken_template_is_one_sentence_and_the_app_is_unknown(
    tmp_path: Path, kubeconfig_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*chart_repo(tmp_path, "{parameters: [{name: image.repository, value: 'null'}]}")]
    argv += ["--kubeconfig", str(kubeconfig_path)]
    code, app = check(argv, capsys)
    assert code == 2, "a render error is an error, not drift"
    assert (app["sync"], app["health"]) == ("Unknown", "Unknown"), app
    (error,) = app["errors"]
    assert error.startswith("templates/deployment.yaml:") and "\n" not in error, error


def test_a_values_file_outside_the_repository_is_refused(
    tmp_path: Path, kubeconfig_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*chart_repo(tmp_path, "{valueFiles: [../../../../etc/passwd]}")]
    argv += ["--kubeconfig", str(kubeconfig_path)]
    _, app = check(argv, capsys)
    (error,) = app["errors"]
    assert "outside the repository" in error, error


SERVICE_MONITOR_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  names:
    {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, listKind: ServiceMonitorList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def test_a_chart_sees_the_destination_clusters_apis_as_argo_cd_passes_them(
    tmp_path: Path,
    kubeconfig_path: Path,
    state_home: Path,
    kubectl: Kubectl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [*chart_repo(tmp_path, "{}"), "--kubeconfig", str(kubeconfig_path)]
    _, app = check(argv, capsys)
    assert "ServiceMonitor" not in {r["kind"] for r in app["resources"]}, "no Prometheus Operator yet"

    kubectl.run("apply", "-f", "-", input=SERVICE_MONITOR_CRD)
    kubectl.run("wait", "--for=condition=established", "crd/servicemonitors.monitoring.coreos.com")
    _, app = check(argv, capsys)
    assert "ServiceMonitor" in {r["kind"] for r in app["resources"]}, app
