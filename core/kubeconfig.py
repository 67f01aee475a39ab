"""Finding clusters: kubeconfig files, contexts, in-cluster config, and app destinations.

The precedence is kubectl's: `--kubeconfig`, then `$KUBECONFIG` (a path list), then
`~/.kube/config`, and in-cluster service-account config when none of those exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from core.errors import KubedriftError
from core.model import Destination

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
                f"no context in {self.source} points at server {destination.server}: "
                "add one to your kubeconfig or set destination.name"
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
        configuration = k8s_client.Configuration()
        # urllib3 would otherwise retry 429/503 on its own, sleeping past kubedrift's retry budget.
        configuration.retries = urllib3.Retry(
            total=2, connect=2, read=False, status=0, redirect=0, respect_retry_after_header=False
        )
        if self.config_file == IN_CLUSTER:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return k8s_client.ApiClient(configuration)
        try:
            api_client: k8s_client.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=self.config_file,
                context=context,
                persist_config=False,
                client_configuration=configuration,
            )
            return api_client
        except (ConfigException, OSError, ValueError, TypeError) as error:
            raise ClusterConfigError(f"cannot use context {context!r} from {self.source}: {error}") from None


def load_kubeconfig(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Kubeconfig:
    """Read the contexts of the kubeconfig kubectl would use."""
    env = os.environ if environ is None else environ
    config_file = explicit or env.get("KUBECONFIG") or None
    paths = [p for p in (config_file or "~/.kube/config").split(os.pathsep) if p]
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
        contexts, current = k8s_config.list_kube_config_contexts(config_file=source)  # type: ignore[no-untyped-call]
        clusters = _clusters(source)
    except (
        ConfigException,
        OSError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        yaml.YAMLError,
    ) as error:
        raise ClusterConfigError(f"cannot read kubeconfig {source}: {error}") from None
    servers = {
        str(entry.get("name")): clusters.get(str((entry.get("context") or {}).get("cluster")), "")
        for entry in contexts or []
    }
    current_name = str(current.get("name")) if current else None
    return Kubeconfig(source, servers, current_name, source)


def _clusters(config_file: str) -> dict[str, str]:
    """cluster name -> server URL across every file of a path list; the first file naming one wins."""
    clusters: dict[str, str] = {}
    for path in config_file.split(os.pathsep):
        document = yaml.safe_load(Path(path).expanduser().read_text()) or {}
        for entry in document.get("clusters") or []:
            cluster = entry.get("cluster") or {}
            clusters.setdefault(str(entry.get("name")), str(cluster.get("server") or ""))
    return clusters


def _names(contexts: Mapping[str, str]) -> str:
    return ", ".join(sorted(contexts)) or "none"
