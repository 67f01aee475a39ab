"""A Helm chart folder and Argo CD's `source.helm` options turned into one YAML stream, by Helm's own engine.

The engine is Helm v4.2.3's Go SDK, loaded in-process by `helm-python-sdk` (ctypes over `libhelm_c`): no
helm binary, no cluster, no network. The stream is what `helm template --include-crds` prints: the
CRDs of `crds/` (chart and enabled subcharts) unless `skip_crds`, then every rendered template,
hooks included (a hook keeps its `helm.sh/hook` annotation; telling hooks apart is the caller's job).
Each document follows `---` and a `# Source: <chart>/<path>` line, templates in path order.

Values are composed as Argo CD composes them (its docs: parameters > valuesObject > values >
valueFiles > the chart's values.yaml): `valueFiles` in order, then `valuesObject` or else `values`
(Argo CD writes one or the other to a file passed after the value files), then `parameters` as
`--set` / `--set-string` (`forceString`), then `fileParameters` as `--set-file`, in Helm's order.

Measured on a 2-core x86-64 runner (helm-python-sdk 0.2.2, Helm v4.2.3), so it is imported on first use:
- importing the SDK takes 50-65 ms, and its 85 MB library adds ~78 MB of (file-backed) RSS;
- the guestbook fixture renders in ~1.5 ms, a 50-template chart in ~10 ms (load 1 ms, engine 8 ms,
  the YAML check 2 ms); 1,000 renders grow RSS by less than 3 MB and leave no handle open;
- each render loads its own chart handle and the library releases the GIL, so any worker thread may
  call `render_chart`; two threads on two cores do ~1.3 times the work of one;
- rendering reads the chart folder and nothing else: no HOME, no cache, no network, no writes.
Known differences from `helm template`: values cross into Go as JSON, so a `--set` integer becomes a
float64 as value-file numbers already are (`--set n=1000000` renders `1e+06`, helm prints 1000000);
`lookup` finds nothing, as in any `helm template`; and Helm's own warnings (a `condition` that is not
a bool) are written straight to file descriptor 2, past Python.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from core.chart_archive import pack
from core.errors import RenderError
from core.kube_yaml import KubeLoader
from core.source_options import HelmOptions
from core.unreadable_file import UnreadableFile

if TYPE_CHECKING:
    import helm_python

__all__ = ["CHART_FILE", "NO_CAPABILITIES", "Capabilities", "is_chart", "render_chart"]

CHART_FILE = "Chart.yaml"
_NOTES_SUFFIX = "NOTES.txt"
_DOCUMENT_SEPARATOR = re.compile(r"(?:^|[ \t\n\f\r]*\n)---[ \t\n\f\r]*")
"""Helm's releaseutil.SplitManifests separator (Go's `\\s` is ASCII whitespace only)."""
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_YAML_LINE = re.compile(r"yaml: line (\d+):")
_TEMPLATE_FAILURE = re.compile(
    r"(?:execution|parse) error at \((?P<path>[^()]+?):(?P<line>\d+)(?::\d+)?\): (?P<detail>.*)"
    r"|(?P<path2>\S+?):(?P<line2>\d+)(?::\d+)?\s+executing \"[^\"]*\" (?P<detail2>at <.*)",
    re.DOTALL,
)
_SUBCHART_FAILURE = re.compile(r"error unpacking subchart (\S+) in \S+: (.*)", re.DOTALL)
_FILE_FAILURE = re.compile(r"cannot load (\S+): (.*)", re.DOTALL)
_SCHEMA_CHART = re.compile(r"^(\S+):$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The destination cluster as a chart sees it, as Argo CD passes it to Helm: its version and what it
    serves. Empty: Helm's own defaults. An app's `helm.kubeVersion` and `helm.apiVersions` win."""

    kube_version: str = ""
    api_versions: tuple[str, ...] = ()


NO_CAPABILITIES = Capabilities()


@dataclass(frozen=True, slots=True)
class _Release:
    """What a render is asked as: the release, and the capabilities the templates see."""

    name: str
    namespace: str
    kube_version: str
    api_versions: tuple[str, ...]


def is_chart(files: Mapping[str, bytes]) -> bool:
    """Whether the app's files (relative "/" paths) are a Helm chart: a Chart.yaml at the app root."""
    return CHART_FILE in files


def render_chart(
    chart_dir: Path,
    options: HelmOptions,
    *,
    release_name: str,
    namespace: str,
    repo_root: Path | None = None,
    capabilities: Capabilities = NO_CAPABILITIES,
    values_dir: Path | None = None,
    referenced: Mapping[str, bytes | None] | None = None,
) -> bytes:
    """The chart's manifests as one YAML stream, as `helm template --include-crds` prints them.

    `repo_root` bounds every value file and file parameter (default: the chart folder itself); a
    path that leads outside it, also through a symlink, is refused. `referenced` holds, for a
    multi-source app, the content of each value file or file parameter written `$name/path` (another
    source's repository, `core.source_refs`), None for a file that repository lacks. Every failure is
    one RenderError naming the chart's file (relative to `chart_dir`) and what to do.
    """
    try:
        import helm_python as helm
    except Exception as exc:  # ImportError, or HelmLibraryError when the bundled library cannot load
        message = (
            f"Helm's engine (helm-python-sdk) cannot be loaded: {_one_line(str(exc))}; reinstall kubedrift"
        )
        raise RenderError(message, file=CHART_FILE) from None

    release = _Release(
        release_name,
        namespace,
        options.kube_version or capabilities.kube_version,
        options.api_versions or capabilities.api_versions,
    )
    bounds = (repo_root or chart_dir).resolve()
    # Value files are read from where the chart lives in the repository, also when `chart_dir` is a
    # copy of it with fetched dependencies (core.chart_dependencies).
    values = _user_values(values_dir or chart_dir, bounds, options, referenced or {})
    try:
        helm.validate_release_name(release.name)
    except helm.HelmError:
        message = (
            f"release name {release.name!r} is not one Helm accepts (lower-case letters, digits, "
            "'-' and '.', at most 53 characters); set source.helm.releaseName"
        )
        raise RenderError(message, file=CHART_FILE) from None
    try:
        # A fresh handle per render: rendering resolves subchart conditions in the loaded chart itself.
        chart = helm.Chart.load(chart_dir)
    except helm.HelmError as exc:
        raise _load_error(exc.detail, chart_dir) from None
    with chart:
        metadata = chart.metadata
        _check_dependencies(metadata, chart.dependencies)
        if constraint := metadata.get("kubeVersion"):
            _check_kube_version(str(constraint), release)
        try:
            rendered = _render_templates(chart, values, release)
        except helm.HelmValuesError as exc:
            raise _values_error(exc.detail, str(metadata.get("name", ""))) from None
        except helm.HelmInvalidArgError as exc:
            raise _options_error(exc.detail) from None
        except helm.HelmError as exc:
            raise _template_error(exc.detail, str(metadata.get("name", ""))) from None
        crds = () if options.skip_crds else tuple((crd["filename"], crd["data"]) for crd in chart.crds)
    return _stream(crds, rendered)


def _render_templates(chart: helm_python.Chart, values: dict[str, Any], release: _Release) -> dict[str, str]:
    """Template path -> rendered text, through the C ABI's `helm_render`.

    `Chart.render` (0.2.2) forwards only name, namespace and revision, while `helm_render` also takes
    `kube_version` and `api_versions` (helm-c-sdk docs/API.md): so the call goes through the
    binding's own ctypes table, which is why the dependency is pinned below 0.3.
    """
    from helm_python import _native

    render_options: dict[str, Any] = {"name": release.name}
    if release.namespace:
        render_options["namespace"] = release.namespace
    if release.kube_version:
        render_options["kube_version"] = release.kube_version
    if release.api_versions:
        render_options["api_versions"] = list(release.api_versions)
    payload = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(render_options))
    rendered: dict[str, str] = json.loads(payload)
    return rendered


def _stream(crds: tuple[tuple[str, str], ...], rendered: Mapping[str, str]) -> bytes:
    """`helm template`'s output: CRDs as written, then each template's non-empty documents."""
    parts = [f"---\n# Source: {source}\n{text}\n" for source, text in crds]
    for source in sorted(rendered):
        name = source.rpartition("/")[2]
        if source.endswith(_NOTES_SUFFIX) or name.startswith("_"):
            continue
        for document in _DOCUMENT_SEPARATOR.split(rendered[source].strip(" \t\n\f\r")):
            document = document.strip(" \t\n\f\r")
            if document:
                _check_yaml(source, document)
                parts.append(f"---\n# Source: {source}\n{document}\n")
    return "".join(parts).encode()


def _check_yaml(source: str, document: str) -> None:
    """Helm refuses a rendered document that is not YAML, naming the template; so does kubedrift."""
    try:
        for _event in yaml.parse(document, Loader=KubeLoader):
            pass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} of its output" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        path = source.partition("/")[2]
        message = f"the template renders YAML that cannot be read{where} ({problem}); fix the template"
        raise RenderError(message, file=path) from None


# Values -----------------------------------------------------------------------------------------


def _user_values(
    chart_dir: Path, bounds: Path, options: HelmOptions, referenced: Mapping[str, bytes | None]
) -> dict[str, Any]:
    """Helm's user-supplied values for these options; the chart's own values.yaml is coalesced by Helm."""
    import helm_python as helm

    values: dict[str, Any] = {}
    for written in options.value_files:
        content = _value_file(chart_dir, bounds, written, referenced)
        if content is None:
            if options.ignore_missing_value_files:
                continue
            message = (
                "this values file does not exist; add it, fix source.helm.valueFiles, "
                "or set ignoreMissingValueFiles"
            )
            raise RenderError(message, file=written)
        text = content.decode(errors="replace")
        values = merge_values(values, _values_document(text, "this values file", file=written))
    if options.values_object:
        values = merge_values(values, json.loads(options.values_object))
    elif options.values.strip():
        values = merge_values(values, _values_document(options.values, "source.helm.values", file=CHART_FILE))
    forced = {p.name: p.value for p in options.parameters if p.force_string}
    typed = {p.name: p.value for p in options.parameters if not p.force_string}
    for names, parse in ((typed, helm.parse_set_string), (forced, helm.parse_set_string_values)):
        for name, value in names.items():
            escaped = value if value.startswith("{") and value.endswith("}") else _escape_commas(value)
            _set_at(values, _set_path(name), _strvals(parse, f"v={escaped}", name)["v"])
    for name, written in {parameter.name: parameter.path for parameter in options.file_parameters}.items():
        if written in referenced:
            found = _referenced_file(written, referenced, "file parameter")
            if found is None:
                message = (
                    f"file parameter {name} names a file that repository does not have; "
                    "fix source.helm.fileParameters"
                )
                raise RenderError(message, file=written)
            _set_at(values, _set_path(name), found.decode(errors="replace"))
            continue
        path = _inside(chart_dir, bounds, written, "file parameter")
        try:
            text = path.read_bytes().decode(errors="replace")
        except OSError as exc:
            message = f"file parameter {name} cannot read it ({exc.strerror}); fix source.helm.fileParameters"
            raise RenderError(message, file=written) from None
        _set_at(values, _set_path(name), text)
    return values


def _value_file(
    chart_dir: Path, bounds: Path, written: str, referenced: Mapping[str, bytes | None]
) -> bytes | None:
    """The content of the values file `written` names; None when there is no such file."""
    if written in referenced:
        return _referenced_file(written, referenced, "values file")
    path = _inside(chart_dir, bounds, written, "values file")
    return path.read_bytes() if path.is_file() else None


def _referenced_file(written: str, referenced: Mapping[str, bytes | None], what: str) -> bytes | None:
    """A `$name/path` file of another source's repository, as the multi-source loader read it."""
    content = referenced[written]
    if isinstance(content, UnreadableFile):
        raise RenderError(f"this {what} {content.problem}", file=written)
    return content


def _inside(chart_dir: Path, bounds: Path, written: str, what: str) -> Path:
    """The file `written` names, as Argo CD resolves it; refused when it leads out of the repository."""
    if written.startswith("$"):
        message = (
            f"this {what} is read from another source's repository ($name/...), which only an app with "
            "several sources has; list the app's sources, one with a ref: name, or commit it beside the chart"
        )
        raise RenderError(message, file=written)
    if "://" in written:
        message = f"this {what} is remote, which kubedrift does not fetch; commit it beside the chart"
        raise RenderError(message, file=written)
    posix = PurePosixPath(written)
    path = (bounds.joinpath(*posix.parts[1:]) if posix.is_absolute() else chart_dir / written).resolve()
    if not path.is_relative_to(bounds):
        message = (
            f"this {what} leads outside the repository, which kubedrift refuses to read; use a path inside it"
        )
        raise RenderError(message, file=written)
    return path


def _values_document(text: str, what: str, *, file: str) -> dict[str, Any]:
    import helm_python as helm

    if "\0" in text:
        raise RenderError(f"{what} holds a NUL byte, which YAML cannot; fix it", file=file)
    try:
        return helm.values_from_yaml(text)
    except helm.HelmError as exc:
        line = _YAML_LINE.search(exc.detail)
        where = int(line[1]) if line is not None and file != CHART_FILE else None
        message = f"{what} is not a YAML map of values ({_one_line(exc.detail)}); fix it"
        raise RenderError(message, file=file, line=where) from None


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's mergeMaps for successive values files, which Flux's `transform.MergeMaps` (valuesFrom,
    an artifact's YAML merge) also is: maps merge key by key, anything else (null too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        merged[key] = (
            merge_values(current, value) if isinstance(value, dict) and isinstance(current, dict) else value
        )
    return merged


def _escape_commas(value: str) -> str:
    """Argo CD's cleanSetParameters: a comma in a parameter's value is part of the value."""
    return _UNESCAPED_COMMA.sub(r"\\,", value)


def _strvals(parse: Callable[[str], dict[str, Any]], expression: str, name: str) -> dict[str, Any]:
    import helm_python as helm

    if "\0" in expression:
        raise RenderError(f"parameter {name} holds a NUL byte; fix source.helm.parameters", file=CHART_FILE)
    try:
        parsed: dict[str, Any] = parse(expression)
    except helm.HelmError as exc:
        message = f"parameter {name} is not one Helm can set ({_one_line(exc.detail)}); fix source.helm"
        raise RenderError(message, file=CHART_FILE) from None
    return parsed


def _set_path(name: str) -> list[str | int]:
    """The keys and list indices `--set name=...` walks, read by Helm's own parser from a probe."""
    import helm_python as helm

    node: Any = _strvals(helm.parse_set_string_values, f"{name}=probe", name)
    path: list[str | int] = []
    while isinstance(node, dict | list) and node:
        if isinstance(node, dict):
            key, node = next(iter(node.items()))
            path.append(key)
        else:
            path.append(len(node) - 1)
            node = node[-1]
    if not path:
        raise RenderError(f"parameter {name!r} names no value; fix source.helm", file=CHART_FILE)
    return path


def _set_at(values: dict[str, Any], path: list[str | int], value: Any) -> None:
    """Helm's strvals.ParseInto for one parsed `--set`: existing maps and list items are kept around it."""
    node: Any = values
    for index, step in enumerate(path):
        if isinstance(node, list) and isinstance(step, int):
            node.extend([None] * (step + 1 - len(node)))
        if index == len(path) - 1:
            node[step] = value
            return
        kind = list if isinstance(path[index + 1], int) else dict
        if not isinstance(node.get(step) if isinstance(node, dict) else node[step], kind):
            node[step] = kind()
        node = node[step]


# Checks `helm template` makes that the engine call does not ------------------------------------


def _check_dependencies(metadata: Mapping[str, Any], loaded: list[dict[str, Any]]) -> None:
    """Helm's CheckDependencies: every declared dependency must be vendored under charts/."""
    present = {dependency.get("name") for dependency in loaded}
    missing = [str(d.get("name")) for d in metadata.get("dependencies") or () if d.get("name") not in present]
    if missing:
        file = CHART_FILE if metadata.get("apiVersion") != "v1" else "requirements.yaml"
        message = (
            f"the chart depends on {', '.join(missing)}, which charts/ does not hold; "
            "run `helm dependency build` and commit charts/"
        )
        raise RenderError(message, file=file)


_KUBE_VERSION_CHART = "kubedrift-kube-version"


def _check_kube_version(constraint: str, release: _Release) -> None:
    """Helm's IsCompatibleRange on Chart.yaml's `kubeVersion`, evaluated by Helm's own `semverCompare`.

    The engine call skips this check, and sprig's semverCompare is the same Masterminds/semver check,
    so a two-file chart held in memory asks it against the very capabilities the render will use.
    """
    import helm_python as helm

    with helm.Chart.load_archive(_kube_version_archive()) as probe:
        try:
            rendered = _render_templates(probe, {"constraint": constraint}, release)
        except helm.HelmInvalidArgError as exc:
            raise _options_error(exc.detail) from None
        except helm.HelmError as exc:
            detail = _one_line(exc.detail).rpartition(": ")[2]
            message = f"kubeVersion {constraint!r} is not a version range Helm can read ({detail}); fix it"
            raise RenderError(message, file=CHART_FILE) from None
    fits, _, version = rendered[f"{_KUBE_VERSION_CHART}/templates/check"].partition(" ")
    if fits != "true":
        message = (
            f"the chart requires kubeVersion {constraint}, which Kubernetes {version} does not meet; "
            "set source.helm.kubeVersion to the cluster's version or use a chart version made for it"
        )
        raise RenderError(message, file=CHART_FILE)


@functools.cache
def _kube_version_archive() -> bytes:
    files = {
        "Chart.yaml": f"apiVersion: v2\nname: {_KUBE_VERSION_CHART}\nversion: 0.0.0\n",
        "templates/check": "{{ semverCompare .Values.constraint .Capabilities.KubeVersion.Version }} "
        "{{ .Capabilities.KubeVersion.Version }}",
    }
    return pack(_KUBE_VERSION_CHART, files)


# Helm's failures as one sentence ---------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _load_error(detail: str, chart_dir: Path) -> RenderError:
    """`error unpacking subchart b in a: cannot load Chart.yaml: ...` -> charts/b/Chart.yaml, and why."""
    detail = detail.replace(f"{chart_dir}/", "").replace(str(chart_dir), ".")
    folder = ""
    while subchart := _SUBCHART_FAILURE.match(detail):
        folder, detail = f"{folder}charts/{subchart[1]}", subchart[2]
        if subchart[1].endswith(".tgz"):
            break
        folder += "/"
    file = folder if folder.endswith(".tgz") else f"{folder}{CHART_FILE}"
    if (named := _FILE_FAILURE.match(detail)) and not folder.endswith(".tgz"):
        file, detail = f"{folder}{named[1]}", named[2]
    line = _YAML_LINE.search(detail)
    message = f"Helm cannot load the chart: {_one_line(detail)}; fix {file}"
    return RenderError(message, file=file, line=int(line[1]) if line else None)


def _options_error(detail: str) -> RenderError:
    """Render options Helm refuses: a kubeVersion it cannot parse, in practice."""
    message = (
        f"Helm refuses the render options ({_one_line(detail)}); fix source.helm.kubeVersion or apiVersions"
    )
    return RenderError(message, file=CHART_FILE)


def _template_error(detail: str, chart_name: str) -> RenderError:
    """A template failure (`required`, `fail`, a nil value, a parse error) at its template and line."""
    failure = _TEMPLATE_FAILURE.match(detail)
    if failure is None:
        return RenderError(f"Helm cannot render the chart: {_one_line(detail)}; fix it", file=CHART_FILE)
    path = failure["path"] or failure["path2"]
    line = int(failure["line"] or failure["line2"])
    file = path.removeprefix(f"{chart_name}/")
    reason = _one_line(failure["detail"] or failure["detail2"])
    message = f"Helm cannot render this template: {reason}; fix the template or the values it reads"
    return RenderError(message, file=file, line=line)


def _values_error(detail: str, chart_name: str) -> RenderError:
    """Values the chart's values.schema.json refuses (Helm names the chart whose schema it is)."""
    named = _SCHEMA_CHART.search(detail)
    file = "values.schema.json"
    if named is not None and named[1] != chart_name:
        file = f"charts/{named[1]}/values.schema.json"
    reason = _one_line(detail.partition(":\n")[2] or detail)
    return RenderError(f"the values do not meet the chart's schema: {reason}; fix the values", file=file)
