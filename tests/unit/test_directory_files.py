"""Argo CD's `directory` options: which files of a plain folder are manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.directory_files import selected_paths
from core.errors import ConfigError
from core.render import Renderer
from core.source_options import DirectoryOptions

PATHS = ["a.yaml", "b.json", "README.md", "team/web.yaml", "team/db/pg.yaml", "env-use2/x.yaml", "skip.yaml"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (DirectoryOptions(), ["a.yaml", "b.json", "README.md", "skip.yaml"]),
        (DirectoryOptions(recurse=True), PATHS),
        (DirectoryOptions(recurse=True, include="*.yaml"), [p for p in PATHS if p.endswith(".yaml")]),
        (DirectoryOptions(recurse=True, include="team/*"), ["team/web.yaml", "team/db/pg.yaml"]),
        (DirectoryOptions(recurse=True, include="{a.yaml,env-use2/*}"), ["a.yaml", "env-use2/x.yaml"]),
        (DirectoryOptions(recurse=True, exclude="**/pg.yaml"), [p for p in PATHS if p != "team/db/pg.yaml"]),
        # exclude wins over include
        (DirectoryOptions(include="*.yaml", exclude="skip.yaml"), ["a.yaml"]),
        (DirectoryOptions(include="[ab].*"), ["a.yaml", "b.json"]),
        (DirectoryOptions(include="?.yaml"), ["a.yaml"]),
    ],
)
def test_recurse_include_and_exclude_select_as_argo_cd_does(
    options: DirectoryOptions, expected: list[str]
) -> None:
    assert selected_paths(PATHS, options) == expected


def test_a_pattern_is_matched_whole_and_literally_outside_its_wildcards() -> None:
    assert selected_paths(["a.yaml", "a.yaml.bak", "a+b.yaml"], DirectoryOptions(include="a*.yaml")) == [
        "a.yaml",
        "a+b.yaml",
    ]
    assert selected_paths(["x.yaml"], DirectoryOptions(include="{x.yaml")) == ["x.yaml"]  # unclosed brace


def deployment(name: str) -> bytes:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n".encode()


def test_the_renderer_reads_only_the_folder_itself_unless_told_to_recurse() -> None:
    files = {"top.yaml": deployment("top"), "sub/inner.yaml": deployment("inner")}
    flat = Renderer(default_namespace="default", directory=DirectoryOptions()).render(files)
    assert sorted(key.name for key in flat.objects) == ["top"]
    deep = Renderer(default_namespace="default", directory=DirectoryOptions(recurse=True)).render(files)
    assert sorted(key.name for key in deep.objects) == ["inner", "top"]


def test_kubedrift_yaml_reads_directory_options_and_refuses_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n"
        "  - name: web\n"
        "    source:\n"
        "      repoURL: .\n"
        "      path: web\n"
        "      directory: {recurse: true, include: '*.yaml', exclude: 'test/*'}\n"
    )
    (app,) = load_config(tmp_path / "kubedrift.yaml").apps
    assert app.source.options.directory == DirectoryOptions(recurse=True, include="*.yaml", exclude="test/*")
    (tmp_path / "kubedrift.yaml").write_text(
        "apps:\n  - name: web\n    source: {repoURL: ., directory: {recursive: true}}\n"
    )
    with pytest.raises(ConfigError, match=r"unknown key 'recursive'.*did you mean 'recurse'"):
        load_config(tmp_path / "kubedrift.yaml")


def test_hooks_are_not_desired_objects() -> None:
    hook = (
        b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
        b"  annotations: {helm.sh/hook: pre-install}\n"
    )
    argo_hook = (
        b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke\n"
        b"  annotations: {argocd.argoproj.io/hook: PostSync}\n"
    )
    files = {"a.yaml": deployment("plain"), "hook.yaml": hook, "smoke.yaml": argo_hook}
    rendered = Renderer(default_namespace="default").render(files)
    assert sorted(key.name for key in rendered.objects) == ["plain"] and rendered.ok


def test_a_chart_folder_renders_through_helm_with_the_app_name_as_release(tmp_path: Path) -> None:
    chart = Path(__file__).resolve().parent.parent / "fixtures" / "charts" / "widgets"
    files = {
        path.relative_to(chart).as_posix(): path.read_bytes() for path in chart.rglob("*") if path.is_file()
    }
    renderer = Renderer(default_namespace="team", release_name="demo", app_path=".")
    rendered = renderer.render(files, materialize=lambda: chart)
    assert rendered.ok, rendered.errors
    kinds = {key.kind for key in rendered.objects}
    assert "CustomResourceDefinition" in kinds and "Job" not in kinds, "the CRD is kept, the hook is not"
    assert all(key.namespace in ("team", "") for key in rendered.objects)


@pytest.mark.parametrize(
    ("files", "options", "why"),
    [
        ({"sub/a.yaml": deployment("a")}, DirectoryOptions(), "set source.directory.recurse: true"),
        ({"a.yaml": deployment("a")}, DirectoryOptions(include="*.json"), "include/exclude leave none"),
        ({"lib.libsonnet": b"{}"}, DirectoryOptions(), "only Jsonnet libraries"),
        ({"main.ts": b"", "cdk8s.yaml.txt": b""}, DirectoryOptions(), "config management plugin app?"),
        ({}, DirectoryOptions(), "empty or does not exist"),
    ],
)
def test_a_folder_that_renders_nothing_is_an_error_that_says_why(
    files: dict[str, bytes], options: DirectoryOptions, why: str
) -> None:
    rendered = Renderer(default_namespace="default", directory=options, app_path="apps/web").render(files)
    (error,) = rendered.errors
    assert str(error).startswith("nothing to render in apps/web: ") and why in str(error), str(error)
    assert not rendered.ok and not rendered.objects
