"""Reads Argo CD Application specs into Apps: from Application manifests, and from kubedrift.yaml.

kubedrift.yaml declares each app with the fields of an Application spec and is read strictly (an
unknown key is an error, since it is most likely a typo). Application manifests are read leniently
(their spec has many fields that do not concern kubedrift), but every field we do read is
type-checked.

An app gives one `source`, or `sources` (Argo CD's multi-source Applications): each entry a full
source plus an optional `ref`, by which other entries' value files read its repository (`$ref/path`,
see `core.source_refs`); what Argo CD would refuse in that list is named at its field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.config_yaml import YamlField, display_path, load_yaml_file
from core.errors import ConfigError
from core.flux_apps import FluxDocuments
from core.model import (
    COMPARE_OPTIONS_ANNOTATION,
    App,
    Destination,
    IgnoreDifference,
    Source,
    SyncPolicy,
    TrackingMethod,
)
from core.rollback_config import read_rollback
from core.source_options_yaml import SOURCE_OPTION_KEYS, read_source_options
from core.source_refs import REF_NAME, references, repository_path
from core.sync_policy_yaml import (
    SYNC_POLICY_EXTRA_KEYS,
    read_managed_namespace_metadata,
    read_retry,
    read_sync_options,
)

_SOURCE_KEYS = ("repoURL", "targetRevision", "path", *SOURCE_OPTION_KEYS)
_LISTED_SOURCE_KEYS = (*_SOURCE_KEYS, "ref")
_DESTINATION_KEYS = ("name", "server", "namespace")
_SYNC_POLICY_KEYS = ("automated", *SYNC_POLICY_EXTRA_KEYS, "rollback")
_AUTOMATED_KEYS = ("prune", "selfHeal", "enabled")
_IGNORE_KEYS = ("group", "kind", "name", "namespace", "jsonPointers")
_UNSUPPORTED_IGNORE_KEYS = ("jqPathExpressions", "managedFieldsManagers")
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_UNRENDERABLE = ("plugin",)
_UNRENDERABLE_MESSAGE = (
    "config management plugins are not supported; kubedrift renders folders of manifests, Jsonnet, "
    "kustomizations, and Helm charts from Git or a Helm repository"
)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def applications_at(target: Path, tracking: TrackingMethod) -> list[tuple[App, YamlField]]:
    """The Argo CD Applications, then the Flux Kustomizations and HelmReleases (`core.flux_apps`), in a
    manifest file, or in every manifest under a folder.

    Each comes with its name field, so that a caller can point at it (say, for a duplicate name).
    Other documents are skipped. Flux objects are paired with their sources once every file is read,
    since a GitRepository may be declared in another file than the Kustomization using it.
    """
    files = [target] if target.is_file() else list(_manifest_files(target))
    flux = FluxDocuments()
    applications = [app for file in files for app in _applications_in(file, tracking, flux)]
    return applications + flux.apps(tracking)


def read_app(
    name_field: YamlField,
    spec: YamlField,
    *,
    base: Path,
    origin: str,
    strict: bool,
    tracking: TrackingMethod = TrackingMethod.KUBEDRIFT,
) -> App:
    """The app named by `name_field` whose source, destination and policies are in `spec`.

    A local repoURL is read relative to `base`; `strict` refuses keys an Application spec has but
    kubedrift does not support.
    """
    destination = spec.optional("destination")
    sync_policy = spec.optional("syncPolicy")
    ignore_differences = spec.optional("ignoreDifferences")
    compare_options = spec.optional("compareOptions")
    source, sources, problem = _read_app_sources(spec, base, strict=strict)
    return App(
        name=_app_name(name_field),
        source=source,
        sources=sources,
        unrenderable=problem,
        destination=_read_destination(destination, strict=strict) if destination else Destination(),
        sync_policy=_read_sync_policy(sync_policy, strict=strict) if sync_policy else SyncPolicy(),
        ignore_differences=_read_ignore_differences(ignore_differences, strict=strict)
        if ignore_differences
        else (),
        tracking=tracking,
        server_side_diff=_read_server_side_diff(compare_options) if compare_options else False,
        origin=origin,
    )


def _read_server_side_diff(options: YamlField) -> bool:
    """`compareOptions: {serverSideDiff: true}` (DESIGN drift rule 7)."""
    options.mapping(("serverSideDiff",))
    return options.optional_boolean("serverSideDiff", default=False)


def _manifest_files(folder: Path) -> Iterator[Path]:
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if name.endswith(_MANIFEST_SUFFIXES):
                yield Path(parent) / name


def _applications_in(
    file: Path, tracking: TrackingMethod, flux: FluxDocuments
) -> Iterator[tuple[App, YamlField]]:
    display = display_path(file)
    for document in load_yaml_file(file, display, multi_document=True):
        if _is_argocd_application(document):
            root = YamlField(document, display, getattr(document, "line", None), "")
            yield _read_application(root, tracking)
        else:
            flux.add(document, display)


def _is_argocd_application(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("kind") == "Application"
        and str(document.get("apiVersion", "")).startswith("argoproj.io/")
    )


def _read_application(document: YamlField, tracking: TrackingMethod) -> tuple[App, YamlField]:
    """An Argo CD Application manifest as an App with the same meaning.

    One that kubedrift cannot render (a plugin, sources Argo CD would refuse) is still an app, whose
    one error says why: the other Applications of the folder are evaluated as usual."""
    name_field = document.required("metadata").mapping().required("name")
    spec = document.required("spec").mapping()
    base = Path(os.path.abspath(document.file)).parent
    unsupported = _unsupported_source(spec)
    if unsupported is not None:
        stand_in = {key: value for key, value in spec.value.items() if key != "sources"}
        stand_in["source"] = {"repoURL": str(base), "path": "."}
        spec = YamlField(stand_in, spec.file, spec.line, spec.path)
    app = read_app(name_field, spec, base=base, origin=document.origin, strict=False, tracking=tracking)
    if unsupported is not None:
        app = replace(app, unrenderable=str(unsupported))
    # Argo CD turns server-side diff on per Application with the same annotation a resource can carry.
    annotations = document.value["metadata"].get("annotations") or {}
    options = str(annotations.get(COMPARE_OPTIONS_ANNOTATION) or "").replace(" ", "").split(",")
    if "ServerSideDiff=true" in options:
        app = replace(app, server_side_diff=True)
    return app, name_field


def _unsupported_source(spec: YamlField) -> ConfigError | None:
    """Why kubedrift cannot render this Application's source (or one of its sources), or None when it can."""
    listed = spec.optional("sources")
    source = spec.optional("source")
    if listed is not None and isinstance(listed.value, list) and listed.value:
        candidates = listed.items()  # Argo CD reads `sources` and ignores `source` when both are given
    else:
        candidates = [source] if source is not None else []
    for candidate in candidates:
        candidate.mapping()
        for unrenderable in _UNRENDERABLE:
            if candidate.optional(unrenderable) is not None:
                return candidate.required(unrenderable).fail(_UNRENDERABLE_MESSAGE)
    return None


def _read_app_sources(spec: YamlField, base: Path, *, strict: bool) -> tuple[Source, tuple[Source, ...], str]:
    """The app's source; its sources when it lists several (Argo CD's `spec.sources`); and, read
    leniently, why those cannot be rendered ("" when they can: kubedrift.yaml raises instead).

    A multi-source app's `source` is the first of its sources that renders (a path or a chart)."""
    listed = spec.optional("sources")
    if listed is not None and not strict and listed.value == []:
        listed = None  # Argo CD reads an empty list as none, and then the single source
    if listed is None:
        return _read_source(spec.required("source"), base, strict=strict), (), ""
    if strict and spec.optional("source") is not None:
        raise listed.fail(
            "give either source or sources, not both (Argo CD would ignore source); move source into the list"
        )
    entries = listed.items()
    sources = tuple(_read_source(entry, base, strict=strict, listed=True) for entry in entries)
    problem = _sources_problem(listed, entries, sources)
    if problem is not None and strict:
        raise problem
    if problem is not None:
        # The app's one error says why; its sources are not loaded at all (the stand-in is never read).
        return Source(repo_url=str(base)), (), str(problem)
    return next(source for source in sources if source.renders), sources, ""


def _sources_problem(
    listed: YamlField, entries: list[YamlField], sources: tuple[Source, ...]
) -> ConfigError | None:
    """What Argo CD would refuse in a list of sources: an entry without path, chart or ref, a `ref`
    name given twice or not one Argo CD accepts, a `$name/` value file naming no source's ref (or a
    Helm repository's, which has no repository root to read from), or nothing that renders."""
    if not entries:
        return listed.fail("expected at least one source; list them, or give the app a single source")
    named: dict[str, Source] = {}
    for entry, source in zip(entries, sources, strict=True):
        if not source.renders and not source.ref:
            return entry.fail(
                "give this source a path or a chart to render, or a ref for other sources' value files "
                "to read its repository by"
            )
        if source.ref:
            ref = entry.required("ref")
            if not REF_NAME.match(source.ref):
                message = f"ref {source.ref!r} may hold only letters, digits, '_' and '-', as in Argo CD"
                return ref.fail(message)
            if source.ref in named:
                return ref.fail(f"another source already has ref {source.ref!r}; give each its own name")
            named[source.ref] = source
    if not any(source.renders for source in sources):
        return listed.fail(
            "no source has a path or a chart, so the app would render nothing; give one a path or a chart"
        )
    for entry, source in zip(entries, sources, strict=True):
        for written, name, path in references(source.options.helm):
            field = _reference_field(entry, written)
            referenced = named.get(name)
            if referenced is None:
                known = ", ".join(f"${known}" for known in named) or "none"
                return field.fail(
                    f"${name} names no source of this app (the sources' refs: {known}); "
                    f"give the source holding this file ref: {name}"
                )
            if referenced.options.chart:
                return field.fail(
                    f"${name} is a chart from a Helm repository; as in Argo CD, $name/ files are read only "
                    "from a Git source"
                )
            if repository_path(path) is None:
                return field.fail(
                    f"{written} names no file inside the repository of the source whose ref is {name}; "
                    f"write ${name}/<path from that repository's root>"
                )
    return None


def _reference_field(entry: YamlField, written: str) -> YamlField:
    """The `helm.valueFiles` item, or `helm.fileParameters` path, that reads `written`."""
    helm = entry.required("helm")
    value_files = helm.optional("valueFiles")
    for item in value_files.items() if value_files is not None else []:
        if item.value == written:
            return item
    parameters = helm.optional("fileParameters")
    for item in parameters.items() if parameters is not None else []:
        path = item.optional("path")
        if path is not None and path.value == written:
            return path
    return helm


def _read_source(source: YamlField, base: Path, *, strict: bool, listed: bool = False) -> Source:
    """One `source`, or (`listed`) one entry of `sources`, which may carry a `ref` and has no path
    (an empty one) unless it gives one."""
    source.mapping((_LISTED_SOURCE_KEYS if listed else _SOURCE_KEYS) if strict else None)
    for unrenderable in _UNRENDERABLE:
        if source.optional(unrenderable) is not None:
            raise source.required(unrenderable).fail(_UNRENDERABLE_MESSAGE)
    repo_url = _resolve_repo_url(source.required("repoURL").string(), base)
    revision = source.optional_string("targetRevision", allow_empty=True)
    # In kubedrift.yaml an explicit empty revision means the files on disk; Argo CD reads "" as HEAD.
    if revision is None or (not strict and not revision):
        revision = "HEAD"
    path = source.optional_string("path", allow_empty=True)
    options = read_source_options(source, strict=strict)
    if listed:
        ref = source.optional_string("ref") or ""
        return Source(repo_url=repo_url, target_revision=revision, path=path or "", options=options, ref=ref)
    return Source(repo_url=repo_url, target_revision=revision, path=path or ".", options=options)


def _resolve_repo_url(repo_url: str, base: Path) -> str:
    """A local repoURL as an absolute path, read from `base`; URLs and `host:path` are left alone."""
    colon, slash = repo_url.find(":"), repo_url.find("/")
    # Git's own rule: a colon before any slash makes `host:path` an scp-like remote.
    scp_like = colon > 0 and (slash == -1 or colon < slash)
    if _URL_SCHEME.match(repo_url) or scp_like:
        return repo_url
    # os.path rather than pathlib: a config of a thousand apps resolves a thousand of these at start.
    return os.path.normpath(os.path.join(base, os.path.expanduser(repo_url)))


def _read_destination(destination: YamlField, *, strict: bool) -> Destination:
    destination.mapping(_DESTINATION_KEYS if strict else None)
    if destination.optional("name") and destination.optional("server"):
        raise destination.fail("set either name (a kubeconfig context) or server (a cluster URL), not both")
    return Destination(
        name=destination.optional_string("name"),
        server=destination.optional_string("server"),
        namespace=destination.optional_string("namespace") or "default",
    )


def _read_sync_policy(sync_policy: YamlField, *, strict: bool) -> SyncPolicy:
    automated = sync_policy.mapping(_SYNC_POLICY_KEYS if strict else None).optional("automated")
    options = read_sync_options(sync_policy)
    extras = SyncPolicy(
        sync_options=options,
        retry=read_retry(sync_policy, strict=strict),
        managed_namespace_metadata=read_managed_namespace_metadata(sync_policy, options, strict=strict),
        rollback=read_rollback(sync_policy, strict=strict),
    )
    if automated is None:
        return extras
    automated.mapping(_AUTOMATED_KEYS if strict else None)
    # Argo CD 3 added `enabled`; absent means on, and `false` keeps prune/selfHeal for later.
    return replace(
        extras,
        automated=automated.optional_boolean("enabled", default=True),
        prune=automated.optional_boolean("prune", default=False),
        self_heal=automated.optional_boolean("selfHeal", default=False),
    )


def _read_ignore_differences(entries: YamlField, *, strict: bool) -> tuple[IgnoreDifference, ...]:
    rules: list[IgnoreDifference] = []
    for entry in entries.items():
        entry.mapping()
        if strict:
            for unsupported in _UNSUPPORTED_IGNORE_KEYS:
                if entry.optional(unsupported) is not None:
                    raise entry.fail(f"{unsupported} is not supported; use jsonPointers")
        entry.mapping(_IGNORE_KEYS if strict else None)
        pointers_field = entry.required("jsonPointers") if strict else entry.optional("jsonPointers")
        # Argo CD entries that only use jq or managedFields managers ignore nothing kubedrift can see.
        if pointers_field is None:
            continue
        rules.append(
            IgnoreDifference(
                kind=entry.required("kind").string(),
                group=entry.optional_string("group", allow_empty=True) or "",
                name=entry.optional_string("name"),
                namespace=entry.optional_string("namespace"),
                json_pointers=tuple(_json_pointer(item) for item in pointers_field.items()),
            )
        )
    return tuple(rules)


def _json_pointer(pointer: YamlField) -> str:
    text = pointer.string(allow_empty=True)
    if text and not text.startswith("/"):
        raise pointer.fail(f"expected a JSON pointer starting with '/', got {text!r}")
    return text


def _app_name(name_field: YamlField) -> str:
    name = name_field.string()
    if ":" in name or any(character.isspace() for character in name):
        raise name_field.fail(
            f"app name {name!r} cannot contain ':' or spaces, since it is written into tracking ids"
        )
    return name


def read_application(document: YamlField, tracking: TrackingMethod) -> tuple[App, YamlField] | None:
    """An Argo CD Application read from elsewhere than a file (a cluster, `core.live_include`) as an
    App with its name field; None when `document` holds no Application."""
    return _read_application(document, tracking) if _is_argocd_application(document.value) else None
