"""The steps of a sync: phases, and waves within each phase, as Argo CD orders them (gitops-engine
`pkg/sync/sync_tasks.go`, `sync_context.go`).

A sync runs PreSync, then Sync, then PostSync; within a phase, waves run lowest first (default 0,
negatives allowed); within a wave, the kind order of `core.sync_plan.apply_order` (Namespaces and
CRDs first). Ordinary resources are applied in the Sync phase, in their wave; hooks run in each
phase they name. SyncFail hooks are a plan of their own, run only when a step failed.

As in Argo CD:
- a Namespace (or a CRD) that Git declares is moved up to the earliest step of anything that lives
  in it (or is of its kind), so a PreSync hook never waits for the namespace it runs in;
- extraneous objects are pruned in the Sync phase, their waves mirrored (the last wave's go first),
  and with `PruneLast` in an extra wave after every other Sync wave;
- a sync is multi-step when it has hooks or more than one step: only then does a step wait for
  what it applied to be Healthy before the next one, since a plain apply succeeds at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.model import ResourceKey
from core.sync_hooks import Hook, SyncPhase, sync_wave
from core.sync_plan import apply_order, apply_tier, prune_order

_NAMESPACE = ("", "Namespace")
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


@dataclass(frozen=True, slots=True)
class SyncStep:
    """One phase and wave: what it applies, which hooks it runs, and what it prunes."""

    phase: SyncPhase
    wave: int
    applies: tuple[ResourceKey, ...] = ()
    hooks: tuple[Hook, ...] = ()
    prunes: tuple[ResourceKey, ...] = ()

    @property
    def size(self) -> int:
        return len(self.applies) + len(self.hooks) + len(self.prunes)


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The steps of a sync in order, and the SyncFail steps run when one of them fails."""

    steps: tuple[SyncStep, ...]
    on_failure: tuple[SyncStep, ...] = ()

    @property
    def multi_step(self) -> bool:
        """Whether steps wait on each other (hooks, or more than one step); a plain sync never waits."""
        return len(self.steps) > 1 or any(step.hooks for step in self.steps)

    @property
    def phases(self) -> tuple[SyncPhase, ...]:
        """The phases that have steps, in order."""
        seen: list[SyncPhase] = []
        for step in self.steps:
            if step.phase not in seen:
                seen.append(step.phase)
        return tuple(seen)

    @property
    def total(self) -> int:
        return sum(step.size for step in self.steps)


def plan_steps(
    desired: Mapping[ResourceKey, Mapping[str, Any]],
    applies: Iterable[ResourceKey],
    hooks: Sequence[Hook],
    prunes: Mapping[ResourceKey, Mapping[str, Any]],
    *,
    prune_last: Callable[[ResourceKey], bool] = lambda key: False,
) -> SyncPlan:
    """The steps that apply `applies` (keys of `desired`), run `hooks` and prune `prunes` (key -> live
    object, for its wave); `prune_last(key)` says whether `PruneLast` holds for an extraneous object."""
    where: dict[ResourceKey, tuple[SyncPhase, int]] = {
        key: (SyncPhase.SYNC, sync_wave(desired[key])) for key in applies
    }
    hook_places = [(hook, phase, hook.wave) for hook in hooks for phase in hook.phases]
    _move_dependencies_up(desired, where, hook_places)

    prune_waves = {key: sync_wave(live) for key, live in prunes.items()}
    mirrored = _mirrored(prune_waves)
    last_sync_wave = max(
        [wave for phase, wave in where.values() if phase is SyncPhase.SYNC]
        + [wave for _, phase, wave in hook_places if phase is SyncPhase.SYNC]
        + list(mirrored.values())
        + [0]
    )
    prune_places = {key: last_sync_wave + 1 if prune_last(key) else mirrored[key] for key in prunes}

    grouped: dict[tuple[SyncPhase, int], tuple[list[ResourceKey], list[Hook], list[ResourceKey]]] = {}

    def slot(phase: SyncPhase, wave: int) -> tuple[list[ResourceKey], list[Hook], list[ResourceKey]]:
        return grouped.setdefault((phase, wave), ([], [], []))

    for key, (phase, wave) in where.items():
        slot(phase, wave)[0].append(key)
    for hook, phase, wave in hook_places:
        slot(phase, wave)[1].append(hook)
    for key, wave in prune_places.items():
        slot(SyncPhase.SYNC, wave)[2].append(key)

    steps: list[SyncStep] = []
    failure: list[SyncStep] = []
    for phase, wave in sorted(grouped, key=lambda place: (place[0].order, place[1])):
        step_applies, step_hooks, step_prunes = grouped[(phase, wave)]
        step = SyncStep(
            phase,
            wave,
            tuple(apply_order(step_applies)),
            tuple(sorted(step_hooks, key=_hook_order)),
            tuple(prune_order(step_prunes)),
        )
        (failure if phase is SyncPhase.SYNC_FAIL else steps).append(step)
    return SyncPlan(tuple(steps), tuple(failure))


def _hook_order(hook: Hook) -> tuple[int, ResourceKey, str]:
    return (apply_tier(hook.key), hook.key, hook.generate_name)


def _move_dependencies_up(
    desired: Mapping[ResourceKey, Mapping[str, Any]],
    where: dict[ResourceKey, tuple[SyncPhase, int]],
    hook_places: list[tuple[Hook, SyncPhase, int]],
) -> None:
    """Move each Namespace and CRD Git declares to the earliest step of what depends on it
    (gitops-engine `syncTasks.adjustDeps`): what lives in the namespace, or is of the CRD's kind."""
    earliest: dict[tuple[str, str], tuple[SyncPhase, int]] = {}

    def note(key: ResourceKey, place: tuple[SyncPhase, int]) -> None:
        for dependency in (("namespace", key.namespace), ("kind", f"{key.group}/{key.kind}")):
            known = earliest.get(dependency)
            if dependency[1] and (known is None or _rank(place) < _rank(known)):
                earliest[dependency] = place

    for key, place in where.items():
        note(key, place)
    for hook, phase, wave in hook_places:
        note(hook.key, (phase, wave))

    for key, place in list(where.items()):
        dependency = _dependency_of(key, desired[key])
        first = earliest.get(dependency) if dependency is not None else None
        if first is not None and _rank(first) < _rank(place):
            where[key] = first


def _dependency_of(key: ResourceKey, obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """What `key` is a dependency of others as: the namespace it is, or the kind its CRD defines."""
    if (key.group, key.kind) == _NAMESPACE:
        return ("namespace", key.name)
    if (key.group, key.kind) == _CRD:
        spec = obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        return ("kind", f"{spec.get('group')}/{kind}") if spec.get("group") and kind else None
    return None


def _rank(place: tuple[SyncPhase, int]) -> tuple[int, int]:
    return (place[0].order, place[1])


def _mirrored(waves: Mapping[ResourceKey, int]) -> dict[ResourceKey, int]:
    """Prune waves swapped end for end, so what was created last is deleted first (gitops-engine
    `getSyncTasks`: the i-th lowest prune wave takes the i-th highest's place)."""
    distinct = sorted(set(waves.values()))
    swap = dict(zip(distinct, reversed(distinct), strict=True))
    return {key: swap[wave] for key, wave in waves.items()}


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a sync is: the resource just handled (`done` of `total`), its phase and wave, and, when
    something worth a line happened (a hook created or done, a wave Healthy), that line as `event`."""

    done: int
    total: int
    key: ResourceKey | None
    phase: SyncPhase = SyncPhase.SYNC
    phase_number: int = 1
    phases: int = 1
    wave: int = 0
    wave_done: int = 0
    wave_total: int = 0
    multi_step: bool = False
    """Whether the sync has hooks or several waves: only then do phases and waves mean anything."""
    event: str = ""

    @property
    def line(self) -> str:
        """`PreSync 1/3 · wave 0 3/7` for a sync with phases or waves, `3/7` for a plain one."""
        if not self.multi_step:
            return f"{self.done}/{self.total}"
        return (
            f"{self.phase} {self.phase_number}/{self.phases} · wave {self.wave} "
            f"{self.wave_done}/{self.wave_total}"
        )
