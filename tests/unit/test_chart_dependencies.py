"""Dependencies a chart declares but does not commit: found missing, copied from `file://` inside the
repository into a temporary copy, and refused with a sentence for aliases and paths leaving the
repository; the user's folder is never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.chart_dependencies import missing_dependencies, with_dependencies
from core.errors import RenderError


def chart(folder: Path, name: str, dependencies: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{dependencies}")
    return folder


def test_a_vendored_dependency_is_not_missing(tmp_path: Path) -> None:
    app = chart(tmp_path / "app", "app", "dependencies: [{name: db, version: 1.0.0}, {name: cache}]\n")
    chart(app / "charts" / "db", "db")
    (app / "charts" / "cache-2.0.0.tgz").write_bytes(b"")
    assert missing_dependencies(app) == []


def test_a_file_dependency_is_copied_into_a_temporary_copy(tmp_path: Path) -> None:
    chart(tmp_path / "libs" / "common", "common")
    app = chart(
        tmp_path / "app", "app", "dependencies: [{name: common, repository: 'file://../libs/common'}]\n"
    )
    with with_dependencies(app, repo_root=tmp_path, cache_dir=tmp_path / "cache") as rendered:
        assert rendered != app and (rendered / "charts" / "common" / "Chart.yaml").is_file()
    assert not rendered.exists() and not (app / "charts").exists()


@pytest.mark.parametrize(
    ("repository", "says"),
    [
        ("@bitnami", "not a URL"),
        ("alias:stable", "not a URL"),
        ("file://../../outside", "no chart inside the repository"),
    ],
)
def test_aliases_and_paths_out_of_the_repository_are_refused(
    tmp_path: Path, repository: str, says: str
) -> None:
    app = chart(
        tmp_path / "repo" / "app", "app", f"dependencies: [{{name: dep, repository: '{repository}'}}]\n"
    )
    with (
        pytest.raises(RenderError, match=says),
        with_dependencies(app, repo_root=tmp_path / "repo", cache_dir=tmp_path / "cache"),
    ):
        pass
