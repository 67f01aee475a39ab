"""`include: {cluster: ...}` against the sandbox: Flux's objects and Argo CD's Applications, created
with kubectl, read live as apps, with the ConfigMaps and Secrets their values come from; and a
cluster that cannot answer, that runs no Flux, or that forbids the list, as one sentence."""

from __future__ import annotations

import base64
import json
import shutil
import socket
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.model import Destination, TrackingMethod
from sandbox.handle import SandboxThread, write_kubeconfig
from tests.integration.gitops import committed_repository
from tests.kubectl import Kubectl
from tui.cli import main

FLUX = Path(__file__).parent.parent / "fixtures" / "flux"
TOKEN = "live-secret-token"
MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:${nginx_tag:=1.27}"}]
---
apiVersion: v1
kind: Secret
metadata:
  name: web-token
stringData:
  token: ${token}
"""


def cluster_objects(repo: Path) -> str:
    token = base64.b64encode(TOKEN.encode()).decode()
    return f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: fleet, namespace: flux-system}}
spec: {{url: '{repo}', ref: {{branch: main}}, interval: 1m}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: web, namespace: flux-system}}
spec:
  interval: 10m
  sourceRef: {{kind: GitRepository, name: fleet}}
  path: ./apps/web
  prune: true
  targetNamespace: web
  postBuild:
    substituteFrom:
      - {{kind: ConfigMap, name: web-settings}}
      - {{kind: Secret, name: web-secrets}}
      - {{kind: Secret, name: not-created, optional: true}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-settings, namespace: flux-system}}
data: {{replicas: "3"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: web-secrets, namespace: flux-system}}
data: {{token: {token}}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: cache, namespace: flux-system}}
spec: {{url: oci://registry.example.com/charts/cache, ref: {{semver: 2.x}}, interval: 1h}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: cache, namespace: flux-system}}
spec:
  interval: 1h
  targetNamespace: web
  chartRef: {{kind: OCIRepository, name: cache}}
  valuesFrom: [{{kind: ConfigMap, name: cache-values}}]
  values: {{replicaCount: 2}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: cache-values, namespace: flux-system}}
data:
  values.yaml: "replicaCount: 1\\npersistence: {{enabled: true}}\\n"
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: guestbook, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: 'https://github.com/argoproj/argocd-example-apps', path: guestbook}}
  destination: {{server: 'https://kubernetes.default.svc', namespace: guestbook}}
"""


@pytest.fixture
def flux_crds(kubectl: Kubectl) -> Kubectl:
    kubectl.run("apply", "-f", str(FLUX / "crds.yaml"))
    return kubectl


def write_config(tmp_path: Path, include: str) -> Path:
    config = tmp_path / "kubedrift.yaml"
    config.write_text(f"apps:\n  - include: {include}\n    tracking: flux\n")
    return config


def test_flux_objects_and_applications_read_live_are_apps_deployed_to_that_cluster(
    tmp_path: Path,
    kubeconfig_path: Path,
    flux_crds: Kubectl,
    state_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubectl = flux_crds
    repo = tmp_path / "fleet"
    (repo / "apps" / "web").mkdir(parents=True)
    (repo / "apps" / "web" / "web.yaml").write_text(MANIFESTS)
    committed_repository(repo, "web")
    for namespace in ("flux-system", "argocd", "web"):
        kubectl.run("create", "namespace", namespace)
    kubectl.run("apply", "-f", "-", input=cluster_objects(repo))
    config_path = write_config(tmp_path, "{cluster: sandbox}")

    config = load_config(config_path, kubeconfig=str(kubeconfig_path))
    apps = {app.name: app for app in config.apps}
    assert sorted(apps) == ["flux-system-cache", "flux-system-web", "guestbook"]
    web = apps["flux-system-web"]
    assert (web.unrenderable, web.destination) == ("", Destination(name="sandbox", namespace="web"))
    assert (web.source.repo_url, web.source.path) == (str(repo), "apps/web")
    assert dict(web.source.options.substitute) == {"replicas": "3", "token": TOKEN}
    assert TOKEN not in repr(web) and TOKEN not in web.origin
    cache = apps["flux-system-cache"]
    assert (cache.source.repo_url, cache.source.options.chart) == (
        "oci://registry.example.com/charts",
        "cache",
    )
    assert json.loads(cache.source.options.helm.values_object) == {
        "replicaCount": 2,
        "persistence": {"enabled": True},
    }
    # Argo CD's own cluster is the one the Application was read from, and Argo CD applies what it holds.
    assert apps["guestbook"].destination == Destination(name="sandbox", namespace="guestbook")
    assert (apps["guestbook"].tracking, web.tracking) == (TrackingMethod.ARGOCD, TrackingMethod.FLUX)

    argv = ["--config", str(config_path), "--kubeconfig", str(kubeconfig_path)]
    assert main([*argv, "sync", "flux-system-web", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert kubectl.json("get", "deployment", "web", "-n", "web")["spec"]["replicas"] == 3
    stored = kubectl.json("get", "secret", "web-token", "-n", "web")["data"]["token"]
    assert base64.b64decode(stored).decode() == TOKEN
    assert main([*argv, "check", "--app", "flux-system-web", "-o", "json"]) == 0
    report = capsys.readouterr().out
    assert json.loads(report)["apps"][0]["sync"] == "Synced"
    assert TOKEN not in report


def test_a_namespace_narrows_what_is_read(tmp_path: Path, kubeconfig_path: Path, flux_crds: Kubectl) -> None:
    kubectl = flux_crds
    for namespace in ("flux-system", "argocd", "web"):
        kubectl.run("create", "namespace", namespace)
    kubectl.run("apply", "-f", "-", input=cluster_objects(tmp_path / "nowhere"))
    config = load_config(write_config(tmp_path, "{namespace: argocd}"), kubeconfig=str(kubeconfig_path))
    assert [app.name for app in config.apps] == ["guestbook"]


def test_a_missing_secret_is_that_apps_error_naming_the_reference(
    tmp_path: Path, kubeconfig_path: Path, flux_crds: Kubectl
) -> None:
    kubectl = flux_crds
    for namespace in ("flux-system", "argocd", "web"):
        kubectl.run("create", "namespace", namespace)
    kubectl.run("apply", "-f", "-", input=cluster_objects(tmp_path / "nowhere"))
    kubectl.run("delete", "secret", "web-secrets", "-n", "flux-system")
    config = load_config(write_config(tmp_path, "{}"), kubeconfig=str(kubeconfig_path))
    web = next(app for app in config.apps if app.name == "flux-system-web")
    assert web.unrenderable == (
        "cluster sandbox Kustomization flux-system/web: spec.postBuild.substituteFrom[1]: "
        "the Secret flux-system/web-secrets is not in cluster 'sandbox'"
    )


def test_a_cluster_without_fluxs_kinds_is_one_sentence(tmp_path: Path, kubeconfig_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, "{cluster: sandbox}"), kubeconfig=str(kubeconfig_path))
    assert str(raised.value) == (
        f"{tmp_path / 'kubedrift.yaml'}:2: apps[0].include: cannot read apps from cluster 'sandbox': it "
        "serves no Flux Kustomization or HelmRelease and no Argo CD Application; install Flux's (or Argo "
        "CD's) CRDs there, or point include.cluster at the cluster that runs Flux"
    )


def test_a_forbidden_list_is_one_sentence(
    tmp_path: Path, kubeconfig_path: Path, sandbox: SandboxThread, flux_crds: Kubectl
) -> None:
    sandbox.faults.fail_next(resource="kustomizations.kustomize.toolkit.fluxcd.io", code=403, verbs=["list"])
    with pytest.raises(ConfigError, match=r"cannot read apps from cluster 'sandbox': listing ") as raised:
        load_config(write_config(tmp_path, "{}"), kubeconfig=str(kubeconfig_path))
    assert "kustomizations.kustomize.toolkit.fluxcd.io is forbidden" in str(raised.value)
    assert "grant kubedrift list on it" in str(raised.value)


def test_an_unreachable_cluster_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    config = write_config(tmp_path, "{}")
    assert main(["--config", str(config), "--kubeconfig", str(kubeconfig), "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "apps[0].include: cannot read apps from cluster 'sandbox': cannot reach the cluster" in err
    assert "connection refused" in err.lower()


def test_an_unknown_context_is_one_sentence(tmp_path: Path, kubeconfig_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, "{cluster: nowhere}"), kubeconfig=str(kubeconfig_path))
    assert str(raised.value).endswith(
        "apps[0].include: cannot read apps from a cluster: context 'nowhere' is not in "
        f"{kubeconfig_path} (contexts: sandbox); fix include.cluster"
    )


def test_an_artifact_generator_read_live_gives_its_kustomization_a_source_and_never_a_stand_in(
    tmp_path: Path, kubeconfig_path: Path, flux_crds: Kubectl
) -> None:
    kubectl = flux_crds
    repo = tmp_path / "fleet"
    shutil.copytree(FLUX / "artifacts", repo)
    committed_repository(repo, "fleet")
    kubectl.run("create", "namespace", "flux-system")
    for file in ("artifacts.yaml", "apps.yaml"):
        kubectl.run("apply", "-f", str(repo / "clusters" / "production" / file))
    bootstrap = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        f"spec: {{url: '{repo}', ref: {{branch: main}}, interval: 1m}}\n"
    )
    kubectl.run("apply", "-f", "-", input=bootstrap)
    config_path = write_config(tmp_path, "{cluster: sandbox}")

    (app,) = load_config(config_path, kubeconfig=str(kubeconfig_path)).apps
    assert (app.name, app.unrenderable) == ("flux-system-apps", "")
    assert (app.source.repo_url, app.source.target_revision, app.source.path) == (str(repo), "main", ".")
    artifact = app.source.options.artifact
    assert artifact is not None and (artifact.name, artifact.path) == ("flux-system/apps", "production")
    assert artifact.copies[0].file == "cluster sandbox ArtifactGenerator flux-system/flux-system"

    # In a cluster, bootstrap's GitRepository is there or missing like any other.
    kubectl.run("delete", "gitrepository", "flux-system", "-n", "flux-system")
    (app,) = load_config(config_path, kubeconfig=str(kubeconfig_path)).apps
    assert app.unrenderable == (
        "cluster sandbox ArtifactGenerator flux-system/flux-system: spec.sources[0]: the GitRepository "
        "flux-system/flux-system is not in cluster 'sandbox'"
    )
