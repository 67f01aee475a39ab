"""Argo CD's `source.kustomize` options applied to a real kustomization and built by the real
`kubectl kustomize`: each option changes the output as Argo CD's `kustomize edit` commands would,
the user's folder is never written, a missing tool is one clear error, and each bad option is one
sentence before anything is built."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import RenderError
from core.kustomize import SubprocessKustomize
from core.kustomize_overlay import build_with_options, edited_kustomization
from core.render import Renderer
from core.source_options import KustomizeOptions, KustomizeReplica

REPO = Path(__file__).resolve().parent.parent / "fixtures" / "kustomize"
"""Stands for a repository: guestbook/base, the overlay guestbook/overlays/dev, and components/debug."""
DEV = REPO / "guestbook" / "overlays" / "dev"
COMPONENT = "../../../components/debug"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
VERSIONED_KUBECTLS = sorted(
    Path("/usr/lib/google-cloud-sdk/bin").glob("kubectl.1.*"), key=lambda path: int(path.suffix[1:])
) or ([Path(KUBECTL)] if KUBECTL else [])
"""The Cloud SDK's kubectl of each minor version, 1.27 (kustomize v5.0) to 1.33 (v5.6), where installed."""


@pytest.fixture(autouse=True)
def own_home_and_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each kubectl run gets a HOME of its own; every temporary copy must be gone after the test."""
    (tmp_path / "home").mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert list(scratch.iterdir()) == [], "the temporary copy was left behind"


def kustomize(**changes: Any) -> KustomizeOptions:
    if "patches" in changes:
        changes["patches"] = json.dumps(changes["patches"], sort_keys=True, separators=(",", ":"))
    return KustomizeOptions(**changes)


def build(options: KustomizeOptions, app: Path = DEV, runner: SubprocessKustomize | None = None) -> bytes:
    output = build_with_options(app, REPO, options, runner or SubprocessKustomize())
    assert output is not None
    return output


def objects(options: KustomizeOptions, app: Path = DEV) -> dict[str, dict[str, Any]]:
    """The built objects keyed `Kind/name`."""
    built = [doc for doc in yaml.safe_load_all(build(options, app)) if doc]
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in built}


def container(objs: dict[str, dict[str, Any]], deployment: str) -> dict[str, Any]:
    first: dict[str, Any] = objs[f"Deployment/{deployment}"]["spec"]["template"]["spec"]["containers"][0]
    return first


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and link under `root` with its content's hash, and each file's mode."""
    digests = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            digests[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            digests[str(path)] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode:o}"
    return digests


class NeverBuilt:
    def build(self, directory: Path) -> bytes | None:
        raise AssertionError("a bad option must be refused before kustomize runs")


class Recording:
    def __init__(self) -> None:
        self.built: list[Path] = []

    def build(self, directory: Path) -> bytes | None:
        self.built.append(directory)
        return b"kind: ConfigMap\n"


# No options: today's build, untouched


def test_empty_options_build_the_app_folder_itself_without_a_copy() -> None:
    runner = Recording()
    assert build_with_options(DEV, REPO, KustomizeOptions(), runner) == b"kind: ConfigMap\n"
    assert runner.built == [DEV]


# Each option, as Argo CD's `kustomize edit` leaves the kustomization


@needs_kubectl
def test_name_prefix_replaces_the_apps_own_and_reaches_references() -> None:
    objs = objects(kustomize(name_prefix="qa-"))

    # `kustomize edit set nameprefix` overwrites the overlay's `namePrefix: dev-`; it does not stack.
    assert "Deployment/qa-guestbook-ui" in objs and "Service/qa-guestbook-ui" in objs
    [configmap] = [name for name in objs if name.startswith("ConfigMap/")]
    assert configmap.startswith("ConfigMap/qa-guestbook-cm-")
    volume = objs["Deployment/qa-guestbook-ui"]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == configmap.removeprefix("ConfigMap/"), "references follow the name"


@needs_kubectl
def test_name_suffix_keeps_the_apps_prefix() -> None:
    objs = objects(kustomize(name_suffix="-v2"))
    assert {"Deployment/dev-guestbook-ui-v2", "Service/dev-guestbook-ui-v2"} <= set(objs)
    volume = objs["Deployment/dev-guestbook-ui-v2"]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"].startswith("dev-guestbook-cm-v2-")


@needs_kubectl
@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx:1.27", "nginx:1.27"),
        ("nginx=registry.example.com:5000/web/nginx:2.0", "registry.example.com:5000/web/nginx:2.0"),
        ("nginx@sha256:" + "a" * 64, "nginx@sha256:" + "a" * 64),
        # The overlay's own entry (newTag 1.25) is replaced whole, so the base's tag shows again...
        ("nginx=ghcr.io/acme/nginx", "ghcr.io/acme/nginx:1.16"),
        # ...unless `*` keeps the overlay's value.
        ("nginx=ghcr.io/acme/nginx:*", "ghcr.io/acme/nginx:1.25"),
    ],
)
def test_an_image_override_replaces_the_apps_entry_for_that_image(image: str, expected: str) -> None:
    assert container(objects(kustomize(images=(image,))), "dev-guestbook-ui")["image"] == expected


@needs_kubectl
def test_common_labels_reach_selectors_and_annotations_reach_every_object() -> None:
    objs = objects(
        kustomize(
            common_labels=(("team", "web"),), common_annotations=(("owner", '"café ☕"'), ("empty", ""))
        )
    )
    deployment, service = objs["Deployment/dev-guestbook-ui"], objs["Service/dev-guestbook-ui"]
    # commonLabels, as `kustomize edit add label` writes them: selectors and templates too.
    assert deployment["metadata"]["labels"] == {"env": "dev", "team": "web"}
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app": "guestbook-ui",
        "env": "dev",
        "team": "web",
    }
    assert service["spec"]["selector"]["team"] == "web"
    # kustomize strips one pair of double quotes from a `key:"value"` argument.
    assert all(obj["metadata"]["annotations"] == {"owner": "café ☕", "empty": ""} for obj in objs.values())


@needs_kubectl
def test_namespace_and_replicas() -> None:
    objs = objects(kustomize(namespace="shop", replicas=(KustomizeReplica("guestbook-ui", 4),)))
    assert {obj["metadata"]["namespace"] for obj in objs.values()} == {"shop"}
    assert objs["Deployment/dev-guestbook-ui"]["spec"]["replicas"] == 4


@needs_kubectl
def test_patches_are_appended_to_the_apps_own() -> None:
    smp = "apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook-ui\nspec:\n  type: NodePort\n"
    json6902 = "- op: replace\n  path: /spec/template/spec/containers/0/ports/0/containerPort\n  value: 443"
    patches = [
        {"patch": smp},
        {"target": {"kind": "Deployment", "name": "guestbook-ui"}, "patch": json6902},
        {"path": "probe-patch.yaml"},
    ]
    objs = objects(kustomize(patches=patches))

    service = objs["Service/dev-guestbook-ui"]
    assert service["spec"]["type"] == "NodePort", "an inline strategic-merge patch, matched by its own name"
    assert service["spec"]["ports"][0]["port"] == 8080, "the overlay's own patch still applies"
    web = container(objs, "dev-guestbook-ui")
    assert web["ports"][0]["containerPort"] == 443, "a JSON 6902 patch with a target (pre-prefix name)"
    assert web["readinessProbe"]["httpGet"]["port"] == 80, "a patch file beside the kustomization"


@needs_kubectl
@pytest.mark.parametrize("component", [COMPONENT, "../../../components/*"])
def test_a_component_adds_its_objects_and_patches_inside_the_app(component: str) -> None:
    objs = objects(kustomize(components=(component,)))
    # Inside the app's kustomization, so its prefix and labels reach the component's objects too.
    assert objs["ConfigMap/dev-debug-settings"]["metadata"]["labels"] == {"env": "dev"}
    template = objs["Deployment/dev-guestbook-ui"]["spec"]["template"]["metadata"]
    assert template["annotations"] == {"debug.example.com/enabled": "true"}


@needs_kubectl
@pytest.mark.parametrize(
    "kubectl", VERSIONED_KUBECTLS[:1] + VERSIONED_KUBECTLS[-1:], ids=lambda path: path.name
)
def test_every_option_at_once_on_the_oldest_and_newest_kubectl(kubectl: Path) -> None:
    """The kustomization written here is one every embedded kustomize (v5.0 to v5.6) reads alike."""
    options = kustomize(
        name_prefix="qa-",
        name_suffix="-v2",
        images=("nginx=ghcr.io/acme/nginx:*",),
        common_labels=(("team", "web"),),
        common_annotations=(("note", "café ☕"),),
        namespace="shop",
        replicas=(KustomizeReplica("guestbook-ui", 3),),
        patches=[
            {"target": {"kind": "Service"}, "patch": "- op: add\n  path: /spec/type\n  value: NodePort"}
        ],
        components=(COMPONENT,),
    )
    runner = SubprocessKustomize(which=lambda name: str(kubectl) if name == "kubectl" else None)
    built = {
        f"{doc['kind']}/{doc['metadata']['name']}": doc
        for doc in yaml.safe_load_all(build(options, runner=runner))
    }

    assert set(built) == {
        "ConfigMap/qa-debug-settings-v2",
        "Deployment/qa-guestbook-ui-v2",
        "Service/qa-guestbook-ui-v2",
    } | {name for name in built if name.startswith("ConfigMap/qa-guestbook-cm-v2-")}
    deployment = built["Deployment/qa-guestbook-ui-v2"]
    assert deployment["metadata"] == {
        "name": "qa-guestbook-ui-v2",
        "namespace": "shop",
        "labels": {"env": "dev", "team": "web"},
        "annotations": {"note": "café ☕"},
    }
    assert deployment["spec"]["replicas"] == 3
    assert container(built, "qa-guestbook-ui-v2")["image"] == "ghcr.io/acme/nginx:1.25"
    assert built["Service/qa-guestbook-ui-v2"]["spec"]["type"] == "NodePort"


# The user's files, the tool, and kustomize's own failures


@needs_kubectl
def test_the_users_folder_is_byte_for_byte_unchanged() -> None:
    before = tree_digest(REPO)
    objects(
        kustomize(
            name_prefix="qa-",
            images=("nginx:1.27",),
            common_labels=(("team", "web"),),
            patches=[{"path": "probe-patch.yaml"}],
            components=(COMPONENT,),
        )
    )
    assert tree_digest(REPO) == before


@needs_kubectl
def test_a_kustomization_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo)
    app = repo / "guestbook" / "overlays" / "dev"
    (repo / "shared-kustomization.yaml").write_bytes((app / "kustomization.yaml").read_bytes())
    (app / "kustomization.yaml").unlink()
    (app / "kustomization.yaml").symlink_to("../../../shared-kustomization.yaml")
    before = tree_digest(repo)

    output = build_with_options(app, repo, kustomize(name_prefix="qa-"), SubprocessKustomize())

    assert output is not None and b"name: qa-guestbook-ui" in output
    assert tree_digest(repo) == before


def test_without_kubectl_or_kustomize_the_app_gets_one_clear_error(tmp_path: Path) -> None:
    nothing_installed = SubprocessKustomize(which=lambda _name: None)
    options = kustomize(name_prefix="qa-")
    assert build_with_options(DEV, REPO, options, nothing_installed) is None

    class WithOptions:
        """How the renderer will call this module: as the runner of the app folder."""

        def build(self, directory: Path) -> bytes | None:
            return build_with_options(directory, REPO, options, nothing_installed)

    renderer = Renderer(default_namespace="shop", kustomize=WithOptions(), app_path="guestbook/overlays/dev")
    files = {path.name: path.read_bytes() for path in DEV.iterdir()}
    [error] = renderer.render(files, materialize=lambda: DEV).errors
    assert str(error) == (
        "kustomization.yaml: kustomization.yaml found in guestbook/overlays/dev but neither kubectl nor "
        "kustomize is installed; install one of them"
    )


@needs_kubectl
def test_a_kustomize_failure_names_no_temporary_path() -> None:
    missing = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: not-there\nspec:\n  replicas: 2\n"
    with pytest.raises(RenderError) as raised:
        build(kustomize(patches=[{"patch": missing}]))
    message = raised.value.message
    assert message.startswith("kubectl kustomize failed:") and "not-there" in message
    assert tempfile.gettempdir() not in message and "\n" not in message


# Bad options: one sentence each, before kustomize runs


BAD_OPTIONS: dict[str, tuple[KustomizeOptions, str | re.Pattern[str]]] = {
    "bare image": (
        kustomize(images=("nginx",)),
        "source.kustomize.images[0] 'nginx' gives no new name, tag or digest; write it as "
        "name=newName:tag, name:tag, name@digest or name=newName",
    ),
    "image without a name": (
        kustomize(images=("nginx:1", "=nginx:1.2")),
        "source.kustomize.images[1] '=nginx:1.2' names no image before '='; write it as "
        "name=newName:tag, name:tag, name@digest or name=newName",
    ),
    "replica name with =": (
        kustomize(replicas=(KustomizeReplica("web=2", 3),)),
        "source.kustomize.replicas[0] name 'web=2' cannot be passed as name=count; use the object's name",
    ),
    "label the app sets already": (
        kustomize(common_labels=(("env", "prod"),)),
        "source.kustomize.commonLabels sets the label 'env', which kustomization.yaml sets already, and "
        "Argo CD refuses that too (unless forceCommonLabels); remove one of them",
    ),
    "label key with a colon": (
        kustomize(common_labels=(("team:x", "web"),)),
        "source.kustomize.commonLabels key 'team:x' cannot be passed as key:value; use a valid label key",
    ),
    "patch that is not YAML": (
        kustomize(patches=[{"target": {"kind": "Service"}, "patch": "spec: [unclosed"}]),
        # libyaml's words, or PyYAML's where libyaml is missing
        re.compile(r"source\.kustomize\.patches\[0\]\.patch is not valid YAML \([^;]+\); fix the patch"),
    ),
    "JSON patch without a target": (
        kustomize(patches=[{"patch": "- op: remove\n  path: /spec/replicas"}]),
        "source.kustomize.patches[0].patch is a JSON patch (a list of operations) without a target; "
        "add a target",
    ),
    "JSON patch with an unknown op": (
        kustomize(patches=[{"target": {"kind": "Service"}, "patch": "- op: rplace\n  path: /spec"}]),
        "source.kustomize.patches[0].patch operation 1 has op 'rplace'; "
        "use one of add, remove, replace, move, copy, test",
    ),
    "JSON patch op without a value": (
        kustomize(patches=[{"target": {"kind": "Service"}, "patch": '[{"op": "add", "path": "/spec/x"}]'}]),
        "source.kustomize.patches[0].patch operation 1 (add) has no value; add it",
    ),
    "strategic-merge patch naming nothing": (
        kustomize(patches=[{"target": {"kind": "Service"}, "patch": "spec:\n  type: NodePort"}]),
        "source.kustomize.patches[0].patch is a strategic-merge patch without a kind and metadata.name; "
        "add both",
    ),
    "patch and path": (
        kustomize(patches=[{"path": "probe-patch.yaml", "patch": "kind: Service"}]),
        "source.kustomize.patches[0] sets both patch and path, which kustomize refuses; keep one",
    ),
    "patch with an unknown key": (
        kustomize(patches=[{"targt": {"kind": "Service"}, "patch": "kind: Service"}]),
        "source.kustomize.patches[0] has the unknown key 'targt'; use path, patch, target, options",
    ),
    "patch file outside the app folder": (
        kustomize(patches=[{"path": "../../base/guestbook-ui-svc.yaml"}]),
        "source.kustomize.patches[0].path '../../base/guestbook-ui-svc.yaml' is outside the app folder, "
        "which kustomize refuses to read a patch from; move the patch into the app folder",
    ),
    "missing patch file": (
        kustomize(patches=[{"path": "nope.yaml"}]),
        "source.kustomize.patches[0].path 'nope.yaml' is no file; check the path, which is relative to "
        "the app folder",
    ),
    "missing component": (
        kustomize(components=("../../../components/nope",)),
        "source.kustomize.components[0] '../../../components/nope' does not exist; check the path, which "
        "is relative to the app folder",
    ),
    "component that is no kustomization": (
        kustomize(components=("../../base/index.html",)),
        "source.kustomize.components[0] '../../base/index.html' is not a folder with a kustomization.yaml; "
        "name the component's folder",
    ),
}


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_a_bad_option_is_one_sentence_before_kustomize_runs(
    options: KustomizeOptions, message: str | re.Pattern[str]
) -> None:
    with pytest.raises(RenderError) as raised:
        build_with_options(DEV, REPO, options, NeverBuilt())
    if isinstance(message, re.Pattern):
        assert message.fullmatch(raised.value.message), raised.value.message
    else:
        assert raised.value.message == message


def test_a_component_outside_the_repository_is_refused_also_through_a_link(tmp_path: Path) -> None:
    outside = (
        "source.kustomize.components[0] '../../../components/debug' leads outside the repository, which "
        "kubedrift refuses to read; use one inside"
    )
    with pytest.raises(RenderError) as raised:
        build_with_options(DEV, REPO / "guestbook", kustomize(components=(COMPONENT,)), NeverBuilt())
    assert raised.value.message == outside

    repo = tmp_path / "repo"
    shutil.copytree(REPO / "guestbook", repo / "guestbook")
    (repo / "components").symlink_to(REPO / "components")  # the folder is there, but leads elsewhere
    with pytest.raises(RenderError) as raised:
        build_with_options(
            repo / "guestbook" / "overlays" / "dev", repo, kustomize(components=(COMPONENT,)), NeverBuilt()
        )
    assert raised.value.message == outside


def test_an_unreadable_kustomization_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - a.yaml\n namePrefix: x\n")
    with pytest.raises(RenderError) as raised:
        build_with_options(tmp_path, tmp_path, kustomize(name_prefix="qa-"), NeverBuilt())
    assert (raised.value.file, raised.value.line) == ("kustomization.yaml", 3)
    assert raised.value.message.endswith("; fix the kustomization")


# The edits themselves, as kustomize's `edit` commands make them


def edit(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    env = changes.pop("env", {})
    return edited_kustomization(document, kustomize(**changes), app_folder=DEV, repo_root=REPO, env=env)


def test_images_merge_by_name_sorted_with_image_tags_folded_in() -> None:
    document = {
        "images": [{"name": "redis", "newTag": "7"}, {"name": "nginx", "newName": "old", "newTag": "1"}],
        "imageTags": [{"name": "busybox", "newTag": "1.36"}],
    }
    edited = edit(document, images=("nginx=*:2", "alpine@sha256:abc", "redis=*"))
    assert edited["images"] == [
        {"name": "alpine", "digest": "sha256:abc"},
        {"name": "busybox", "newTag": "1.36"},
        {"name": "nginx", "newName": "old", "newTag": "2"},
        {"name": "redis"},
    ]
    assert "imageTags" not in edited
    assert document["images"][0] == {"name": "redis", "newTag": "7"}, "the document read is not changed"


def test_scalar_fields_are_overwritten_whatever_case_the_file_used() -> None:
    edited = edit({"NamePrefix": "old-", "namespace": "a"}, name_prefix="new-", namespace="b")
    assert edited == {"namePrefix": "new-", "namespace": "b"}


def test_replicas_merge_by_name_and_components_are_not_listed_twice() -> None:
    document = {
        "replicas": [{"name": "web", "count": 1}, {"name": "api", "count": 2}],
        "components": [COMPONENT],
    }
    edited = edit(document, replicas=(KustomizeReplica("web", 5),), components=(COMPONENT,))
    assert edited["replicas"] == [{"name": "api", "count": 2}, {"name": "web", "count": 5}]
    assert edited["components"] == [COMPONENT]


def test_build_environment_is_substituted_in_images_and_label_values_only() -> None:
    env = {"ARGOCD_APP_REVISION": "f913b6c", "ARGOCD_APP_NAME": "shop"}
    edited = edit(
        {},
        env=env,
        images=("nginx:${ARGOCD_APP_REVISION}",),
        common_labels=(("app", "$ARGOCD_APP_NAME-$UNSET$$"),),
        common_annotations=(("name", "${ARGOCD_APP_NAME}"),),
    )
    assert edited["images"] == [{"name": "nginx", "newTag": "f913b6c"}]
    assert edited["commonLabels"] == {"app": "shop-$"}
    assert edited["commonAnnotations"] == {"name": "${ARGOCD_APP_NAME}"}, (
        "only with commonAnnotationsEnvsubst"
    )
