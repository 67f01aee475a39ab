"""Loads `kubedrift.yaml`, and the Argo CD Applications it includes, into typed settings.

Every value is read through a YamlField, which carries the file, line and field path it came from,
so that any mistake becomes one ConfigError that names all three. kubedrift.yaml is read strictly:
an unknown key is an error, since it is most likely a typo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.agent_config import NO_AGENT_SETTINGS, AgentSettings, read_agent_settings
from core.agents_config import AgentEndpoint, read_agents
from core.argocd_apps import applications_at, read_app
from core.config_yaml import YamlField, describe_value, display_path, load_yaml_file
from core.errors import ConfigError
from core.live_include import ClusterInclude, LiveIncludes
from core.lua_health import LuaHealthScript, read_health_scripts
from core.model import App, Destination, Source, TrackingMethod
from core.notification_config import WebhookConfig, read_notifications
from core.source_options import DirectoryOptions, SourceOptions

CONFIG_FILE_NAME = "kubedrift.yaml"
CONFIG_ENV_VAR = "KUBEDRIFT_CONFIG"

_TOP_KEYS = (
    "apps",
    "readOnly",
    "contexts",
    "clusters",
    "theme",
    "keymap",
    "healthChecks",
    "notifications",
    "agent",
    "agents",
)
_APP_KEYS = (
    "name",
    "source",
    "sources",
    "destination",
    "syncPolicy",
    "ignoreDifferences",
    "compareOptions",
    "tracking",
)
_INCLUDE_KEYS = ("include", "tracking")
_CLUSTER_INCLUDE_KEYS = ("cluster", "namespace")
_CONTEXT_KEYS = ("readOnly",)
_NO_APPS = "no apps are declared; add apps under 'apps:', or run 'kubedrift PATH' on a folder of manifests"


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
    health_checks: tuple[LuaHealthScript, ...] = ()
    """Argo CD-format Lua health checks from the `healthChecks:` folder (core.lua_health)."""
    notifications: tuple[WebhookConfig, ...] = ()
    """Webhooks told of drift, failed syncs, degraded health and rollbacks (core.notification_config)."""
    agent: AgentSettings = NO_AGENT_SETTINGS
    """What `kubedrift agent` may do (core.agent_config); read-only by default."""
    agents: tuple[AgentEndpoint, ...] = ()
    """Agents to read statuses from instead of the clusters (core.agents_config); apps may then be absent."""

    def is_read_only(self, context: str | None) -> bool:
        """What kubedrift.yaml says for this context name alone, or globally.

        Not the decision to write: that is `core.read_only.read_only_reason`, which also makes a
        context read-only when it reaches the same cluster as a read-only one.
        """
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


def load_config(
    path: Path,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Reads and validates a kubedrift.yaml; every mistake is one ConfigError naming file, line, field.

    `kubeconfig` and `context` (`--kubeconfig`, `--context`) reach the clusters that includes read apps
    from (`include: {cluster: ...}`); nothing connects unless the config has such an include."""
    display = display_path(path)
    absolute = Path(os.path.abspath(path))
    document = load_yaml_file(path, display, multi_document=False)[0]
    if document is None:
        raise ConfigError(_NO_APPS, file=display)
    root = YamlField(document, display, getattr(document, "line", 1), "")
    if not isinstance(document, dict):
        raise root.fail(
            f"expected a mapping with the keys {', '.join(_TOP_KEYS)} at the top level, "
            f"got {describe_value(document)}"
        )
    root.mapping(_TOP_KEYS)
    apps_field = root.optional("apps")
    live = LiveIncludes(kubeconfig, context=context, environ=environ)
    apps = _read_apps(apps_field, absolute.parent, live) if apps_field else ()
    agents = read_agents(root.optional("agents"), absolute.parent)
    if not apps and not agents:
        raise apps_field.fail(_NO_APPS) if apps_field else ConfigError(_NO_APPS, file=display)
    clusters = _read_clusters(root.optional("clusters"))
    if clusters:
        apps = tuple(_mapped_destination(app, clusters) for app in apps)
    return Config(
        apps=apps,
        read_only=root.optional_boolean("readOnly", default=False),
        contexts=MappingProxyType(_read_contexts(root.optional("contexts"))),
        theme=root.optional_string("theme"),
        keymap=MappingProxyType(_read_keymap(root.optional("keymap"))),
        path=absolute,
        health_checks=_read_health_checks(root.optional("healthChecks"), absolute.parent),
        notifications=read_notifications(root.optional("notifications"), absolute.parent),
        agent=read_agent_settings(root.optional("agent")),
        agents=agents,
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
    # A folder named on the command line is read with its subfolders: that is what a person pointing
    # at a folder of manifests means (an Application's `directory.recurse` defaults to false).
    options = SourceOptions(directory=DirectoryOptions(recurse=True))
    source = Source(repo_url=str(absolute), target_revision="", path=".", options=options)
    return Config(apps=(App(name=name, source=source, origin=display_path(absolute)),))


def _read_apps(apps_field: YamlField, base: Path, live: LiveIncludes) -> tuple[App, ...]:
    first_declared: dict[str, str] = {}
    apps: list[App] = []
    for entry in apps_field.items():
        entry.mapping()
        declared = _read_include(entry, base, live) if "include" in entry.value else [_read_app(entry, base)]
        for app, name_field in declared:
            if app.name in first_declared:
                raise name_field.fail(
                    f"duplicate app name {app.name!r} (first declared at {first_declared[app.name]})"
                )
            first_declared[app.name] = app.origin
            apps.append(app)
    return tuple(apps)


def _read_app(entry: YamlField, base: Path) -> tuple[App, YamlField]:
    entry.mapping(_APP_KEYS)
    name_field = entry.required("name")
    app = read_app(name_field, entry, base=base, origin=entry.origin, strict=True)
    # `tracking` is kubedrift's own key beside the Application spec fields, so it is read here.
    return replace(app, tracking=_read_tracking(entry)), name_field


def _read_include(entry: YamlField, base: Path, live: LiveIncludes) -> list[tuple[App, YamlField]]:
    """`include: PATH` (manifest files), or `include: {cluster, namespace}` (objects in a cluster)."""
    entry.mapping(_INCLUDE_KEYS)
    include_field = entry.required("include")
    tracking = _read_tracking(entry, included=True)
    if isinstance(include_field.value, dict):
        include_field.mapping(_CLUSTER_INCLUDE_KEYS)
        cluster = ClusterInclude(
            context=include_field.optional_string("cluster"),
            namespace=include_field.optional_string("namespace"),
        )
        return live.apps(cluster, tracking, base=base, entry=include_field)
    if not isinstance(include_field.value, str):
        raise include_field.fail(
            "expected a path of Argo CD Application or Flux manifests, or {cluster: CONTEXT, namespace: NS} "
            "to read them from a cluster"
        )
    target = base / Path(include_field.string()).expanduser()
    if not target.exists():
        raise include_field.fail(
            f"{include_field.value!r} does not exist (include paths are read relative to the config file)"
        )
    return applications_at(target, tracking)


def _read_tracking(entry: YamlField, *, included: bool = False) -> TrackingMethod:
    """`tracking:`; `flux` only for included apps, since only Flux objects name what Flux labels."""
    tracking = entry.optional("tracking")
    if tracking is None:
        return TrackingMethod.KUBEDRIFT
    value = tracking.string()
    allowed = [str(method) for method in TrackingMethod if included or method is not TrackingMethod.FLUX]
    if value not in allowed:
        hint = " (flux is for Flux Kustomizations and HelmReleases under include:)" if value == "flux" else ""
        raise tracking.fail(f"expected one of {', '.join(allowed)}, got {value!r}{hint}")
    return TrackingMethod(value)


def _read_health_checks(folder_field: YamlField | None, base: Path) -> tuple[LuaHealthScript, ...]:
    """`healthChecks:`, a folder laid out as Argo CD's resource_customizations (group/Kind/health.lua)."""
    if folder_field is None:
        return ()
    as_given = folder_field.string()
    folder = base / Path(as_given).expanduser()
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise folder_field.fail(
            f"{as_given!r} {problem}; give a folder of <group>/<Kind>/health.lua files, "
            "read relative to the config file"
        )
    return read_health_scripts(folder, display_path(folder))


def _read_contexts(contexts: YamlField | None) -> dict[str, ContextSettings]:
    settings: dict[str, ContextSettings] = {}
    for context, entry in contexts.entries() if contexts else ():
        read_only = entry.mapping(_CONTEXT_KEYS).optional_boolean("readOnly", default=False)
        settings[context] = ContextSettings(read_only=read_only)
    return settings


def _read_keymap(keymap: YamlField | None) -> dict[str, str]:
    return {binding: key.string() for binding, key in keymap.entries()} if keymap else {}


def _read_clusters(clusters: YamlField | None) -> dict[str, str]:
    """`clusters:`: an Argo CD destination (a server URL or a cluster name) -> a kubeconfig context."""
    mapping: dict[str, str] = {}
    for destination, context in clusters.entries() if clusters else ():
        mapping[destination.rstrip("/")] = context.string()
    return mapping


def _mapped_destination(app: App, clusters: Mapping[str, str]) -> App:
    """The app deploying to the context `clusters` maps its destination to, if it maps it.

    Argo CD names the cluster it runs in `https://kubernetes.default.svc` (or `in-cluster`); from a
    laptop or a bastion that is some kubeconfig context, which only the user can name."""
    destination = app.destination
    wanted = destination.server.rstrip("/") if destination.server else destination.name
    context = clusters.get(wanted or "")
    if context is None:
        return app
    return replace(app, destination=Destination(name=context, namespace=destination.namespace))
