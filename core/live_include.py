"""Apps read live from a cluster: `- include: {cluster: <context>, namespace: <namespace>}`.

The Flux objects a cluster runs (Kustomizations and HelmReleases, with their GitRepositories,
HelmRepositories and OCIRepositories, and the ArtifactGenerators that build the ExternalArtifacts a
Kustomization may read) and its Argo CD Applications become apps exactly as the same objects in
included files do (`core.flux_apps`, `core.argocd_apps`); the ConfigMaps and Secrets their
`postBuild.substituteFrom` and `valuesFrom` name are read from the cluster too, one by one, and only
those. A Flux app deploys to the cluster it was read from, and so does an Application whose
destination is that cluster itself (`https://kubernetes.default.svc`, `in-cluster`).

They are read once, when the config is loaded, through the same kubeconfig, client and timeouts as
everything else (`core.kubeconfig`, `core.cluster`), read-only. A cluster that does not answer, that
serves neither Flux's nor Argo CD's kinds, or that forbids listing them, is one config error naming
the include; a silent cluster ends the load within `core.cluster.GIVE_UP_SECONDS`. `core.cluster` is
imported only for such an include: a config without one never loads the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.argocd_apps import read_application
from core.config_yaml import YamlField
from core.errors import ConfigError
from core.flux_apps import FluxDocuments
from core.flux_generators import ARTIFACT_GROUP, GENERATOR_KIND
from core.flux_sources import SOURCE_GROUP, SourceKey
from core.flux_values import ReferencedData, ReferenceLookup, ReferenceUnreadable, data_of
from core.kubeconfig import ClusterConfigError, Kubeconfig, load_kubeconfig
from core.model import FLUX_HELM_GROUP, FLUX_KUSTOMIZE_GROUP, App, Destination, TrackingMethod

ARGOCD_GROUP = "argoproj.io"
APP_KINDS = (
    (FLUX_KUSTOMIZE_GROUP, "Kustomization"),
    (FLUX_HELM_GROUP, "HelmRelease"),
    (ARGOCD_GROUP, "Application"),
)
"""What becomes an app; a cluster serving none of them is a mistake to name."""
SOURCE_KINDS = (
    *((SOURCE_GROUP, kind) for kind in ("GitRepository", "HelmRepository", "OCIRepository")),
    (ARTIFACT_GROUP, GENERATOR_KIND),
)
"""What apps are read from, listed when the cluster serves it (source-watcher's kind may be absent)."""
if TYPE_CHECKING:
    from core.cluster import ClusterAdapter

IN_CLUSTER_DESTINATIONS = ("https://kubernetes.default.svc", "in-cluster")
"""How an Application names the cluster Argo CD runs in."""


@dataclass(frozen=True, slots=True)
class ClusterInclude:
    """One `include: {cluster, namespace}` entry."""

    context: str | None = None
    """A kubeconfig context; None: `--context`, else the kubeconfig's current one."""
    namespace: str | None = None
    """Only the objects of this namespace; None: every namespace."""


class LiveIncludes:
    """Reads cluster includes with one kubeconfig; includes of one context share its connection."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        *,
        context: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`kubeconfig` and `context` are `--kubeconfig` and `--context`, as for the apps themselves."""
        self._kubeconfig_path = kubeconfig
        self._default_context = context
        self._environ = environ
        self._kubeconfig: Kubeconfig | None = None
        self._adapters: dict[str, ClusterAdapter] = {}

    def apps(
        self, include: ClusterInclude, tracking: TrackingMethod, *, base: Path, entry: YamlField
    ) -> list[tuple[App, YamlField]]:
        """The apps of one include; `entry` (the include's field) is what a ConfigError points at."""
        from core.cluster import GIVE_UP_SECONDS, ClusterAdapter  # only a config with such an include

        try:
            if self._kubeconfig is None:
                self._kubeconfig = load_kubeconfig(self._kubeconfig_path, self._environ)
            known = self._kubeconfig.contexts
            if include.context is not None and include.context not in known:
                raise entry.fail(
                    f"cannot read apps from a cluster: context {include.context!r} is not in "
                    f"{self._kubeconfig.source} (contexts: {', '.join(sorted(known)) or 'none'}); "
                    "fix include.cluster"
                )
            context = include.context or self._kubeconfig.context_for(
                Destination(), default=self._default_context
            )
            adapter = self._adapters.get(context)
            if adapter is None:
                client = self._kubeconfig.api_client(context)
                adapter = ClusterAdapter(
                    client, context=context, read_only=True, give_up_seconds=GIVE_UP_SECONDS
                )
                self._adapters[context] = adapter
        except ClusterConfigError as error:
            raise entry.fail(f"cannot read apps from a cluster: {error}") from None
        return _ClusterRead(adapter, include, entry).apps(tracking, base)


class _ClusterRead:
    """One include read from one cluster."""

    def __init__(self, adapter: ClusterAdapter, include: ClusterInclude, entry: YamlField) -> None:
        self.adapter = adapter
        self.context = adapter.context
        self.include = include
        self.entry = entry
        self._data: dict[SourceKey, ReferencedData | None] = {}

    def apps(self, tracking: TrackingMethod, base: Path) -> list[tuple[App, YamlField]]:
        from core.cluster import ApiError, ClusterError

        try:
            discovery = self.adapter.discover()
        except ClusterError as error:
            raise self._fail(str(error)) from None
        served = [
            discovery.by_kind[kind] for kind in (*APP_KINDS, *SOURCE_KINDS) if kind in discovery.by_kind
        ]
        if not any((resource.group, resource.kind) in APP_KINDS for resource in served):
            raise self._fail(
                "it serves no Flux Kustomization or HelmRelease and no Argo CD Application; install Flux's "
                "(or Argo CD's) CRDs there, or point include.cluster at the cluster that runs Flux"
            )
        missing = f"is not in cluster {self.context!r}"
        flux = FluxDocuments(
            base=base,
            context=self.context,
            missing=missing,
            find_data=ReferenceLookup(self._find_data, missing),
        )
        applications: list[tuple[App, YamlField]] = []
        for resource in served:
            try:
                items, _ = self.adapter.list(resource, self.include.namespace)
            except ClusterError as error:
                what = f"{resource.plural}.{resource.group}"
                if isinstance(error, ApiError) and error.code == 403:
                    raise self._fail(
                        f"listing {what} is forbidden ({error.message}); grant kubedrift list on it, "
                        "or narrow the include to a namespace it may read"
                    ) from None
                raise self._fail(f"cannot list {what} ({error})") from None
            for item in items:
                metadata = item.get("metadata") or {}
                where = f"{metadata.get('namespace')}/{metadata.get('name')}"
                display = f"cluster {self.context} {resource.kind} {where}"
                if resource.group == ARGOCD_GROUP:
                    read = read_application(YamlField(item, display, None, ""), tracking)
                    if read is not None:
                        applications.append((self._deployed_here(read[0]), read[1]))
                else:
                    flux.add(item, display)
        return applications + flux.apps(tracking)

    def _deployed_here(self, app: App) -> App:
        """An Application as the cluster it was read from runs it: deploying to that cluster when its
        destination is the one Argo CD runs in, and, under `tracking: flux` (which names Flux's objects
        only), owned by Argo CD's tracking ids, since Argo CD is what applies it there."""
        if app.tracking is TrackingMethod.FLUX:
            app = replace(app, tracking=TrackingMethod.ARGOCD)
        destination = app.destination
        named = (destination.server or "").rstrip("/") or destination.name
        if named not in IN_CLUSTER_DESTINATIONS:
            return app
        return replace(app, destination=Destination(name=self.context, namespace=destination.namespace))

    def _find_data(self, kind: str, namespace: str, name: str) -> ReferencedData | None:
        """A ConfigMap or Secret that a Flux object names, read from the cluster once."""
        key = (kind, namespace, name)
        if key not in self._data:
            self._data[key] = self._read_data(kind, namespace, name)
        return self._data[key]

    def _read_data(self, kind: str, namespace: str, name: str) -> ReferencedData | None:
        from core.cluster import ApiError, ClusterError

        try:
            found: dict[str, Any] | None = self.adapter.get(
                self.adapter.resource_for("", kind), namespace, name
            )
        except ApiError as error:
            if error.code == 403:
                raise ReferenceUnreadable(
                    f"reading it is forbidden in cluster {self.context!r}; grant kubedrift get on "
                    f"{kind.lower()}s in {namespace}"
                ) from None
            raise ReferenceUnreadable(str(error)) from None
        except ClusterError as error:
            raise ReferenceUnreadable(str(error)) from None
        return data_of(found) if found is not None else None

    def _fail(self, message: str) -> ConfigError:
        return self.entry.fail(f"cannot read apps from cluster {self.context!r}: {message}")
