"""Reads Argo CD Application specs into Apps: from Application manifests, and from kubedrift.yaml.

kubedrift.yaml declares each app with the fields of an Application spec and is read strictly (an
unknown key is an error, since it is most likely a typo). Application manifests are read leniently
(their spec has many fields that do not concern kubedrift), but every field we do read is
type-checked.
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
from core.source_options_yaml import SOURCE_OPTION_KEYS, read_source_options

_SOURCE_KEYS = ("repoURL", "targetRevision", "path", *SOURCE_OPTION_KEYS)
_DESTINATION_KEYS = ("name", "server", "namespace")
_SYNC_POLICY_KEYS = ("automated",)
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
    return App(
        name=_app_name(name_field),
        source=_read_source(spec.required("source"), base, strict=strict),
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

    One that kubedrift cannot render (a plugin, a Helm repository chart, several sources) is still an
    app, whose one error says why: the other Applications of the folder are evaluated as usual."""
    name_field = document.required("metadata").mapping().required("name")
    spec = document.required("spec").mapping()
    base = Path(os.path.abspath(document.file)).parent
    unsupported = _unsupported_source(spec)
    if unsupported is not None:
        stand_in = {**spec.value, "source": {"repoURL": str(base), "path": "."}}
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
    """Why kubedrift cannot render this Application's source, or None when it can."""
    source = spec.optional("source")
    if source is None:
        if spec.optional("sources") is not None:
            return spec.required("sources").fail(
                "multi-source Applications are not supported yet; give the app a single spec.source"
            )
        return None
    source.mapping()
    for unrenderable in _UNRENDERABLE:
        if source.optional(unrenderable) is not None:
            return source.required(unrenderable).fail(_UNRENDERABLE_MESSAGE)
    return None


def _read_source(source: YamlField, base: Path, *, strict: bool) -> Source:
    source.mapping(_SOURCE_KEYS if strict else None)
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
    if automated is None:
        return SyncPolicy()
    automated.mapping(_AUTOMATED_KEYS if strict else None)
    # Argo CD 3 added `enabled`; absent means on, and `false` keeps prune/selfHeal for later.
    return SyncPolicy(
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
