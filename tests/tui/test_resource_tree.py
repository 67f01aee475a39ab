"""The app screen's parts without a cluster: owned children by owner uid, ignored fields, the
entries worked out again only where they changed, and the tree widget updating in place, keeping
its cursor, filtering, and holding big kinds collapsed until they are opened."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.live_cache import LiveCache, LiveEvent
from core.model import Health, HealthStatus, ResourceKey, ResourceResult, SyncStatus
from core.runtime import AppRuntime
from tests.tui.test_app_screen import CONFIG_MAP, SECRET, WEB, label_of, node_of
from tui.resource_diff import ignored_fields
from tui.resource_entries import AppEntries, TreeEntry, owned_entries
from tui.widgets.resource_tree import OPEN_KIND_LIMIT, KindGroup, NodeData, ResourceTree


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


# Big apps: kinds of more than OPEN_KIND_LIMIT resources start collapsed, their nodes made on opening.


def many_deployments(count: int = OPEN_KIND_LIMIT + 1, drifted: int | None = None) -> list[TreeEntry]:
    return [
        TreeEntry(CONFIG_MAP, "Synced", "Healthy"),
        *(
            TreeEntry(
                ResourceKey("apps", "Deployment", "shop", f"web-{number:03d}"),
                "OutOfSync" if number == drifted else "Synced",
                "Healthy",
            )
            for number in range(count)
        ),
    ]


def deployment(number: int) -> ResourceKey:
    return ResourceKey("apps", "Deployment", "shop", f"web-{number:03d}")


def kind_node(tree: ResourceTree, kind: str) -> TreeNode[NodeData]:
    (node,) = [
        node for node in tree.root.children if isinstance(node.data, KindGroup) and node.data.kind == kind
    ]
    return node


async def test_a_big_kind_starts_collapsed_and_opens_on_its_latest_entries() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        tree.set_entries(many_deployments())
        await pilot.pause()
        deployments = kind_node(tree, "Deployment")
        assert [str(node.label) for node in tree.root.children] == ["ConfigMap (1)", "Deployment (101)"]
        assert deployments.is_collapsed and deployments.allow_expand
        assert tree.visible_keys() == [CONFIG_MAP], "no node is made for a kind nobody opened"

        tree.set_entries(many_deployments(drifted=7))
        assert str(deployments.label) == "Deployment (101) ≠1", "a collapsed kind still counts its drift"
        assert tree.visible_keys() == [CONFIG_MAP]

        tree.move_cursor(deployments)
        await pilot.press("enter")
        await pilot.pause()
        assert deployments.is_expanded
        assert tree.visible_keys() == [CONFIG_MAP, *(deployment(number) for number in range(101))]
        assert label_of(tree, deployment(7)) == "web-007  ≠ OutOfSync  ♥ Healthy", (
            "opened on the latest entry"
        )
        assert label_of(tree, deployment(8)) == "web-008  ✓ Synced  ♥ Healthy"

        tree.set_entries(many_deployments(drifted=8))
        assert label_of(tree, deployment(7)).startswith("web-007  ✓ Synced"), (
            "once made, nodes follow updates"
        )
        assert label_of(tree, deployment(8)).startswith("web-008  ≠ OutOfSync")


async def test_highlighting_a_resource_of_a_collapsed_kind_opens_the_kind() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        tree.set_entries(many_deployments())
        tree.highlight(deployment(50))
        await pilot.pause()
        await pilot.pause()
        assert tree.highlighted_key == deployment(50)
        assert kind_node(tree, "Deployment").is_expanded
        await pilot.press("down")
        assert tree.highlighted_key == deployment(51), "the keys move through the opened kind"


async def test_what_a_person_opened_or_closed_stays_so_through_the_filter() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        tree.set_entries(many_deployments())
        await pilot.pause()
        tree.move_cursor(kind_node(tree, "ConfigMap"))
        await pilot.press("space")  # a small kind starts open: close it
        tree.move_cursor(kind_node(tree, "Deployment"))
        await pilot.press("space")  # a big one starts closed: open it
        await pilot.pause()

        tree.filter_text = "web-00"
        await pilot.pause()
        assert kind_node(tree, "Deployment").is_expanded
        assert tree.visible_keys() == [deployment(number) for number in range(10)], (
            "only what the filter keeps"
        )
        tree.filter_text = ""
        await pilot.pause()
        assert kind_node(tree, "ConfigMap").is_collapsed and kind_node(tree, "Deployment").is_expanded
        assert len(tree.visible_keys()) == 101


async def test_the_same_entries_again_touch_no_node() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        given = entries(POD_A, POD_B)
        tree.set_entries(given)
        await pilot.pause()
        relabelled: list[object] = []
        for key in tree.entries:
            node = node_of(tree, key)
            assert node is not None
            node.set_label = relabelled.append  # type: ignore[method-assign]
        tree.set_entries(given)
        tree.set_entries(entries(POD_A, POD_B))  # equal entries, new objects
        assert relabelled == []
        tree.set_entries(entries(POD_A, POD_B, web_sync="OutOfSync"))
        assert len(relabelled) == 1, "one changed entry relabels one node"


async def test_labels_are_as_wide_as_tree_measures_them_and_take_a_new_theme() -> None:
    host = TreeHost()
    async with host.run_test(size=(80, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        elsewhere = ResourceKey("", "Service", "other", "api")
        tree.set_entries([*entries(POD_A, web_sync="OutOfSync"), TreeEntry(elsewhere, "Missing", "Missing")])
        tree.set_app_status("OutOfSync", "Healthy")
        await pilot.pause()
        nodes = [tree.root, *tree.root.children, *(node_of(tree, key) for key in tree.entries)]
        assert label_of(tree, elsewhere) == "other/api  ∅ Missing  ∅ Missing", "another namespace is named"
        for node in nodes:
            assert node is not None
            assert tree.get_label_width(node) == Tree.get_label_width(tree, node), str(node.label)

        def drift_style() -> str:
            label = node_of(tree, WEB).label  # type: ignore[union-attr]
            assert isinstance(label, Text)
            (span,) = [span for span in label.spans if label.plain[span.start : span.end] == "≠ OutOfSync"]
            return str(span.style)

        before = drift_style()
        host.theme = "nord" if host.theme != "nord" else "gruvbox"
        await pilot.pause()
        assert drift_style() != before, "the nodes take the new theme's colours"


# AppEntries: worked out again only where the results or the cache's objects changed.


def _runtime(results: dict[ResourceKey, ResourceResult]) -> AppRuntime:
    return cast(AppRuntime, SimpleNamespace(reconciler=SimpleNamespace(results=results)))


def _result(key: ResourceKey, status: SyncStatus = SyncStatus.SYNCED) -> ResourceResult:
    return ResourceResult(key, "v1", status, HealthStatus(Health.HEALTHY))


def test_app_entries_come_back_the_same_until_something_changes() -> None:
    results = {key: _result(key) for key in (WEB, CONFIG_MAP)}
    web = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "web-uid"},
    }
    cache = LiveCache()
    cache.apply(LiveEvent(WEB, web))
    cache.apply(LiveEvent(RS, _object("ReplicaSet", "web-1", "rs-uid", "web-uid")))
    book = AppEntries()
    first = book.of(_runtime(results), cache)
    assert [(entry.key, entry.parent) for entry in first] == [(CONFIG_MAP, None), (WEB, None), (RS, WEB)]
    assert book.of(_runtime(results), cache) is first, "nothing changed: the very same list"

    results[WEB] = _result(WEB)  # replaced, but it reads the same
    assert book.of(_runtime(results), cache) is first
    results[WEB] = _result(WEB, SyncStatus.OUT_OF_SYNC)
    second = book.of(_runtime(results), cache)
    assert [entry.sync for entry in second] == ["Synced", "OutOfSync", None]
    assert second[0] is first[0] and second[2] is first[2], "entries that read the same are kept"

    cache.apply(LiveEvent(POD_A, _object("Pod", "web-1-a", "pod-uid", "rs-uid")))
    third = book.of(_runtime(results), cache)
    assert [entry.key for entry in third] == [CONFIG_MAP, WEB, RS, POD_A], "a new child is found"
    assert third[2] is second[2]

    results[SECRET] = _result(SECRET, SyncStatus.MISSING)
    assert [entry.key for entry in book.of(_runtime(results), cache)] == [CONFIG_MAP, SECRET, WEB, RS, POD_A]


async def test_a_resource_a_sync_cannot_fix_is_marked_in_the_tree_and_still_counted_as_out_of_sync() -> None:
    # Drift rule 7: the marking rides on the entry from the result's reason; the kind still counts it.
    marked = ResourceResult(
        WEB,
        "v1",
        SyncStatus.OUT_OF_SYNC,
        HealthStatus(Health.HEALTHY),
        reason="sync changes nothing: /spec/replicas kept by hpa-controller",
    )
    book = AppEntries()
    (entry,) = [e for e in book.of(_runtime({WEB: marked}), LiveCache()) if e.key == WEB]
    assert (entry.sync, entry.sync_note) == ("OutOfSync", "sync changes nothing")
    host = TreeHost()
    async with host.run_test(size=(100, 24)) as pilot:
        tree = host.query_one(ResourceTree)
        tree.set_entries([TreeEntry(CONFIG_MAP, "Synced", "Healthy"), entry])
        await pilot.pause()
        assert label_of(tree, WEB) == "web  ≠ OutOfSync (sync changes nothing)  ♥ Healthy"
        kind = next(node for node in tree.root.children if str(node.label).startswith("Deployment"))
        assert str(kind.label) == "Deployment (1) ≠1"
