"""Hooks and sync waves as Argo CD reads them from a manifest's annotations (gitops-engine
`pkg/sync/hook`, `pkg/sync/hook/helm`, `pkg/sync/syncwaves`).

- `argocd.argoproj.io/hook` (comma-separated): PreSync, Sync, PostSync and SyncFail run in that
  phase of a sync; Skip keeps the manifest out of the sync altogether; PreDelete and PostDelete
  run when Argo CD deletes an app, which kubedrift never does.
- Helm's hooks map onto those as Argo CD maps them: `pre-install`/`pre-upgrade` are PreSync,
  `post-install`/`post-upgrade` PostSync; `helm.sh/hook-weight` is the wave and
  `helm.sh/hook-delete-policy` (`before-hook-creation`, `hook-succeeded`, `hook-failed`) the delete
  policy. Helm's `crd-install` is no hook at all (an ordinary resource), and its other hooks (`test`,
  `pre-delete`, rollbacks...) never run in a sync. Argo CD's own annotation wins over Helm's.
- `argocd.argoproj.io/sync-wave` orders the apply within a phase, lowest first (default 0,
  negatives allowed); failing it, `helm.sh/hook-weight`, on any object, hook or not.
- `argocd.argoproj.io/hook-delete-policy`: HookSucceeded, HookFailed, BeforeHookCreation; a hook
  without one is deleted before it is created again (BeforeHookCreation), as in Argo CD.

Every manifest with a hook annotation (Skip included) is kept out of the desired set: hooks are run
around a sync, never compared, never pruned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from core.model import ResourceKey

HOOK_ANNOTATION: Final = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY_ANNOTATION: Final = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE_ANNOTATION: Final = "argocd.argoproj.io/sync-wave"
HELM_HOOK_ANNOTATION: Final = "helm.sh/hook"
HELM_WEIGHT_ANNOTATION: Final = "helm.sh/hook-weight"
HELM_DELETE_POLICY_ANNOTATION: Final = "helm.sh/hook-delete-policy"
HOOK_ANNOTATIONS: Final = (HELM_HOOK_ANNOTATION, HOOK_ANNOTATION)
HELM_CRD_INSTALL: Final = "crd-install"


class SyncPhase(StrEnum):
    """The phases of a sync, in the order they run; SyncFail only runs when one of the others failed."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"

    @property
    def order(self) -> int:
        return _PHASE_ORDER[self]


_PHASE_ORDER: Final = {phase: number for number, phase in enumerate(SyncPhase)}


class HookType(StrEnum):
    """Argo CD's hook types (`common.HookType`, and the controller's PreDelete and PostDelete)."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    SKIP = "Skip"
    PRE_DELETE = "PreDelete"
    POST_DELETE = "PostDelete"


class DeletePolicy(StrEnum):
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"
    BEFORE_HOOK_CREATION = "BeforeHookCreation"


# Python 3.11 raises on `"text" in SomeEnum`: membership is checked against the values.
_HOOK_TYPES: Final = frozenset(kind.value for kind in HookType)
_DELETE_POLICIES: Final = frozenset(policy.value for policy in DeletePolicy)


_RUN_IN_SYNC: Final = {
    HookType.PRE_SYNC: SyncPhase.PRE_SYNC,
    HookType.SYNC: SyncPhase.SYNC,
    HookType.POST_SYNC: SyncPhase.POST_SYNC,
    HookType.SYNC_FAIL: SyncPhase.SYNC_FAIL,
}
HELM_HOOK_TYPES: Final[Mapping[str, HookType]] = {
    "pre-install": HookType.PRE_SYNC,
    "pre-upgrade": HookType.PRE_SYNC,
    "post-install": HookType.POST_SYNC,
    "post-upgrade": HookType.POST_SYNC,
}
HELM_DELETE_POLICIES: Final[Mapping[str, DeletePolicy]] = {
    "before-hook-creation": DeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": DeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": DeletePolicy.HOOK_FAILED,
}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def _csv(annotations: Mapping[str, Any], name: str) -> list[str]:
    """An annotation's comma-separated values, trimmed, blanks and repeats dropped, in order."""
    text = annotations.get(name)
    values: list[str] = []
    for item in str(text).split(",") if text is not None else ():
        value = item.strip()
        if value and value not in values:
            values.append(value)
    return values


def is_hook(obj: Mapping[str, Any]) -> bool:
    """Whether a manifest (or a live object) is a hook, or skipped: anything but an ordinary resource.

    Argo CD's annotation, any value (Skip too); Helm's, unless it is `crd-install` (gitops-engine
    `helm.IsHook`)."""
    annotations = _annotations(obj)
    if not annotations:
        return False
    if HOOK_ANNOTATION in annotations:
        return True
    helm = annotations.get(HELM_HOOK_ANNOTATION)
    return helm is not None and str(helm).strip() != HELM_CRD_INSTALL


def hook_types(obj: Mapping[str, Any]) -> tuple[HookType, ...]:
    """The hook's types: Argo CD's annotation's known values, else Helm's mapped (gitops-engine
    `hook.Types`)."""
    annotations = _annotations(obj)
    types = [HookType(value) for value in _csv(annotations, HOOK_ANNOTATION) if value in _HOOK_TYPES]
    if not types:
        for value in _csv(annotations, HELM_HOOK_ANNOTATION):
            mapped = HELM_HOOK_TYPES.get(value)
            if mapped is not None and mapped not in types:
                types.append(mapped)
    return tuple(types)


def hook_phases(obj: Mapping[str, Any]) -> tuple[SyncPhase, ...]:
    """The phases a hook runs in, in phase order; none for Skip alone, Helm's test hooks, or
    PreDelete and PostDelete (which only an app's deletion runs)."""
    types = hook_types(obj)
    if types == (HookType.SKIP,):
        return ()
    phases = {_RUN_IN_SYNC[kind] for kind in types if kind in _RUN_IN_SYNC}
    return tuple(sorted(phases, key=lambda phase: phase.order))


def sync_wave(obj: Mapping[str, Any]) -> int:
    """The object's wave: `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0."""
    annotations = _annotations(obj)
    for name in (SYNC_WAVE_ANNOTATION, HELM_WEIGHT_ANNOTATION):
        wave = _integer(annotations.get(name))
        if wave is not None:
            return wave
    return 0


def delete_policies(obj: Mapping[str, Any]) -> frozenset[DeletePolicy]:
    """The hook's delete policies, Argo CD's and Helm's together; BeforeHookCreation when it names none."""
    annotations = _annotations(obj)
    policies = {
        DeletePolicy(value)
        for value in _csv(annotations, HOOK_DELETE_POLICY_ANNOTATION)
        if value in _DELETE_POLICIES
    }
    policies |= {
        HELM_DELETE_POLICIES[value]
        for value in _csv(annotations, HELM_DELETE_POLICY_ANNOTATION)
        if value in HELM_DELETE_POLICIES
    }
    return frozenset(policies or {DeletePolicy.BEFORE_HOOK_CREATION})


def annotation_problem(obj: Mapping[str, Any]) -> str | None:
    """What is wrong with a manifest's hook and wave annotations, for its render error; None when fine.

    Argo CD silently skips what it cannot read (a misspelt hook type makes the manifest vanish from
    the sync); kubedrift says so instead."""
    annotations = _annotations(obj)
    if not annotations:
        return None
    for value in _csv(annotations, HOOK_ANNOTATION):
        if value not in _HOOK_TYPES:
            known = ", ".join(HookType)
            return (
                f"its annotation {HOOK_ANNOTATION} names {value!r}, which is no hook type; use one of {known}"
            )
    for value in _csv(annotations, HOOK_DELETE_POLICY_ANNOTATION):
        if value not in _DELETE_POLICIES:
            known = ", ".join(DeletePolicy)
            return f"its annotation {HOOK_DELETE_POLICY_ANNOTATION} names {value!r}; use one of {known}"
    wave = annotations.get(SYNC_WAVE_ANNOTATION)
    if wave is not None and _integer(wave) is None:
        return (
            f"its annotation {SYNC_WAVE_ANNOTATION} is {str(wave)!r}, not a whole number; "
            'write one such as "1" or "-2"'
        )
    return None


def _integer(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Hook:
    """One hook manifest of an app, as Git declares it (its namespace settled), and how it runs."""

    obj: Mapping[str, Any]
    phases: tuple[SyncPhase, ...]
    wave: int
    policies: frozenset[DeletePolicy]

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Hook:
        return cls(obj, hook_phases(obj), sync_wave(obj), delete_policies(obj))

    @property
    def key(self) -> ResourceKey:
        """Its key; the name is empty for a hook named by `generateName`, whose name the server picks."""
        return ResourceKey.of(self.obj)

    @property
    def generate_name(self) -> str:
        metadata = self.obj.get("metadata") or {}
        return "" if metadata.get("name") else str(metadata.get("generateName") or "")

    @property
    def shown_key(self) -> ResourceKey:
        """Its key as people read it: a generated name is its prefix and `*` (`upgrade-sql-schema*`)."""
        key = self.key
        if self.generate_name:
            key = ResourceKey(key.group, key.kind, key.namespace, f"{self.generate_name}*")
        return key

    @property
    def label(self) -> str:
        """`Job/shop/db-migrate`, or `Job/shop/upgrade-sql-schema*` for a generated name."""
        return str(self.shown_key)

    def deletes_on(self, policy: DeletePolicy) -> bool:
        return policy in self.policies
