"""The sandbox at size: paginated lists walk a sorted key index (every object once, in etcd key order,
a consistent snapshot across pages while writes go on), history and decoded objects stay bounded, and
stored versions keep their exact content. Correctness only; the timings live in benchmarks/."""

from __future__ import annotations

import http.client
import json
import random
import urllib.parse
import urllib.request
from typing import Any

import pytest

from sandbox import stored as stored_module
from sandbox.errors import StatusError
from sandbox.handle import SandboxThread
from sandbox.key_index import KeyIndex
from sandbox.kinds import KindRegistry
from sandbox.resources import ResourceAPI
from sandbox.selectors import parse_label_selector
from sandbox.server import ServerConfig
from sandbox.store import Store, StoredObject

CONFIG_MAPS = ("", "configmaps")
# `team` is a prefix of `team-1`: etcd orders `team-1/…` before `team/…` ("-" sorts before "/").
NAMESPACES = ("team", "team-1", "a", "zz", "team-10")


def config_map(namespace: str, name: str, **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": name}}


def key_of(item: StoredObject) -> str:
    return f"{item.namespace}/{item.name}"


def filled_api(count: int, *, history_size: int = 10_000, seed: int = 1) -> ResourceAPI:
    """A ResourceAPI whose store holds `count` ConfigMaps written straight into storage, shuffled so
    that insertion order says nothing about key order."""
    store = Store(history_size=history_size)
    rng = random.Random(seed)
    names = [(NAMESPACES[i % len(NAMESPACES)], f"cm-{rng.randrange(10**6):06d}-{i}") for i in range(count)]
    rng.shuffle(names)
    for i, (namespace, name) in enumerate(names):
        store.create(CONFIG_MAPS, config_map(namespace, name, parity=str(i % 2)))
    return ResourceAPI(store, KindRegistry())


def config_maps(api: ResourceAPI) -> Any:
    return api.resource("v1", "ConfigMap")


def all_pages(api: ResourceAPI, limit: int, between: Any = None, **options: Any) -> list[Any]:
    pages = [api.list(config_maps(api), limit=limit, **options)]
    while pages[-1].continue_token:
        if between is not None:
            between(len(pages))
        pages.append(
            api.list(config_maps(api), limit=limit, continue_token=pages[-1].continue_token, **options)
        )
    return pages


def test_pages_give_every_object_once_in_etcd_key_order_with_exact_remaining_counts() -> None:
    api = filled_api(3_000)
    pages = all_pages(api, 500)
    keys = [key_of(item) for page in pages for item in page.items]
    assert len(keys) == 3_000
    assert keys == sorted(keys)  # string order of `namespace/name`, as etcd keys sort
    assert len(set(keys)) == len(keys)
    assert [len(page.items) for page in pages] == [500] * 6
    assert [page.remaining for page in pages] == [2_500, 2_000, 1_500, 1_000, 500, None]
    assert keys.index(
        "team-10/" + min(k.split("/")[1] for k in keys if k.startswith("team-10/"))
    ) < keys.index("team/" + min(k.split("/")[1] for k in keys if k.startswith("team/")))


def test_pages_of_one_namespace_and_of_a_label_selector_stay_complete() -> None:
    api = filled_api(2_000)
    everything = [key_of(item) for item in api.list(config_maps(api)).items]

    pages = all_pages(api, 97, namespace="team")
    in_team = [key_of(item) for page in pages for item in page.items]
    assert in_team == [key for key in everything if key.startswith("team/")]

    pages = all_pages(api, 250, label_selector=parse_label_selector("parity=1"))
    odd = [item for page in pages for item in page.items]
    assert len(odd) == 1_000
    assert all(item.labels == {"parity": "1"} for item in odd)
    assert [key_of(item) for item in odd] == sorted({key_of(item) for item in odd})
    assert all(page.remaining is None for page in pages)  # no count with a selector, as etcd


def test_pages_are_a_snapshot_at_the_first_pages_version_while_writes_go_on() -> None:
    api = filled_api(2_500)
    store = api.store
    before = {key_of(item): item.rv for item in api.list(config_maps(api)).items}
    ordered = sorted(before)
    rng = random.Random(7)
    created: list[str] = []

    def write(page_number: int) -> None:
        # Changes behind, at and ahead of the next page's start: update, delete, create.
        for key in rng.sample(ordered, 20):
            namespace, name = key.split("/")
            found = store.get(CONFIG_MAPS, namespace, name)
            if found is None:
                continue
            if rng.random() < 0.5:
                changed = found.copy()
                changed["data"] = {"k": f"changed-{page_number}"}
                store.update(CONFIG_MAPS, changed)
            else:
                store.delete(CONFIG_MAPS, namespace, name)
        for i in range(10):
            namespace = NAMESPACES[i % len(NAMESPACES)]
            name = f"cm-new-{page_number}-{i}"
            store.create(CONFIG_MAPS, config_map(namespace, name))
            created.append(f"{namespace}/{name}")

    pages = all_pages(api, 400, between=write)
    listed = [item for page in pages for item in page.items]
    assert {page.resource_version for page in pages} == {pages[0].resource_version}
    assert [key_of(item) for item in listed] == ordered
    assert {key_of(item): item.rv for item in listed} == before
    assert all(item.obj["data"]["k"] == item.name for item in listed)  # the versions of the snapshot
    remaining = [page.remaining for page in pages[:-1]]
    assert remaining == [2_500 - 400 * (n + 1) for n in range(len(remaining))]
    now = {key_of(item) for item in api.list(config_maps(api)).items}
    assert now != set(before) and set(created) <= now  # the writes did happen


def test_a_snapshot_list_at_an_exact_version_undoes_every_later_change() -> None:
    api = filled_api(500)
    store = api.store
    at = store.resource_version
    expected = [(key_of(item), item.rv) for item in api.list(config_maps(api)).items]
    for item in list(store.iter_objects(CONFIG_MAPS))[::3]:
        store.delete(CONFIG_MAPS, item.namespace, item.name)
    store.create(CONFIG_MAPS, config_map("a", "aaa-first"))
    store.create(CONFIG_MAPS, config_map("zz", "zzz-last"))
    exact = api.list(config_maps(api), exact_version=at)
    assert [(key_of(item), item.rv) for item in exact.items] == expected
    paged = all_pages(api, 64, exact_version=at)
    assert [(key_of(item), item.rv) for page in paged for item in page.items] == expected


def test_history_is_bounded_and_older_versions_are_410_gone() -> None:
    api = filled_api(300, history_size=50)
    store = api.store
    oldest = store.oldest_resumable(CONFIG_MAPS)
    retained = store.events_since(CONFIG_MAPS, oldest)
    assert len(retained) == 50
    assert [event.rv for event in retained] == list(
        range(store.resource_version - 49, store.resource_version + 1)
    )
    with pytest.raises(StatusError) as gone:
        store.events_since(CONFIG_MAPS, oldest - 1)
    assert gone.value.code == 410
    with pytest.raises(StatusError) as expired_list:
        api.list(config_maps(api), exact_version=oldest - 1)
    assert expired_list.value.code == 410


def test_a_continue_token_older_than_history_is_410_and_a_fresh_list_works() -> None:
    api = filled_api(600, history_size=100)
    first = api.list(config_maps(api), limit=100)
    assert first.continue_token
    survivor = first.items[0]
    for round_number in range(120):  # more writes than history keeps
        changed = survivor.copy()
        changed["data"] = {"k": str(round_number)}
        survivor = api.store.update(CONFIG_MAPS, changed)
    with pytest.raises(StatusError) as gone:
        api.list(config_maps(api), limit=100, continue_token=first.continue_token)
    assert gone.value.code == 410
    assert gone.value.reason == "Expired"
    assert len(api.list(config_maps(api)).items) == 600


def test_a_watch_from_before_the_retained_history_gets_a_410_error_event() -> None:
    with SandboxThread(controllers=(), config=ServerConfig(history_size=20)) as sandbox:

        def write(api: ResourceAPI) -> tuple[int, int]:
            first = api.store.create(CONFIG_MAPS, config_map("default", "watched-0")).rv
            for i in range(1, 50):
                api.store.create(CONFIG_MAPS, config_map("default", f"watched-{i}"))
            return first, api.store.oldest_resumable(CONFIG_MAPS)

        first, oldest = sandbox.run(write)
        events = {}
        for version in (first, oldest):
            connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
            query = urllib.parse.urlencode({"watch": "1", "resourceVersion": str(version)})
            connection.request("GET", f"/api/v1/namespaces/default/configmaps?{query}")
            response = connection.getresponse()
            assert response.status == 200
            events[version] = json.loads(response.readline())
            connection.close()
    assert first < oldest
    gone = events[first]
    assert (gone["type"], gone["object"]["code"], gone["object"]["reason"]) == ("ERROR", 410, "Expired")
    resumed = events[oldest]  # the oldest retained version still resumes, with the event after it
    assert resumed["type"] == "ADDED"
    assert int(resumed["object"]["metadata"]["resourceVersion"]) == oldest + 1


def test_an_http_paginated_list_matches_the_store_page_by_page() -> None:
    with SandboxThread(controllers=()) as sandbox:

        def fill(api: ResourceAPI) -> None:
            for i in range(1_200):
                api.store.create(CONFIG_MAPS, config_map(NAMESPACES[i % len(NAMESPACES)], f"cm-{i:05d}"))

        sandbox.run(fill)
        expected = sandbox.run(lambda api: [key_of(item) for item in api.store.iter_objects(CONFIG_MAPS)])
        token, versions = "", set()
        listed: list[str] = []
        remaining: list[int | None] = []
        while True:
            query = urllib.parse.urlencode({"limit": "500", **({"continue": token} if token else {})})
            with urllib.request.urlopen(f"{sandbox.url}/api/v1/configmaps?{query}", timeout=30) as answer:
                page = json.loads(answer.read())
            listed.extend(
                f"{item['metadata']['namespace']}/{item['metadata']['name']}" for item in page["items"]
            )
            assert all("apiVersion" not in item and "kind" not in item for item in page["items"])
            remaining.append(page["metadata"].get("remainingItemCount"))
            versions.add(page["metadata"]["resourceVersion"])
            token = page["metadata"].get("continue", "")
            if not token:
                break
    assert listed == expected
    assert len(expected) >= 1_200  # the bootstrap ConfigMaps (kube-root-ca.crt) are listed too
    assert remaining == [len(expected) - 500, len(expected) - 1_000, None]
    assert len(versions) == 1


def test_the_key_index_keeps_iterating_through_changes() -> None:
    index = KeyIndex()
    for name in ("b", "d", "f", "h"):
        index.add("ns", name)
    seen = []
    for namespace, name in index.in_order():
        seen.append(name)
        if name == "d":
            index.remove("ns", "d")  # the current one goes
            index.add("ns", "c")  # one behind appears: not revisited
            index.add("ns", "e")  # one ahead appears: seen
            index.remove("ns", "f")  # one ahead goes: not seen
        assert namespace == "ns"
    assert seen == ["b", "d", "e", "h"]
    assert index.count_after(None, "ns/c") == 2  # e and h
    assert list(index.in_order(None, "ns/e")) == [("ns", "h")]


def test_a_stored_version_keeps_exact_content_and_its_encodings_agree() -> None:
    big = 2**70  # beyond 64 bits: kept exact, not rounded to a float
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns", "labels": {"app": "w"}, "uid": "u-1"},
        "spec": {"size": big, "ratio": 0.25, "text": "héllo ✓", "empty": {}, "list": []},
    }
    expected = json.loads(json.dumps(obj))
    stored = StoredObject(obj, 5)
    assert stored.obj == expected
    assert stored.obj["spec"]["size"] == big
    assert json.loads(stored.full_json()) == expected
    item = json.loads(stored.item_json())
    assert item == {k: v for k, v in expected.items() if k not in ("apiVersion", "kind")}
    assert (stored.name, stored.namespace, stored.uid, stored.labels) == ("w", "ns", "u-1", {"app": "w"})
    copied = stored.copy()
    copied["spec"]["size"] = 1
    assert stored.obj["spec"]["size"] == big  # a copy is private


def test_type_meta_is_recomposed_for_objects_missing_either_member() -> None:
    assert json.loads(StoredObject({"metadata": {"name": "x"}}, 1).full_json()) == {"metadata": {"name": "x"}}
    only_kind = StoredObject({"kind": "K", "metadata": {"name": "x"}}, 1)
    assert json.loads(only_kind.full_json()) == {"kind": "K", "metadata": {"name": "x"}}
    assert json.loads(StoredObject({"apiVersion": "v1", "kind": "K"}, 1).full_json()) == {
        "apiVersion": "v1",
        "kind": "K",
    }


def test_only_a_bounded_number_of_stored_versions_stay_decoded() -> None:
    api = filled_api(stored_module.DECODED_KEPT + 500)
    everything = list(api.store.iter_objects(CONFIG_MAPS))
    for item in everything:
        assert item.obj["metadata"]["name"] == item.name
    decoded = sum(1 for item in everything if item._decoded is not None)
    assert 0 < decoded <= stored_module.DECODED_KEPT
    assert everything[-1]._decoded is not None  # the most recent stay
