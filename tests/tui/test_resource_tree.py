"""The app screen's parts without a cluster: owned children by owner uid, ignored fields, and the
tree widget updating in place, keeping its cursor, and filtering."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import App, ComposeResult

from core.live_cache import LiveCache, LiveEvent
from core.model import ResourceKey
from tests.tui.test_app_screen import CONFIG_MAP, WEB, label_of, node_of
from tui.resource_diff import ignored_fields
from tui.resource_entries import TreeEntry, owned_entries
from tui.widgets.resource_tree import ResourceTree


def _object(
    kind: str, name: str, uid: str, owner_uid: str | None = None, namespace: str = "shop"
) -> dict[str, Any]:
    group = {"ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "v1")
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid, "resourceVersion": "1"}
    if owner_uid:
        metadata["ownerReferences"] = [{"uid": owner_uid, "kind": "x", "name": "x", "apiVersion": "v1"}]
    return {"apiVersion": group, "kind": kind, "metadata": metadata}


def test_owned_children_follow_owner_uids_level_by_level() -> None:
    cache = LiveCache()
    for obj in (
        _object("Job", "nightly-1", "job-uid", "cron-uid"),
        _object("Pod", "nightly-1-abc", "pod-uid", "job-uid"),
        _object("Pod", "stranger", "other-uid", "nobody"),
        _object("Pod", "elsewhere", "far-uid", "job-uid", namespace="other"),
    ):
        cache.apply(LiveEvent(ResourceKey.of(obj), obj))
    cron = ResourceKey("batch", "CronJob", "shop", "nightly")
    entries = owned_entries(cache, {"cron-uid": cron})
    assert [(e.key.kind, e.key.name, e.parent) for e in entries] == [
        ("Job", "nightly-1", cron),
        ("Pod", "nightly-1-abc", ResourceKey("batch", "Job", "shop", "nightly-1")),
    ]
    assert all(entry.sync is None for entry in entries)


def test_ignored_fields_show_values_except_for_secrets() -> None:
    live: Mapping[str, Any] = {"spec": {"replicas": 5}, "data": {"password": "c2VjcmV0"}}
    desired: Mapping[str, Any] = {"spec": {"replicas": 2}}
    (replicas,) = ignored_fields(["/spec/replicas"], desired, live, secret=False)
    assert (replicas.live, replicas.desired) == ("5", "2")
    (password,) = ignored_fields(["/data/password"], desired, live, secret=True)
    assert (password.live, password.desired) == ("***", "(absent)")


class TreeHost(App[None]):
    """Just a ResourceTree, to drive it with entries directly."""

    def compose(self) -> ComposeResult:
        yield ResourceTree("shop", "shop", id="tree")


RS = ResourceKey("apps", "ReplicaSet", "shop", "web-1")
POD_A = ResourceKey("", "Pod", "shop", "web-1-a")
POD_B = ResourceKey("", "Pod", "shop", "web-1-b")


def entries(*pods: ResourceKey, web_sync: str = "Synced") -> list[TreeEntry]:
    return [
        TreeEntry(CONFIG_MAP, "Synced", "Healthy"),
        TreeEntry(WEB, web_sync, "Healthy"),
        TreeEntry(RS, None, "Healthy", parent=WEB),
        *(TreeEntry(pod, None, "Healthy", parent=RS) for pod in pods),
    ]


async def test_the_tree_updates_nodes_in_place_and_keeps_the_cursor_on_what_survives() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        tree.set_entries(entries(POD_A, POD_B))
        tree.highlight(POD_B)
        await pilot.pause()
        assert tree.highlighted_key == POD_B
        web_node = node_of(tree, WEB)

        tree.set_entries(entries(POD_A, web_sync="OutOfSync"))  # POD_B deleted, web drifted
        await pilot.pause()
        assert tree.highlighted_key == RS, "the cursor falls back to the gone Pod's owner"
        assert node_of(tree, WEB) is web_node
        assert label_of(tree, WEB) == "web  ≠ OutOfSync  ♥ Healthy"
        assert str(tree.root.children[1].label) == "Deployment (1) ≠1"
        assert tree.visible_keys() == [CONFIG_MAP, WEB, RS, POD_A]

        tree.set_entries(entries(POD_A, POD_B, web_sync="OutOfSync"))
        assert tree.visible_keys() == [CONFIG_MAP, WEB, RS, POD_A, POD_B], "a new child goes in name order"
        tree.set_entries([entry for entry in entries() if entry.key != CONFIG_MAP])
        assert [str(node.label) for node in tree.root.children] == ["Deployment (1)"], "empty kinds go"


async def test_the_filter_keeps_a_resource_with_its_children_and_the_cursor() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        tree.set_entries(entries(POD_A))
        tree.highlight(WEB)
        await pilot.pause()
        tree.filter_text = "pod"
        await pilot.pause()
        assert tree.visible_keys() == [WEB, RS, POD_A], "a match on a child keeps its family"
        assert tree.highlighted_key == WEB
        tree.filter_text = "nothing-matches"
        await pilot.pause()
        assert tree.visible_keys() == [] and tree.cursor_node is tree.root
