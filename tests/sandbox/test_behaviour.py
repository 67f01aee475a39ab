"""Server behaviour: CRDs, namespace and finalizer lifecycles, propagation, faults, the request log,
discovery documents, many watchers, the in-process and command-line runners."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from sandbox.handle import Sandbox, SandboxThread
from sandbox.resources import ResourceAPI
from sandbox.server import ServerConfig

NS = "default"


def http(
    sandbox: SandboxThread,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        sandbox.url + path, data=data, method=method, headers={"Content-Type": content_type, "Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def crd(scope: str = "Namespaced") -> dict[str, Any]:
    plural = "widgets" if scope == "Namespaced" else "gadgets"
    kind = "Widget" if scope == "Namespaced" else "Gadget"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [plural[:2]]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer", "default": 1},
                                        "color": {"type": "string"},
                                    },
                                },
                                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                            },
                        }
                    },
                }
            ],
        },
    }


# ---- custom resources ----


def test_crd_round_trip_namespaced(sandbox: SandboxThread, dynamic: DynamicClient, tmp_path: Path) -> None:
    definitions = dynamic.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    definitions.create(body=crd())
    established = definitions.get(name="widgets.example.com").to_dict()
    conditions = {c["type"]: c["status"] for c in established["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert established["status"]["acceptedNames"]["kind"] == "Widget"

    fresh = DynamicClient(dynamic.client, cache_file=str(tmp_path / "after-crd.json"))
    widgets = fresh.resources.get(api_version="example.com/v1", kind="Widget")
    assert widgets.namespaced and widgets.short_names == ["wi"]

    since = widgets.get(namespace=NS).metadata.resourceVersion
    created = widgets.create(
        namespace=NS,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"color": "blue", "unknown": "pruned"},
            "status": {"ready": True},
        },
    ).to_dict()
    assert created["spec"] == {"color": "blue", "size": 1}, "unknown fields pruned, defaults filled"
    assert "status" not in created and created["metadata"]["generation"] == 1

    patched = widgets.patch(
        name="w1", namespace=NS, body={"spec": {"size": 3}}, content_type="application/merge-patch+json"
    ).to_dict()
    assert patched["spec"]["size"] == 3 and patched["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as unsupported:
        widgets.patch(name="w1", namespace=NS, body={"spec": {"size": 4}})
    assert unsupported.value.status == 415

    status_body = {**patched, "status": {"ready": True}}
    with_status = widgets.status.replace(namespace=NS, body=status_body).to_dict()
    assert with_status["status"] == {"ready": True} and with_status["metadata"]["generation"] == 2

    assert [i.metadata.name for i in widgets.get(namespace=NS).items] == ["w1"]
    events = [
        (e["type"], e["raw_object"]["metadata"]["name"])
        for e in fresh.watch(widgets, namespace=NS, resource_version=since, timeout=1)
    ]
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("MODIFIED", "w1")]

    code, _headers, table = http(
        sandbox,
        "GET",
        f"/apis/example.com/v1/namespaces/{NS}/widgets",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    assert code == 200 and [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size"]
    assert table["rows"][0]["cells"][:2] == ["w1", 3]

    definitions.delete(name="widgets.example.com")
    with pytest.raises(NotFoundError):
        definitions.get(name="widgets.example.com")
    code, _headers, _body = http(sandbox, "GET", f"/apis/example.com/v1/namespaces/{NS}/widgets")
    assert code == 404
    assert sandbox.run(lambda api: api.store.count(("example.com", "widgets"))) == 0


def test_a_custom_resource_status_write_changes_nothing_but_status(
    dynamic: DynamicClient, tmp_path: Path
) -> None:
    """Unlike the built-in status strategies, a custom resource's keeps the stored metadata too."""
    dynamic.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition").create(
        body=crd()
    )
    fresh = DynamicClient(dynamic.client, cache_file=str(tmp_path / "after-crd.json"))
    widgets = fresh.resources.get(api_version="example.com/v1", kind="Widget")
    created = widgets.create(
        namespace=NS,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "labels": {"a": "1"}},
            "spec": {"color": "blue"},
        },
    ).to_dict()
    body = {**created, "status": {"ready": True}, "spec": {"size": 5}}
    body["metadata"] = {**created["metadata"], "labels": {"a": "2"}, "annotations": {"note": "x"}}
    written = widgets.status.replace(namespace=NS, body=body).to_dict()
    assert written["status"] == {"ready": True}
    assert written["spec"] == {"color": "blue", "size": 1}
    assert written["metadata"]["labels"] == {"a": "1"} and "annotations" not in written["metadata"]


def test_crd_round_trip_cluster_scoped(dynamic: DynamicClient, tmp_path: Path) -> None:
    definitions = dynamic.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    definitions.create(body=crd("Cluster"))
    fresh = DynamicClient(dynamic.client, cache_file=str(tmp_path / "cluster-crd.json"))
    gadgets = fresh.resources.get(api_version="example.com/v1", kind="Gadget")
    assert not gadgets.namespaced
    gadgets.create(
        body={
            "apiVersion": "example.com/v1",
            "kind": "Gadget",
            "metadata": {"name": "g1"},
            "spec": {"size": 2},
        }
    )
    listed = gadgets.get().to_dict()
    assert [(i["metadata"]["name"], i["kind"]) for i in listed["items"]] == [("g1", "Gadget")]
    assert "namespace" not in listed["items"][0]["metadata"]
    gadgets.delete(name="g1")
    assert gadgets.get().to_dict()["items"] == []


def test_unknown_kind_is_not_served(dynamic: DynamicClient) -> None:
    with pytest.raises(ResourceNotFoundError):
        dynamic.resources.get(api_version="example.com/v1", kind="Widget")


# ---- namespaces, finalizers and propagation ----


def test_namespace_deletion_deletes_its_content(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    core.create_namespace({"metadata": {"name": "shop"}})
    core.create_namespaced_config_map("shop", {"metadata": {"name": "settings"}})
    core.create_namespaced_service("shop", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    core.create_namespaced_config_map(NS, {"metadata": {"name": "elsewhere"}})

    deleting = core.delete_namespace("shop")
    assert deleting["status"]["phase"] == "Terminating"
    with pytest.raises(ApiException) as gone:
        core.read_namespace("shop")
    assert gone.value.status == 404
    assert core.list_namespaced_config_map("shop").items == []
    assert core.list_namespaced_service("shop").items == []
    assert core.read_namespaced_config_map("elsewhere", NS).metadata.name == "elsewhere"


def test_namespace_waits_for_finalizers_and_refuses_new_content(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "held"}})
    core.create_namespaced_config_map(
        "held", {"metadata": {"name": "pinned", "finalizers": ["example.com/keep"]}}
    )
    core.delete_namespace("held")
    assert core.read_namespace("held").status.phase == "Terminating"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map("held", {"metadata": {"name": "late"}})
    assert refused.value.status == 403 and "being terminated" in json.loads(refused.value.body)["message"]

    core.patch_namespaced_config_map("pinned", "held", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespace("held")
    assert gone.value.status == 404


def test_system_namespaces_cannot_be_deleted(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as refused:
        core.delete_namespace("kube-system")
    assert refused.value.status == 403


def test_finalizers_hold_an_object_until_emptied(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}})
    since = core.list_namespaced_config_map(NS).metadata.resource_version
    core.delete_namespaced_config_map("held", NS)
    held = core.read_namespaced_config_map("held", NS)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["example.com/keep"]

    with pytest.raises(ApiException) as no_new:
        core.patch_namespaced_config_map(
            "held",
            NS,
            {"metadata": {"finalizers": ["example.com/keep", "x/y"]}},
            _content_type="application/merge-patch+json",
        )
    assert no_new.value.status == 422

    core.patch_namespaced_config_map(
        "held", NS, {"metadata": {"finalizers": []}}, _content_type="application/merge-patch+json"
    )
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", NS)
    assert gone.value.status == 404
    seen = [
        e["type"]
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, NS, resource_version=since, timeout_seconds=1
        )
    ]
    assert seen == ["MODIFIED", "DELETED"]


def _owner_and_dependent(core: client.CoreV1Api) -> str:
    owner = core.create_namespaced_config_map(NS, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(
        NS,
        {
            "metadata": {
                "name": "dependent",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "owner",
                        "uid": owner.metadata.uid,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
        },
    )
    return str(owner.metadata.uid)


def test_foreground_deletion_sets_the_foreground_finalizer(core: client.CoreV1Api) -> None:
    _owner_and_dependent(core)
    core.delete_namespaced_config_map("owner", NS, propagation_policy="Foreground")
    owner = core.read_namespaced_config_map("owner", NS)
    assert owner.metadata.deletion_timestamp is not None
    assert owner.metadata.finalizers == ["foregroundDeletion"]


def test_orphan_deletion_removes_owner_references_from_dependents(core: client.CoreV1Api) -> None:
    _owner_and_dependent(core)
    core.delete_namespaced_config_map("owner", NS, propagation_policy="Orphan")
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("owner", NS)
    assert core.read_namespaced_config_map("dependent", NS).metadata.owner_references is None


def test_background_deletion_removes_the_owner_at_once(core: client.CoreV1Api) -> None:
    uid = _owner_and_dependent(core)
    core.delete_namespaced_config_map("owner", NS, propagation_policy="Background")
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("owner", NS)
    dependent = core.read_namespaced_config_map("dependent", NS)
    assert dependent.metadata.owner_references[0].uid == uid, "collecting dependents is the GC's job"


def test_delete_preconditions(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, {"metadata": {"name": "guarded"}})
    with pytest.raises(ApiException) as stale:
        core.delete_namespaced_config_map("guarded", NS, body={"preconditions": {"resourceVersion": "1"}})
    assert stale.value.status == 409 and "Precondition failed" in json.loads(stale.value.body)["message"]


# ---- faults and the request log ----


def test_fail_next_requests_with_500_then_recover(sandbox: SandboxThread, core: client.CoreV1Api) -> None:
    sandbox.faults.fail_next(resource="configmaps", count=2, code=500)
    for _ in range(2):
        with pytest.raises(ApiException) as failed:
            core.list_namespaced_config_map(NS)
        assert failed.value.status == 500
        assert json.loads(failed.value.body)["reason"] == "InternalError"
    assert core.list_namespaced_config_map(NS).items == []
    core.list_namespaced_secret(NS)


def test_fail_next_with_429_carries_retry_after(sandbox: SandboxThread) -> None:
    sandbox.faults.fail_next(resource="deployments.apps", count=1, code=429, retry_after=7)
    code, headers, status = http(sandbox, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments")
    assert (code, status["reason"], headers.get("Retry-After")) == (429, "TooManyRequests", "7")
    assert status["details"]["retryAfterSeconds"] == 7
    assert http(sandbox, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments")[0] == 200


def test_fail_next_with_403_names_the_user_and_resource(
    sandbox: SandboxThread, core: client.CoreV1Api
) -> None:
    sandbox.faults.fail_next(resource="secrets", count=1, code=403)
    with pytest.raises(ApiException) as forbidden:
        core.list_namespaced_secret(NS)
    status = json.loads(forbidden.value.body)
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'secrets is forbidden: User "sandbox" cannot list resource "secrets" in API '
        'group "" in the namespace "default"'
    )


def test_faults_through_the_admin_path(sandbox: SandboxThread) -> None:
    code, _headers, answer = http(
        sandbox,
        "POST",
        "/sandbox/faults",
        {"action": "fail_next", "resource": "pods", "count": 1, "code": 500},
    )
    assert code == 200 and answer == {"ok": True}
    assert http(sandbox, "GET", f"/api/v1/namespaces/{NS}/pods")[0] == 500
    assert http(sandbox, "GET", f"/api/v1/namespaces/{NS}/pods")[0] == 200
    code, _headers, answer = http(sandbox, "POST", "/sandbox/faults", {"action": "explode"})
    assert code == 400 and "unknown fault action" in answer["error"]
    _code, _headers, log = http(sandbox, "GET", "/sandbox/requests")
    assert [(r["method"], r["path"], r["status"]) for r in log["requests"]] == [
        ("GET", f"/api/v1/namespaces/{NS}/pods", 500),
        ("GET", f"/api/v1/namespaces/{NS}/pods", 200),
    ]


def test_latency_delays_requests(sandbox: SandboxThread, core: client.CoreV1Api) -> None:
    sandbox.faults.latency(0.3)
    started = time.monotonic()
    core.list_namespaced_config_map(NS)
    assert time.monotonic() - started >= 0.3, "the injected delay is a lower bound, not a performance figure"
    sandbox.faults.latency(0)


def test_drop_watches_ends_open_streams(sandbox: SandboxThread, core: client.CoreV1Api) -> None:
    finished = threading.Event()
    received: list[str] = []

    def consume() -> None:
        for event in watch.Watch().stream(core.list_namespaced_config_map, NS, timeout_seconds=60):
            received.append(event["type"])
        finished.set()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    deadline = time.monotonic() + 10
    while sandbox.run(lambda api: api.store.watcher_count()) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.faults.drop_watches() == 1
    assert finished.wait(timeout=10), "the dropped watch should end the client's stream"


def test_continue_token_expires_after_compaction(sandbox: SandboxThread, core: client.CoreV1Api) -> None:
    for index in range(3):
        core.create_namespaced_config_map(NS, {"metadata": {"name": f"cm-{index}"}})
    first = core.list_namespaced_config_map(NS, limit=1)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "after-the-first-page"}})
    sandbox.faults.compact()
    with pytest.raises(ApiException) as expired:
        core.list_namespaced_config_map(NS, limit=1, _continue=first.metadata._continue)
    assert expired.value.status == 410


def test_request_log_proves_a_read_only_run_wrote_nothing(
    sandbox: SandboxThread, core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    core.list_namespace()
    apps.list_deployment_for_all_namespaces()
    core.list_namespaced_config_map(NS, label_selector="app=web")
    log = sandbox.request_log
    assert [r.method for r in log] == ["GET", "GET", "GET"]
    assert log[2].query == {"labelSelector": "app=web"} and log[2].status == 200
    assert not [r for r in log if r.is_write]

    core.create_namespaced_config_map(NS, {"metadata": {"name": "written"}}, field_manager="kubedrift")
    core.patch_namespaced_config_map("written", NS, {"data": {"k": "v"}}, field_manager="kubedrift")
    writes = [r for r in sandbox.request_log if r.is_write]
    assert [(w.method, w.path, w.query, w.status) for w in writes] == [
        ("POST", f"/api/v1/namespaces/{NS}/configmaps", {"fieldManager": "kubedrift"}, 201),
        ("PATCH", f"/api/v1/namespaces/{NS}/configmaps/written", {"fieldManager": "kubedrift"}, 200),
    ]
    assert writes[1].content_type == "application/strategic-merge-patch+json"


# ---- discovery and OpenAPI ----


def test_discovery_documents(sandbox: SandboxThread) -> None:
    code, _headers, version = http(sandbox, "GET", "/version")
    assert code == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    _code, _headers, groups = http(sandbox, "GET", "/apis")
    by_name = {g["name"]: g for g in groups["groups"]}
    assert {
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "autoscaling",
        "policy",
        "apiextensions.k8s.io",
    } <= set(by_name)
    assert all(g["preferredVersion"] in g["versions"] for g in groups["groups"])
    # HorizontalPodAutoscaler is served as autoscaling/v2 (preferred) and autoscaling/v1.
    assert [v["version"] for v in by_name["autoscaling"]["versions"]] == ["v2", "v1"]
    assert by_name["autoscaling"]["preferredVersion"]["version"] == "v2"
    _code, _headers, autoscaling_v1 = http(sandbox, "GET", "/apis/autoscaling/v1")
    assert {r["name"] for r in autoscaling_v1["resources"]} == {
        "horizontalpodautoscalers",
        "horizontalpodautoscalers/status",
    }
    _code, _headers, apps = http(sandbox, "GET", "/apis/apps/v1")
    names = {r["name"]: r for r in apps["resources"]}
    assert (
        names["deployments/scale"]["kind"] == "Scale" and names["deployments/scale"]["group"] == "autoscaling"
    )
    assert names["deployments"]["shortNames"] == ["deploy"]

    code, headers, aggregated = http(
        sandbox,
        "GET",
        "/apis",
        accept=("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"),
    )
    assert headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    assert aggregated["kind"] == "APIGroupDiscoveryList"
    apps_group = next(item for item in aggregated["items"] if item["metadata"]["name"] == "apps")
    deployments = next(r for r in apps_group["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deployments["subresources"]} == {"scale", "status"}


def test_openapi_v3_patch_operations_carry_gvk_and_field_validation(
    sandbox: SandboxThread, dynamic: DynamicClient
) -> None:
    _code, _headers, index = http(sandbox, "GET", "/openapi/v3")
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    _code, _headers, document = http(sandbox, "GET", url)
    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]

    dynamic.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition").create(
        body=crd()
    )
    _code, _headers, index = http(sandbox, "GET", "/openapi/v3")
    _code, _headers, custom = http(sandbox, "GET", index["paths"]["apis/example.com/v1"]["serverRelativeURL"])
    custom_patch = custom["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in custom_patch["requestBody"]["content"]


# ---- watchers and the in-process API ----


async def test_a_watcher_that_falls_behind_is_closed_instead_of_blocking_writes() -> None:
    async with Sandbox(config=ServerConfig(watcher_backlog=10), controllers=()) as sandbox:
        config_maps = sandbox.api.resource("v1", "ConfigMap")
        stalled = sandbox.api.watch(config_maps, NS)
        for index in range(25):
            sandbox.api.create(config_maps, NS, {"metadata": {"name": f"cm-{index}"}}, manager="test")
        assert stalled.closed and stalled.overflowed
        assert sandbox.api.store.count(config_maps.storage_key, NS) == 25


async def test_many_concurrent_watchers_all_see_every_write() -> None:
    unlimited = aiohttp.TCPConnector(limit=0)  # the default pool of 100 would be taken by the watches
    async with Sandbox(controllers=()) as sandbox, aiohttp.ClientSession(connector=unlimited) as session:
        url = (
            f"{sandbox.url}/api/v1/namespaces/{NS}/configmaps?watch=true&resourceVersion=1&timeoutSeconds=30"
        )
        responses = [await session.get(url) for _ in range(100)]
        for index in range(50):
            async with session.post(
                f"{sandbox.url}/api/v1/namespaces/{NS}/configmaps", json={"metadata": {"name": f"cm-{index}"}}
            ) as created:
                assert created.status == 201
        assert sandbox.api.store.count(("", "configmaps"), NS) == 50

        async def names_seen(response: aiohttp.ClientResponse) -> list[str]:
            seen: list[str] = []
            while len(seen) < 50:
                event = json.loads(await response.content.readline())
                seen.append(event["object"]["metadata"]["name"])
            response.close()
            return seen

        results = await asyncio.gather(*(names_seen(r) for r in responses))
        assert all(seen == [f"cm-{i}" for i in range(50)] for seen in results)


async def test_controllers_write_through_the_api_and_emit_watch_events() -> None:
    async def stamp_config_maps(api: ResourceAPI) -> None:
        config_maps = api.resource("v1", "ConfigMap")
        async for event in api.watch(config_maps):
            labels = event.new.obj["metadata"].get("labels") or {}
            if event.type == "ADDED" and "stamped" not in labels:
                api.patch(
                    config_maps,
                    event.new.namespace,
                    event.new.name,
                    "application/merge-patch+json",
                    {"metadata": {"labels": {"stamped": "yes"}}},
                    manager="stamper",
                )

    async with Sandbox(controllers=[stamp_config_maps]) as sandbox:
        config_maps = sandbox.api.resource("v1", "ConfigMap")
        observer = sandbox.api.watch(config_maps, NS)
        await asyncio.sleep(0)  # let the controller subscribe before the first write
        sandbox.api.create(
            config_maps, NS, {"metadata": {"name": "fresh"}, "data": {"k": "v"}}, manager="test"
        )
        types: list[str] = []
        async with asyncio.timeout(10):
            async for event in observer:
                types.append(event.type)
                if event.type == "MODIFIED":
                    break
        stored = sandbox.api.get(config_maps, NS, "fresh").obj
        assert types == ["ADDED", "MODIFIED"]
        assert stored["metadata"]["labels"] == {"stamped": "yes"}
        assert {e["manager"] for e in stored["metadata"]["managedFields"]} == {"test", "stamper"}


def test_sandbox_thread_writes_a_kubeconfig_named_sandbox(sandbox: SandboxThread, tmp_path: Path) -> None:
    written = yaml.safe_load(sandbox.kubeconfig(tmp_path / "config").read_text())
    assert written["current-context"] == "sandbox"
    assert written["clusters"][0] == {"name": "sandbox", "cluster": {"server": sandbox.url}}
    assert written["users"][0]["name"] == "sandbox" and written["users"][0]["user"]["token"]
    assert written["contexts"][0]["context"] == {
        "cluster": "sandbox",
        "user": "sandbox",
        "namespace": "default",
    }


def test_command_line_server_prints_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--write-kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Sandbox Kubernetes API server listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        assert str(kubeconfig) in process.stdout.readline()
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url
        with urllib.request.urlopen(f"{url}/version", timeout=10) as response:
            assert json.loads(response.read())["major"] == "1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
