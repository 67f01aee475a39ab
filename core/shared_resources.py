"""Objects that two apps declare: which apps declare each object on each cluster, and what a sync
does about it (DESIGN "Shared resources").

Two apps that declare one object fight over it: each sync of one undoes the other's, and with
self-heal on both they do so forever (kube-prometheus and metrics-server both ship the ClusterRole
`system:aggregated-metrics-reader`). Such an object is flagged in both apps, self-heal never touches
it, and a sync does not take it over from the app that applied it without `--force`. With
`FailOnSharedResource=true` the sync fails instead, which `core.sync_attempt` decides.

"Declared" means in an app's desired set (or pending in its working tree), not tracked: the tracking
id on the live object only says which app applied it last. Objects are the same when their
ResourceKey is, on the same cluster: two apps on different clusters never share, while two contexts
that reach one server (`core.read_only.cluster_identity`) are one cluster.

`SharedResources` is kept as apps' desired states change, one app at a time, from the difference
between its old and new keys, so a Git commit costs what it changes, not what the fleet holds. Each
app's own view (`shared_with`) is replaced, never changed in place, so a sync on a worker thread
may read it while the engine's loop moves on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from core.desired_state import DesiredState
from core.errors import KubedriftError
from core.model import (
    App,
    AppStatus,
    ResourceAction,
    ResourceKey,
    ResourceOutcome,
    ResourceResult,
    SyncPolicy,
    SyncResult,
)
from core.prune import PruneRefused
from core.read_only import ClusterIdentity, cluster_identity

if TYPE_CHECKING:
    from core.config import Config
    from core.kubeconfig import Kubeconfig

ClusterId = ClusterIdentity | str
"""What a context reaches: its server's identity, or its own name when it has no usable URL."""
NOT_SHARED: Final[Mapping[ResourceKey, tuple[str, ...]]] = MappingProxyType({})
TAKE_OVER: Final = "--force"
"""How a person takes a shared object over, as the sentences name it."""
SHARED_SKIP: Final = "also declared by "
"""How the message of a resource a sync left to another app begins."""


@dataclass(frozen=True, slots=True)
class ShareChange:
    """One app's object became declared by other apps too, stopped being so, or changed company."""

    app: str
    key: ResourceKey
    shared_with: tuple[str, ...]
    """The other apps that declare it now; empty when no other app does any more."""
    previous: tuple[str, ...]


def no_other_app(_key: ResourceKey) -> tuple[str, ...]:
    """For an app alone: no other app declares anything."""
    return ()


def cluster_of(context: str, servers: Mapping[str, str]) -> ClusterId:
    """The cluster `context` reaches (`servers` maps contexts to server URLs, as a kubeconfig does)."""
    return cluster_identity(servers.get(context, "")) or context


class SharedResources:
    """Which apps declare each object, per cluster, and each app's objects that others declare too."""

    def __init__(self, servers: Mapping[str, str] | None = None) -> None:
        self._servers: Mapping[str, str] = servers or {}
        self._clusters: dict[str, ClusterId] = {}
        self._declared: dict[ClusterId, dict[ResourceKey, tuple[str, ...]]] = {}
        """Per cluster, the apps declaring each object, sorted; a tuple is replaced, never changed, so
        a reader on another thread sees one whole."""
        self._apps: dict[str, tuple[ClusterId, frozenset[ResourceKey]]] = {}
        self._shared: dict[str, Mapping[ResourceKey, tuple[str, ...]]] = {}

    def cluster(self, context: str) -> ClusterId:
        found = self._clusters.get(context)
        if found is None:
            found = self._clusters[context] = cluster_of(context, self._servers)
        return found

    def declare(self, app: str, context: str | None, keys: Iterable[ResourceKey]) -> list[ShareChange]:
        """`app` now declares `keys` on `context`'s cluster (None: on no cluster); what that changed
        for every app concerned, this one included. Only the keys that came or went are looked at."""
        cluster = None if context is None else self.cluster(context)
        new_keys = frozenset(keys) if cluster is not None else frozenset()
        old_cluster, old_keys = self._apps.get(app, (None, frozenset()))
        if old_cluster == cluster:
            gone, came = old_keys - new_keys, new_keys - old_keys
        else:
            gone, came = old_keys, new_keys
        if cluster is None:
            self._apps.pop(app, None)
        else:
            self._apps[app] = (cluster, new_keys)
        changes: list[ShareChange] = []
        if old_cluster is not None:
            declared = self._declared.setdefault(old_cluster, {})
            for key in gone:
                before = declared.get(key, ())
                if len(before) == 1:
                    del declared[key]  # it was this app's alone: the common case, kept cheap
                else:
                    changes += self._set(declared, key, app, before, declares=False)
        if cluster is not None:
            declared = self._declared.setdefault(cluster, {})
            alone = (app,)
            for key in came:
                before = declared.setdefault(key, alone)  # one lookup when no other app declares it
                if before is not alone:
                    changes += self._set(declared, key, app, before, declares=True)
        self._apply(changes)
        return changes

    def forget(self, app: str) -> list[ShareChange]:
        """`app` declares nothing any more."""
        return self.declare(app, None, ())

    def shared_with(self, app: str) -> Mapping[ResourceKey, tuple[str, ...]]:
        """`app`'s objects that other apps declare too, each with those apps (sorted). The mapping is
        replaced when it changes, never changed in place."""
        return self._shared.get(app, NOT_SHARED)

    def others(self, app: str, key: ResourceKey) -> tuple[str, ...]:
        """The other apps that declare `key` on `app`'s cluster, whether `app` declares it or not."""
        found = self._apps.get(app)
        if found is None:
            return ()
        declared = self._declared.get(found[0], {}).get(key, ())
        return tuple(name for name in declared if name != app)

    @staticmethod
    def _set(
        declared: dict[ResourceKey, tuple[str, ...]],
        key: ResourceKey,
        app: str,
        before: tuple[str, ...],
        *,
        declares: bool,
    ) -> list[ShareChange]:
        after = tuple(sorted({*before, app})) if declares else tuple(name for name in before if name != app)
        if after:
            declared[key] = after
        else:
            declared.pop(key, None)
        if len(before) < 2 and len(after) < 2:
            return []  # one declarer (or none) before and after: nobody shares it
        changes: list[ShareChange] = []
        for name in sorted({*before, *after}):
            was = tuple(other for other in before if other != name) if name in before else ()
            now = tuple(other for other in after if other != name) if name in after else ()
            if was != now:
                changes.append(ShareChange(name, key, now, was))
        return changes

    def _apply(self, changes: list[ShareChange]) -> None:
        by_app: dict[str, list[ShareChange]] = {}
        for change in changes:
            by_app.setdefault(change.app, []).append(change)
        for name, own in by_app.items():
            shared = dict(self._shared.get(name, NOT_SHARED))
            for change in own:
                if change.shared_with:
                    shared[change.key] = change.shared_with
                else:
                    shared.pop(change.key, None)
            if shared:
                self._shared[name] = shared
            else:
                self._shared.pop(name, None)


def with_neighbours(config: Config, kubeconfig: Kubeconfig | None, name: str, context: str | None) -> Config:
    """`config` narrowed to app `name` and the apps on its cluster, for a command about one app
    (`--app`, `sync APP`): only those can declare its objects, so only they tell which are shared.
    The others come only to say what they declare: detect-only, whatever their policy, so that a
    command about one app never acts on another."""
    target = next(app for app in config.apps if app.name == name)
    if kubeconfig is None:
        return dataclasses.replace(config, apps=(target,))

    def cluster_of_app(app: App) -> ClusterId | None:
        try:
            return cluster_of(kubeconfig.context_for(app.destination, context), kubeconfig.contexts)
        except KubedriftError:
            return None  # its cluster is not usable: it declares nothing anywhere

    home = cluster_of_app(target)
    apps = tuple(
        app
        if app is target
        else dataclasses.replace(app, sync_policy=SyncPolicy())  # detect only: never acted on here
        for app in config.apps
        if app is target or (home is not None and cluster_of_app(app) == home)
    )
    return dataclasses.replace(config, apps=apps)


# What people read.


def object_name(key: ResourceKey) -> str:
    """`ClusterRole system:aggregated-metrics-reader`, `ConfigMap monitoring/grafana`."""
    return f"{key.kind} {key.namespace}/{key.name}" if key.namespace else f"{key.kind} {key.name}"


def app_names(names: Iterable[str]) -> str:
    """`app a`, `apps a and b`, `apps a, b and c`."""
    listed = list(names)
    if len(listed) == 1:
        return f"app {listed[0]}"
    return f"apps {', '.join(listed[:-1])} and {listed[-1]}"


def shared_warning(key: ResourceKey, others: Iterable[str]) -> str:
    """The app's warning for one object other apps declare too."""
    return (
        f"{object_name(key)} is also declared by {app_names(others)}: sync will not take it over "
        f"without {TAKE_OVER}, and self-heal leaves it alone"
    )


def shared_warnings(shared: Mapping[ResourceKey, tuple[str, ...]]) -> tuple[str, ...]:
    """One warning per shared object, in key order."""
    return tuple(shared_warning(key, shared[key]) for key in sorted(shared))


def change_message(change: ShareChange) -> str:
    """What `watch` and the event log say when an object becomes shared, or stops being."""
    if change.shared_with:
        return shared_warning(change.key, change.shared_with)
    return (
        f"{object_name(change.key)} is no longer declared by another app: sync and self-heal act on it again"
    )


def with_shared(status: AppStatus, shared: Mapping[ResourceKey, tuple[str, ...]]) -> AppStatus:
    """`status` with each shared resource saying which other apps declare it, and the app's warnings."""
    if not shared:
        return status
    resources = tuple(
        dataclasses.replace(resource, shared_with=shared[resource.key])
        if resource.key in shared
        else resource
        for resource in status.resources
    )
    return dataclasses.replace(
        status, resources=resources, warnings=(*status.warnings, *shared_warnings(shared))
    )


# What automation and a sync do with them.


def without_shared(
    results: Mapping[ResourceKey, ResourceResult], shared: Mapping[ResourceKey, tuple[str, ...]]
) -> Mapping[ResourceKey, ResourceResult]:
    """`results` without the shared objects, for automation to decide on: self-heal never acts on
    them, and a drift only they show is no reason for an auto-sync. `results` itself when none is."""
    if not shared:
        return results
    return {key: result for key, result in results.items() if key not in shared}


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A sync's input without the shared objects, and what it says about them."""

    desired: DesiredState
    live: dict[ResourceKey, Mapping[str, Any]]
    keys: tuple[ResourceKey, ...] | None
    """The keys asked for (self-heal), without the shared ones; None for the whole app."""
    outcomes: tuple[ResourceOutcome, ...]
    """`skipped` for each shared object the sync would have applied or pruned."""

    def completed(self, result: SyncResult) -> SyncResult:
        """`result` of the sync of what was left, with the shared objects' outcomes after it."""
        if not self.outcomes:
            return result
        return dataclasses.replace(result, outcomes=(*result.outcomes, *self.outcomes))


def hold_back_shared(
    app: App,
    desired: DesiredState,
    live: Mapping[ResourceKey, Mapping[str, Any]],
    others: Callable[[ResourceKey], tuple[str, ...]],
    *,
    keys: Iterable[ResourceKey] | None,
    prune: bool,
) -> HeldBack | None:
    """Take out of a sync the objects it would take over from another app (`others` names the other
    apps that declare a key); None when there is none in its scope.

    Taking over is changing a live object this app does not track (another app applied it, or a
    person): an object that is missing is created by whichever app syncs first, and one this app
    applied last is applied again. With `FailOnSharedResource=true` nothing is held back from the
    apply: the sync fails instead, before any write (core.sync_attempt). Also held back: a tracked
    object Git dropped that another app declares now, so that a prune never deletes what that app
    wants."""
    wanted = None if keys is None else set(keys)
    scope: Iterable[ResourceKey] = (
        desired.objects.keys() if wanted is None else wanted & desired.objects.keys()
    )
    if app.sync_policy.sync_options.fail_on_shared_resource:
        scope = ()
    held: dict[ResourceKey, tuple[str, ...]] = {}
    for key in scope:
        obj = live.get(key)
        if obj is not None and not app.owns(key, obj):
            sharing = others(key)
            if sharing:
                held[key] = sharing
    dropped: dict[ResourceKey, tuple[str, ...]] = {}
    if prune:
        for key, obj in live.items():
            if key not in desired.objects and (wanted is None or key in wanted) and app.owns(key, obj):
                sharing = others(key)
                if sharing:
                    dropped[key] = sharing
    if not held and not dropped:
        return None
    objects = {key: obj for key, obj in desired.objects.items() if key not in held}
    if prune and desired.objects and not objects:
        first = min(held)
        raise PruneRefused(
            f"refusing to prune app {app.name!r}: every object it declares is held by another app "
            f"({object_name(first)} is also declared by {app_names(held[first])}), so nothing of it "
            f"would be applied; sync with {TAKE_OVER} to take them over first"
        )
    outcomes = [
        ResourceOutcome(key, ResourceAction.SKIPPED, _skipped(others_, applying=True))
        for key, others_ in sorted(held.items())
    ]
    outcomes += [
        ResourceOutcome(key, ResourceAction.SKIPPED, _skipped(others_, applying=False))
        for key, others_ in sorted(dropped.items())
    ]
    return HeldBack(
        dataclasses.replace(desired, objects=objects),
        {key: obj for key, obj in live.items() if key not in held and key not in dropped},
        None if wanted is None else tuple(sorted(wanted - held.keys() - dropped.keys())),
        tuple(outcomes),
    )


def _skipped(others: tuple[str, ...], *, applying: bool) -> str:
    if applying:
        return f"{SHARED_SKIP}{app_names(others)}: not taken over without {TAKE_OVER}"
    return f"no longer in Git, but declared by {app_names(others)}: not pruned"
