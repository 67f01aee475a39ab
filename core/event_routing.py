"""Which of a cluster's apps a live object concerns, so that each watch event reaches only those.

An app's reconciler changes only for the keys it desires, the keys it holds live, and objects whose
tracking annotation names it (see `AppReconciler.live_changed`); for any other object it does
nothing. Asking every app about every event costs apps x events: ten million calls when a fleet of
1,000 apps starts on a 10,000-object list. This index answers from the key and the object's
annotations (or, for `tracking: flux`, Flux's labels) instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.live_cache import LiveEvent
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    FLUX_GROUPS,
    TRACKING_ANNOTATION,
    ResourceKey,
    TrackingMethod,
)
from core.runtime import AppRuntime

_ANNOTATIONS = (TRACKING_ANNOTATION, ARGOCD_TRACKING_ANNOTATION)


class EventRouting:
    """The apps of one cluster, indexed by the keys they desire or hold live."""

    def __init__(self, runtimes: Iterable[AppRuntime]) -> None:
        self._apps = {runtime.app.name: runtime for runtime in runtimes}
        self._order = {name: index for index, name in enumerate(self._apps)}
        self._interested: dict[ResourceKey, set[str]] = {}
        self._flux_owned: dict[tuple[str, str, str], str] = {
            (owner.group, owner.name, owner.namespace): name
            for name, runtime in self._apps.items()
            if runtime.app.tracking is TrackingMethod.FLUX and (owner := runtime.app.flux_owner) is not None
        }
        """(Flux group, name, namespace) of a Kustomization or HelmRelease -> its app's name."""

    def note(self, runtime: AppRuntime, keys: Iterable[ResourceKey]) -> None:
        """Record, after its reconciler changed, whether `runtime` desires or holds each of `keys`."""
        name = runtime.app.name
        desired, live = runtime.reconciler.desired, runtime.reconciler.live
        for key in keys:
            if key in desired or key in live:
                self._interested.setdefault(key, set()).add(name)
                continue
            names = self._interested.get(key)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._interested[key]

    def declared(self, key: ResourceKey) -> bool:
        """Whether an app of the cluster declares `key` in its desired state."""
        return any(key in self._apps[name].reconciler.desired for name in self._interested.get(key, ()))

    def declared_only_by(self, key: ResourceKey, app: str) -> bool:
        """Whether `app` is the only app of the cluster that declares or holds `key`."""
        names = self._interested.get(key)
        return names is not None and len(names) == 1 and app in names

    def route(self, events: Iterable[LiveEvent]) -> list[tuple[AppRuntime, list[LiveEvent]]]:
        """Each app some of `events` concern, in config order, with those events in their order."""
        per_app: dict[str, list[LiveEvent]] = {}
        for event in events:
            for runtime in self.concerned(event.key, event.obj):
                per_app.setdefault(runtime.app.name, []).append(event)
        return [(self._apps[name], per_app[name]) for name in sorted(per_app, key=self._order.__getitem__)]

    def concerned(self, key: ResourceKey, obj: Mapping[str, Any] | None) -> list[AppRuntime]:
        """The apps an event about `key` (its object, None once deleted) may change, in config order."""
        names = set(self._interested.get(key, ()))
        if obj is not None:
            names.update(self._named_by(obj))
        return sorted((self._apps[name] for name in names), key=lambda runtime: self._order[runtime.app.name])

    def _named_by(self, obj: Mapping[str, Any]) -> Iterable[str]:
        """Apps whose tracking id the object carries (`<app>:<group>/<Kind>:<namespace>/<name>`), and
        the Flux apps whose Kustomization or HelmRelease its labels name."""
        metadata = obj.get("metadata") or {}
        labels = metadata.get("labels")
        if self._flux_owned and isinstance(labels, Mapping):
            for group in FLUX_GROUPS:
                owner = (group, labels.get(f"{group}/name", ""), labels.get(f"{group}/namespace", ""))
                name = self._flux_owned.get(owner)
                if name is not None:
                    yield name
        annotations = metadata.get("annotations") or {}
        for annotation in _ANNOTATIONS:
            value = annotations.get(annotation)
            if not isinstance(value, str):
                continue
            # The app name is what precedes one of the colons (the first, for names kubedrift accepts).
            at = value.find(":")
            while at > 0:
                runtime = self._apps.get(value[:at])
                if runtime is not None and runtime.app.tracking.annotation == annotation:
                    yield value[:at]
                at = value.find(":", at + 1)
