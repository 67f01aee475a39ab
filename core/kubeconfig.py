"""Finding clusters: kubeconfig files, contexts, in-cluster config, and app destinations.

The precedence is kubectl's: `--kubeconfig`, then `$KUBECONFIG` (a path list), then
`~/.kube/config`, and in-cluster service-account config when none of those exists.

The contexts are read here with PyYAML, merged across a path list as kubectl merges them (the
first file naming a context or cluster, or setting current-context, wins). The official client
itself is imported only when a client is built (`Kubeconfig.api_client`): importing it takes about
0.3 s, which the TUI would otherwise spend before its first frame.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from core.errors import KubedriftError
from core.model import Destination

if TYPE_CHECKING:
    from kubernetes import client as k8s_client

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

IN_CLUSTER = "in-cluster"


class ClusterConfigError(KubedriftError):
    """A kubeconfig, context or destination that cannot be used."""


@dataclass(frozen=True, slots=True)
class Kubeconfig:
    """The contexts a kubeconfig offers, and how to build a client for one of them."""

    source: str
    """What was loaded, for messages: a file list, or `in-cluster`."""
    contexts: Mapping[str, str]
    """context name -> server URL"""
    current_context: str | None
    config_file: str | None

    def context_for(self, destination: Destination, default: str | None = None) -> str:
        """The context an app deploys to: by `name`, by `server` URL, or the current (or `default`) one."""
        if destination.name:
            if destination.name not in self.contexts:
                raise ClusterConfigError(
                    f"destination context {destination.name!r} is not in {self.source} "
                    f"(contexts: {_names(self.contexts)}): fix the app's destination.name"
                )
            return destination.name
        if destination.server:
            wanted = destination.server.rstrip("/")
            for name, server in sorted(self.contexts.items()):
                if server.rstrip("/") == wanted:
                    return name
            raise ClusterConfigError(
                f"no context in {self.source} points at server {destination.server}: map it to a "
                "context under clusters: in kubedrift.yaml, add one to your kubeconfig, "
                "or set destination.name"
            )
        context = default or self.current_context
        if not context:
            raise ClusterConfigError(f"{self.source} has no current context: pass --context")
        if context not in self.contexts:
            raise ClusterConfigError(
                f"context {context!r} is not in {self.source} "
                f"(contexts: {_names(self.contexts)}): pass --context with one of them"
            )
        return context

    def api_client(self, context: str) -> k8s_client.ApiClient:
        """A client for `context` (its own Configuration, so contexts never share credentials)."""
        import urllib3
        from kubernetes import client as k8s_client
        from kubernetes import config as k8s_config
        from kubernetes.config.config_exception import ConfigException

        from core.cluster import keepalive_socket_options

        configuration = k8s_client.Configuration()
        # urllib3 would otherwise retry 429/503 on its own, sleeping past kubedrift's retry budget.
        # One connect retry: two attempts of CONNECT_TIMEOUT keep a blackholed server under 20 s.
        configuration.retries = urllib3.Retry(
            total=1, connect=1, read=False, status=0, redirect=0, respect_retry_after_header=False
        )
        configuration.socket_options = keepalive_socket_options()  # a vanished peer is found in 30 s
        if self.config_file == IN_CLUSTER:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return k8s_client.ApiClient(configuration)
        from core import kube_credentials

        unusable = f"cannot use context {context!r} from {self.source}"
        kube_credentials.bound_plugin_runs()  # at build and at every token refresh after it
        try:
            # The client logs a failed credential plugin instead of raising: keep it to say so below.
            with kube_credentials.client_logs_kept() as client_said:
                api_client: k8s_client.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=self.config_file,
                    context=context,
                    persist_config=False,
                    client_configuration=configuration,
                )
        except (ConfigException, OSError, ValueError, TypeError) as error:
            settings = kube_credentials.context_settings(self.config_file, context)
            reason = kube_credentials.explain_config_error(str(error), settings)
            raise ClusterConfigError(f"{unusable}: {reason}") from None
        settings = kube_credentials.context_settings(self.config_file, context)
        if client_said and settings.has_plugin:
            raise ClusterConfigError(f"{unusable}: {kube_credentials.plugin_failure(client_said, settings)}")
        problem = kube_credentials.settings_problem(settings)
        if problem is not None:
            raise ClusterConfigError(f"{unusable}: {problem}")
        tls = kube_credentials.tls_problem(
            configuration.cert_file, configuration.key_file, configuration.ssl_ca_cert
        )
        if tls is not None:
            raise ClusterConfigError(f"{unusable}: {tls}")
        refresh = configuration.refresh_api_key_hook
        if refresh is not None:
            # A token from a plugin is fetched again when it expires, inside a request: keep that quiet too.
            def refresh_quietly(client_configuration: k8s_client.Configuration) -> None:
                with kube_credentials.client_logs_kept():
                    refresh(client_configuration)

            configuration.refresh_api_key_hook = refresh_quietly
        return api_client


def load_kubeconfig(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Kubeconfig:
    """Read the contexts of the kubeconfig kubectl would use."""
    env = os.environ if environ is None else environ
    config_file = explicit or env.get("KUBECONFIG") or None
    paths = [p for p in (config_file or "~/.kube/config").split(os.pathsep) if p]
    folder = next((p for p in paths if Path(p).expanduser().is_dir()), None)
    if folder is not None:
        # kubectl refuses it too ("is a directory"); skipping it would send the user looking for a file.
        raise ClusterConfigError(
            f"kubeconfig {folder} is a folder, not a file: {_point_at_a_file(explicit, env)}"
        )
    existing = [p for p in paths if Path(p).expanduser().is_file()]
    if explicit and not existing:
        raise ClusterConfigError(f"kubeconfig {explicit} does not exist: check --kubeconfig")
    if not existing:
        if env.get("KUBERNETES_SERVICE_HOST"):
            return Kubeconfig(IN_CLUSTER, {IN_CLUSTER: "in-cluster"}, IN_CLUSTER, IN_CLUSTER)
        where = config_file or "~/.kube/config"
        raise ClusterConfigError(
            f"no kubeconfig found at {where}: pass --kubeconfig, set KUBECONFIG, "
            "or run `kubedrift demo` to try kubedrift without a cluster"
        )
    source = os.pathsep.join(existing)
    try:
        documents = [(path, _read_document(path)) for path in existing]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ClusterConfigError(f"cannot read kubeconfig {source}: {_one_line(error)}") from None
    clusters: dict[str, str] = {}
    contexts: dict[str, str] = {}
    current: str | None = None
    for path, document in documents:
        for entry in _named_entries(document, "clusters", path, source):
            cluster = entry.get("cluster") or {}
            server = cluster.get("server") if isinstance(cluster, dict) else None
            clusters.setdefault(str(entry["name"]), str(server or ""))
    for path, document in documents:
        for entry in _named_entries(document, "contexts", path, source):
            context = entry.get("context") or {}
            cluster_name = context.get("cluster") if isinstance(context, dict) else None
            contexts.setdefault(str(entry["name"]), str(cluster_name or ""))
        if current is None and document.get("current-context"):
            # As kubectl merges a path list: the first file that sets a current-context wins (the
            # Python client lets a later one replace it, but users check with kubectl).
            current = str(document["current-context"])
    servers = {name: clusters.get(cluster, "") for name, cluster in contexts.items()}
    return Kubeconfig(source, servers, current, source)


def _point_at_a_file(explicit: str | None, env: Mapping[str, str]) -> str:
    """What to do about a kubeconfig path that names a folder, by where the path came from."""
    if explicit:
        return "pass --kubeconfig the config file inside it"
    if env.get("KUBECONFIG"):
        return "set KUBECONFIG to the config file inside it"
    return "move the config file to ~/.kube/config, or pass --kubeconfig"


def _read_document(path: str) -> dict[str, Any]:
    with open(Path(path).expanduser(), encoding="utf-8") as file:
        document = yaml.load(file, Loader=_SafeLoader)
    if document is None:
        raise yaml.YAMLError(f"{path} is empty")
    if not isinstance(document, dict):
        raise yaml.YAMLError(f"{path} does not hold a mapping")
    return document


def _one_line(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if isinstance(error, yaml.YAMLError) and mark is not None and problem:
        return f"invalid YAML in {mark.name} at line {mark.line + 1}: {problem}"
    return " ".join(str(error).split())


def _named_entries(document: Mapping[str, Any], section: str, path: str, source: str) -> list[dict[str, Any]]:
    """The entries of a `clusters` or `contexts` list, each checked to be a mapping with a name."""
    entries = document.get(section) or []
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and entry.get("name") is not None for entry in entries
    ):
        raise ClusterConfigError(
            f"cannot read kubeconfig {source}: {section} in {path} must be a list of entries with a name"
        )
    return entries


def _names(contexts: Mapping[str, str]) -> str:
    return ", ".join(sorted(contexts)) or "none"
