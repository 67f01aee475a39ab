"""The compiled fast path may only ever confirm what the full comparator says: never a different verdict."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from core.drift import compiled as diff_compiled
from core.drift.comparator import diff
from core.drift.compiled import compile_checker
from core.drift.rules import rules_for
from core.model import IgnoreDifference, ResourceKey
from tests.unit.test_diff_fixtures import CASES, build_case, load_pair

BASES = ["deployment-defaults", "statefulset-defaults", "service-defaults", "ingress-defaults", "configmap",
         "secret-stringdata",
         "custom-resource"]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_fast_path_agrees_with_every_fixture_case(case: dict[str, Any]) -> None:
    desired, live, ignores = build_case(case)
    rules = rules_for(ResourceKey.of(desired), tuple(ignores))
    check = compile_checker(desired, rules)
    if check(live):
        assert not diff(desired, live, rules), "the fast path said in sync, the comparator disagrees"
    assert check.drift(live) == diff(desired, live, rules), "skipping proven sections changed the drift"


# The configmap and secret pairs are in sync but their managedFields still name a key the live
# object no longer has; the fast path leaves such cases to the comparator, so they are not listed.
@pytest.mark.parametrize("base", [b for b in BASES if b not in ("configmap", "secret-stringdata")])
def test_in_sync_objects_take_the_fast_path(base: str) -> None:
    desired, live = load_pair(base)
    rules = rules_for(ResourceKey.of(desired))
    assert not diff(desired, live, rules)
    assert compile_checker(desired, rules)(live) is True


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(obj: Any, rng: random.Random) -> None:
    """One random edit somewhere in the object: change, delete, add, or reorder."""
    path = rng.choice(_paths(obj)[1:])
    parent = obj
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    roll = rng.random()
    if roll < 0.3:
        del parent[last]
    elif roll < 0.6:
        parent[last] = rng.choice([0, 1, "", "x", None, {}, [], False, "500m", "1Gi", {"a": "b"}])
    elif roll < 0.8 and isinstance(parent[last], dict):
        parent[last]["added-" + str(rng.randint(0, 9))] = rng.choice(["v", 3, {}])
    elif isinstance(parent[last], list) and len(parent[last]) > 1:
        parent[last].reverse()
    elif isinstance(parent, dict):
        parent["extra"] = "field"


@pytest.mark.parametrize("base", BASES)
def test_random_edits_never_make_the_fast_path_disagree(base: str) -> None:
    rng = random.Random(f"kubedrift-{base}")
    desired0, live0 = load_pair(base)
    ignore = (
        IgnoreDifference(
            kind=desired0["kind"], group=ResourceKey.of(desired0).group, json_pointers=("/spec/replicas",)
        ),
    )
    for round_number in range(400):
        desired, live = copy.deepcopy(desired0), copy.deepcopy(live0)
        for _ in range(rng.randint(1, 3)):
            _mutate(live if rng.random() < 0.7 else desired, rng)
        rules = rules_for(ResourceKey.of(desired0), ignore if round_number % 2 else ())
        check = compile_checker(desired, rules)
        expected = diff(desired, live, rules)
        if check(live):
            assert not expected.changes, f"round {round_number}: fast path said in sync but {expected}"
        assert check.drift(live) == expected, f"round {round_number}: a section proven in sync was not"


def test_a_drifted_label_skips_the_sections_that_are_in_sync() -> None:
    desired, live = load_pair("deployment-defaults")
    rules = rules_for(ResourceKey.of(desired))
    live = copy.deepcopy(live)
    label = next(iter(desired["metadata"]["labels"]))
    live["metadata"]["labels"][label] = "someone-else"
    check = compile_checker(desired, rules)
    assert not check(live)
    assert "spec" in check.sections_in_sync(live) and "metadata" not in check.sections_in_sync(live)
    assert check.drift(live) == diff(desired, live, rules) != diff(desired, desired, rules)


def test_an_ownership_verdict_is_remembered_per_trie_object_and_only_when_it_passed() -> None:
    desired, live = load_pair("deployment-defaults")
    rules = rules_for(ResourceKey.of(desired))
    assert compile_checker(desired, rules)(live)
    apply_entry = next(e for e in live["metadata"]["managedFields"] if e["manager"] == "kubedrift")
    trie = apply_entry["fieldsV1"]
    ownership = compile_checker(desired, rules)._owned
    assert ownership is not None
    assert diff_compiled._OWNERSHIP_PASSED.get((ownership, id(trie))) is trie, (
        "a checker compiled again from the same desired (say, at a new Git revision) finds the verdict"
    )
    # A trie owning a field desired lacks fails, is not remembered, and the object is judged by diff.
    grabbing = copy.deepcopy(live)
    grabbing_entry = next(e for e in grabbing["metadata"]["managedFields"] if e["manager"] == "kubedrift")
    grabbing_entry["fieldsV1"]["f:spec"]["f:paused"] = {}
    grabbing["spec"]["paused"] = True
    check = compile_checker(desired, rules)
    assert not check(grabbing)
    assert (ownership, id(grabbing_entry["fieldsV1"])) not in diff_compiled._OWNERSHIP_PASSED
    assert check.drift(grabbing) == diff(desired, grabbing, rules) != diff(desired, live, rules)


def test_the_ownership_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diff_compiled, "OWNERSHIP_MEMO_LIMIT", 4)
    desired, live = load_pair("deployment-defaults")
    check = compile_checker(desired, rules_for(ResourceKey.of(desired)))
    for _ in range(10):
        assert check(copy.deepcopy(live))
        assert len(diff_compiled._OWNERSHIP_PASSED) <= 4


def test_a_secret_in_sync_is_confirmed_by_the_fast_path_and_a_changed_key_is_not() -> None:
    desired, live = load_pair("secret-stringdata")
    rules = rules_for(ResourceKey.of(desired))
    check = compile_checker(desired, rules)
    assert not check(live), "kubedrift owns a key Git lacks (api-token): only the comparator may clear it"
    assert not diff(desired, live, rules), "...and it does: the key is not in the cluster"
    del live["metadata"]["managedFields"][0]["fieldsV1"]["f:data"]["f:api-token"]
    assert check(live), "stringData folded into data, as the server does"
    changed = copy.deepcopy(live)
    changed["data"]["password"] = "b3RoZXI="
    assert not check(changed)
    assert check.drift(changed) == diff(desired, changed, rules) != diff(desired, live, rules)


def _corpus_pairs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    from tests.unit.test_realworld_drift import CASES as CORPUS
    from tests.unit.test_realworld_drift import _desired

    return [(case.id, _desired(case), case.live) for case in CORPUS]


@pytest.mark.parametrize("pair", _corpus_pairs(), ids=lambda pair: pair[0])
def test_random_edits_of_the_realworld_corpus_never_make_the_fast_path_disagree(
    pair: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    # The schema-driven rules (atomic values replaced by others, keyed-list order, duplicates,
    # last-applied) under random edits: the fast path must agree with the comparator every time.
    name, desired0, live0 = pair
    rng = random.Random(f"kubedrift-corpus-{name}")
    rules = rules_for(ResourceKey.of(desired0))
    assert compile_checker(desired0, rules).drift(live0) == diff(desired0, live0, rules)
    for round_number in range(60):
        desired, live = copy.deepcopy(desired0), copy.deepcopy(live0)
        for _ in range(rng.randint(1, 3)):
            _mutate(live if rng.random() < 0.7 else desired, rng)
        check = compile_checker(desired, rules)
        expected = diff(desired, live, rules)
        if check(live):
            assert not expected.changes, f"round {round_number}: fast path said in sync but {expected}"
        assert check.drift(live) == expected, f"round {round_number}: a section proven in sync was not"
