"""A Flux Kustomization whose source is an OCIRepository: read from files as an app (the reference,
layer selector, insecure and the docker config of secretRef), loaded and rendered from a registry the
test serves, polled for new tags, and each thing kubedrift cannot read as that app's one error."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.argocd_apps import applications_at
from core.desired_state import AppDesiredState
from core.model import App, ResourceKey, TrackingMethod
from core.oci_artifact import OciArtifactOptions, ReferenceKind
from core.oci_registry import RegistryCredentials
from tests.oci_registry import FLUX_LAYER, Registry, serving

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flux" / "oci"
SECRET = "s3cr3t-registry-password"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
KUSTOMIZATION = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: web, namespace: apps}}
spec:
  sourceRef: {{kind: OCIRepository, name: web}}
  path: {path}
  prune: true
{extra}"""
REPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: web, namespace: apps}}
spec:
  url: {url}
  insecure: true
{spec}"""
WEB = ResourceKey("", "ConfigMap", "default", "web")
"""A Kustomization without targetNamespace puts namespaced objects in `default`, as Flux does."""


def configmap(message: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web}}\ndata: {{message: {message!r}}}\n"


@pytest.fixture
def registry() -> Iterator[Registry]:
    yield from serving(Registry(token=True))


def flux_app(
    folder: Path,
    registry: Registry | None,
    spec: str = "",
    *,
    path: str = "./",
    extra: str = "",
    url: str = "",
) -> App:
    """The one app of a Kustomization and its OCIRepository (of `registry`, else `url`, else an example
    registry's) written into `folder`."""
    if registry is not None:
        url = f"oci://{registry.host}/manifests/web"
    url = url or "oci://registry.example.com/manifests/web"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "web.yaml").write_text(
        KUSTOMIZATION.format(path=path, extra=extra) + "---\n" + REPOSITORY.format(url=url, spec=spec)
    )
    ((app, _),) = applications_at(folder, TrackingMethod.FLUX)
    return app


# Read from files -------------------------------------------------------------------------------


def test_the_docs_shaped_fixture_maps_onto_an_oci_source_with_its_path_inside_the_artifact() -> None:
    (app,) = [app for app, _ in applications_at(FIXTURES / "clusters", TrackingMethod.FLUX)]

    assert (app.name, app.unrenderable) == ("flux-system-podinfo", "")
    source = app.source
    assert (source.repo_url, source.target_revision, source.path) == (
        "oci://registry.example.com:5000/manifests/podinfo",
        ">=1.0.0",
        ".",
    )
    options = source.options.oci_artifact
    assert options is not None
    assert options.declared.endswith("production/podinfo.yaml:1: OCIRepository flux-system/podinfo")
    assert replace(options, declared="") == OciArtifactOptions(
        reference=ReferenceKind.SEMVER, layer_media_type=FLUX_LAYER, insecure=True
    )
    assert source.options.kustomize.namespace == "podinfo" and app.destination.namespace == "podinfo"
    assert app.sync_policy.prune


@pytest.mark.parametrize(
    ("spec", "kind", "revision"),
    [
        ("", ReferenceKind.TAG, "latest"),
        ("  ref: {tag: '6.7.0'}\n", ReferenceKind.TAG, "6.7.0"),
        ("  ref: {tag: '6.7.0', semver: '6.x', semverFilter: '-rc'}\n", ReferenceKind.SEMVER, "6.x"),
        (f"  ref: {{tag: '6.7.0', semver: '6.x', digest: 'sha256:{'a' * 64}'}}\n", ReferenceKind.DIGEST, ""),
    ],
)
def test_digest_wins_over_semver_which_wins_over_tag(
    tmp_path: Path, spec: str, kind: ReferenceKind, revision: str
) -> None:
    app = flux_app(tmp_path, None, spec)

    options = app.source.options.oci_artifact
    assert options is not None and options.reference is kind
    assert app.source.target_revision == (revision or f"sha256:{'a' * 64}")
    assert options.semver_filter == ("-rc" if kind is ReferenceKind.SEMVER else "")


def test_credentials_come_from_the_docker_config_secret_and_never_reach_a_repr(tmp_path: Path) -> None:
    config = {
        "auths": {
            "https://registry.example.com/v1/": {"auth": base64.b64encode(f"ci:{SECRET}".encode()).decode()},
            "other.example.com": {"username": "someone", "password": "else"},
        }
    }
    secret = (
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: pull, namespace: apps}\n"
        "type: kubernetes.io/dockerconfigjson\n"
        f"data: {{.dockerconfigjson: {base64.b64encode(json.dumps(config).encode()).decode()}}}\n"
    )
    (tmp_path / "secret.yaml").write_text(secret)

    app = flux_app(tmp_path, None, "  secretRef: {name: pull}\n")

    options = app.source.options.oci_artifact
    assert app.unrenderable == "" and options is not None
    assert options.credentials == RegistryCredentials("ci", SECRET)
    assert SECRET not in repr(app)


@pytest.mark.parametrize(
    ("url", "spec", "because"),
    [
        (
            "oci://r.example.com/web:1.0",
            "",
            "spec.url: expected oci://host/repository, without a tag or digest",
        ),
        ("https://r.example.com/web", "", "spec.url: expected oci://host/repository"),
        ("", "  provider: aws\n", "spec.provider: the aws provider (workload identity) is not supported yet"),
        (
            "",
            "  serviceAccountName: puller\n",
            "spec.serviceAccountName: serviceAccountName is not supported",
        ),
        ("", "  ignore: '/*'\n", "spec.ignore: ignore is not supported yet"),
        (
            "",
            "  layerSelector: {operation: unpack}\n",
            "spec.layerSelector.operation: expected extract or copy",
        ),
        ("", "  ref: {digest: 'sha256:abc'}\n", "spec.ref.digest: expected sha256: and 64 lowercase hex"),
        (
            "",
            "  secretRef: {name: absent}\n",
            "spec.secretRef: the Secret apps/absent is not in the included",
        ),
        (
            "",
            "  secretRef: {name: opaque}\n",
            "the Secret apps/opaque has no .dockerconfigjson; create it with",
        ),
    ],
)
def test_what_kubedrift_cannot_read_is_the_apps_one_error(
    tmp_path: Path, url: str, spec: str, because: str
) -> None:
    (tmp_path / "opaque.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: opaque, namespace: apps}\nstringData: {token: x}\n"
    )

    app = flux_app(tmp_path, None, spec, url=url)

    assert because in app.unrenderable and "web.yaml:" in app.unrenderable, app.unrenderable


def test_an_oci_repository_not_in_the_files_is_the_apps_one_error(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(KUSTOMIZATION.format(path="./", extra=""))

    ((app, _),) = applications_at(tmp_path, TrackingMethod.FLUX)

    assert app.unrenderable.endswith(
        "web.yaml:5: spec.sourceRef: the OCIRepository apps/web is not in the included files; include the "
        "file that declares it"
    )


# Loaded from the registry ------------------------------------------------------------------------


def test_the_artifact_renders_and_a_new_tag_is_found_by_the_next_poll(
    registry: Registry, tmp_path: Path
) -> None:
    first = registry.push_artifact("manifests/web", "1.0.0", {"deploy/web.yaml": configmap("one")})
    app = flux_app(tmp_path / "fleet", registry, "  ref: {semver: '1.x'}\n", path="./deploy")
    loader = AppDesiredState(app, cache_dir=tmp_path / "cache")

    state = loader.load()
    assert (state.errors, state.revision) == ((), f"1.0.0@{first}")
    assert state.objects[WEB]["data"] == {"message": "one"}
    assert loader.source.is_polled and loader.source.may_have_changed(), "a registry is polled"
    assert loader.source.history() == []

    second = registry.push_artifact("manifests/web", "1.1.0", {"deploy/web.yaml": configmap("two")})
    loader.source.refresh()  # what each poll does before it loads
    state = loader.load()
    assert (state.errors, state.revision) == ((), f"1.1.0@{second}")
    assert state.objects[WEB]["data"] == {"message": "two"}

    past = loader.load(f"1.0.0@{first}")  # a rollback, or a sync to a past revision
    assert past.objects[WEB]["data"] == {"message": "one"}


def test_a_registry_gone_keeps_the_last_good_artifact_with_the_reason(tmp_path: Path) -> None:
    registry = Registry()
    first = registry.push_artifact("manifests/web", "latest", {"web.yaml": configmap("one")})
    app = flux_app(tmp_path / "fleet", registry)
    loader = AppDesiredState(app, cache_dir=tmp_path / "cache")
    assert loader.load().revision == f"latest@{first}"
    registry.close()

    loader.source.refresh()
    state = loader.load()

    assert state.revision == f"latest@{first}" and state.objects[WEB]["data"] == {"message": "one"}
    (error,) = state.errors
    assert "OCIRepository apps/web: spec.url: the tag latest cannot be read: the registry" in error
    assert error.endswith(f"(still showing revision latest@{first[7:19]})")


def test_a_path_the_artifact_does_not_have_names_the_kustomizations_path(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_artifact("manifests/web", "latest", {"deploy/web.yaml": configmap("one")})
    app = flux_app(tmp_path / "fleet", registry, path="./staging")

    (error,) = AppDesiredState(app, cache_dir=tmp_path / "cache").load().errors

    assert error.endswith("has no folder staging; fix the Kustomization's spec.path")
    assert error.startswith("the artifact latest@sha256:") and SECRET not in error


@needs_kubectl
def test_an_overlay_reads_its_base_beside_it_in_the_artifact_and_the_kustomizations_options_apply(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_artifact(
        "manifests/web",
        "latest",
        {
            "base/kustomization.yaml": "resources: [web.yaml]\n",
            "base/web.yaml": configmap("base"),
            "production/kustomization.yaml": (
                "resources: [../base]\npatches:\n  - patch: |\n      {kind: ConfigMap, apiVersion: v1, "
                "metadata: {name: web}, data: {message: production}}\n"
            ),
        },
    )
    app = flux_app(
        tmp_path / "fleet",
        registry,
        path="./production",
        extra="  targetNamespace: shop\n  namePrefix: prod-\n",
    )

    state = AppDesiredState(app, cache_dir=tmp_path / "cache").load()

    assert state.errors == ()
    assert state.objects[ResourceKey("", "ConfigMap", "shop", "prod-web")]["data"] == {
        "message": "production"
    }


@needs_kubectl
def test_a_past_revision_and_the_fallback_after_it_each_build_their_own_artifact(tmp_path: Path) -> None:
    registry = Registry()
    files = {"kustomization.yaml": "resources: [web.yaml]\n"}
    first = registry.push_artifact("manifests/web", "1.0.0", {**files, "web.yaml": configmap("one")})
    app = flux_app(tmp_path / "fleet", registry, "  ref: {semver: '1.x'}\n")
    loader = AppDesiredState(app, cache_dir=tmp_path / "cache")
    assert loader.load().objects[WEB]["data"] == {"message": "one"}
    second = registry.push_artifact("manifests/web", "1.1.0", {**files, "web.yaml": configmap("two")})
    loader.source.refresh()
    assert loader.load().objects[WEB]["data"] == {"message": "two"}

    assert loader.load(f"1.0.0@{first}").objects[WEB]["data"] == {"message": "one"}
    registry.close()
    loader.source.refresh()
    fallback = loader.load()

    assert fallback.revision == f"1.1.0@{second}" and len(fallback.errors) == 1
    assert fallback.objects[WEB]["data"] == {"message": "two"}, "last good's own artifact, not the past one"
