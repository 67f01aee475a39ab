"""Chart versions as Helm and Argo CD choose them: Masterminds/semver order, and constraints checked by
Helm's own `semverCompare` through a one-template chart held in memory (about 1 ms a call).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from core.chart_archive import Refused, one_line, pack
from core.errors import GitSourceError

NEWEST_SHOWN = 5
"""How many of the newest versions a "no version matches" sentence lists."""
# Masterminds/semver v3 NewVersion (CoerceNewVersion, the default): its loose form, numbers within uint64.
_VERSION = re.compile(
    r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_SEMVER_CHART = "kubedrift-semver"


def version_key(text: str) -> tuple[Any, ...] | None:
    """Masterminds/semver's order (build metadata ignored), or None when it is no version at all."""
    match = _VERSION.fullmatch(text)
    if match is None:
        return None
    numbers = tuple(int(part or 0) for part in match.group(1, 2, 3))
    pre = match[4] or ""
    if any(number >= 2**64 for number in numbers):
        return None
    parts = pre.split(".") if pre else []
    if any(part.isdigit() and len(part) > 1 and part[0] == "0" for part in parts):
        return None
    ordered = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)
    return (*numbers, 0 if pre else 1, ordered)


def newest_first(versions: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(versions), key=lambda version: version_key(version) or (), reverse=True))


def pick(versions: Sequence[str], wanted: str, asked: str) -> str:
    """Helm's IndexFile.Get over `versions` (newest first): the exact version, else the newest match."""
    if not versions:
        raise Refused("the repository lists no version of it", "fix source.chart or repoURL")
    if wanted in versions:
        return wanted
    admitted = matching(wanted, versions, asked)
    if admitted:
        return admitted[0]
    newest = ", ".join(versions[:NEWEST_SHOWN]) or "none"
    raise Refused(f"no version matches (newest: {newest})", "change targetRevision")


def check_constraint(wanted: str, asked: str) -> None:
    if version_key(wanted) is None:
        matching(wanted, (), asked)


def matching(
    constraint: str,
    versions: Sequence[str],
    asked: str,
    *,
    field: str = "targetRevision",
    what: str = "a chart version or range",
) -> list[str]:
    """Those of `versions` that `constraint` admits, in order, by Helm's own semverCompare; a bad
    constraint's error names the `field` it was written in and `what` it should be."""
    helm = helm_module(asked)
    try:
        with helm.Chart.load_archive(_semver_archive()) as probe:
            rendered: dict[str, str] = probe.render(
                {"constraint": constraint, "versions": list(versions)}, name="kubedrift"
            )
    except helm.HelmError as exc:
        reason = one_line(exc.detail).rpartition("error calling semverCompare: ")[2]
        raise GitSourceError(
            f"{asked}: {field} {constraint!r} is not {what} ({reason}); use a "
            "version such as 1.2.3, a range such as 1.2.* or >=1.0 <2.0, or * for the newest"
        ) from None
    return rendered[f"{_SEMVER_CHART}/templates/match"].split()


@functools.cache
def _semver_archive() -> bytes:
    files = {
        "Chart.yaml": f"apiVersion: v2\nname: {_SEMVER_CHART}\nversion: 0.0.0\n",
        # The first call fails on a bad constraint even when there are no versions to ask about.
        "templates/match": '{{- if semverCompare .Values.constraint "0.0.0" }}{{ end }}'
        "{{- range .Values.versions }}{{ if semverCompare $.Values.constraint . }}{{ . }}\n"
        "{{ end }}{{ end }}",
    }
    return pack(_SEMVER_CHART, files)


def helm_module(asked: str) -> Any:
    try:
        import helm_python
    except Exception as exc:  # ImportError, or HelmLibraryError when the bundled library cannot load
        raise GitSourceError(
            f"{asked}: Helm's engine (helm-python-sdk) cannot be loaded ({one_line(str(exc))}); "
            "reinstall kubedrift"
        ) from None
    return helm_python
