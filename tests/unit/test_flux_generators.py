"""Kustomizations reading the ExternalArtifacts of Flux 2.7's ArtifactGenerators, and the repository
that stands in for bootstrap's GitRepository: a fleet shaped like flux2-kustomize-helm-example loads
and renders, and each thing kubedrift cannot read is one app error naming its field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.argocd_apps import applications_at
from core.desired_state import AppDesiredState
from core.flux_artifact import ArtifactCopy
from core.flux_sources import local_repository
from core.model import App, ResourceKey, TrackingMethod
from tests.integration.gitops import commit_file, committed_repository, git

ARTIFACTS = Path(__file__).parent.parent / "fixtures" / "flux" / "artifacts"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
STAND_IN = (
    "source: the Git repository {fleet} at main, standing in for the GitRepository flux-system/flux-system "
    "that flux bootstrap creates, which is not in the included files"
)
KUSTOMIZATION = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: apps, namespace: flux-system}}
spec:
  interval: 10m
  sourceRef: {{kind: {kind}, name: {name}}}
  path: ./production
  prune: true
"""
GENERATOR = """\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: split, namespace: flux-system}}
spec:
  sources:
    - {{alias: fleet, kind: {kind}, name: flux-system}}
    - {{alias: charts, kind: GitRepository, name: charts}}
  artifacts:
    - name: apps
      copy:
        - {{from: "{source}", to: "@artifact/production/"{extra}}}
"""
CHARTS = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: charts, namespace: flux-system}
spec: {url: https://git.example.com/charts.git, ref: {branch: main}}
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("artifacts") / "fleet"
    shutil.copytree(ARTIFACTS, repo)
    return committed_repository(repo, "fleet")


def apps_of(folder: Path) -> dict[str, App]:
    return {app.name: app for app, _ in applications_at(folder, TrackingMethod.FLUX)}


def test_kustomizations_of_external_artifacts_read_the_bootstrap_repository(fleet: Path) -> None:
    apps = apps_of(fleet / "clusters" / "production")
    assert sorted(apps) == ["flux-system-apps", "flux-system-infra-configs", "flux-system-infra-controllers"]
    assert [app.unrenderable for app in apps.values()] == ["", "", ""]
    app = apps["flux-system-apps"]
    assert (app.source.repo_url, app.source.target_revision, app.source.path) == (str(fleet), "main", ".")
    artifact = app.source.options.artifact
    assert artifact is not None
    assert (artifact.name, artifact.path) == ("flux-system/apps", "production")
    assert [(copy.alias, copy.pattern, copy.to, copy.merge) for copy in artifact.copies] == [
        ("fleet", "apps/base/**", "base/", False),
        ("fleet", "apps/production/**", "production/", False),
    ]
    assert artifact.copies[0].field == "spec.artifacts[1].copy[0]"
    assert artifact.copies[0].file.endswith("clusters/production/artifacts.yaml")
    # Said once, in the origin: the app is not in error for it.
    assert app.origin.endswith(f"apps.yaml:1 ({STAND_IN.format(fleet=fleet)})")
    infrastructure = apps["flux-system-infra-configs"].source.options.artifact
    assert infrastructure is not None and infrastructure.path == "configs"
    assert infrastructure.copies == (
        ArtifactCopy(
            alias="fleet",
            pattern="infrastructure/**",
            to="",
            exclude=("*.md",),
            file=infrastructure.copies[0].file,
            line=16,
            field="spec.artifacts[0].copy[0]",
        ),
    )


@needs_kubectl
def test_the_artifacts_render_with_their_overlays_and_the_kustomizations_patches(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    apps = apps_of(fleet / "clusters" / "production")
    released = AppDesiredState(apps["flux-system-apps"]).load()
    assert (released.errors, released.revision) == ((), git(fleet, "rev-parse", "HEAD"))
    assert sorted(released.objects) == [
        ResourceKey("", "Namespace", "", "podinfo"),
        ResourceKey("helm.toolkit.fluxcd.io", "HelmRelease", "podinfo", "podinfo"),
        ResourceKey("source.toolkit.fluxcd.io", "HelmRepository", "podinfo", "podinfo"),
    ]
    release = released.objects[ResourceKey("helm.toolkit.fluxcd.io", "HelmRelease", "podinfo", "podinfo")]
    assert release["spec"]["chart"]["spec"]["version"] == ">=6.5.0"
    assert release["spec"]["values"]["replicaCount"] == 2
    assert release["spec"]["values"]["ui"]["message"] == "podinfo, as the base declares it"
    configs = AppDesiredState(apps["flux-system-infra-configs"]).load()
    # Without the cluster's discovery a custom kind is taken for namespaced: found by kind and name.
    (issuer,) = [
        obj for key, obj in configs.objects.items() if (key.kind, key.name) == ("ClusterIssuer", "acme")
    ]
    assert issuer["spec"]["acme"]["server"] == "https://acme.example.com/production"
    controllers = AppDesiredState(apps["flux-system-infra-controllers"]).load()
    assert controllers.errors == () and len(controllers.objects) == 3


@needs_kubectl
def test_a_commit_to_the_base_alone_changes_the_production_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    repo = tmp_path / "fleet"
    shutil.copytree(ARTIFACTS, repo)
    committed_repository(repo)
    loader = AppDesiredState(apps_of(repo / "clusters" / "production")["flux-system-apps"])
    key = ResourceKey("helm.toolkit.fluxcd.io", "HelmRelease", "podinfo", "podinfo")
    assert loader.load().objects[key]["spec"]["interval"] == "30m"
    release = (repo / "apps" / "base" / "podinfo" / "release.yaml").read_text()
    commit_file(repo, "apps/base/podinfo/release.yaml", release.replace("30m", "45m"), "slower")
    assert loader.load().objects[key]["spec"]["interval"] == "45m", "the build is not cached past ../base"


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def error_of(folder: Path) -> str:
    return apps_of(folder)["flux-system-apps"].unrenderable


@pytest.mark.parametrize(
    ("generator", "message"),
    [
        (
            GENERATOR.format(kind="OCIRepository", source="@fleet/apps/**", extra=""),
            "generators.yaml:6: spec.sources[0].kind: an OCIRepository source is not supported yet; "
            "kubedrift reads it from a GitRepository",
        ),
        (
            GENERATOR.format(kind="GitRepository", source="@fleet/apps/**", extra=", strategy: Extract"),
            "generators.yaml:11: spec.artifacts[0].copy[0].strategy: strategy Extract (unpacking tarballs) "
            "is not supported yet",
        ),
        (
            GENERATOR.format(kind="GitRepository", source="@nowhere/apps/**", extra=""),
            "generators.yaml:11: spec.artifacts[0].copy[0].from: no source has the alias 'nowhere' "
            "(spec.sources has @fleet, @charts)",
        ),
        (
            GENERATOR.format(kind="GitRepository", source="@fleet/apps/[", extra=""),
            "generators.yaml:11: spec.artifacts[0].copy[0].from: the glob cannot be read: 'apps/[' has a "
            "malformed [class]",
        ),
        (
            GENERATOR.format(kind="GitRepository", source="@fleet/apps/**", extra=", exclude: ['{a,b']"),
            "generators.yaml:11: spec.artifacts[0].copy[0].exclude[0]: the glob cannot be read: '{a,b' has a "
            "{ without its }",
        ),
        (
            GENERATOR.format(kind="GitRepository", source="@fleet/../x", extra=""),
            "generators.yaml:11: spec.artifacts[0].copy[0].from: the path leads out of the source; name a "
            "path inside it",
        ),
        (
            GENERATOR.format(
                kind="GitRepository",
                source="@fleet/apps/**",
                extra='}\n        - {from: "@charts/x", to: "@artifact/"',
            ),
            "generators.yaml:12: spec.artifacts[0].copy[1].from: an artifact copied from several Git "
            "repositories is not supported yet: @fleet is https://git.example.com/fleet.git at main, @charts "
            "https://git.example.com/charts.git at main",
        ),
    ],
)
def test_what_an_artifact_cannot_be_read_from_is_the_apps_error_naming_the_field(
    tmp_path: Path, generator: str, message: str
) -> None:
    fleet_repository = CHARTS.replace("charts", "fleet").replace("name: fleet", "name: flux-system")
    folder = write(
        tmp_path / "clusters",
        apps=KUSTOMIZATION.format(kind="ExternalArtifact", name="apps"),
        generators=generator,
        sources=fleet_repository + "---\n" + CHARTS,
    )
    assert error_of(folder).removeprefix(f"{folder}/") == message


def test_an_artifact_no_generator_makes_and_a_path_pattern_are_errors(tmp_path: Path) -> None:
    folder = write(tmp_path / "clusters", apps=KUSTOMIZATION.format(kind="ExternalArtifact", name="apps"))
    assert error_of(folder) == (
        f"{folder}/apps.yaml:6: spec.sourceRef: the ExternalArtifact flux-system/apps is not in the included "
        "files; include the file that declares it (kubedrift builds it from the ArtifactGenerator that "
        "generates it)"
    )
    patterned = GENERATOR.format(kind="GitRepository", source="@fleet/apps/{app}/**", extra="").replace(
        "  artifacts:", '  pathPattern: "@fleet/apps/{app}"\n  artifacts:'
    )
    write(folder, generators=patterned.replace("name: apps", "name: '{app}'"))
    assert error_of(folder) == (
        f"{folder}/generators.yaml:8: spec.pathPattern: pathPattern (an artifact per matching folder) is not "
        "supported yet, so the ExternalArtifact flux-system/apps cannot be read; list the artifact under "
        "spec.artifacts by its name"
    )


def test_outside_a_git_repository_bootstraps_gitrepository_stays_missing(tmp_path: Path) -> None:
    folder = write(tmp_path / "clusters", apps=KUSTOMIZATION.format(kind="GitRepository", name="flux-system"))
    if local_repository(str(folder / "apps.yaml")) is not None:
        pytest.skip("the temporary folder is inside a Git repository")
    assert error_of(folder) == (
        f"{folder}/apps.yaml:6: spec.sourceRef: the GitRepository flux-system/flux-system is not in the "
        "included files; include the file that declares it"
    )


def test_inside_one_only_bootstraps_gitrepository_is_stood_in_for(tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    write(repo / "clusters", apps=KUSTOMIZATION.format(kind="GitRepository", name="flux-system"))
    write(repo / "other", apps=KUSTOMIZATION.format(kind="GitRepository", name="fleet"))
    committed_repository(repo)
    app = apps_of(repo / "clusters")["flux-system-apps"]
    assert (app.unrenderable, app.source.repo_url, app.source.target_revision) == ("", str(repo), "main")
    assert app.source.path == "production" and app.source.options.artifact is None
    assert STAND_IN.format(fleet=repo) in app.origin
    assert error_of(repo / "other").endswith(
        "the GitRepository flux-system/fleet is not in the included files; include the file that declares it"
    )
    # Declared in the files, bootstrap's GitRepository is read like any other.
    write(repo / "clusters", sync=CHARTS.replace("name: charts", "name: flux-system"))
    declared = apps_of(repo / "clusters")["flux-system-apps"]
    assert declared.source.repo_url == "https://git.example.com/charts.git"
    assert "standing in" not in declared.origin
