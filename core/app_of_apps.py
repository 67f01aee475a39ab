"""App of apps: the Argo CD Applications an app renders become its child apps, and so do the Flux
Kustomizations and HelmReleases it renders.

This is how argocd-example-apps' `apps/` works: a chart that renders one Application per entry of its
values. The rules:
- an Application is read as an included Application manifest is (`core.argocd_apps`, leniently), and
  a Kustomization or HelmRelease as included Flux manifests are (`core.flux_apps`), with the
  GitRepositories, HelmRepositories, ConfigMaps and Secrets of the same render as what it names;
- the child's name is the Application's `metadata.name`, as in Argo CD (a Flux child's is
  `<namespace>-<name>`, as for included Flux objects), and `App.parent` names the app that rendered it;
- a child whose name is taken, by an app of the config or by another child, is not made: its parent
  carries one error naming both;
- Argo CD (or Flux) runs in the cluster its objects are applied to, so a child whose destination is
  that cluster itself (`https://kubernetes.default.svc`, `in-cluster`) deploys to its parent's cluster,
  and so does a Flux child;
- a repoURL is a URL to Argo CD; for local work a child may also give a local path (read from the
  config file's folder when relative, as the config's apps are) or a `file://` URL;
- the child inherits its parent's tracking (an Application under `tracking: flux`, which names Flux's
  objects only, is tracked by Argo CD's annotation);
- only a render that succeeded says a child is gone: a failed render, or a working tree caught
  mid-save (pending keys), keeps the children it no longer shows. A child that is gone is no longer
  monitored; nothing is pruned because of it.

Whether the objects are also resources of the parent depends on the parent's cluster. Argo CD applies
Applications as custom resources that its controller then reconciles; where the cluster serves the kind
(Argo CD, or Flux, is installed) they stay ordinary resources of the parent, compared and synced.
Where it does not, kubedrift stands in for that controller: they are child apps only, never applied,
Missing or Unknown (`stood_in`).

Pure: the engine adds, replaces and removes the children's runtimes (core.engine_children).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.argocd_apps import read_application
from core.config_yaml import YamlField
from core.errors import ConfigError
from core.flux_apps import FluxDocuments
from core.flux_values import REFERENCE_KINDS
from core.live_include import ARGOCD_GROUP, IN_CLUSTER_DESTINATIONS, SOURCE_KINDS
from core.model import FLUX_HELM_GROUP, FLUX_KUSTOMIZE_GROUP, App, Destination, ResourceKey, TrackingMethod

APPLICATION = (ARGOCD_GROUP, "Application")
FLUX_APP_KINDS = ((FLUX_KUSTOMIZE_GROUP, "Kustomization"), (FLUX_HELM_GROUP, "HelmRelease"))
CHILD_KINDS = frozenset((APPLICATION, *FLUX_APP_KINDS))
"""The kinds whose objects become child apps."""
_FLUX_SOURCE_KINDS = frozenset(SOURCE_KINDS)
_FLUX_READS = frozenset((*FLUX_APP_KINDS, *SOURCE_KINDS, *(("", kind) for kind in REFERENCE_KINDS)))
"""What a Flux child is read from: the Flux objects, and the ConfigMaps and Secrets values come from."""
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True, slots=True)
class Child:
    """A child app and the object of its parent's render it was read from."""

    app: App
    key: ResourceKey
    where: str
    """That object as a person finds it: `templates/apps.yaml: Application argocd/guestbook`."""


@dataclass(frozen=True, slots=True)
class Found:
    """What one render of a parent says of its children."""

    children: tuple[Child, ...] = ()
    errors: tuple[str, ...] = ()
    """Objects of a child kind that could not be read, each naming the object and the field."""
    keys: frozenset[ResourceKey] = frozenset()
    """Every object of a child kind in the render (read or not), and the Flux sources beside them."""


NOTHING_FOUND = Found()


@dataclass(frozen=True, slots=True)
class ChildPlan:
    """How a parent's children change with one render of it."""

    parent: str
    children: Mapping[str, Child] = field(default_factory=dict)
    """The parent's children from now on, by name."""
    added: tuple[Child, ...] = ()
    changed: tuple[Child, ...] = ()
    """Children whose spec changed: their app is replaced."""
    removed: tuple[Child, ...] = ()
    errors: tuple[str, ...] = ()
    """What the parent shows: objects that could not be read, and names already taken."""

    @property
    def moves(self) -> bool:
        """Whether any child comes, changes or goes."""
        return bool(self.added or self.changed or self.removed)


def find_children(
    parent: App,
    objects: Mapping[ResourceKey, Mapping[str, Any]],
    *,
    context: str | None,
    base: Path,
    file_of: Callable[[ResourceKey], str] | None = None,
) -> Found:
    """The child apps `parent`'s rendered `objects` declare, deploying by default to `context` (the
    parent's cluster); relative local repoURLs are read from `base`; `file_of` names the file each
    object was rendered from, for messages."""
    keys = [key for key in objects if (key.group, key.kind) in CHILD_KINDS]
    if not keys:
        return NOTHING_FOUND  # the common case: one pass over the keys, nothing read
    children: list[Child] = []
    errors: list[str] = []
    flux = FluxDocuments(
        base=base,
        context=context,
        missing=f"is not among the objects app {parent.name} renders; declare it beside the object naming it",
    )
    with_flux = any(key.group != ARGOCD_GROUP for key in keys)
    flux_sources: list[ResourceKey] = []
    for key, obj in objects.items():
        kind = (key.group, key.kind)
        if kind == APPLICATION:
            where = _where(key, file_of)
            try:
                read = read_application(
                    YamlField(_with_local_paths(obj, base), where, None, ""), parent.tracking
                )
            except ConfigError as error:
                errors.append(str(error))
                continue
            if read is not None:
                children.append(Child(_as_child(read[0], parent, context), key, where))
        elif with_flux and kind in _FLUX_READS:
            flux.add(obj, _where(key, file_of))
            if kind in _FLUX_SOURCE_KINDS:
                flux_sources.append(key)
    children += _flux_children(parent, flux, errors)
    return Found(tuple(children), tuple(errors), frozenset((*keys, *flux_sources)))


def plan_children(
    parent: str,
    previous: Mapping[str, Child],
    found: Found,
    taken: Mapping[str, str],
    *,
    complete: bool,
    pending: Collection[ResourceKey] = (),
) -> ChildPlan:
    """The parent's children after a render that found `found`, when they were `previous`.

    `taken` holds every other app's name with who it is (`the app shop of kubedrift.yaml:3`); the
    parent's own children are not in it. A render that is not `complete` (it failed somewhere) drops
    no child, and neither does a key `pending` (a working tree's file read mid-save)."""
    children: dict[str, Child] = {}
    errors = list(found.errors)
    for child in found.children:
        name = child.app.name
        holder = taken.get(name)
        if holder is None and name in children:
            holder = f"the child app {name} read from {children[name].where}"
        if holder is not None:
            errors.append(
                f"{child.where}: child app {name} is not added: {holder} has that name; rename one of them "
                "(an Application's name is its metadata.name), since each app needs its own name"
            )
            continue
        children[name] = child
    for name, child in previous.items():
        if name not in children and (not complete or child.key in pending):
            children[name] = child  # not confirmed gone: kept as it was
    added = tuple(child for name, child in children.items() if name not in previous)
    changed = tuple(
        child for name, child in children.items() if name in previous and previous[name].app != child.app
    )
    removed = tuple(child for name, child in previous.items() if name not in children)
    return ChildPlan(parent, children, added, changed, removed, tuple(errors))


def stood_in(found: Found, serves: Callable[[str, str], bool]) -> frozenset[ResourceKey]:
    """The objects kubedrift stands in for, left out of the parent's resources: those of a child kind
    (and the Flux sources beside them) whose kind the parent's cluster does not serve."""
    return frozenset(key for key in found.keys if not serves(key.group, key.kind))


def family_order(parents: Mapping[str, str]) -> list[str]:
    """App names (each with its parent, "" for none) ordered so that each child follows its parent,
    siblings by name; an app whose parent is not among them stands at the top."""
    below: dict[str, list[str]] = {}
    for name, parent in parents.items():
        below.setdefault(parent if parent in parents else "", []).append(name)
    for siblings in below.values():
        siblings.sort()
    top = [name for name in parents if not parents[name] or parents[name] not in parents]
    ordered: list[str] = []
    stack = list(reversed(top))
    while stack:
        name = stack.pop()
        ordered.append(name)
        stack.extend(reversed(below.get(name, [])))
    return ordered


def depth_of(name: str, parents: Mapping[str, str]) -> int:
    """How many ancestors of `name` are among `parents` (0 for an app of the config)."""
    depth, seen = 0, {name}
    parent = parents.get(name, "")
    while parent in parents and parent not in seen:
        depth, seen = depth + 1, seen | {parent}
        parent = parents.get(parent, "")
    return depth


def root_of(name: str, parents: Mapping[str, str]) -> str:
    """The app at the top of `name`'s family: an app of the config."""
    seen = {name}
    while parents.get(name) and parents[name] in parents and parents[name] not in seen:
        name = parents[name]
        seen.add(name)
    return name


def descendants(name: str, parents: Mapping[str, str]) -> list[str]:
    """The children of `name`, theirs, and so on."""
    found: list[str] = []
    wanted = {name}
    for candidate in family_order(parents):
        if parents.get(candidate) in wanted:
            found.append(candidate)
            wanted.add(candidate)
    return found


# Messages of the event stream.


def added_message(child: Child) -> str:
    return f"child app {child.app.name} added: app {child.app.parent} renders it ({child.where})"


def changed_message(child: Child) -> str:
    return (
        f"child app {child.app.name} changed: its spec in app {child.app.parent}'s render changed "
        f"({child.where}); it is read again from its source"
    )


def removed_message(child: Child) -> str:
    return (
        f"child app {child.app.name} removed: app {child.app.parent} no longer renders it; its resources "
        "are no longer monitored, and nothing was pruned"
    )


def _flux_children(parent: App, flux: FluxDocuments, errors: list[str]) -> Iterable[Child]:
    """Each Kustomization and HelmRelease gathered in `flux`, read on its own: one that cannot be read
    is one error, and the others are still children."""
    tracking = parent.tracking
    for consumer in flux.consumers:
        try:
            ((app, _),) = replace(flux, consumers=[consumer]).apps(tracking)
        except ConfigError as error:
            errors.append(str(error))
            continue
        owner = app.flux_owner
        assert owner is not None  # every app core.flux_apps reads carries its Flux object
        kind = "Kustomization" if owner.group == FLUX_KUSTOMIZE_GROUP else "HelmRelease"
        key = ResourceKey(owner.group, kind, owner.namespace, owner.name)
        yield Child(replace(app, parent=parent.name), key, consumer.file)


def _as_child(app: App, parent: App, context: str | None) -> App:
    """An Application read from `parent`'s render, as the Argo CD running in `parent`'s cluster
    would run it."""
    if app.tracking is TrackingMethod.FLUX:
        app = replace(app, tracking=TrackingMethod.ARGOCD)  # `flux` names Flux's objects only
    destination = app.destination
    named = (destination.server or "").rstrip("/") or destination.name
    if named in IN_CLUSTER_DESTINATIONS and context is not None:
        destination = Destination(name=context, namespace=destination.namespace)
    return replace(app, destination=destination, parent=parent.name)


def _where(key: ResourceKey, file_of: Callable[[ResourceKey], str] | None) -> str:
    """`templates/apps.yaml: Application argocd/guestbook`: the object, where it was rendered from."""
    named = f"{key.kind} {key.namespace}/{key.name}" if key.namespace else f"{key.kind} {key.name}"
    file = file_of(key) if file_of is not None else ""
    return f"{file}: {named}" if file else named


def _with_local_paths(obj: Mapping[str, Any], base: Path) -> Mapping[str, Any]:
    """`obj` with each relative local repoURL of its source or sources read from `base` (the
    Application's own folder means nothing here: it was rendered, not read from a file)."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return obj
    resolved = dict(spec)
    source = spec.get("source")
    if isinstance(source, Mapping):
        resolved["source"] = _resolved_source(source, base)
    sources = spec.get("sources")
    if isinstance(sources, list):
        resolved["sources"] = [
            _resolved_source(entry, base) if isinstance(entry, Mapping) else entry for entry in sources
        ]
    return {**obj, "spec": resolved}


def _resolved_source(source: Mapping[str, Any], base: Path) -> Mapping[str, Any]:
    repo_url = source.get("repoURL")
    if not isinstance(repo_url, str) or not _relative_path(repo_url):
        return source
    return {**source, "repoURL": os.path.normpath(os.path.join(base, repo_url))}


def _relative_path(repo_url: str) -> bool:
    colon, slash = repo_url.find(":"), repo_url.find("/")
    scp_like = colon > 0 and (slash == -1 or colon < slash)  # Git's own rule: `host:path`
    return bool(repo_url) and not (
        _URL_SCHEME.match(repo_url) or scp_like or os.path.isabs(os.path.expanduser(repo_url))
    )
