"""The live cache: what it stores, what a relist reports, and the managedFields tries it shares."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from core import wire_json
from core.drift.comparator import diff
from core.drift.rules import rules_for
from core.drift.shared_fields import SharedFields
from core.live_cache import LiveCache, LiveEvent
from core.model import ResourceKey
from tests.unit.test_diff_fixtures import CASES, build_case


def deployment(name: str, version: str = "1", container: str = "app") -> dict[str, Any]:
    element = {".": {}, "f:image": {}, "f:name": {}}
    trie = {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:template": {"f:spec": {"f:containers": {f'k:{{"name":"{container}"}}': element}}},
        },
    }
    apply_entry = {"manager": "kubedrift", "operation": "Apply", "apiVersion": "apps/v1",
                   "fieldsType": "FieldsV1", "fieldsV1": trie}  # fmt: skip
    status_entry = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                    "fieldsV1": {"f:status": {"f:replicas": {}}}}  # fmt: skip
    containers = [{"name": container, "image": "web:1"}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "resourceVersion": version,
            "managedFields": [apply_entry, status_entry],
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": containers}}},
    }


def trie_of(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    trie: dict[str, Any] = obj["metadata"]["managedFields"][index]["fieldsV1"]
    return trie


def test_apply_stores_and_skips_an_unchanged_resource_version() -> None:
    cache = LiveCache()
    first = deployment("web")
    key = ResourceKey.of(first)
    assert cache.apply(LiveEvent(key, first))
    assert not cache.apply(LiveEvent(key, deployment("web")))
    assert cache.apply(LiveEvent(key, deployment("web", version="2")))
    assert cache.get(key) is not None and cache.get(key)["metadata"]["resourceVersion"] == "2"  # type: ignore[index]
    assert cache.apply(LiveEvent(key, None))
    assert not cache.apply(LiveEvent(key, None)), "deleting an unknown object changes nothing"
    assert len(cache) == 0


def test_a_relist_reports_changes_and_objects_deleted_while_the_watch_was_down() -> None:
    cache = LiveCache()
    for name in ("a", "b", "c"):
        cache.apply(LiveEvent(ResourceKey.of(deployment(name)), deployment(name)))
    events = cache.replace_kind("apps", "Deployment", [deployment("a"), deployment("b", version="9")])
    assert {(event.key.name, event.obj is None) for event in events} == {("b", False), ("c", True)}
    assert sorted(key.name for key, _ in cache) == ["a", "b"]


def test_objects_of_one_shape_share_their_tries_and_stay_equal_to_what_arrived() -> None:
    cache = LiveCache()
    objects = [deployment(f"web-{index}") for index in range(3)] + [deployment("odd", container="sidecar")]
    originals = copy.deepcopy(objects)
    for obj in objects:
        cache.apply(LiveEvent(ResourceKey.of(obj), obj))
    assert objects == originals, "sharing must not change any object's content"
    assert trie_of(objects[0]) is trie_of(objects[1]) is trie_of(objects[2])
    assert trie_of(objects[3]) is not trie_of(objects[0]), "a different container name is a different trie"
    # ...but the parts they agree on are still one copy.
    assert trie_of(objects[3])["f:metadata"] is trie_of(objects[0])["f:metadata"]
    assert trie_of(objects[0], 1) is trie_of(objects[3], 1)


def test_a_relist_shares_the_objects_it_stores() -> None:
    cache = LiveCache()
    cache.replace_kind("apps", "Deployment", [deployment("a"), deployment("b")])
    stored = [obj for _, obj in cache]
    assert trie_of(stored[0]) is trie_of(stored[1])  # type: ignore[arg-type]


def test_the_entry_strings_are_interned() -> None:
    first, second = wire_json.loads(json.dumps(deployment("a"))), wire_json.loads(json.dumps(deployment("b")))
    fields = SharedFields()
    fields.share(first)
    fields.share(second)
    entry_a, entry_b = first["metadata"]["managedFields"][0], second["metadata"]["managedFields"][0]
    assert entry_a["manager"] is entry_b["manager"] and entry_a["apiVersion"] is entry_b["apiVersion"]


def test_malformed_and_missing_managed_fields_are_left_as_they_came() -> None:
    fields = SharedFields()
    odd = {"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {"f:x": "not-a-node"}}}, "junk", None]}}
    before = copy.deepcopy(odd)
    fields.share(odd)
    fields.share({"metadata": {"managedFields": "junk"}})
    fields.share({"metadata": None})
    fields.share({})
    assert odd == before


def test_the_table_starts_again_past_its_limit_and_sharing_stays_correct() -> None:
    fields = SharedFields(limit=8)
    objects = [deployment(f"web-{index}", container=f"c{index}") for index in range(20)]
    originals = copy.deepcopy(objects)
    for obj in objects:
        fields.share(obj)
        assert len(fields) <= 8 + 12, "the table is cleared once past its limit"
    assert objects == originals


def test_a_very_deep_trie_is_kept_without_recursing_forever() -> None:
    trie: dict[str, Any] = {}
    node = trie
    for _ in range(3000):
        node["f:x"] = {}
        node = node["f:x"]
    obj = {"metadata": {"managedFields": [{"manager": "m", "fieldsV1": trie}]}}
    SharedFields().share(obj)
    assert obj["metadata"]["managedFields"][0]["fieldsV1"]["f:x"]["f:x"] is not None


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_shared_tries_give_every_fixture_case_the_same_verdict(case: dict[str, Any]) -> None:
    desired, live, ignores = build_case(case)
    rules = rules_for(ResourceKey.of(desired), tuple(ignores))
    expected = diff(desired, live, rules)
    shared = copy.deepcopy(live)
    fields = SharedFields()
    fields.share(copy.deepcopy(live))  # a twin first, so the case's own trie is the shared copy
    fields.share(shared)
    assert diff(desired, shared, rules) == expected


def test_wire_json_accepts_what_orjson_refuses_and_refuses_what_is_not_json() -> None:
    assert wire_json.loads(b'{"s": "\\ud800"}') == {"s": "\ud800"}
    assert wire_json.loads('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    with pytest.raises(ValueError):
        wire_json.loads(b'{"a": ')
