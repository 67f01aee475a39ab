"""Start-up lists judged while they stream: pages applied as they arrive, several kinds at once in a
bounded pool, deletions only at a list's last page, and a failing page that leaves its kind Unknown.

The pool and the engine's paged handling, against a stand-in cluster that serves pages."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.api_resources import ApiResource, Discovery
from core.cluster import ApiError, ClusterError, ListPage
from core.config import zero_config
from core.engine import Engine
from core.kind_watch import KindState, Relisted
from core.kubeconfig import Kubeconfig
from core.live_cache import LiveCache, PagedRelist
from core.model import AppSync, ResourceKey, SyncStatus
from core.runtime import ClusterRuntime
from core.start_lists import (
    PAGES_IN_FLIGHT,
    KindListed,
    Listed,
    ListedMessage,
    ListFailed,
    ListJob,
    StartLists,
)

CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True, frozenset({"list", "watch", "get"}))
SECRETS = ApiResource("", "v1", "Secret", "secrets", True, frozenset({"list", "watch", "get"}))
KINDS = {("", "ConfigMap"): CONFIGMAPS, ("", "Secret"): SECRETS}


def live(kind: str, name: str, version: str = "3", namespace: str = "default") -> dict[str, Any]:
    body = {"data": {"a": "MQ=="}} if kind == "Secret" else {"data": {"a": "1"}}
    metadata = {"name": name, "namespace": namespace, "resourceVersion": version}
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata, **body}


def manifest(kind: str, name: str) -> str:
    data = "data: {a: MQ==}" if kind == "Secret" else "data: {a: '1'}"
    return f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}}}\n{data}\n"


class PagedCluster:
    """Serves ConfigMaps and Secrets in pages of `page_size`; `fail_at` makes a kind's list fail
    at that page; `on_list` runs as a kind's list begins (on the worker's thread)."""

    read_only = True
    server = "https://dev.example"

    def __init__(self, objects: list[dict[str, Any]], *, page_size: int = 2) -> None:
        self.objects = objects
        self.page_size = page_size
        self.fail_at: dict[str, tuple[int, Exception]] = {}
        self.on_list: Callable[[str], object] = lambda kind: None

    def server_version(self) -> Any:
        raise ApiError(403, "Forbidden", 'forbidden: User "dev" cannot get path "/version"')

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", f'forbidden: User "dev" cannot get path "{relative_url}"')

    def discover(self, *, refresh: bool = False) -> Discovery:
        return Discovery(dict(KINDS))

    def resource_for(self, group: str, kind: str) -> ApiResource:
        found = KINDS.get((group, kind))
        if found is None:
            raise ApiError(
                404, "NotFound", f"the cluster (dev) serves no kind {kind}.{group}: install its CRD"
            )
        return found

    def holds_any(self, resource: Any, *, label_selector: str) -> bool:
        return bool(self.list(resource, label_selector=label_selector)[0])

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        if label_selector:
            return [], "9"  # the tracked-kinds scan: nothing tracked
        return [o for page in self.list_pages(resource, namespace) for o in page.objects], "9"

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        self.on_list(resource.kind)
        objects = [o for o in self.objects if o["kind"] == resource.kind]
        size = self.page_size
        pages = [objects[start : start + size] for start in range(0, len(objects), size)] or [[]]
        for number, page in enumerate(pages):
            failing = self.fail_at.get(resource.kind)
            if failing is not None and failing[0] == number:
                raise failing[1]
            yield ListPage(page, "9", first=number == 0, last=number == len(pages) - 1)


def engine_on(tmp_path: Path, cluster: PagedCluster, manifests: list[str]) -> Engine:
    (tmp_path / "app.yaml").write_text("---\n".join(manifests))
    kubeconfig = Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None)
    return Engine(
        zero_config(tmp_path),
        kubeconfig,
        adapter_factory=lambda context, read_only: cluster,  # type: ignore[arg-type,return-value]
        watch_tree=False,
    )


def statuses_of(engine: Engine) -> dict[ResourceKey, SyncStatus]:
    (runtime,) = engine.apps.values()
    return {key: result.status for key, result in runtime.reconciler.results.items()}


def key(kind: str, name: str) -> ResourceKey:
    return ResourceKey("", kind, "default", name)


# The cache's side: a list applied page by page.


def test_a_paged_relist_stores_each_page_and_deletes_only_at_the_end() -> None:
    cache = LiveCache()
    cache.replace_kind("", "ConfigMap", [live("ConfigMap", n) for n in ("a", "b", "c")])
    relist = PagedRelist.begin(cache, "", "ConfigMap", None)
    assert relist.held == 3
    first = relist.page(cache, [live("ConfigMap", "a"), live("ConfigMap", "b", version="4")])
    assert [(e.key.name, e.obj is None) for e in first] == [("b", False)], "a is unchanged, b is new"
    assert cache.get(key("ConfigMap", "c")) is not None, "c may still come on a later page"
    second = relist.page(cache, [live("ConfigMap", "d")])
    assert [e.key.name for e in second] == ["d"]
    deleted = relist.finish(cache)
    assert [(e.key.name, e.obj) for e in deleted] == [("c", None)]
    assert sorted(k.name for k, _ in cache) == ["a", "b", "d"]
    assert relist.listed == 3


def test_a_namespaced_relist_deletes_only_in_its_namespace() -> None:
    cache = LiveCache()
    cache.replace_kind(
        "", "ConfigMap", [live("ConfigMap", "a", namespace="one"), live("ConfigMap", "b", namespace="two")]
    )
    relist = PagedRelist.begin(cache, "", "ConfigMap", "one")
    relist.page(cache, [])
    assert [e.key for e in relist.finish(cache)] == [ResourceKey("", "ConfigMap", "one", "a")]
    assert cache.get(ResourceKey("", "ConfigMap", "two", "b")) is not None


# The engine's side: Relisted pages.


def listed_engine(tmp_path: Path) -> Engine:
    """An engine that listed the app's ConfigMap `settings` and three others, all Synced."""
    objects = [live("ConfigMap", n) for n in ("settings", "x", "y", "z")]
    engine = engine_on(tmp_path, PagedCluster(objects), [manifest("ConfigMap", "settings")])
    engine.evaluate()
    assert statuses_of(engine) == {key("ConfigMap", "settings"): SyncStatus.SYNCED}
    return engine


def test_pages_of_a_relist_keep_what_is_not_listed_yet_until_the_last(tmp_path: Path) -> None:
    engine = listed_engine(tmp_path)
    cache = engine.clusters["dev"].cache
    engine._handle("dev", Relisted("", "ConfigMap", None, [live("ConfigMap", "x")], first=True, last=False))
    assert cache.get(key("ConfigMap", "settings")) is not None, "settings may be on the next page"
    assert statuses_of(engine)[key("ConfigMap", "settings")] is SyncStatus.SYNCED, "never Missing mid-list"
    changes = engine._handle("dev", Relisted("", "ConfigMap", None, [], first=False, last=True))
    assert cache.get(key("ConfigMap", "settings")) is None and cache.get(key("ConfigMap", "y")) is None
    assert cache.get(key("ConfigMap", "x")) is not None
    assert statuses_of(engine)[key("ConfigMap", "settings")] is SyncStatus.MISSING
    assert any(getattr(c, "status", None) is SyncStatus.MISSING for c in changes)


def test_a_first_page_starts_the_list_over(tmp_path: Path) -> None:
    engine = listed_engine(tmp_path)
    cache = engine.clusters["dev"].cache
    engine._handle("dev", Relisted("", "ConfigMap", None, [live("ConfigMap", "new")], first=True, last=False))
    # The list restarted (its continue token expired): the new list does not return `new` after all.
    engine._handle(
        "dev", Relisted("", "ConfigMap", None, [live("ConfigMap", "settings")], first=True, last=True)
    )
    assert sorted(k.name for k, _ in cache) == ["settings"]
    assert engine.clusters["dev"].relists == {}


def test_a_recovering_paged_list_that_finds_nothing_means_lost_state(tmp_path: Path) -> None:
    engine = listed_engine(tmp_path)
    engine._handle("dev", Relisted("", "ConfigMap", None, [], recovering=True, first=True, last=False))
    assert engine.clusters["dev"].state_lost is None, "decided at the last page, not before"
    engine._handle("dev", Relisted("", "ConfigMap", None, [], recovering=True, first=False, last=True))
    assert "found none of the 4 ConfigMap objects" in (engine.clusters["dev"].state_lost or "")


def test_a_recovering_paged_list_with_objects_on_an_early_page_is_no_lost_state(tmp_path: Path) -> None:
    engine = listed_engine(tmp_path)
    first = [live("ConfigMap", "settings")]
    engine._handle("dev", Relisted("", "ConfigMap", None, first, recovering=True, first=True, last=False))
    engine._handle("dev", Relisted("", "ConfigMap", None, [], recovering=True, first=False, last=True))
    assert engine.clusters["dev"].state_lost is None


def test_a_failing_kind_is_known_again_only_at_the_last_page(tmp_path: Path) -> None:
    engine = listed_engine(tmp_path)
    engine._handle(
        "dev", KindState("", "ConfigMap", None, "Internal error occurred: etcd (500 InternalError)")
    )
    settings = [live("ConfigMap", "settings", version="11")]
    engine._handle("dev", Relisted("", "ConfigMap", None, settings, recovering=True, first=True, last=False))
    assert statuses_of(engine)[key("ConfigMap", "settings")] is SyncStatus.UNKNOWN
    assert engine.clusters["dev"].watch_errors, "still failing until the list completes"
    engine._handle("dev", Relisted("", "ConfigMap", None, [], recovering=True, first=False, last=True))
    assert statuses_of(engine)[key("ConfigMap", "settings")] is SyncStatus.SYNCED
    assert engine.clusters["dev"].watch_errors == {}


# The start-up: both forms, several pages and kinds.

MANIFESTS = [manifest("ConfigMap", f"c{n}") for n in range(5)] + [
    manifest("Secret", f"s{n}") for n in range(3)
]
OBJECTS = [live("ConfigMap", f"c{n}") for n in range(5)] + [live("Secret", f"s{n}") for n in range(3)]


def test_start_up_judges_every_page_and_counts_its_progress(tmp_path: Path) -> None:
    cluster = PagedCluster(OBJECTS + [live("ConfigMap", "other")], page_size=2)
    engine = engine_on(tmp_path, cluster, MANIFESTS)
    (status,) = engine.evaluate()
    assert status.sync is AppSync.SYNCED
    assert {r.key.name: r.status for r in status.resources} == {
        **{f"c{n}": SyncStatus.SYNCED for n in range(5)},
        **{f"s{n}": SyncStatus.SYNCED for n in range(3)},
    }
    progress = engine.start_progress
    assert (progress.kinds_to_list, progress.kinds_listed, progress.objects_judged) == (2, 2, 9)
    assert progress.evaluated and not progress.failed
    assert engine.clusters["dev"].listed == {("", "ConfigMap", None): "9", ("", "Secret", None): "9"}
    assert len(engine.clusters["dev"].cache) == 9


def test_kinds_are_listed_at_once_not_one_after_another(tmp_path: Path) -> None:
    cluster = PagedCluster(OBJECTS)
    both_listing = threading.Barrier(2, timeout=10)
    # Each kind's list waits for the other's to begin: one after another, the first would time out.
    cluster.on_list = lambda kind: both_listing.wait()
    engine = engine_on(tmp_path, cluster, MANIFESTS)
    (status,) = engine.evaluate()
    assert status.sync is AppSync.SYNCED and len(status.resources) == 8


def test_a_page_that_fails_leaves_its_kind_unknown_never_missing(tmp_path: Path) -> None:
    cluster = PagedCluster(OBJECTS, page_size=2)
    cluster.fail_at["ConfigMap"] = (1, ApiError(500, "InternalError", "Internal error occurred: etcd"))
    engine = engine_on(tmp_path, cluster, MANIFESTS)
    (status,) = engine.evaluate()
    results = {r.key.name: r for r in status.resources}
    for name in (f"c{n}" for n in range(5)):  # c0 and c1 were on the page that came, the rest were not
        assert results[name].status is SyncStatus.UNKNOWN
        assert results[name].reason == "Internal error occurred: etcd (500 InternalError)"
    assert all(results[f"s{n}"].status is SyncStatus.SYNCED for n in range(3))
    assert status.sync is AppSync.UNKNOWN
    assert status.errors == ("ConfigMap: Internal error occurred: etcd (500 InternalError)",)
    assert ("", "ConfigMap", None) not in engine.clusters["dev"].listed, "its watch must list again"


def test_a_kind_not_served_is_unknown_and_the_rest_is_judged(tmp_path: Path) -> None:
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: blue}\n"
    engine = engine_on(tmp_path, PagedCluster(OBJECTS), [*MANIFESTS, widget])
    (status,) = engine.evaluate()
    results = {r.key.name: r for r in status.resources}
    assert results["blue"].status is SyncStatus.UNKNOWN and "serves no kind Widget" in results["blue"].reason
    assert results["c0"].status is SyncStatus.SYNCED
    assert engine.start_progress.kinds_listed == 3


def test_an_unreachable_cluster_mid_list_ends_the_one_shot_with_its_sentence(tmp_path: Path) -> None:
    cluster = PagedCluster(OBJECTS, page_size=2)
    sentence = "cannot reach the cluster of context 'dev' at https://dev.example: connection refused"
    cluster.fail_at["Secret"] = (1, ClusterError(sentence))
    engine = engine_on(tmp_path, cluster, MANIFESTS)
    with pytest.raises(ClusterError, match="connection refused"):
        engine.evaluate()
    assert not engine.start_progress.evaluated


# The pool itself.


class ManyPages:
    """A cluster whose every list is `pages` pages of one object."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def resource_for(self, group: str, kind: str) -> ApiResource:
        return KINDS[(group, kind)]

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        for number in range(self.pages):
            obj = live(resource.kind, f"{resource.kind.lower()}-{number}")
            yield ListPage([obj], str(number), first=number == 0, last=number == self.pages - 1)


def cluster_of(adapter: Any) -> ClusterRuntime:
    return ClusterRuntime("dev", adapter=adapter)


def test_pages_come_in_order_per_kind_and_each_kind_ends_with_its_mark() -> None:
    runtime = cluster_of(ManyPages(6))
    jobs = [ListJob(runtime, "", "ConfigMap"), ListJob(runtime, "", "Secret")]
    received: list[Listed] = []
    done = threading.Event()

    def deliver(item: Listed) -> None:
        received.append(item)
        if isinstance(item, ListedMessage):
            lists.page_applied()
        if sum(isinstance(i, KindListed) for i in received) == len(jobs):
            done.set()

    lists = StartLists(jobs, deliver)
    lists.start()
    assert done.wait(10)
    for kind in ("ConfigMap", "Secret"):
        mine = [i for i in received if isinstance(i, ListedMessage) and isinstance(i.message, Relisted)]
        mine = [i for i in mine if isinstance(i.message, Relisted) and i.message.kind == kind]
        pages = [i.message for i in mine if isinstance(i.message, Relisted)]
        assert [(p.first, p.last, p.objects[0]["metadata"]["name"]) for p in pages] == [
            (n == 0, n == 5, f"{kind.lower()}-{n}") for n in range(6)
        ]
        ends = [n for n, i in enumerate(received) if isinstance(i, KindListed) and i.job.kind == kind]
        assert ends and ends[0] > max(received.index(i) for i in mine), "the mark follows every page"
    assert runtime.listed == {("", "ConfigMap", None): "5", ("", "Secret", None): "5"}


def test_pages_waiting_to_be_applied_are_bounded() -> None:
    runtime = cluster_of(ManyPages(3 * PAGES_IN_FLIGHT))
    jobs = [ListJob(runtime, "", "ConfigMap"), ListJob(runtime, "", "Secret")]
    inbox: queue.SimpleQueue[Listed] = queue.SimpleQueue()
    lock = threading.Lock()
    waiting = most = 0
    full = threading.Event()

    def deliver(item: Listed) -> None:
        nonlocal waiting, most
        with lock:
            if isinstance(item, ListedMessage):
                waiting += 1
                most = max(most, waiting)
                if waiting == PAGES_IN_FLIGHT:
                    full.set()
        inbox.put(item)

    lists = StartLists(jobs, deliver)
    lists.start()
    try:
        assert full.wait(10), "the workers fetch ahead up to the bound"
        ended = 0
        while ended < len(jobs):  # now apply them one at a time, as the applying thread does
            item = inbox.get(timeout=10)
            assert not isinstance(item, ListFailed)
            if isinstance(item, ListedMessage):
                with lock:
                    waiting -= 1
                lists.page_applied()
            ended += isinstance(item, KindListed)
    finally:
        lists.stop()
    assert most == PAGES_IN_FLIGHT, "never more pages waiting than the bound"
