"""Loads `kubedrift.yaml`, and the Argo CD Applications it includes, into typed settings.

Every value is read through `_Field`, which carries the file, line and field path it came from, so
that any mistake becomes one ConfigError that names all three. kubedrift.yaml is read strictly
(an unknown key is an error, since it is most likely a typo); Argo CD Application manifests are
read leniently (their spec has many fields that do not concern kubedrift), but every field we do
read is type-checked.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.errors import ConfigError
from core.model import App, Destination, IgnoreDifference, Source, SyncPolicy, TrackingMethod

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

CONFIG_FILE_NAME = "kubedrift.yaml"
CONFIG_ENV_VAR = "KUBEDRIFT_CONFIG"

_TOP_KEYS = ("apps", "readOnly", "contexts", "theme", "keymap")
_APP_KEYS = ("name", "source", "destination", "syncPolicy", "ignoreDifferences", "tracking")
_INCLUDE_KEYS = ("include", "tracking")
_SOURCE_KEYS = ("repoURL", "targetRevision", "path")
_DESTINATION_KEYS = ("name", "server", "namespace")
_SYNC_POLICY_KEYS = ("automated",)
_AUTOMATED_KEYS = ("prune", "selfHeal", "enabled")
_IGNORE_KEYS = ("group", "kind", "name", "namespace", "jsonPointers")
_UNSUPPORTED_IGNORE_KEYS = ("jqPathExpressions", "managedFieldsManagers")
_CONTEXT_KEYS = ("readOnly",)
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_NO_APPS = "no apps are declared; add apps under 'apps:', or run 'kubedrift PATH' on a folder of manifests"
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Settings for one kubeconfig context, kept per cluster as k9s does."""

    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """Everything kubedrift.yaml says, loaded once, outside the UI."""

    apps: tuple[App, ...]
    read_only: bool = False
    contexts: Mapping[str, ContextSettings] = field(default_factory=_empty_mapping)
    theme: str | None = None
    keymap: Mapping[str, str] = field(default_factory=_empty_mapping)
    """Binding id -> key, for the bindings a user remaps."""
    path: Path | None = None
    """The file loaded; None in zero-config mode."""

    def is_read_only(self, context: str | None) -> bool:
        """Whether writes are refused, globally or for this kubeconfig context."""
        settings = self.contexts.get(context) if context is not None else None
        return self.read_only or (settings is not None and settings.read_only)


def find_config(explicit: str | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to load: `--config`, then `$KUBEDRIFT_CONFIG`, then `./kubedrift.yaml`."""
    if explicit:
        return _existing_config_file(cwd / Path(explicit).expanduser(), explicit, "given with --config")
    from_environment = environ.get(CONFIG_ENV_VAR)
    if from_environment:
        return _existing_config_file(
            cwd / Path(from_environment).expanduser(), from_environment, f"set in ${CONFIG_ENV_VAR}"
        )
    default = cwd / CONFIG_FILE_NAME
    return default if default.is_file() else None


def _existing_config_file(path: Path, as_given: str, origin: str) -> Path:
    if path.is_dir():
        raise ConfigError(
            f"the config file {origin} is a folder; to watch a folder of manifests run 'kubedrift PATH'",
            file=as_given,
        )
    if not path.exists():
        raise ConfigError(f"the config file {origin} does not exist; check the path", file=as_given)
    return path


def load_config(path: Path) -> Config:
    """Reads and validates a kubedrift.yaml; every mistake is one ConfigError naming file, line, field."""
    display = _display_path(path)
    document = _parse(_read_text(path, display), display, path, multi_document=False)[0]
    if document is None:
        raise ConfigError(_NO_APPS, file=display)
    root = _Field(document, display, getattr(document, "line", 1), "")
    if not isinstance(document, dict):
        raise root.fail(
            f"expected a mapping with the keys {', '.join(_TOP_KEYS)} at the top level, "
            f"got {_describe(document)}"
        )
    root.mapping(_TOP_KEYS)
    apps_field = root.optional("apps")
    apps = _read_apps(apps_field, Path(os.path.abspath(path)).parent) if apps_field else ()
    if not apps:
        raise apps_field.fail(_NO_APPS) if apps_field else ConfigError(_NO_APPS, file=display)
    read_only = root.optional("readOnly")
    theme = root.optional("theme")
    return Config(
        apps=apps,
        read_only=read_only.boolean() if read_only else False,
        contexts=MappingProxyType(_read_contexts(root.optional("contexts"))),
        theme=theme.string() if theme else None,
        keymap=MappingProxyType(_read_keymap(root.optional("keymap"))),
        path=Path(os.path.abspath(path)),
    )


def zero_config(folder: Path) -> Config:
    """One app for a folder of manifests, read from disk, against the current context."""
    absolute = Path(os.path.abspath(folder.expanduser()))
    if not absolute.exists():
        raise ConfigError("no such folder; pass a folder of Kubernetes manifests", file=str(folder))
    if not absolute.is_dir():
        raise ConfigError(
            "this is a file, not a folder; pass the folder of manifests that holds it, "
            "or use --config if it is a kubedrift.yaml",
            file=str(folder),
        )
    # The name goes into tracking ids (`<app>:<group>/<kind>:...`), so it must not hold a colon.
    name = re.sub(r"[:\s]+", "-", absolute.name) or "root"
    # An empty target revision tells the Git source to read the files on disk, not a commit.
    source = Source(repo_url=str(absolute), target_revision="", path=".")
    return Config(apps=(App(name=name, source=source, origin=_display_path(absolute)),))


def _read_apps(apps_field: _Field, base: Path) -> tuple[App, ...]:
    first_declared: dict[str, str] = {}
    apps: list[App] = []
    for entry in apps_field.items():
        entry.mapping()
        declared = _read_include(entry, base) if "include" in entry.value else [_read_app(entry, base)]
        for app, name_field in declared:
            if app.name in first_declared:
                raise name_field.fail(
                    f"duplicate app name {app.name!r} (first declared at {first_declared[app.name]})"
                )
            first_declared[app.name] = app.origin
            apps.append(app)
    return tuple(apps)


def _read_app(entry: _Field, base: Path) -> tuple[App, _Field]:
    entry.mapping(_APP_KEYS)
    name_field = entry.required("name")
    destination = entry.optional("destination")
    sync_policy = entry.optional("syncPolicy")
    ignore_differences = entry.optional("ignoreDifferences")
    tracking = entry.optional("tracking")
    app = App(
        name=_app_name(name_field),
        source=_read_source(entry.required("source"), base, strict=True),
        destination=_read_destination(destination, strict=True) if destination else Destination(),
        sync_policy=_read_sync_policy(sync_policy, strict=True) if sync_policy else SyncPolicy(),
        ignore_differences=_read_ignore_differences(ignore_differences, strict=True)
        if ignore_differences
        else (),
        tracking=_tracking_method(tracking) if tracking else TrackingMethod.KUBEDRIFT,
        origin=entry.origin,
    )
    return app, name_field


def _read_include(entry: _Field, base: Path) -> list[tuple[App, _Field]]:
    entry.mapping(_INCLUDE_KEYS)
    include_field = entry.required("include")
    target = base / Path(include_field.string()).expanduser()
    if not target.exists():
        raise include_field.fail(
            f"{include_field.value!r} does not exist (include paths are read relative to the config file)"
        )
    tracking_field = entry.optional("tracking")
    tracking = _tracking_method(tracking_field) if tracking_field else TrackingMethod.KUBEDRIFT
    files = [target] if target.is_file() else list(_manifest_files(target))
    return [app for file in files for app in _applications_in(file, tracking)]


def _manifest_files(folder: Path) -> Iterator[Path]:
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if name.endswith(_MANIFEST_SUFFIXES):
                yield Path(parent) / name


def _applications_in(file: Path, tracking: TrackingMethod) -> Iterator[tuple[App, _Field]]:
    display = _display_path(file)
    for document in _parse(_read_text(file, display), display, file, multi_document=True):
        if _is_argocd_application(document):
            yield _read_application(_Field(document, display, getattr(document, "line", None), ""), tracking)


def _is_argocd_application(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("kind") == "Application"
        and str(document.get("apiVersion", "")).startswith("argoproj.io/")
    )


def _read_application(document: _Field, tracking: TrackingMethod) -> tuple[App, _Field]:
    """An Argo CD Application manifest as an App with the same meaning."""
    name_field = document.required("metadata").mapping().required("name")
    spec = document.required("spec").mapping()
    if spec.optional("source") is None and spec.optional("sources") is not None:
        raise spec.required("sources").fail(
            "multi-source Applications are not supported; give the app a single spec.source"
        )
    destination = spec.optional("destination")
    sync_policy = spec.optional("syncPolicy")
    ignore_differences = spec.optional("ignoreDifferences")
    base = Path(os.path.abspath(document.file)).parent
    app = App(
        name=_app_name(name_field),
        source=_read_source(spec.required("source"), base, strict=False),
        destination=_read_destination(destination, strict=False) if destination else Destination(),
        sync_policy=_read_sync_policy(sync_policy, strict=False) if sync_policy else SyncPolicy(),
        ignore_differences=_read_ignore_differences(ignore_differences, strict=False)
        if ignore_differences
        else (),
        tracking=tracking,
        origin=document.origin,
    )
    return app, name_field


def _read_source(source: _Field, base: Path, *, strict: bool) -> Source:
    source.mapping(_SOURCE_KEYS if strict else None)
    if not strict:
        for unrenderable in ("chart", "plugin"):
            if source.optional(unrenderable) is not None:
                raise source.required(unrenderable).fail(
                    "Helm repository charts and config management plugins are not supported; "
                    "kubedrift renders folders of manifests and kustomizations"
                )
    repo_url = _resolve_repo_url(source.required("repoURL").string(), base)
    revision_field = source.optional("targetRevision")
    # In kubedrift.yaml an explicit empty revision means the files on disk; Argo CD reads "" as HEAD.
    revision = revision_field.string(allow_empty=True) if revision_field else "HEAD"
    if not strict and not revision:
        revision = "HEAD"
    path_field = source.optional("path")
    path = path_field.string(allow_empty=True) if path_field else "."
    return Source(repo_url=repo_url, target_revision=revision, path=path or ".")


def _resolve_repo_url(repo_url: str, base: Path) -> str:
    """A local repoURL as an absolute path, read from `base`; URLs and `host:path` are left alone."""
    colon, slash = repo_url.find(":"), repo_url.find("/")
    # Git's own rule: a colon before any slash makes `host:path` an scp-like remote.
    scp_like = colon > 0 and (slash == -1 or colon < slash)
    if _URL_SCHEME.match(repo_url) or scp_like:
        return repo_url
    return os.path.normpath(base / Path(repo_url).expanduser())


def _read_destination(destination: _Field, *, strict: bool) -> Destination:
    destination.mapping(_DESTINATION_KEYS if strict else None)
    name, server, namespace = (destination.optional(key) for key in _DESTINATION_KEYS)
    if name and server:
        raise destination.fail("set either name (a kubeconfig context) or server (a cluster URL), not both")
    return Destination(
        name=name.string() if name else None,
        server=server.string() if server else None,
        namespace=namespace.string() if namespace else "default",
    )


def _read_sync_policy(sync_policy: _Field, *, strict: bool) -> SyncPolicy:
    automated = sync_policy.mapping(_SYNC_POLICY_KEYS if strict else None).optional("automated")
    if automated is None:
        return SyncPolicy()
    automated.mapping(_AUTOMATED_KEYS if strict else None)
    # Argo CD 3 added `enabled`; absent means on, and `false` keeps prune/selfHeal for later.
    enabled, prune, self_heal = (automated.optional(key) for key in ("enabled", "prune", "selfHeal"))
    return SyncPolicy(
        automated=enabled.boolean() if enabled else True,
        prune=prune.boolean() if prune else False,
        self_heal=self_heal.boolean() if self_heal else False,
    )


def _read_ignore_differences(entries: _Field, *, strict: bool) -> tuple[IgnoreDifference, ...]:
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
        group, name, namespace = (entry.optional(key) for key in ("group", "name", "namespace"))
        rules.append(
            IgnoreDifference(
                kind=entry.required("kind").string(),
                group=group.string(allow_empty=True) if group else "",
                name=name.string() if name else None,
                namespace=namespace.string() if namespace else None,
                json_pointers=tuple(_json_pointer(item) for item in pointers_field.items()),
            )
        )
    return tuple(rules)


def _json_pointer(pointer: _Field) -> str:
    text = pointer.string(allow_empty=True)
    if text and not text.startswith("/"):
        raise pointer.fail(f"expected a JSON pointer starting with '/', got {text!r}")
    return text


def _app_name(name_field: _Field) -> str:
    name = name_field.string()
    if ":" in name or any(character.isspace() for character in name):
        raise name_field.fail(
            f"app name {name!r} cannot contain ':' or spaces, since it is written into tracking ids"
        )
    return name


def _tracking_method(tracking: _Field) -> TrackingMethod:
    value = tracking.string()
    allowed = [str(method) for method in TrackingMethod]
    if value not in allowed:
        raise tracking.fail(f"expected one of {', '.join(allowed)}, got {value!r}")
    return TrackingMethod(value)


def _read_contexts(contexts: _Field | None) -> dict[str, ContextSettings]:
    settings: dict[str, ContextSettings] = {}
    for context, entry in contexts.entries() if contexts else ():
        read_only = entry.mapping(_CONTEXT_KEYS).optional("readOnly")
        settings[context] = ContextSettings(read_only=read_only.boolean() if read_only else False)
    return settings


def _read_keymap(keymap: _Field | None) -> dict[str, str]:
    return {binding: key.string() for binding, key in keymap.entries()} if keymap else {}


@dataclass(frozen=True, slots=True)
class _Field:
    """A value read from a YAML file, with the file, line and field path it came from."""

    value: Any
    file: str
    line: int | None
    path: str

    @property
    def origin(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def fail(self, message: str, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line or self.line, field=self.path)

    def mapping(self, allowed: Sequence[str] | None = None) -> _Field:
        """This field, checked to be a mapping whose keys are all in `allowed` (any, when None)."""
        if not isinstance(self.value, dict):
            raise self.fail(f"expected a mapping, got {_describe(self.value)}")
        if allowed is None:
            return self
        for key in self.value:
            if key not in allowed:
                message = f"unknown key {key!r}; allowed keys are {', '.join(allowed)}"
                close = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(message + suggestion, line=_line_of(self.value, "key_lines", key))
        return self

    def optional(self, key: str) -> _Field | None:
        """The field at `key` of this mapping; None when absent or null, as Kubernetes reads null."""
        if self.value.get(key) is None:
            return None
        return self.required(key)

    def required(self, key: str) -> _Field:
        if key not in self.value:
            raise self.fail(f"missing required key {key!r}")
        line = _line_of(self.value, "value_lines", key) or self.line
        return _Field(self.value[key], self.file, line, f"{self.path}.{key}" if self.path else key)

    def entries(self) -> Iterator[tuple[str, _Field]]:
        """The (name, field) pairs of a mapping whose keys are names the user chose."""
        for key in self.mapping().value:
            if not isinstance(key, str):
                raise self.fail(
                    f"expected names as keys, got {_describe(key)}; put it in quotes",
                    line=_line_of(self.value, "key_lines", key),
                )
            yield key, self.required(key)

    def items(self) -> list[_Field]:
        if not isinstance(self.value, list):
            raise self.fail(f"expected a list, got {_describe(self.value)}")
        lines: list[int] = getattr(self.value, "item_lines", [])
        return [
            _Field(item, self.file, lines[index] if lines else self.line, f"{self.path}[{index}]")
            for index, item in enumerate(self.value)
        ]

    def string(self, *, allow_empty: bool = False) -> str:
        if isinstance(self.value, str) and (self.value or allow_empty):
            return self.value
        hint = "; put the value in quotes" if isinstance(self.value, (bool, int, float, date)) else ""
        expected = "a string" if allow_empty else "a non-empty string"
        raise self.fail(f"expected {expected}, got {_describe(self.value)}{hint}")

    def boolean(self) -> bool:
        if isinstance(self.value, bool):
            return self.value
        raise self.fail(f"expected a boolean, got {_describe(self.value)}")


def _describe(value: Any) -> str:
    """A value as a person would name it in an error message."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return repr(value)


def _line_of(container: Any, table: str, key: Any) -> int | None:
    lines: dict[Any, int] = getattr(container, table, {})
    return lines.get(key)


def _display_path(path: Path) -> str:
    """`path` relative to the working folder when inside it, as the user would type it."""
    absolute = os.path.abspath(path)
    try:
        return str(Path(absolute).relative_to(os.path.abspath(os.getcwd())))
    except (ValueError, OSError):
        return str(path)


def _read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("the file does not exist; check the path", file=display) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text; save it as UTF-8", file=display) from None
    except OSError as error:
        raise ConfigError(
            f"cannot read the file ({error.strerror}); check its permissions", file=display
        ) from None


def _parse(text: str, display: str, path: Path, *, multi_document: bool) -> list[Any]:
    try:
        if multi_document:
            return list(yaml.load_all(text, Loader=_MarkedLoader))
        return [yaml.load(text, Loader=_MarkedLoader)]
    except yaml.YAMLError as error:
        if path.suffix == ".json":
            # Tab-indented JSON is valid JSON but not valid YAML for the pure-Python parser.
            return _parse_json(text, display)
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {problem}", file=display, line=line) from None


def _parse_json(text: str, display: str) -> list[Any]:
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as error:
        raise ConfigError(f"invalid JSON: {error.msg}", file=display, line=error.lineno) from None


class _MarkedMap(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key and value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}


class _MarkedList(list[Any]):
    """A YAML list that remembers its own line and the line of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _MarkedLoader(_SafeLoader):
    """A safe loader whose mappings and lists remember their lines, and that refuses duplicate keys."""


def _construct_mapping(loader: _MarkedLoader, node: yaml.MappingNode) -> Iterator[_MarkedMap]:
    marked = _MarkedMap(node.start_mark.line + 1)
    yield marked
    own_pairs = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged_pairs = len(node.value) - own_pairs
    own_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
            )
        # Keys brought in by a `<<` merge may be overridden; a key written twice is a mistake.
        if index >= merged_pairs:
            if key in own_keys:
                problem = f"duplicate key {key!r}; a key may appear only once in a mapping"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            own_keys.add(key)
        marked[key] = loader.construct_object(value_node, deep=True)
        marked.key_lines[key] = key_node.start_mark.line + 1
        marked.value_lines[key] = value_node.start_mark.line + 1


def _construct_list(loader: _MarkedLoader, node: yaml.SequenceNode) -> Iterator[_MarkedList]:
    marked = _MarkedList(node.start_mark.line + 1)
    yield marked
    for item_node in node.value:
        marked.append(loader.construct_object(item_node, deep=True))
        marked.item_lines.append(item_node.start_mark.line + 1)


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
