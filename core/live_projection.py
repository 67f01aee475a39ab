"""What the live cache keeps of an object: what its verdict and health need, not the whole object.

A cached Deployment is mostly what Git already says (its pod template) and what the server filled
in around it (defaults no rule reads). At 100,000 objects the whole objects would take about a
gigabyte, so the engine keeps two cut-down forms (issue 16):

- **In sync** (`compacted`): an object the comparator has just found in sync with its desired
  object keeps its own `metadata` (labels, annotations, managedFields, owners), its `status`, and
  the `spec` fields health reads (`HEALTH_SPEC_FIELDS`); every other section is the desired
  object's own, shared rather than copied. Judged again against that same desired object, it is
  in sync again, which is what the whole object said. Against anything else it proves nothing, so
  a changed desired object, or new diff rules, need the whole object again: the reconciler holds
  such a key's verdict (`AppReconciler.refreshing`) and the engine reads the object again with one
  GET, or relists its kind when there are many.
- **Not in Git** (`health_projection`): a tree child (a Pod, a ReplicaSet) or an object tracked for
  an app that Git no longer holds keeps `metadata`, `status` and the `spec` fields health reads,
  which are all its verdict (Extraneous, its health) and the tree need. If Git starts to declare it,
  it is read whole first.

Objects the rules treat specially are never cut down: Secrets (their data is compared through
`stringData`), CustomResourceDefinitions, objects with ignoreDifferences, kinds a user's Lua health
check reads (it may read any field). A person opening a diff, `kubedrift diff` and the agent's
resource document read the whole object from the server (`Engine.full_live_object`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.drift.rules import BASE_IGNORE_TRIE, DiffRules
from core.health import HEALTH_SPEC_FIELDS, HealthOverrides
from core.model import ResourceKey

_KEPT_WHOLE: Final = frozenset({("", "Secret"), ("apiextensions.k8s.io", "CustomResourceDefinition")})
_OWN_SECTIONS: Final = frozenset({"apiVersion", "kind", "metadata", "status"})
_NO_FIELDS: Final[frozenset[str]] = frozenset()


def may_cut_down(key: ResourceKey, overrides: HealthOverrides | None) -> bool:
    """Whether objects of `key`'s kind may be cached cut down at all (see the module docstring)."""
    if (key.group, key.kind) in _KEPT_WHOLE:
        return False
    return overrides is None or overrides.check_for(key.group, key.kind) is None


def may_compact(key: ResourceKey, rules: DiffRules, overrides: HealthOverrides | None) -> bool:
    """Whether an in-sync object of `key` may be cached as `compacted`: no rule of its own (ignored
    fields keep the live value, which health may read) and a kind that may be cut down."""
    return not rules.secret and rules.ignore is BASE_IGNORE_TRIE and may_cut_down(key, overrides)


def compacted(live: Mapping[str, Any], desired: Mapping[str, Any], key: ResourceKey) -> dict[str, Any]:
    """`live`, found in sync with `desired`, as the cache keeps it: its own metadata and status and the
    spec fields health reads; desired's objects for every other section."""
    kept = _own_sections(live)
    for name, value in desired.items():
        if name not in _OWN_SECTIONS:
            kept[name] = value
    _keep_health_spec(kept, live, key)
    return kept


def health_projection(live: Mapping[str, Any], key: ResourceKey) -> dict[str, Any]:
    """`live` as the cache keeps an object Git does not declare: metadata, status, the spec fields
    health reads."""
    kept = _own_sections(live)
    _keep_health_spec(kept, live, key)
    return kept


def _own_sections(live: Mapping[str, Any]) -> dict[str, Any]:
    return {name: live[name] for name in _OWN_SECTIONS if name in live}


def _keep_health_spec(kept: dict[str, Any], live: Mapping[str, Any], key: ResourceKey) -> None:
    """Put into `kept`'s spec (a copy: it may be desired's) the live values of the spec fields
    health reads, dropping those live lacks."""
    fields = HEALTH_SPEC_FIELDS.get((key.group, key.kind), _NO_FIELDS)
    live_spec = live.get("spec")
    if not fields or live_spec.__class__ is not dict:
        return
    spec = dict(kept["spec"]) if kept.get("spec").__class__ is dict else {}
    for name in fields:
        if name in live_spec:
            spec[name] = live_spec[name]
        else:
            spec.pop(name, None)
    kept["spec"] = spec
