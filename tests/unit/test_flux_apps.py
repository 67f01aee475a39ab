"""Flux Kustomizations and HelmReleases under `include:` as apps, tracked by Flux's labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.argocd_apps import applications_at
from core.errors import ConfigError
from core.event_routing import EventRouting
from core.flux_substitute import substitute_stream
from core.model import (
    TRACKING_ANNOTATION,
    TRACKING_LABEL,
    App,
    FluxOwner,
    ResourceKey,
    Source,
    SyncPolicy,
    TrackingMethod,
)
from core.prune import is_tracked
from core.reconcile import AppReconciler
from core.render import Renderer
from core.runtime import AppRuntime
from core.sync_plan import prepare_for_apply

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flux" / "files"
DEPLOYMENT = ResourceKey("apps", "Deployment", "podinfo", "podinfo")


@pytest.fixture(scope="module")
def apps() -> dict[str, App]:
    return {app.name: app for app, _ in applications_at(FIXTURES, TrackingMethod.FLUX)}


def flux_app(name: str = "flux-system-apps") -> App:
    owner = FluxOwner("kustomize.toolkit.fluxcd.io", name.removeprefix("flux-system-"), "flux-system")
    return App(name, Source("https://example.com/fleet"), tracking=TrackingMethod.FLUX, flux_owner=owner)


def deployment(labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "podinfo", "namespace": "podinfo"}
    if labels is not None:
        metadata["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": {"replicas": 1}}


FLUX_LABELS = {
    "kustomize.toolkit.fluxcd.io/name": "apps",
    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
}


def test_every_flux_object_of_the_include_is_an_app_named_namespace_dash_name(apps: dict[str, App]) -> None:
    assert sorted(apps) == [
        "flux-system-apps",
        "flux-system-cluster-vars",
        "flux-system-from-chart-ref",
        "flux-system-from-helm-chart",
        "flux-system-from-oci",
        "flux-system-from-untagged",
        "flux-system-infra-controllers",
        "flux-system-no-source",
        "flux-system-post-rendered",
        "flux-system-values-missing",
        "flux-system-web",
        "podinfo-podinfo",
    ]
    assert all(app.tracking is TrackingMethod.FLUX for app in apps.values())


def test_a_kustomization_maps_its_source_path_namespace_options_and_prune(apps: dict[str, App]) -> None:
    app = apps["flux-system-apps"]
    assert app.unrenderable == ""
    assert app.flux_owner == FluxOwner("kustomize.toolkit.fluxcd.io", "apps", "flux-system")
    assert (app.source.repo_url, app.source.target_revision) == ("https://github.com/example/fleet", "main")
    assert app.source.path == "apps/production"
    assert app.destination.namespace == "podinfo"
    assert app.sync_policy == SyncPolicy(automated=False, prune=True, self_heal=False)
    options = app.source.options
    assert options.directory.recurse  # Flux generates a kustomization over the whole tree
    # substituteFrom's ConfigMap (committed beside it) first, newlines dropped; substitute wins over it.
    assert dict(options.substitute) == {
        "cluster_env": "production",
        "region": "eu-west-1",
        "banner": "twolines",
        "replicas": "2",
    }
    kustomize = options.kustomize
    assert kustomize.generate_kustomization
    assert (kustomize.metadata_labels, kustomize.metadata_annotations) == (
        (("team", "podinfo"),),
        (("owner", "platform@example.com"),),
    )
    assert (kustomize.name_prefix, kustomize.name_suffix, kustomize.namespace) == ("prod-", "-v1", "podinfo")
    assert kustomize.images == (
        "ghcr.io/stefanprodan/podinfo=ghcr.io/stefanprodan/podinfo:6.7.0",
        "nginx=registry.example.com/nginx",
    )
    assert json.loads(kustomize.patches)[0]["target"] == {"kind": "Deployment"}
    assert kustomize.components == ("../../components/monitoring",)
    infra = apps["flux-system-infra-controllers"]
    assert (infra.source.path, infra.sync_policy.prune) == ("infrastructure/controllers", False)
    assert infra.destination.namespace == "default"


def test_a_helm_release_from_a_helm_repository_is_a_chart_by_name_and_version(apps: dict[str, App]) -> None:
    app = apps["podinfo-podinfo"]
    assert app.unrenderable == ""
    assert app.flux_owner == FluxOwner("helm.toolkit.fluxcd.io", "podinfo", "podinfo")
    assert app.source.repo_url == "https://stefanprodan.github.io/podinfo"
    assert (app.source.target_revision, app.source.path, app.source.options.chart) == (
        ">=6.0.0",
        ".",
        "podinfo",
    )
    helm = app.source.options.helm
    assert (helm.release_name, helm.namespace) == ("podinfo", "podinfo")
    assert app.destination.namespace == "podinfo"


def test_a_helm_releases_values_are_values_from_in_order_then_values_over_them(apps: dict[str, App]) -> None:
    app = apps["podinfo-podinfo"]
    assert json.loads(app.source.options.helm.values_object) == {
        # values over everything; maps merged key by key, so the ConfigMap's className stays
        "replicaCount": 2,
        "ingress": {"enabled": True, "className": "nginx", "hosts": [{"host": "podinfo.example.com"}]},
        # values.yaml of the ConfigMap, then a quoted value set as a string at its targetPath
        "ui": {"color": "#34577c", "message": "from the ConfigMap", "tier": "1"},
        # a Secret's key at its targetPath; the optional Secret that is not there is skipped
        "redis": {"auth": {"password": "s3cr3t-password"}},
    }
    assert "s3cr3t-password" not in repr(app), "a Secret's value never reaches a repr"


def test_a_helm_release_from_an_oci_repository_is_a_chart_in_that_registry(apps: dict[str, App]) -> None:
    app = apps["flux-system-from-chart-ref"]
    assert app.unrenderable == ""
    source = app.source
    assert (source.repo_url, source.options.chart, source.target_revision) == (
        "oci://ghcr.io/stefanprodan/charts",
        "podinfo",
        ">=6.5.0",
    )
    assert source.options.kustomize.metadata_labels == (("team", "platform"),)


def test_a_helm_release_from_git_is_the_chart_folder_named_target_namespace_dash_name(
    apps: dict[str, App],
) -> None:
    app = apps["flux-system-web"]
    assert app.unrenderable == ""
    # The tag wins over the branch, as in source-controller.
    assert (app.source.repo_url, app.source.target_revision) == (
        "https://github.com/example/charts",
        "v1.2.0",
    )
    assert app.source.path == "charts/web"
    assert (app.source.options.helm.release_name, app.source.options.helm.namespace) == ("web-web", "web")
    assert app.destination.namespace == "web"


@pytest.mark.parametrize(
    ("name", "because"),
    [
        ("flux-system-no-source", ":10: spec.sourceRef: the GitRepository flux-system/nowhere is not in"),
        ("flux-system-from-oci", ":23: spec.sourceRef: the OCIRepository flux-system/manifests is not in"),
        (
            "flux-system-cluster-vars",
            ":42: spec.postBuild.substituteFrom[0]: the Secret flux-system/cluster-secrets is not in the "
            "included files",
        ),
        (
            "flux-system-values-missing",
            ":59: spec.valuesFrom[0]: the ConfigMap flux-system/not-committed is not in the included files",
        ),
        ("flux-system-from-helm-chart", ":70: spec.chartRef: a HelmChart as spec.chartRef is not supported"),
        ("flux-system-from-untagged", ":79: spec: no ref.tag or ref.semver: Flux pulls the tag latest"),
        ("flux-system-post-rendered", ":104: spec.postRenderers: postRenderers is not supported yet"),
    ],
)
def test_what_kubedrift_cannot_read_is_that_apps_one_error(
    apps: dict[str, App], name: str, because: str
) -> None:
    assert "unrenderable.yaml" + because in apps[name].unrenderable


def test_tracking_flux_owns_what_flux_labels_for_the_kustomization() -> None:
    app = flux_app()
    other_namespace = FLUX_LABELS | {"kustomize.toolkit.fluxcd.io/namespace": "apps"}
    assert app.owns(DEPLOYMENT, deployment(FLUX_LABELS))
    assert is_tracked(app, DEPLOYMENT, deployment(FLUX_LABELS))
    assert not app.owns(DEPLOYMENT, deployment(other_namespace))
    assert not app.owns(DEPLOYMENT, deployment({"kustomize.toolkit.fluxcd.io/name": "apps"}))
    assert not app.owns(DEPLOYMENT, deployment())
    reconciler = AppReconciler(app)
    reconciler.set_desired({}, render_ok=True)
    assert reconciler.live_changed(DEPLOYMENT, deployment(FLUX_LABELS)) is not None
    assert reconciler.live_changed(DEPLOYMENT, deployment(other_namespace)) is None


def test_an_event_reaches_the_flux_app_its_labels_name() -> None:
    app, bystander = flux_app(), flux_app("flux-system-infra")
    runtimes = [
        AppRuntime(app, "dev", AppReconciler(app)),
        AppRuntime(bystander, "dev", AppReconciler(bystander)),
    ]
    routing = EventRouting(runtimes)
    assert [r.app.name for r in routing.concerned(DEPLOYMENT, deployment(FLUX_LABELS))] == [
        "flux-system-apps"
    ]
    assert routing.concerned(DEPLOYMENT, deployment({"kustomize.toolkit.fluxcd.io/name": "apps"})) == []


def test_a_sync_of_a_flux_app_writes_fluxs_labels_and_nothing_of_kubedrifts() -> None:
    applied = prepare_for_apply(flux_app(), DEPLOYMENT, deployment({"app": "podinfo"}), None)
    assert applied["metadata"]["labels"] == {"app": "podinfo"} | FLUX_LABELS
    assert TRACKING_LABEL not in applied["metadata"]["labels"]
    assert TRACKING_ANNOTATION not in applied["metadata"].get("annotations", {})


def test_substitution_as_flux_does_it() -> None:
    text = b"a: ${x}\nb: ${y:=fallback}\nc: ${missing}\nd: $x and $${x}\ne: ${x:-no}\nf: $$HOME\n"
    assert substitute_stream(text, {"x": "1"}) == b"a: 1\nb: fallback\nc: \nd: $x and ${x}\ne: 1\nf: $HOME\n"


def test_substitution_renders_typed_values_and_leaves_opted_out_objects_alone() -> None:
    files = {"deployment.yaml": (FIXTURES / "apps" / "production" / "deployment.yaml").read_bytes()}
    renderer = Renderer(
        default_namespace="podinfo", substitute=(("cluster_env", "production"), ("replicas", "2"))
    )
    result = renderer.render(files)
    assert result.ok, result.errors
    web = result.objects[DEPLOYMENT].obj
    assert web["metadata"]["labels"] == {"env": "production", "tier": "frontend"}
    assert web["spec"]["replicas"] == 2  # unquoted in the text, so a number, as Flux reads it back
    assert web["spec"]["template"]["spec"]["containers"][0]["command"][2] == "echo $HOME ${HOME} "
    script = result.objects[ResourceKey("", "ConfigMap", "podinfo", "script")].obj
    assert script["data"]["run.sh"] == "echo ${HOME}"
    untouched = Renderer(default_namespace="podinfo").render(files)
    assert untouched.objects[DEPLOYMENT].obj["spec"]["replicas"] == "${replicas}"


def test_a_malformed_expression_fails_that_file_as_it_fails_flux() -> None:
    renderer = Renderer(default_namespace="podinfo", substitute=(("x", "1"),))
    result = renderer.render(
        {"cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: ${x^^}}\n"}
    )
    assert not result.ok
    assert result.errors[0].file == "cm.yaml"
    assert "${x^^}" in result.errors[0].message


def test_tracking_flux_is_refused_for_an_app_not_read_from_flux(tmp_path: Path) -> None:
    from core.config import load_config

    config = tmp_path / "kubedrift.yaml"
    config.write_text("apps:\n  - name: shop\n    source: {repoURL: .}\n    tracking: flux\n")
    with pytest.raises(ConfigError, match="flux is for Flux Kustomizations"):
        load_config(config)
