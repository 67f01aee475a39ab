"""An ExternalArtifact's files as source-watcher's builder makes them: each copy rule (a file, a folder,
`dir/**`, other globs, trailing slashes, exclude, Merge, order), and each way a copy fails."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from core.errors import RenderError
from core.flux_artifact import (
    ArtifactBuilds,
    ArtifactCopy,
    ArtifactFolder,
    FluxArtifact,
    artifact_files,
    files_below,
)
from core.flux_globs import exclude_problem, glob_problem
from core.unreadable_file import UnreadableFile

REPOSITORY = {
    "README.md": b"readme",
    "apps/base/podinfo/kustomization.yaml": b"base kustomization",
    "apps/base/podinfo/release.yaml": b"release",
    "apps/base/podinfo/notes.md": b"notes",
    "apps/production/kustomization.yaml": b"production kustomization",
    "apps/production/values.yaml": b"values",
    "infrastructure/configs/issuer.yaml": b"issuer",
    "infrastructure/configs/testdata/fixture.yaml": b"fixture",
    "infrastructure/controllers/ingress.yaml": b"ingress",
    "infrastructure/controllers/.hidden": b"hidden",
}


def copy(source: str, to: str, *, exclude: tuple[str, ...] = (), merge: bool = False) -> ArtifactCopy:
    alias, _, pattern = source.removeprefix("@").partition("/")
    return ArtifactCopy(
        alias=alias,
        pattern=pattern,
        to=to.removeprefix("@artifact/"),
        exclude=exclude,
        merge=merge,
        file="clusters/production/artifacts.yaml",
        line=12,
        field="spec.artifacts[0].copy[0]",
    )


def built(*copies: ArtifactCopy, files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    return artifact_files({"repo": REPOSITORY if files is None else files}, copies)


def test_a_folder_glob_ending_in_double_star_drops_its_prefix_and_copies_folders_whole() -> None:
    assert built(copy("@repo/apps/base/**", "@artifact/base/")) == {
        "base/podinfo/kustomization.yaml": b"base kustomization",
        "base/podinfo/release.yaml": b"release",
        "base/podinfo/notes.md": b"notes",
    }


def test_the_flux_example_layout_puts_each_tree_under_its_folder() -> None:
    files = built(
        copy("@repo/apps/base/**", "@artifact/base/"),
        copy("@repo/apps/production/**", "@artifact/production/"),
    )
    assert sorted(files) == [
        "base/podinfo/kustomization.yaml",
        "base/podinfo/notes.md",
        "base/podinfo/release.yaml",
        "production/kustomization.yaml",
        "production/values.yaml",
    ]
    assert files_below(files, "production") == {
        "kustomization.yaml": b"production kustomization",
        "values.yaml": b"values",
    }


def test_double_star_at_the_root_copies_everything_hidden_files_too() -> None:
    assert built(copy("@repo/**", "@artifact/")) == REPOSITORY


def test_a_glob_that_does_not_end_in_double_star_keeps_the_matched_path() -> None:
    # source-watcher joins `to` with the whole match (its docs' `cp` example says otherwise).
    assert built(copy("@repo/apps/production/*.yaml", "@artifact/env/")) == {
        "env/apps/production/kustomization.yaml": b"production kustomization",
        "env/apps/production/values.yaml": b"values",
    }


def test_double_star_inside_a_from_glob_spans_one_folder_as_go_fs_glob_does() -> None:
    assert sorted(built(copy("@repo/infrastructure/**/*.yaml", "@artifact/"))) == [
        "infrastructure/configs/issuer.yaml",
        "infrastructure/controllers/ingress.yaml",
    ]


def test_a_folder_without_a_glob_lands_inside_the_destination_under_its_own_name() -> None:
    with_slash = built(copy("@repo/apps/production/", "@artifact/dest/"))
    without = built(copy("@repo/apps/production", "@artifact/dest"))
    assert (
        with_slash
        == without
        == {
            "dest/production/kustomization.yaml": b"production kustomization",
            "dest/production/values.yaml": b"values",
        }
    )


def test_the_source_root_copies_the_whole_source() -> None:
    assert built(copy("@repo/", "@artifact/")) == REPOSITORY


def test_a_file_goes_to_the_path_named_or_into_a_folder() -> None:
    values = "@repo/apps/production/values.yaml"
    assert built(copy(values, "@artifact/env/values-prod.yaml")) == {"env/values-prod.yaml": b"values"}
    assert built(copy(values, "@artifact/env/")) == {"env/values.yaml": b"values"}
    # Without a slash, an existing folder is still copied into, as `cp` does.
    into_existing = built(copy("@repo/apps/base/**", "@artifact/base/"), copy(values, "@artifact/base"))
    assert into_existing["base/values.yaml"] == b"values"


def test_later_copies_overwrite_earlier_ones() -> None:
    files = {"one/app.yaml": b"first", "two/app.yaml": b"second", "two/extra.yaml": b"extra"}
    assert built(copy("@repo/one/**", "@artifact/"), copy("@repo/two/**", "@artifact/"), files=files) == {
        "app.yaml": b"second",
        "extra.yaml": b"extra",
    }


def test_excludes_match_from_the_source_root_the_selection_root_or_by_name() -> None:
    files = built(
        copy("@repo/infrastructure/**", "@artifact/", exclude=("*.md", "**/testdata/**", "controllers/.*")),
        copy("@repo/apps/**", "@artifact/apps/", exclude=("apps/base/podinfo/notes.md",)),
    )
    assert sorted(files) == [
        "apps/base/podinfo/kustomization.yaml",
        "apps/base/podinfo/release.yaml",
        "apps/production/kustomization.yaml",
        "apps/production/values.yaml",
        "configs/issuer.yaml",
        "controllers/ingress.yaml",
    ]


def test_an_excluded_folder_is_left_out_whole_and_alternatives_are_read() -> None:
    files = built(copy("@repo/infrastructure", "@artifact/", exclude=("{configs,nothing}",)))
    assert sorted(files) == ["infrastructure/controllers/.hidden", "infrastructure/controllers/ingress.yaml"]


def test_an_excluded_single_file_is_skipped_silently() -> None:
    assert built(copy("@repo/README.md", "@artifact/", exclude=("*.md",))) == {}


def test_merge_merges_yaml_maps_as_helm_merges_values_and_replaces_lists() -> None:
    files = {
        "chart/values.yaml": b"replicaCount: 1\nimage: {repository: podinfo, tag: '6.6'}\nhosts: [a, b]\n",
        "env/prod.yaml": b"image:\n  tag: '6.7'\nhosts: [c]\n---\nreplicaCount: 3\n",
    }
    merged = built(
        copy("@repo/chart/**", "@artifact/"),
        copy("@repo/env/prod.yaml", "@artifact/values.yaml", merge=True),
        files=files,
    )
    assert yaml.safe_load(merged["values.yaml"]) == {
        "replicaCount": 3,
        "image": {"repository": "podinfo", "tag": "6.7"},
        "hosts": ["c"],
    }


def test_merge_with_nothing_there_yet_copies() -> None:
    files = {"env/prod.yaml": b"a: 1\n"}
    assert built(copy("@repo/env/prod.yaml", "@artifact/values.yaml", merge=True), files=files) == {
        "values.yaml": b"a: 1\n"
    }


def test_merging_something_that_is_not_a_map_names_the_copy() -> None:
    files = {"values.yaml": b"a: 1\n", "list.yaml": b"- 1\n"}
    with pytest.raises(RenderError) as raised:
        built(
            copy("@repo/values.yaml", "@artifact/"),
            copy("@repo/list.yaml", "@artifact/values.yaml", merge=True),
            files=files,
        )
    assert str(raised.value) == (
        "clusters/production/artifacts.yaml:12: spec.artifacts[0].copy[0]: cannot merge into values.yaml: a "
        "file it merges is not a YAML map of values, as Merge needs"
    )


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (
            copy("@repo/apps/staging", "@artifact/"),
            "apps/staging is not in the source @repo at this revision; fix the path, or commit it",
        ),
        (
            copy("@repo/apps/staging/**", "@artifact/"),
            "no file or folder of the source @repo matches 'apps/staging/**' at this revision; fix the "
            "pattern, or commit what it should copy",
        ),
        (
            copy("@repo/*.md", "@artifact/", exclude=("*.md",)),
            "every file matching '*.md' is excluded; fix the pattern or the excludes",
        ),
        (copy("@other/x.yaml", "@artifact/"), "no source has the alias 'other'; add it to spec.sources"),
    ],
)
def test_a_copy_that_finds_nothing_fails_the_artifact_naming_it(
    operation: ArtifactCopy, message: str
) -> None:
    with pytest.raises(RenderError) as raised:
        built(operation)
    assert str(raised.value) == f"clusters/production/artifacts.yaml:12: spec.artifacts[0].copy[0]: {message}"


def test_a_file_and_a_folder_of_one_name_are_refused_either_way() -> None:
    files = {"apps/podinfo/a.yaml": b"a", "x/podinfo": b"file"}
    with pytest.raises(RenderError, match="cannot copy a file to podinfo: an earlier copy put a folder"):
        built(copy("@repo/apps/**", "@artifact/"), copy("@repo/x/podinfo", "@artifact/"), files=files)
    with pytest.raises(RenderError, match="cannot copy into podinfo: an earlier copy put a file there"):
        built(copy("@repo/x/podinfo", "@artifact/"), copy("@repo/apps/**", "@artifact/"), files=files)


def test_glob_syntax_is_checked_as_go_and_doublestar_read_it() -> None:
    assert glob_problem("apps/*/[a-z]*.yaml") is None
    assert glob_problem("apps/[") is not None
    assert glob_problem("apps/[]") is not None
    assert exclude_problem("**/{a,b}/*.md") is None
    assert exclude_problem("{a,b") is not None


def test_an_unreadable_file_is_carried_over_as_it_is() -> None:
    unreadable = UnreadableFile("is a symlink loop (a.yaml); fix or remove the link")
    files = built(copy("@repo/**", "@artifact/"), files={"a.yaml": unreadable})
    assert files["a.yaml"] is unreadable


def test_builds_are_kept_per_revision_and_a_missing_path_is_one_sentence() -> None:
    artifact = FluxArtifact("flux-system/apps", (copy("@repo/apps/**", "@artifact/"),), path="production")
    builds = ArtifactBuilds()
    first = builds.build(artifact, REPOSITORY, "abc")
    assert first.at_path == {"kustomization.yaml": b"production kustomization", "values.yaml": b"values"}
    assert builds.build(artifact, {}, "abc") is first, "the same revision is not built again"
    changed = builds.build(artifact, {**REPOSITORY, "apps/base/podinfo/release.yaml": b"v2"}, "def")
    assert changed.at_path == first.at_path and changed.digest != first.digest, "../base changed"
    with pytest.raises(RenderError) as raised:
        builds.build(FluxArtifact("flux-system/apps", artifact.copies, path="staging"), REPOSITORY, "abc")
    assert str(raised.value) == (
        "nothing to render: the ExternalArtifact flux-system/apps has no folder staging; fix the "
        "Kustomization's spec.path, or the copy operations of the ArtifactGenerator that builds it"
    )


def test_the_folder_on_disk_holds_the_artifact_and_is_removed_after(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    files = built(
        copy("@repo/apps/base/**", "@artifact/base/"),
        copy("@repo/apps/production/**", "@artifact/production/"),
    )
    original, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        with ArtifactFolder(files, "production") as on_disk:
            folder = on_disk()
            assert on_disk() == folder, "written once"
            assert (folder / "values.yaml").read_bytes() == b"values"
            assert (folder.parent / "base" / "podinfo" / "release.yaml").read_bytes() == b"release"
    finally:
        tempfile.tempdir = original
    assert list(scratch.iterdir()) == []
