"""A Flux Kustomization's path rendered as kustomize-controller renders it: a folder without a
kustomization gets the one Flux generates, the Kustomization's options edit it, and commonMetadata
labels and annotates each object's own metadata, never its selectors or templates."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import RenderError
from core.flux_kustomization import generated_kustomization
from core.kustomize import SubprocessKustomize
from core.kustomize_overlay import build_with_options
from core.model import ResourceKey
from core.render import Renderer
from core.source_options import KustomizeOptions

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cache
  labels: {app: cache, team: old}
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers: [{name: cache, image: "ghcr.io/example/cache:7.0"}]
"""
SETTINGS = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
FLUX = KustomizeOptions(generate_kustomization=True)
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")


@pytest.fixture(autouse=True)
def own_home_and_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """kubectl gets a HOME of its own; every temporary copy must be gone after the test."""
    (tmp_path / "home").mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert list(scratch.iterdir()) == [], "the temporary copy was left behind"


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


class Capturing:
    """A kustomize that records the kustomization it was asked to build, and builds nothing."""

    def __init__(self) -> None:
        self.kustomizations: list[dict[str, Any]] = []

    def build(self, directory: Path) -> bytes | None:
        self.kustomizations.append(json.loads((directory / "kustomization.yaml").read_text()))
        return SETTINGS.encode()


def test_the_generated_kustomization_lists_manifests_and_kustomization_folders(tmp_path: Path) -> None:
    app = write(
        tmp_path / "app",
        {
            "z.yaml": SETTINGS,
            "a.yml": SETTINGS,
            "nested/b.yaml": SETTINGS,
            "nested/deeper/c.yaml": SETTINGS,
            "overlay/kustomization.yaml": "resources: [x.yaml]\n",
            "overlay/x.yaml": SETTINGS,
            "data.json": "{}",
            "README.md": "docs",
            ".hidden/secret.yaml": SETTINGS,
        },
    )
    assert generated_kustomization(app) == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # .yaml and .yml only; a folder with its own kustomization enters whole and is not walked
        "resources": ["./a.yml", "./nested/b.yaml", "./nested/deeper/c.yaml", "./overlay", "./z.yaml"],
    }


def test_a_folder_with_no_manifests_is_nothing_to_render(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"notes.txt": "nothing"})
    with pytest.raises(RenderError, match=r"holds no \.yaml or \.yml manifests for Flux to build"):
        generated_kustomization(app)


def test_the_kustomizations_options_edit_the_generated_one_in_a_copy(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "repo", {"apps/cache/deployment.yaml": DEPLOYMENT, "apps/cache/cm.yaml": SETTINGS}
    )
    options = KustomizeOptions(
        generate_kustomization=True,
        namespace="infra",
        name_prefix="prod-",
        images=("ghcr.io/example/cache=ghcr.io/example/cache:7.2",),
    )
    runner = Capturing()
    assert build_with_options(repo / "apps" / "cache", repo, options, runner) == SETTINGS.encode()
    assert runner.kustomizations == [
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["./cm.yaml", "./deployment.yaml"],
            "namePrefix": "prod-",
            "images": [
                {"name": "ghcr.io/example/cache", "newName": "ghcr.io/example/cache", "newTag": "7.2"}
            ],
            "namespace": "infra",
        }
    ]
    assert sorted(path.name for path in (repo / "apps" / "cache").iterdir()) == ["cm.yaml", "deployment.yaml"]


def test_a_plain_folder_without_options_is_read_file_by_file(tmp_path: Path) -> None:
    class NeverBuilt:
        def build(self, directory: Path) -> bytes | None:
            raise AssertionError("nothing to edit, no nested kustomization: the files are the objects")

    renderer = Renderer(default_namespace="infra", kustomize=NeverBuilt(), kustomize_options=FLUX)
    result = renderer.render({"deployment.yaml": DEPLOYMENT.encode()})
    assert result.ok, result.errors
    desired = result.objects[ResourceKey("apps", "Deployment", "infra", "cache")]
    assert (desired.file, desired.line) == ("deployment.yaml", 1), "read file by file, lines kept"


def test_a_nested_kustomization_makes_flux_build_the_folder(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"cm.yaml": SETTINGS, "extra/kustomization.yaml": "resources: []\n"})
    runner = Capturing()
    renderer = Renderer(default_namespace="infra", kustomize=runner, kustomize_options=FLUX)
    files = {path.relative_to(app).as_posix(): path.read_bytes() for path in app.rglob("*") if path.is_file()}
    result = renderer.render(files, materialize=lambda: app)
    assert result.ok, result.errors
    assert runner.kustomizations[0]["resources"] == ["./cm.yaml", "./extra"]


def test_common_metadata_is_on_each_objects_own_metadata_only() -> None:
    options = KustomizeOptions(
        generate_kustomization=True,
        metadata_labels=(("team", "platform"), ("tier", "cache")),
        metadata_annotations=(("owner", "ops@example.com"),),
    )
    result = Renderer(default_namespace="infra", kustomize_options=options).render(
        {"deployment.yaml": DEPLOYMENT.encode(), "cm.yaml": SETTINGS.encode()}
    )
    assert result.ok, result.errors
    deployment = result.objects[ResourceKey("apps", "Deployment", "infra", "cache")].obj
    assert deployment["metadata"]["labels"] == {"app": "cache", "team": "platform", "tier": "cache"}
    assert deployment["metadata"]["annotations"] == {"owner": "ops@example.com"}
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "cache"}}
    assert deployment["spec"]["template"]["metadata"] == {"labels": {"app": "cache"}}
    settings = result.objects[ResourceKey("", "ConfigMap", "infra", "settings")].obj
    assert settings["metadata"]["labels"] == {"team": "platform", "tier": "cache"}


@needs_kubectl
def test_flux_options_on_a_plain_folder_are_built_by_real_kustomize(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"infra/deployment.yaml": DEPLOYMENT, "infra/cm.yaml": SETTINGS})
    options = KustomizeOptions(
        generate_kustomization=True,
        namespace="infra",
        name_prefix="prod-",
        images=("ghcr.io/example/cache=ghcr.io/example/cache:7.2",),
    )
    output = build_with_options(repo / "infra", repo, options, SubprocessKustomize())
    assert output is not None
    built = {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in yaml.safe_load_all(output)}
    assert sorted(built) == ["ConfigMap/prod-settings", "Deployment/prod-cache"]
    deployment = built["Deployment/prod-cache"]
    assert deployment["metadata"]["namespace"] == "infra"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/cache:7.2"
