"""The drift engine over realistic desired/live pairs (tests/fixtures/drift): no false, no missed drift."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.drift.comparator import diff
from core.drift.rules import pointer_segments, rules_for
from core.model import SECRET_MASK, IgnoreDifference, ResourceKey

FIXTURES = Path(__file__).parent.parent / "fixtures" / "drift"
CASES: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "cases.yaml").read_text())


def load_pair(base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    desired = yaml.safe_load((FIXTURES / base / "desired.yaml").read_text())
    live = yaml.safe_load((FIXTURES / base / "live.yaml").read_text())
    return desired, live


def edit(obj: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    for op in ops:
        *parents, last = pointer_segments(op["path"])
        node: Any = obj
        for segment in parents:
            node = node[int(segment)] if isinstance(node, list) else node.setdefault(segment, {})
        if op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        elif isinstance(node, list) and int(last) == len(node):
            node.append(op["value"])
        elif isinstance(node, list):
            node[int(last)] = op["value"]
        else:
            node[last] = op["value"]


def merge_trie(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        merge_trie(into.setdefault(key, {}), value)


def add_managers(live: dict[str, Any], managers: list[dict[str, Any]]) -> None:
    entries = live["metadata"].setdefault("managedFields", [])
    for manager in managers:
        if manager.get("merge_into_apply"):
            apply_entry = next(
                (e for e in entries if e["manager"] == manager["manager"] and e["operation"] == "Apply"), None
            )
            if apply_entry is None:
                apply_entry = {"manager": manager["manager"], "operation": "Apply", "fieldsV1": {}}
                entries.append(apply_entry)
            merge_trie(apply_entry["fieldsV1"], manager["fieldsV1"])
        else:
            entries.append({"fieldsType": "FieldsV1", "time": "2026-11-21T10:00:00Z", **manager})


def build_case(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[IgnoreDifference]]:
    desired, live = load_pair(case["base"])
    edit(desired, case.get("desired") or [])
    edit(live, case.get("live") or [])
    add_managers(live, case.get("managers") or [])
    ignores = [
        IgnoreDifference(
            kind=rule["kind"],
            group=rule.get("group", ""),
            name=rule.get("name"),
            namespace=rule.get("namespace"),
            json_pointers=tuple(rule.get("jsonPointers", ())),
        )
        for rule in case.get("ignoreDifferences") or []
    ]
    return desired, live, ignores


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_drift_case(case: dict[str, Any]) -> None:
    desired, live, ignores = build_case(case)
    desired_before = copy.deepcopy(desired)
    live_before = copy.deepcopy(live)

    drift = diff(desired, live, rules_for(ResourceKey.of(desired), tuple(ignores)))

    reported = [change.to_json() for change in drift.changes]
    assert reported == case["expect"]
    assert bool(drift) == bool(case["expect"])
    assert desired == desired_before and live == live_before, "diff must not mutate its inputs"


def test_every_base_pair_has_a_clean_case() -> None:
    bases = {path.name for path in FIXTURES.iterdir() if path.is_dir()}
    clean = {
        case["base"]
        for case in CASES
        if not case["expect"] and not case.get("live") and not case.get("desired")
    }
    assert bases == clean


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["base"] == "secret-stringdata"], ids=lambda c: c["name"]
)
def test_secret_values_never_appear_in_changes(case: dict[str, Any]) -> None:
    desired, live, ignores = build_case(case)
    drift = diff(desired, live, rules_for(ResourceKey.of(desired), tuple(ignores)))
    text = json.dumps([change.to_json() for change in drift.changes])
    secret_values = {"shop", "s3cr3t", "hacked", "root"} | set(live.get("data", {}).values())
    assert not any(value in text for value in secret_values)
    assert all(change.secret for change in drift.changes)
    assert all(
        change.desired in (SECRET_MASK, None) and change.live in (SECRET_MASK, None)
        for change in drift.changes
    )
