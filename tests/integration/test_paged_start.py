"""Lists judged while they stream, against the sandbox: the start-up lists of several kinds in
parallel judge exactly as one after another, an expired continue token starts a list over, and a
paged relist after 410 Gone loses none of what happened while the watch was down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import core.cluster
import core.start_lists
from benchmarks.fixtures import tracked
from benchmarks.fleet import Fleet, running_fleet
from core.cluster import ClusterAdapter
from core.config import zero_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync, ResourceKey, SyncStatus
from core.status_events import AppStatusChange, ResourceStatusChange, StatusChange
from sandbox.handle import SandboxThread
from sandbox.resources import ResourceAPI
from tests.live_run import LiveRun

PAGE_SIZE = 50
"""Small pages, so a few hundred objects make many pages of each kind."""


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.cluster, "LIST_PAGE_SIZE", PAGE_SIZE)


def engine_of(fleet: Fleet) -> Engine:
    kubeconfig = load_kubeconfig(str(fleet.kubeconfig), environ={})
    return Engine(zero_config(fleet.folder), kubeconfig, watch_tree=False)


def verdicts(engine: Engine) -> dict[ResourceKey, tuple[Any, ...]]:
    (status,) = engine.statuses()
    return {r.key: (r.status, r.health.status, r.changes, r.reason) for r in status.resources}


def delete(fleet: Fleet, key: ResourceKey, api_version: str) -> None:
    def remove(api: ResourceAPI) -> None:
        api.delete(api.resource(api_version, key.kind), key.namespace, key.name)

    fleet.sandbox.run(remove)


def indices_of(fleet: Fleet, kind: str) -> list[int]:
    return [n for n, obj in enumerate(fleet.manifests) if obj["kind"] == kind]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with running_fleet(tmp_path, 600) as running:
        yield running


def test_parallel_start_up_judges_as_one_kind_after_another(
    fleet: Fleet, small_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployments, configmaps = indices_of(fleet, "Deployment"), indices_of(fleet, "ConfigMap")
    for index in deployments[:3] + configmaps[-3:]:
        fleet.set_drift(index, True)
    gone = fleet.key_of(configmaps[5])
    delete(fleet, gone, "v1")
    kinds = {key.kind for key in map(fleet.key_of, range(len(fleet.manifests)))}
    assert len(kinds) >= 4, "several kinds, each of several pages"

    monkeypatch.setattr(core.start_lists, "START_LIST_WORKERS", 1)
    one_after_another = engine_of(fleet)
    one_after_another.evaluate()
    monkeypatch.setattr(core.start_lists, "START_LIST_WORKERS", 4)
    parallel = engine_of(fleet)
    parallel.evaluate()

    expected = verdicts(one_after_another)
    assert verdicts(parallel) == expected
    statuses = [verdict[0] for verdict in expected.values()]
    assert statuses.count(SyncStatus.OUT_OF_SYNC) == 6 and statuses.count(SyncStatus.MISSING) == 1
    assert expected[gone][0] is SyncStatus.MISSING
    assert parallel.start_progress.kinds_listed == parallel.start_progress.kinds_to_list == len(kinds)
    assert parallel.start_progress.objects_judged == len(parallel.clusters["sandbox"].cache)


def test_a_list_whose_continue_token_expired_starts_over(
    sandbox: SandboxThread, adapter: ClusterAdapter, small_pages: None
) -> None:
    def create(api: ResourceAPI, names: range) -> None:
        resource = api.resource("v1", "ConfigMap")
        for n in names:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{n:03}"}}
            api.create(resource, "default", body, manager="test")

    sandbox.run(lambda api: create(api, range(2 * PAGE_SIZE + 10)))
    resource = adapter.resource_for("", "ConfigMap")
    pages = []
    for page in adapter.list_pages(resource, "default"):
        pages.append((page.first, page.last, len(page.objects)))
        if len(pages) == 1:  # the server moves on and forgets its history between two pages
            sandbox.run(lambda api: create(api, range(500, 501)))
            sandbox.faults.compact()
    assert pages == [
        (True, False, PAGE_SIZE),
        (True, False, PAGE_SIZE),  # the second request answered 410: the list began again
        (False, False, PAGE_SIZE),
        (False, True, 11),
    ]
    objects, _ = adapter.list(resource, "default")
    assert len(objects) == 2 * PAGE_SIZE + 11


def resource_became(key: ResourceKey, status: SyncStatus) -> Any:
    def matches(change: StatusChange) -> bool:
        return isinstance(change, ResourceStatusChange) and change.key == key and change.status is status

    return matches


def test_a_paged_relist_after_410_loses_nothing_that_happened_while_the_watch_was_down(
    tmp_path: Path, small_pages: None
) -> None:
    with running_fleet(tmp_path, 2000) as fleet:
        deployments = indices_of(fleet, "Deployment")
        assert len(deployments) > 6 * PAGE_SIZE, "the relist takes several pages"
        engine = engine_of(fleet)
        with LiveRun(engine) as run:
            run.wait_for(lambda c: isinstance(c, AppStatusChange) and c.sync is AppSync.SYNCED, 120)
            # Down: every watch of Deployments fails until cleared, and the open one is dropped.
            sandbox = fleet.sandbox
            sandbox.faults.fail_next(resource="deployments", verbs=("watch",), code=404, count=10_000)
            sandbox.faults.drop_watches()
            first = fleet.key_of(deployments[0])
            run.wait_for(resource_became(first, SyncStatus.UNKNOWN), 30)

            drifted = [fleet.key_of(n) for n in deployments[10:13]]
            for index in deployments[10:13]:
                fleet.set_drift(index, True)
            deleted = [fleet.key_of(n) for n in (deployments[20], deployments[-1])]
            for key in deleted:
                delete(fleet, key, "apps/v1")
            added = added_deployment(fleet)
            sandbox.faults.compact()  # the watch's version is gone now: it must relist
            sandbox.faults.clear_request_log()
            sandbox.faults.clear()
            engine.clusters["sandbox"].watches[("apps", "Deployment", None)].wake()

            for key in drifted:
                run.wait_for(resource_became(key, SyncStatus.OUT_OF_SYNC), 30)
            for key in deleted:
                run.wait_for(resource_became(key, SyncStatus.MISSING), 30)
            run.wait_for(resource_became(added, SyncStatus.EXTRANEOUS), 30)
            run.wait_for(resource_became(first, SyncStatus.SYNCED), 30)
        pages = [
            record
            for record in sandbox.request_log
            if record.path.endswith("/deployments") and "watch" not in record.query
        ]
        assert sum("continue" in record.query for record in pages) >= 6, "it relisted page by page"

        adapter = engine.clusters["sandbox"].adapter
        assert adapter is not None
        served, _ = adapter.list(adapter.resource_for("apps", "Deployment"))
        cached = engine.clusters["sandbox"].cache.of_kind("apps", "Deployment")
        assert {k: o["metadata"]["resourceVersion"] for k, o in cached.items()} == {
            ResourceKey.of(o): o["metadata"]["resourceVersion"] for o in served
        }
        fresh = engine_of(fleet)
        fresh.evaluate()
        assert verdicts(engine) == verdicts(fresh)


def added_deployment(fleet: Fleet) -> ResourceKey:
    """A Deployment tracked for the fleet's app that Git does not declare: Extraneous once seen."""
    template = next(obj for obj in fleet.manifests if obj["kind"] == "Deployment")
    obj = tracked(fleet.app, {**template, "metadata": {**template["metadata"], "name": "added-while-down"}})
    metadata = obj["metadata"]

    def create(api: ResourceAPI) -> None:
        resource = api.resource("apps/v1", "Deployment")
        api.apply(resource, metadata["namespace"], metadata["name"], obj, manager="kubedrift", force=True)

    fleet.sandbox.run(create)
    return ResourceKey.of(obj)
