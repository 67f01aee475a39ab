"""The value types every part of kubedrift speaks: apps, resource keys, statuses, drift.

They are frozen dataclasses and StrEnums so that they can be shared across threads, compared,
hashed and printed without surprises. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from core.redact import redact_text
from core.rollback_config import RollbackPolicy
from core.source_options import SourceOptions
from core.sync_options import NO_SYNC_OPTIONS, ManagedNamespaceMetadata, RetryPolicy, SyncOptions

TRACKING_LABEL = "app.kubernetes.io/managed-by"
TRACKING_LABEL_VALUE = "kubedrift"
TRACKING_ANNOTATION = "kubedrift.io/tracking-id"
ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
PRUNE_ANNOTATION = "kubedrift.io/prune"
ARGOCD_SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS_ANNOTATION = "argocd.argoproj.io/compare-options"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"
FLUX_TRACKING_LABELS = tuple(
    f"{group}/{part}" for group in (FLUX_KUSTOMIZE_GROUP, FLUX_HELM_GROUP) for part in ("name", "namespace")
)
"""The labels Flux's controllers put on what they apply; a sync standing in for Flux writes them too."""
FLUX_GROUPS = (FLUX_KUSTOMIZE_GROUP, FLUX_HELM_GROUP)
"""Flux labels what it applies `<group>/name` and `<group>/namespace`, naming the Kustomization or the
HelmRelease (kustomize-controller and helm-controller `originLabels`)."""
FIELD_MANAGER = "kubedrift"
SECRET_MASK = "***"
SYNC_CHANGES_NOTHING = "sync changes nothing"
"""The reason's lead for a resource a sync leaves OutOfSync with the same changes (drift rule 7)."""


class SyncStatus(StrEnum):
    """Whether one resource matches Git."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    MISSING = "Missing"
    EXTRANEOUS = "Extraneous"
    UNKNOWN = "Unknown"


class AppSync(StrEnum):
    """Whether a whole app matches Git."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class Health(StrEnum):
    """Health codes, declared best to worst; `rank` gives that order."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        return _HEALTH_RANK[self]

    @staticmethod
    def worst(healths: Iterable[Health]) -> Health:
        """The worst of `healths`; Healthy when there are none."""
        return max(healths, key=_HEALTH_RANK.__getitem__, default=Health.HEALTHY)


_HEALTH_RANK: dict[Health, int] = {health: rank for rank, health in enumerate(Health)}

FOLDER_REVISION_PREFIX: Final = "folder:"
"""A plain folder's revision is this and a digest of its contents (`core.gitsource.FolderSource`)."""


def revision_label(revision: str | None, length: int = 12) -> str:
    """A revision as people read it: a commit by its first `length` hex digits, a plain folder as
    `folder`, a chart version from a Helm repository as the version (`1.1.0`), a Flux OCI artifact's
    `<tag>@sha256:<hex>` as the tag and `length` hex digits (`6.1.8@3b6cdcc`), since a tag may move."""
    if not revision:
        return "-"
    if revision.startswith(FOLDER_REVISION_PREFIX):
        return "folder"
    if " (sha256:" in revision:
        return revision.partition(" (")[0]
    tag, at, digest = revision.rpartition("@sha256:")
    if at:
        return f"{tag}@{digest[:length]}"
    if revision.startswith("sha256:"):  # an OCI artifact asked for by digest
        return revision[: len("sha256:") + length]
    return revision[:length]


class TrackingMethod(StrEnum):
    """What tells that a live object belongs to an app: a tracking-id annotation, or Flux's labels."""

    KUBEDRIFT = "kubedrift"
    ARGOCD = "argocd"
    FLUX = "flux"

    @property
    def annotation(self) -> str:
        """The annotation holding the tracking id; empty for flux, which tracks by labels."""
        if self is TrackingMethod.FLUX:
            return ""
        return ARGOCD_TRACKING_ANNOTATION if self is TrackingMethod.ARGOCD else TRACKING_ANNOTATION


@dataclass(frozen=True, slots=True)
class FluxOwner:
    """The Flux Kustomization or HelmRelease an app stands for, as its labels on live objects name it."""

    group: str
    """`kustomize.toolkit.fluxcd.io` or `helm.toolkit.fluxcd.io`."""
    name: str
    namespace: str

    @property
    def labels(self) -> dict[str, str]:
        return {f"{self.group}/name": self.name, f"{self.group}/namespace": self.namespace}


class ResourceAction(StrEnum):
    """What a sync or prune did to one resource."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """Identity of a Kubernetes object; the version is kept beside it, never in it."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceKey:
        """The key of a manifest or live object (a plain dict)."""
        api_version = obj.get("apiVersion") or ""
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        metadata = obj.get("metadata") or {}
        return cls(group, obj.get("kind") or "", metadata.get("namespace") or "", metadata.get("name") or "")

    @property
    def group_kind(self) -> str:
        return f"{self.group}/{self.kind}"

    def tracking_id(self, app: str) -> str:
        """Argo CD's tracking-id format: `<app>:<group>/<Kind>:<namespace>/<name>`."""
        return f"{app}:{self.group}/{self.kind}:{self.namespace}/{self.name}"

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind}/{where}" if not self.group else f"{self.kind}.{self.group}/{where}"


def version_of(obj: Mapping[str, Any]) -> str:
    """The version part of an object's apiVersion (`apps/v1` -> `v1`)."""
    return str(obj.get("apiVersion") or "").rpartition("/")[2]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an app's desired state lives, in Argo CD's `spec.source` terms."""

    repo_url: str
    target_revision: str = "HEAD"
    path: str = "."
    options: SourceOptions = field(default_factory=SourceOptions)
    """`directory`, `helm`, `kustomize` and `chart`: how the files at `path` are rendered."""
    ref: str = ""
    """Argo CD's `ref`, in a multi-source app's `sources`: the name other sources' value files read
    this source's repository by (`$name/path`, from its root, at this source's targetRevision)."""

    @property
    def renders(self) -> bool:
        """Whether this source declares objects: it has a path or a chart. In `sources`, one with only a
        `ref` (its `path` is then empty) renders nothing; it only lends its files."""
        return bool(self.path or self.options.chart)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where an app is deployed: a kubeconfig context (`name`) or a cluster URL (`server`)."""

    name: str | None = None
    server: str | None = None
    namespace: str = "default"


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    """Argo CD's `syncPolicy`: `automated` False means manual (detect only)."""

    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    sync_options: SyncOptions = NO_SYNC_OPTIONS
    """`syncOptions` (core.sync_options); a resource's `argocd.argoproj.io/sync-options` wins over them."""
    retry: RetryPolicy | None = None
    """`retry`: a failed sync is tried again with this backoff; None tries once."""
    managed_namespace_metadata: ManagedNamespaceMetadata | None = None
    """Labels and annotations for the namespace `CreateNamespace=true` creates."""
    rollback: RollbackPolicy | None = None
    """`rollback`: when a newly synced revision is rolled back to the last good one (core.rollback)."""


@dataclass(frozen=True, slots=True)
class IgnoreDifference:
    """One `ignoreDifferences` entry: which objects, and which JSON pointers in them."""

    kind: str
    group: str = ""
    name: str | None = None
    namespace: str | None = None
    json_pointers: tuple[str, ...] = ()

    def matches(self, key: ResourceKey) -> bool:
        # Argo CD accepts "*" for group and kind, and real Application manifests use it.
        return (
            self.kind in ("*", key.kind)
            and self.group in ("*", key.group)
            and (self.name is None or self.name == key.name)
            and (self.namespace is None or self.namespace == key.namespace)
        )


@dataclass(frozen=True, slots=True)
class App:
    """One application: a Git source rendered into a destination, as in Argo CD's Application.spec."""

    name: str
    source: Source
    destination: Destination = field(default_factory=Destination)
    sync_policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    tracking: TrackingMethod = TrackingMethod.KUBEDRIFT
    server_side_diff: bool = False
    """`compareOptions: {serverSideDiff: true}`: confirm local OutOfSync verdicts with a dry-run apply."""
    origin: str = ""
    """The file (and line) the app was declared in, for error messages."""
    unrenderable: str = ""
    """Why this app cannot be rendered at all (an included Application using a config management
    plugin, say): its one error, while every other app is evaluated."""
    flux_owner: FluxOwner | None = None
    """The Flux object this app was read from; `tracking: flux` matches live objects by its labels."""
    sources: tuple[Source, ...] = ()
    """A multi-source app's sources (Argo CD's `spec.sources`), in order: each one with a path or a
    chart renders, and the desired set is their union (`core.multi_source`). Empty for an app with one
    `source`. When set, `source` is the first of them that renders: its revision is the app's."""
    parent: str = ""
    """The app whose render declared this one (an Argo CD Application, or a Flux Kustomization or
    HelmRelease: app of apps, core.app_of_apps); empty for an app of the config."""

    def owns(self, key: ResourceKey, obj: Mapping[str, Any]) -> bool:
        """Whether the live `obj` is tracked for this app: its tracking id names this app and `key`, or
        (`tracking: flux`) Flux's labels name this app's Kustomization or HelmRelease."""
        metadata = obj.get("metadata") or {}
        if self.tracking is TrackingMethod.FLUX:
            labels = metadata.get("labels")
            owner = self.flux_owner
            return (
                owner is not None
                and isinstance(labels, Mapping)
                and all(labels.get(label) == value for label, value in owner.labels.items())
            )
        annotations = metadata.get("annotations")
        return isinstance(annotations, Mapping) and bool(
            annotations.get(self.tracking.annotation) == key.tracking_id(self.name)
        )

    def ignore_rules_for(self, key: ResourceKey) -> tuple[str, ...]:
        """The JSON pointers ignored for `key`."""
        return tuple(p for rule in self.ignore_differences if rule.matches(key) for p in rule.json_pointers)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who owns a drifted field now, by the live object's managedFields (core.drift.attribution)."""

    manager: str
    operation: str
    """`Update` (a write such as `kubectl edit`) or `Apply` (server-side apply)."""
    time: str
    """When that manager last wrote, RFC 3339 as the server records it; empty when not recorded."""
    parent: bool = False
    """The field is gone from live, so nobody owns it: `manager` last updated the map or list holding it."""

    def to_json(self) -> dict[str, Any]:
        return {"manager": self.manager, "operation": self.operation, "time": self.time or None}


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs; `path` is an RFC 6901 pointer into the desired object.

    `desired` or `live` is None when that side lacks the field. For Secret data both sides are
    masked as `***` and `secret` is True, so no value can leak through a Change.
    """

    path: str
    desired: Any
    live: Any
    secret: bool = False
    by: Attribution | None = None
    """Who owns the drifted field now, when managedFields tells; set for OutOfSync resources only."""

    def to_json(self) -> dict[str, Any]:
        document = {"path": self.path, "desired": self.desired, "live": self.live}
        if self.by is not None:  # only when known (DESIGN, CLI)
            document["by"] = self.by.to_json()
        return document


@dataclass(frozen=True, slots=True)
class Drift:
    """The changes a sync would make to one object; empty means in sync."""

    changes: tuple[Change, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)


NO_DRIFT = Drift()


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """A health code with the reason a person would want to read."""

    status: Health
    message: str = ""


@dataclass(frozen=True, slots=True)
class ResourceResult:
    """The verdict on one resource of an app."""

    key: ResourceKey
    version: str
    status: SyncStatus
    health: HealthStatus
    changes: tuple[Change, ...] = ()
    reason: str = ""
    """Why the status is what it is, for Unknown (a 403, say) and Extraneous, and an OutOfSync
    resource a sync changes nothing for (drift rule 7)."""
    shared_with: tuple[str, ...] = ()
    """The other apps that declare this object too (core.shared_resources): a sync leaves it alone
    without --force, and self-heal never touches it."""

    @property
    def sync_changes_nothing(self) -> bool:
        return self.status is SyncStatus.OUT_OF_SYNC and self.reason.startswith(SYNC_CHANGES_NOTHING)

    @property
    def status_text(self) -> str:
        """The status for people: `OutOfSync (sync changes nothing)` when so marked; JSON keeps `status`."""
        return f"{self.status} ({SYNC_CHANGES_NOTHING})" if self.sync_changes_nothing else str(self.status)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "group": self.key.group,
            "version": self.version,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "status": str(self.status),
            "health": str(self.health.status),
            "changes": [change.to_json() for change in self.changes],
        }
        if self.shared_with:  # only then: every other resource keeps DESIGN's exact shape
            document["sharedWith"] = list(self.shared_with)
        return document


@dataclass(frozen=True, slots=True)
class ResourceOutcome:
    """What a sync or prune did to one resource, and why."""

    key: ResourceKey
    action: ResourceAction
    message: str = ""


@dataclass(frozen=True, slots=True)
class HookRun:
    """What a hook outcome was: the outcome it explains (by position in `SyncResult.outcomes`), the
    hook's phase (`PreSync`...) and how it ended (`Succeeded`, `Failed`, `Running`)."""

    position: int
    hook: str
    phase: str


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The result of one sync of an app."""

    revision: str
    started_at: str
    outcomes: tuple[ResourceOutcome, ...] = ()
    dry_run: bool = False
    hooks: tuple[HookRun, ...] = ()
    """Which outcomes are hooks (created fresh around the sync), with their phase and end."""
    message: str = ""
    """Why a sync with phases or waves stopped where it did, or how it ended; empty for a plain sync."""
    retries: int = 0
    """How many times `syncPolicy.retry` tried the sync again; the outcomes are the last attempt's."""

    @property
    def failed(self) -> bool:
        return any(outcome.action is ResourceAction.FAILED for outcome in self.outcomes)


@dataclass(frozen=True, slots=True)
class AppStatus:
    """A snapshot of one app: the roll-up the dashboard, `check` and `watch` show."""

    name: str
    sync: AppSync
    health: Health
    revision: str | None
    resources: tuple[ResourceResult, ...] = ()
    errors: tuple[str, ...] = ()
    last_sync: SyncResult | None = None
    warnings: tuple[str, ...] = ()
    """What a person should know that is not an error (an object another app declares too): the
    sync and health stay as they are."""
    rolled_back: tuple[str, str] | None = None
    """(bad, good) while an automated rollback pins the app at `good` and Git is still at `bad`."""
    parent: str = ""
    """The app whose render declared this one (core.app_of_apps); empty for an app of the config."""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "revision": self.revision,
            "sync": str(self.sync),
            "health": str(self.health),
            "errors": [redact_text(error) for error in self.errors],  # JSON leaves the host: no credential
            "resources": [resource.to_json() for resource in self.resources],
        }
        if self.warnings:  # only then, as rolledBack
            document["warnings"] = list(self.warnings)
        if self.rolled_back is not None:  # only then: every other app keeps DESIGN's exact shape
            document["rolledBack"] = {"from": self.rolled_back[0], "to": self.rolled_back[1]}
        if self.parent:  # a child app only (app of apps)
            document["parent"] = self.parent
        return document
