"""Rendering an app's files into desired objects: parsing, validation, namespaces, caching, kustomize."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from core.errors import RenderError
from core.kinds import BUILTIN_SCOPE, KindTable
from core.kustomize import SubprocessKustomize
from core.manifest_file import is_manifest_path
from core.model import ResourceKey
from core.render import Renderer, RenderResult

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  key: value
"""


def render(files: dict[str, str], renderer: Renderer | None = None) -> RenderResult:
    renderer = renderer or Renderer(default_namespace="shop")
    return renderer.render(encode(files))


def encode(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode() for path, text in files.items()}


def deployment(namespace: str, name: str) -> ResourceKey:
    return ResourceKey("apps", "Deployment", namespace, name)


def configmap(namespace: str, name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", namespace, name)


# Parsing


def test_multi_document_yaml_gives_every_object_with_its_start_line() -> None:
    text = (
        "# leading comment\n"
        "---\n" + DEPLOYMENT.format(name="web") + "---\n"  # line 3
        "---\n"  # an empty document
        "null\n"
        "---\n" + CONFIGMAP.format(name="settings")  # line 13
    )
    result = render({"all.yaml": text})

    assert result.ok, result.errors
    assert list(result.objects) == [deployment("shop", "web"), configmap("shop", "settings")]
    web = result.objects[deployment("shop", "web")]
    assert (web.file, web.line, web.version) == ("all.yaml", 3, "v1")
    assert result.objects[configmap("shop", "settings")].line == 13


def test_json_file_is_parsed_and_its_syntax_error_names_the_line() -> None:
    good = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"}}'
    bad = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap"\n  "metadata": {}\n}'
    result = render({"good.json": good, "bad.json": bad})

    assert set(result.objects) == {configmap("shop", "from-json")}
    assert [(error.file, error.line) for error in result.errors] == [("bad.json", 4)]
    assert "bad JSON" in str(result.errors[0]) and "fix the syntax" in str(result.errors[0])


def test_files_are_found_recursively_and_hidden_or_foreign_files_are_skipped() -> None:
    files = {
        "web.yaml": DEPLOYMENT.format(name="top"),
        "nested/deeper/api.yml": DEPLOYMENT.format(name="deep"),
        ".github/workflow.yaml": "on: push\n",
        "nested/.secret.yaml": DEPLOYMENT.format(name="hidden-file"),
        "nested/.cache/x.yaml": DEPLOYMENT.format(name="hidden-dir"),
        "README.md": "# not a manifest: [",
        "values.txt": "key: [",
    }
    result = render(files)

    assert result.ok, result.errors
    assert {key.name for key in result.objects} == {"top", "deep"}
    assert result.objects[deployment("shop", "deep")].file == "nested/deeper/api.yml"


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("a.yaml", True),
        ("a/b.yml", True),
        ("c.json", True),
        (".a.yaml", False),
        ("a/.b/c.yaml", False),
        ("a.txt", False),
        ("base/kustomization.yaml", False),
    ],
)
def test_is_manifest_path(path: str, rendered: bool) -> None:
    assert is_manifest_path(path) is rendered


def test_list_kinds_are_expanded_with_a_line_per_item() -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: first}
  - apiVersion: v1
    kind: ConfigMapList
    items:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: nested}
"""
    result = render({"list.yaml": text})

    assert result.ok, result.errors
    assert [(key.name, desired.line) for key, desired in result.objects.items()] == [
        ("first", 4),
        ("nested", 10),
    ]


def test_timestamps_stay_strings_and_values_match_the_safe_loader() -> None:
    text = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: typed
  annotations: {built: 2024-01-31}
defaults: &defaults {replicas: 3, enabled: yes, ratio: 0.5, mode: 0644, none: ~, port: 8080, off: off}
data:
  <<: *defaults
  plain: "text"
  list: [1, -2, "3", 1_000, 0x1F, 1.5e+3]
"""
    result = render({"typed.yaml": text})
    obj = result.objects[configmap("shop", "typed")].obj

    assert obj["metadata"]["annotations"]["built"] == "2024-01-31"
    expected = yaml.safe_load(text)
    del expected["metadata"]["annotations"], obj["metadata"]["annotations"], obj["metadata"]["namespace"]
    # Kubernetes makes every key a string (`off:` is "false"), where PyYAML keeps False; values agree.
    for mapping in (expected["defaults"], expected["data"]):
        mapping["false"] = mapping.pop(False)
    assert obj == expected


# Errors


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", "document 2 has no apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "document 2 has no kind"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n",
            "document 2 (ConfigMap) has no metadata.name",
        ),
        ("apiVersion: apps/v1\nkind: Deployment\n", "document 2 (apps/Deployment) has no metadata mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 42}\n", "metadata.name that is not a string"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: 7}\n",
            "namespace that is not a string",
        ),
        ("- just\n- a list\n", "document 2 is a list, not an object"),
    ],
)
def test_an_invalid_document_is_an_error_naming_file_line_and_index(document: str, expected: str) -> None:
    text = CONFIGMAP.format(name="fine") + "---\n# comment\n" + document
    result = render({"dir/mixed.yaml": text})

    assert set(result.objects) == {configmap("shop", "fine")}
    assert len(result.errors) == 1
    error = result.errors[0]
    assert (error.file, error.line) == ("dir/mixed.yaml", 9)
    assert expected in error.message
    assert str(error).startswith("dir/mixed.yaml:9: ")


def test_bad_yaml_is_one_error_with_its_line_and_other_files_still_render() -> None:
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: name: x\n"
    result = render({"a.yaml": broken, "b.yaml": DEPLOYMENT.format(name="web")})

    assert set(result.objects) == {deployment("shop", "web")}
    assert not result.ok
    [error] = result.errors
    assert isinstance(error, RenderError)
    assert (error.file, error.line) == ("a.yaml", 3)
    assert str(error).startswith("a.yaml:3: bad YAML: mapping values are not allowed")
    assert str(error).endswith("; fix the syntax")


def test_a_file_broken_half_way_contributes_nothing() -> None:
    text = DEPLOYMENT.format(name="before") + "---\nkey: [unclosed\n"
    result = render({"half.yaml": text, "other.yaml": CONFIGMAP.format(name="other")})

    assert set(result.objects) == {configmap("shop", "other")}
    assert [error.file for error in result.errors] == ["half.yaml"]


def test_undecodable_and_self_referencing_yaml_are_errors_not_tracebacks() -> None:
    renderer = Renderer(default_namespace="shop")
    result = renderer.render({"latin1.yaml": "name: caf\xe9\n".encode("latin-1"), "loop.yaml": b"&a [*a]\n"})

    messages = {error.file: error.message for error in result.errors}
    assert "not UTF-8" in messages["latin1.yaml"]
    assert "refers to itself" in messages["loop.yaml"]


def test_a_duplicate_across_files_names_both_and_keeps_the_first() -> None:
    second = CONFIGMAP.format(name="other") + "---\n" + DEPLOYMENT.format(name="web")
    result = render({"a.yaml": DEPLOYMENT.format(name="web"), "b.yaml": second})

    assert result.objects[deployment("shop", "web")].file == "a.yaml"
    assert configmap("shop", "other") in result.objects
    [error] = result.errors
    assert (error.file, error.line) == ("b.yaml", 8)
    assert error.message == "apps/Deployment shop/web is declared twice: in a.yaml:1 and b.yaml:8; keep one"


def test_objects_differing_only_by_namespace_are_not_duplicates() -> None:
    text = (
        DEPLOYMENT.format(name="web")
        + "---\n"
        + DEPLOYMENT.format(name="web").replace("name: web", "name: web\n  namespace: other")
    )
    result = render({"a.yaml": text})

    assert result.ok, result.errors
    assert set(result.objects) == {deployment("shop", "web"), deployment("other", "web")}


# Namespaces


def test_namespaced_kinds_get_the_default_namespace_and_keep_their_own() -> None:
    own = DEPLOYMENT.format(name="api").replace("name: api", "name: api\n  namespace: billing")
    result = render({"a.yaml": DEPLOYMENT.format(name="web"), "b.yaml": own})

    assert result.objects[deployment("shop", "web")].obj["metadata"]["namespace"] == "shop"
    assert result.objects[deployment("billing", "api")].obj["metadata"]["namespace"] == "billing"


def test_cluster_scoped_kinds_lose_a_namespace_they_set() -> None:
    text = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader, namespace: ignored}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
"""
    result = render({"cluster.yaml": text})

    role = result.objects[ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")]
    assert "namespace" not in role.obj["metadata"]
    assert ResourceKey("", "Namespace", "", "shop") in result.objects


def test_a_crd_in_the_set_decides_its_kinds_scope_and_other_custom_kinds_are_namespaced() -> None:
    text = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterissuers.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Cluster
  names: {kind: ClusterIssuer, plural: clusterissuers}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: site}
"""
    result = render({"crd.yaml": text})

    assert result.ok, result.errors
    assert set(result.objects) == {
        ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "clusterissuers.cert-manager.io"),
        ResourceKey("cert-manager.io", "ClusterIssuer", "", "letsencrypt"),
        ResourceKey("cert-manager.io", "Certificate", "shop", "site"),
    }


def test_an_injected_scope_overrides_the_builtin_table() -> None:
    scope = BUILTIN_SCOPE.copy()
    scope.add("example.io", "Widget", False)
    widget = "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w, namespace: x}\n"
    result = render({"w.yaml": widget}, Renderer(default_namespace="shop", scope=scope))

    assert set(result.objects) == {ResourceKey("example.io", "Widget", "", "w")}


def test_builtin_kind_table() -> None:
    assert BUILTIN_SCOPE.is_namespaced("apps", "Deployment") is True
    assert BUILTIN_SCOPE.is_namespaced("", "ConfigMap") is True
    assert BUILTIN_SCOPE.is_namespaced("", "Namespace") is False
    assert BUILTIN_SCOPE.is_namespaced("storage.k8s.io", "StorageClass") is False
    assert (
        BUILTIN_SCOPE.is_namespaced("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") is False
    )
    assert BUILTIN_SCOPE.is_namespaced("example.io", "Widget") is None
    with pytest.raises(TypeError):
        BUILTIN_SCOPE.add("example.io", "Widget", True)
    table = KindTable()
    table.add("example.io", "Widget", True)
    assert table.is_namespaced("example.io", "Widget") is True


def test_settling_a_namespace_never_mutates_an_earlier_result() -> None:
    widget = "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\n"
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec: {group: example.io, scope: Cluster, names: {kind: Widget}}
"""
    renderer = Renderer(default_namespace="shop")
    namespaced = renderer.render(encode({"w.yaml": widget})).objects[
        ResourceKey("example.io", "Widget", "shop", "w")
    ]
    cluster = renderer.render(encode({"w.yaml": widget, "crd.yaml": crd}))
    again = renderer.render(encode({"w.yaml": widget})).objects[
        ResourceKey("example.io", "Widget", "shop", "w")
    ]

    assert "namespace" not in cluster.objects[ResourceKey("example.io", "Widget", "", "w")].obj["metadata"]
    assert namespaced.obj["metadata"]["namespace"] == "shop"
    assert again.obj["metadata"]["namespace"] == "shop"
    assert renderer.parse_count == 2


# Caching


def test_a_re_render_re_parses_only_the_changed_files() -> None:
    files = {f"app/part{index}.yaml": CONFIGMAP.format(name=f"cm{index}") for index in range(5)}
    renderer = Renderer(default_namespace="shop")
    renderer.render(encode(files))
    assert renderer.parse_count == 5

    unchanged = renderer.render(encode(files))
    assert renderer.parse_count == 5
    assert len(unchanged.objects) == 5

    files["app/part2.yaml"] = CONFIGMAP.format(name="renamed")
    changed = renderer.render(encode(files))
    assert renderer.parse_count == 6
    assert configmap("shop", "renamed") in changed.objects
    assert configmap("shop", "cm2") not in changed.objects

    del files["app/part4.yaml"]
    files["app/new.yaml"] = CONFIGMAP.format(name="fresh")
    latest = renderer.render(encode(files))
    assert renderer.parse_count == 7
    assert {key.name for key in latest.objects} == {"cm0", "cm1", "renamed", "cm3", "fresh"}


def test_a_cached_file_follows_a_scope_change_in_another_file() -> None:
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec: {group: example.io, scope: Cluster, names: {kind: Widget}}
"""
    files = {"widget.yaml": "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\n"}
    renderer = Renderer(default_namespace="shop")
    assert set(renderer.render(encode(files)).objects) == {ResourceKey("example.io", "Widget", "shop", "w")}

    files["crd.yaml"] = crd
    assert ResourceKey("example.io", "Widget", "", "w") in renderer.render(encode(files)).objects
    assert renderer.parse_count == 2


# Kustomize

KUSTOMIZE_AVAILABLE = shutil.which("kubectl") is not None or shutil.which("kustomize") is not None
needs_kustomize = pytest.mark.skipif(
    not KUSTOMIZE_AVAILABLE, reason="neither kubectl nor kustomize is on PATH"
)


def write_tree(root: Path, files: dict[str, str]) -> dict[str, bytes]:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return encode(files)


@needs_kustomize
def test_a_kustomization_is_really_built(tmp_path: Path) -> None:
    files = write_tree(
        tmp_path,
        {
            "kustomization.yaml": "resources: [web.yaml, settings.yaml]\nnamePrefix: dev-\n"
            "labels:\n  - pairs: {team: shop}\n",
            "web.yaml": DEPLOYMENT.format(name="web"),
            "settings.yaml": CONFIGMAP.format(name="settings"),
        },
    )
    materialized: list[Path] = []

    def materialize() -> Path:
        materialized.append(tmp_path)
        return tmp_path

    renderer = Renderer(default_namespace="shop")
    result = renderer.render(files, materialize=materialize)

    assert result.ok, result.errors
    assert set(result.objects) == {deployment("shop", "dev-web"), configmap("shop", "dev-settings")}
    web = result.objects[deployment("shop", "dev-web")]
    assert web.obj["metadata"]["labels"] == {"team": "shop"}
    assert (web.file, web.line) == ("kustomization.yaml", None)

    renderer.render(files, materialize=materialize)
    assert len(materialized) == 1, "an unchanged tree must not be rebuilt"
    assert renderer.parse_count == 1


@needs_kustomize
def test_a_failing_kustomize_build_names_the_kustomization(tmp_path: Path) -> None:
    files = write_tree(tmp_path, {"kustomization.yaml": "resources: [missing.yaml]\n"})
    result = Renderer(default_namespace="shop").render(files, materialize=lambda: tmp_path)

    assert not result.objects
    [error] = result.errors
    assert error.file == "kustomization.yaml"
    assert "failed" in error.message and "missing.yaml" in error.message
    assert error.message.endswith("; fix the kustomization")
    assert str(tmp_path) not in error.message, "the checkout's temporary path means nothing to a user"


def test_without_kubectl_or_kustomize_the_error_says_to_install_one(tmp_path: Path) -> None:
    files = write_tree(tmp_path, {"kustomization.yaml": "resources: []\n"})
    renderer = Renderer(
        default_namespace="shop",
        kustomize=SubprocessKustomize(which=lambda _name: None),
        app_path="apps/shop",
    )
    result = renderer.render(files, materialize=lambda: tmp_path)

    [error] = result.errors
    assert error.file == "kustomization.yaml"
    assert error.message == (
        "kustomization.yaml found in apps/shop but neither kubectl nor kustomize is installed; "
        "install one of them"
    )


def test_an_empty_path_means_no_kustomize_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    files = write_tree(tmp_path, {"Kustomization": "resources: []\n"})
    result = Renderer(default_namespace="shop").render(files, materialize=lambda: tmp_path)

    assert "neither kubectl nor kustomize is installed" in result.errors[0].message


class FakeKustomize:
    def __init__(self, output: bytes) -> None:
        self.output = output
        self.built: list[Path] = []

    def build(self, directory: Path) -> bytes | None:
        self.built.append(directory)
        return self.output


def test_an_injected_runner_replaces_the_file_by_file_read(tmp_path: Path) -> None:
    runner = FakeKustomize(DEPLOYMENT.format(name="built").encode())
    renderer = Renderer(default_namespace="shop", kustomize=runner)
    files = encode({"kustomization.yml": "resources: [x.yaml]\n", "x.yaml": DEPLOYMENT.format(name="raw")})

    result = renderer.render(files, materialize=lambda: tmp_path)
    assert set(result.objects) == {deployment("shop", "built")}
    assert runner.built == [tmp_path]

    files["x.yaml"] = b"changed"
    renderer.render(files, materialize=lambda: tmp_path)
    assert len(runner.built) == 2, "a changed input file must trigger a rebuild"

    no_checkout = Renderer(default_namespace="shop", kustomize=runner).render(files)
    assert "no checkout" in no_checkout.errors[0].message


def test_a_kustomization_below_the_root_is_neither_built_nor_read_as_a_manifest() -> None:
    runner = FakeKustomize(b"")
    files = {"base/kustomization.yaml": "resources: []\n", "web.yaml": DEPLOYMENT.format(name="web")}
    result = render(files, Renderer(default_namespace="shop", kustomize=runner))

    assert not runner.built
    assert result.ok, result.errors
    assert set(result.objects) == {deployment("shop", "web")}
