"""`$name/path`: a value file or file parameter of one source read from another source's repository.

In a multi-source app (Argo CD's `spec.sources`), a source may carry `ref: name`; a chart's
`helm.valueFiles` entry (or `fileParameters` path) `$name/envs/prod/values.yaml` is then the file
`envs/prod/values.yaml` at the root of that source's repository, at that source's targetRevision
(Argo CD's repo-server: `getResolvedRefValueFile`). This module only reads the written form; the
reader (`core.argocd_apps`) checks the names and the loader (`core.multi_source`) fetches the files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from core.source_options import HelmOptions

REF_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
"""The names Argo CD accepts for `ref` (util/argo GetRefSources)."""


def split_reference(written: str) -> tuple[str, str] | None:
    """(`name`, path) for `$name/path`; None for a path of the chart's own repository."""
    if not written.startswith("$"):
        return None
    name, _, path = written[1:].partition("/")
    return name, path


def references(helm: HelmOptions) -> Iterator[tuple[str, str, str]]:
    """(written entry, ref name, path) of each `$name/...` value file, then each file parameter."""
    for written in (*helm.value_files, *(parameter.path for parameter in helm.file_parameters)):
        reference = split_reference(written)
        if reference is not None:
            yield written, *reference


def repository_path(path: str) -> str | None:
    """`path` (after `$name/`) as a key of the repository's files; None when it leads out of the root."""
    normal = posixpath.normpath("/" + path).lstrip("/")
    if posixpath.normpath(path).startswith(".."):
        return None
    return normal or None
