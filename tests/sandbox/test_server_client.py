"""The official kubernetes client (typed and dynamic) against the sandbox, as against a small cluster."""

from __future__ import annotations

import base64
import ipaddress
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError

from sandbox.handle import SandboxThread

NS = "default"


def deployment(name: str = "web", replicas: int = 2, image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def config_map(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data,
    }


def raw(
    sandbox: SandboxThread,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        sandbox.url + path,
        data=body,
        method=method,
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def status_of(error: ApiException) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(error.body)
    return parsed


# ---- CRUD ----


def test_typed_config_map_crud(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(NS, config_map("settings", mode="dev"))
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    assert int(created.metadata.resource_version) > 0

    read = core.read_namespaced_config_map("settings", NS)
    assert read.data == {"mode": "dev"}

    read.data["mode"] = "prod"
    replaced = core.replace_namespaced_config_map("settings", NS, read)
    assert replaced.data == {"mode": "prod"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.uid == created.metadata.uid

    names = [item.metadata.name for item in core.list_namespaced_config_map(NS).items]
    assert names == ["settings"]

    deleted = core.delete_namespaced_config_map("settings", NS)
    assert deleted["status"] == "Success" and deleted["details"]["name"] == "settings"
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("settings", NS)
    assert missing.value.status == 404


def test_dynamic_client_discovers_and_round_trips_a_deployment(dynamic: DynamicClient) -> None:
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments"

    created = deployments.create(body=deployment())
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revisionHistoryLimit == 10
    container = created.spec.template.spec.containers[0]
    assert container.imagePullPolicy == "IfNotPresent"
    assert container.terminationMessagePath == "/dev/termination-log"
    assert created.to_dict()["status"] == {}

    body = created.to_dict()
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    changed = deployments.replace(body=body, namespace=NS)
    assert changed.metadata.generation == 2

    body = changed.to_dict()
    body["metadata"]["labels"] = {"tier": "front"}
    relabelled = deployments.replace(body=body, namespace=NS)
    assert relabelled.metadata.generation == 2, "a label change is not a spec change"
    assert relabelled.to_dict()["metadata"]["labels"] == {"tier": "front"}


def test_list_items_carry_no_kind_as_on_a_real_server(sandbox: SandboxThread, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, config_map("a"))
    status, listed = raw(sandbox, "GET", f"/api/v1/namespaces/{NS}/configmaps")
    assert status == 200 and listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert "kind" not in listed["items"][0] and listed["items"][0]["metadata"]["name"] == "a"


# ---- patches ----


def test_every_patch_type_through_the_typed_client(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment())

    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}}
    merged = apps.patch_namespaced_deployment("web", NS, sidecar)
    # As in apimachinery's mergeSortedSlice, an element only the patch has goes before the live ones.
    assert [c.name for c in merged.spec.template.spec.containers] == ["sidecar", "web"]

    replaced = apps.patch_namespaced_deployment(
        "web", NS, sidecar, _content_type="application/merge-patch+json"
    )
    assert [c.name for c in replaced.spec.template.spec.containers] == ["sidecar"], (
        "a JSON merge patch replaces lists whole"
    )

    patched = apps.patch_namespaced_deployment(
        "web", NS, [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    )
    assert patched.spec.replicas == 4

    with pytest.raises(ApiException) as failed_test:
        apps.patch_namespaced_deployment("web", NS, [{"op": "test", "path": "/spec/replicas", "value": 9}])
    assert failed_test.value.status == 422

    deleted_key = core.create_namespaced_config_map(NS, config_map("c", a="1", b="2"))
    assert deleted_key.data == {"a": "1", "b": "2"}
    without_a = core.patch_namespaced_config_map(
        "c", NS, {"data": {"a": None}}, _content_type="application/merge-patch+json"
    )
    assert without_a.data == {"b": "2"}


def test_strategic_merge_patch_deletes_a_container_by_its_merge_key(dynamic: DynamicClient) -> None:
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    body = deployment()
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    deployments.create(body=body)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}],
                    "containers": [{"$patch": "delete", "name": "sidecar"}],
                }
            }
        }
    }
    patched = deployments.patch(name="web", namespace=NS, body=patch)
    assert [c.name for c in patched.spec.template.spec.containers] == ["web"]


# ---- server-side apply ----


def test_server_side_apply_conflicts_then_force(dynamic: DynamicClient) -> None:
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    created = deployments.server_side_apply(body=deployment(replicas=2), field_manager="alice")
    assert created.spec.replicas == 2
    managers = {(e["manager"], e["operation"]) for e in created.to_dict()["metadata"]["managedFields"]}
    assert ("alice", "Apply") in managers

    with pytest.raises(ConflictError) as conflict:
        deployments.server_side_apply(body=deployment(replicas=3), field_manager="bob")
    body = json.loads(conflict.value.body)
    assert body["reason"] == "Conflict" and body["code"] == 409
    assert 'conflict with "alice"' in body["message"] and ".spec.replicas" in body["message"]

    forced = deployments.server_side_apply(
        body=deployment(replicas=3), field_manager="bob", force_conflicts=True
    )
    assert forced.spec.replicas == 3
    entries = forced.to_dict()["metadata"]["managedFields"]
    owners = {e["manager"]: e["fieldsV1"] for e in entries if e["operation"] == "Apply"}
    assert "f:replicas" in owners["bob"]["f:spec"]
    assert "f:replicas" not in owners["alice"].get("f:spec", {})


def test_server_side_apply_removes_a_field_its_only_owner_stops_applying(dynamic: DynamicClient) -> None:
    config_maps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    config_maps.server_side_apply(
        body={**config_map("app", keep="1", drop="2"), "metadata": {"name": "app", "namespace": NS}},
        field_manager="gitops",
    )
    again = config_maps.server_side_apply(
        body={**config_map("app", keep="1"), "metadata": {"name": "app", "namespace": NS}},
        field_manager="gitops",
    )
    assert again.to_dict()["data"] == {"keep": "1"}


def test_apply_of_the_same_configuration_is_a_no_op(dynamic: DynamicClient) -> None:
    config_maps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    applied = {**config_map("same", a="1"), "metadata": {"name": "same", "namespace": NS}}
    first = config_maps.server_side_apply(body=applied, field_manager="gitops")
    second = config_maps.server_side_apply(body=applied, field_manager="gitops")
    assert second.metadata.resourceVersion == first.metadata.resourceVersion


# ---- dry run ----


def test_dry_run_changes_nothing_and_emits_no_watch_event(
    sandbox: SandboxThread, core: client.CoreV1Api, dynamic: DynamicClient
) -> None:
    core.create_namespaced_config_map(NS, config_map("kept", v="1"))
    listed = core.list_namespaced_config_map(NS)
    before = listed.metadata.resource_version

    dry_created = core.create_namespaced_config_map(NS, config_map("ghost", v="1"), dry_run="All")
    assert dry_created.metadata.name == "ghost" and dry_created.metadata.uid
    core.patch_namespaced_config_map("kept", NS, {"data": {"v": "2"}}, dry_run="All")
    config_maps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    config_maps.server_side_apply(
        body={**config_map("kept", v="3"), "metadata": {"name": "kept", "namespace": NS}},
        field_manager="x",
        force_conflicts=True,
        dry_run="All",
    )
    core.delete_namespaced_config_map("kept", NS, dry_run="All")

    assert core.read_namespaced_config_map("kept", NS).data == {"v": "1"}
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("ghost", NS)
    assert missing.value.status == 404
    assert core.list_namespaced_config_map(NS).metadata.resource_version == before
    events = list(
        watch.Watch().stream(core.list_namespaced_config_map, NS, resource_version=before, timeout_seconds=1)
    )
    assert events == []


# ---- watch ----


def test_watch_from_a_list_resource_version_sends_only_newer_events(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, config_map("old"))
    since = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, config_map("new"))
    core.patch_namespaced_config_map("new", NS, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("old", NS)

    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, NS, resource_version=since, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "old")]


def test_watch_without_resource_version_starts_with_synthetic_added_events(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, config_map("one"))
    core.create_namespaced_config_map(NS, config_map("two"))
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(core.list_namespaced_config_map, NS, timeout_seconds=1)
    ]
    assert seen == [("ADDED", "one"), ("ADDED", "two")]


def test_watch_sends_bookmarks_when_allowed(core: client.CoreV1Api) -> None:
    since = core.list_namespaced_config_map(NS).metadata.resource_version
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            NS,
            resource_version=since,
            allow_watch_bookmarks=True,
            timeout_seconds=1,
        )
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, "expected at least one BOOKMARK within the watch"
    assert int(bookmarks[0]["raw_object"]["metadata"]["resourceVersion"]) >= int(since)
    plain = list(
        watch.Watch().stream(core.list_namespaced_config_map, NS, resource_version=since, timeout_seconds=1)
    )
    assert plain == []


def test_watch_from_a_compacted_resource_version_gets_410(
    sandbox: SandboxThread, core: client.CoreV1Api
) -> None:
    since = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, config_map("later"))
    sandbox.faults.compact()
    with pytest.raises(ApiException) as gone:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map, NS, resource_version=since, timeout_seconds=2
            )
        )
    assert gone.value.status == 410
    assert "too old resource version" in str(gone.value.reason)


def test_watch_with_a_label_selector_sees_objects_enter_and_leave(core: client.CoreV1Api) -> None:
    since = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, config_map("cm", labels={"app": "other"}))
    core.patch_namespaced_config_map("cm", NS, {"metadata": {"labels": {"app": "web"}}})
    core.patch_namespaced_config_map("cm", NS, {"data": {"x": "1"}})
    core.patch_namespaced_config_map("cm", NS, {"metadata": {"labels": {"app": "other"}}})
    seen = [
        e["type"]
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            NS,
            resource_version=since,
            label_selector="app=web",
            timeout_seconds=1,
        )
    ]
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


# ---- selectors and pagination ----


def test_label_and_field_selectors(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map(NS, config_map("a", labels={"app": "web", "tier": "front"}))
    core.create_namespaced_config_map(NS, config_map("b", labels={"app": "db"}))
    core.create_namespaced_config_map(NS, config_map("c"))
    core.create_namespaced_config_map("other", config_map("d", labels={"app": "web"}))

    def names(**kwargs: Any) -> list[str]:
        return [i.metadata.name for i in core.list_config_map_for_all_namespaces(**kwargs).items]

    assert names(label_selector="app=web") == ["a", "d"]
    assert names(label_selector="app!=web") == ["b", "c"]
    assert names(label_selector="app in (web,db),tier notin (back)") == ["a", "b", "d"]
    assert names(label_selector="!app") == ["c"]
    assert names(label_selector="tier") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace=other") == ["d"]
    assert names(field_selector="metadata.namespace!=other", label_selector="app") == ["a", "b"]
    with pytest.raises(ApiException) as unknown:
        names(field_selector="spec.foo=bar")
    assert unknown.value.status == 400
    with pytest.raises(ApiException) as malformed:
        names(label_selector="app in (web")
    assert malformed.value.status == 400


def test_pagination_with_limit_and_continue(core: client.CoreV1Api) -> None:
    for index in range(7):
        core.create_namespaced_config_map(NS, config_map(f"cm-{index}"))
    first = core.list_namespaced_config_map(NS, limit=3)
    assert [i.metadata.name for i in first.items] == ["cm-0", "cm-1", "cm-2"]
    assert first.metadata._continue and first.metadata.remaining_item_count == 4
    second = core.list_namespaced_config_map(NS, limit=3, _continue=first.metadata._continue)
    third = core.list_namespaced_config_map(NS, limit=3, _continue=second.metadata._continue)
    assert [i.metadata.name for i in second.items] == ["cm-3", "cm-4", "cm-5"]
    assert [i.metadata.name for i in third.items] == ["cm-6"]
    assert not third.metadata._continue
    assert second.metadata.resource_version == first.metadata.resource_version


# ---- errors as Status objects ----


def test_not_found_errors(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", NS)
    status = status_of(missing.value)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
    assert status["message"] == 'configmaps "nope" not found'

    with pytest.raises(ApiException) as no_namespace:
        core.create_namespaced_config_map("absent", config_map("x"))
    assert no_namespace.value.status == 404
    assert status_of(no_namespace.value)["message"] == 'namespaces "absent" not found'


def test_conflict_errors(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, config_map("dup"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map(NS, config_map("dup"))
    assert (exists.value.status, status_of(exists.value)["reason"]) == (409, "AlreadyExists")

    stale = core.read_namespaced_config_map("dup", NS)
    core.patch_namespaced_config_map("dup", NS, {"data": {"v": "1"}})
    stale.data = {"v": "2"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("dup", NS, stale)
    status = status_of(conflict.value)
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]


def test_invalid_object_is_422_with_field_causes(apps: client.AppsV1Api) -> None:
    broken = deployment()
    del broken["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(ApiException) as invalid:
        apps.create_namespaced_deployment(NS, broken)
    status = status_of(invalid.value)
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert status["message"].startswith('Deployment.apps "web" is invalid')
    fields = [cause["field"] for cause in status["details"]["causes"]]
    assert "spec.template.spec.containers[0].image" in fields


def test_malformed_body_and_kind_mismatch_are_400(sandbox: SandboxThread) -> None:
    code, status = raw(sandbox, "POST", f"/api/v1/namespaces/{NS}/configmaps", b"{not json")
    assert (code, status["reason"]) == (400, "BadRequest")

    secret = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}).encode()
    code, status = raw(sandbox, "POST", f"/api/v1/namespaces/{NS}/configmaps", secret)
    assert (code, status["reason"]) == (400, "BadRequest")
    assert "cannot be handled as a ConfigMap" in status["message"]

    wrong_group = json.dumps(
        {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    ).encode()
    code, status = raw(sandbox, "POST", f"/api/v1/namespaces/{NS}/configmaps", wrong_group)
    assert code == 400 and "does not match the expected API version" in status["message"]


# ---- server behaviour ----


def test_secret_string_data_is_folded_into_data(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret(NS, {"metadata": {"name": "creds"}, "stringData": {"password": "s3cret"}})
    stored = core.read_namespaced_secret("creds", NS)
    assert stored.data == {"password": base64.b64encode(b"s3cret").decode()}
    assert stored.string_data is None and stored.type == "Opaque"


def test_service_gets_a_cluster_ip_and_defaults(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_service(
        NS, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    )
    second = core.create_namespaced_service(
        NS, {"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}, "ports": [{"port": 8080}]}}
    )
    assert ipaddress.ip_address(first.spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
    assert first.spec.cluster_ip != second.spec.cluster_ip
    assert first.spec.cluster_ips == [first.spec.cluster_ip]
    assert first.spec.type == "ClusterIP" and first.spec.session_affinity == "None"
    port = first.spec.ports[0]
    assert (port.protocol, port.target_port) == ("TCP", 80)


def test_scale_subresource_answers_an_autoscaling_scale(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=2))
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert (scale.kind, scale.api_version, scale.spec.replicas) == ("Scale", "autoscaling/v1", 2)
    assert scale.status.selector == "app=web"
    patched = apps.patch_namespaced_deployment_scale(
        "web", NS, {"spec": {"replicas": 5}}, _content_type="application/merge-patch+json"
    )
    assert patched.spec.replicas == 5
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 5


def test_quantities_are_stored_in_canonical_form(apps: client.AppsV1Api) -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "0.5", "memory": "1.5Gi"},
        "limits": {"cpu": "1000m"},
    }
    created = apps.create_namespaced_deployment(NS, body)
    resources = created.spec.template.spec.containers[0].resources
    assert resources.requests == {"cpu": "500m", "memory": "1536Mi"}
    assert resources.limits == {"cpu": "1"}


def test_unknown_fields_are_dropped_with_a_warning_or_refused_when_strict(sandbox: SandboxThread) -> None:
    body = deployment()
    body["spec"]["replica"] = 3
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    request = urllib.request.Request(
        f"{sandbox.url}/apis/apps/v1/namespaces/{NS}/deployments",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        created = json.loads(response.read())
        warnings = response.headers.get_all("Warning")
    assert "replica" not in created["spec"]
    assert "imagePullPolicyy" not in created["spec"]["template"]["spec"]["containers"][0]
    assert sorted(warnings) == [
        '299 - "unknown field \\"spec.replica\\""',
        '299 - "unknown field \\"spec.template.spec.containers[0].imagePullPolicyy\\""',
    ]

    body["metadata"]["name"] = "strict"
    code, status = raw(
        sandbox,
        "POST",
        f"/apis/apps/v1/namespaces/{NS}/deployments?fieldValidation=Strict",
        json.dumps(body).encode(),
    )
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"].startswith("strict decoding error: ")
    assert 'unknown field "spec.replica"' in status["message"]


def test_server_side_apply_refuses_undeclared_fields(dynamic: DynamicClient) -> None:
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    body = deployment()
    body["spec"]["replica"] = 3
    with pytest.raises(ApiException) as refused:
        deployments.server_side_apply(body=body, field_manager="gitops")
    assert refused.value.status == 500
    assert ".spec.replica: field not declared in schema" in json.loads(refused.value.body)["message"]


def test_watch_list_sends_initial_events_then_a_bookmark(
    sandbox: SandboxThread, core: client.CoreV1Api
) -> None:
    core.create_namespaced_config_map(NS, config_map("present"))
    query = (
        "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        "&timeoutSeconds=1"
    )
    with urllib.request.urlopen(
        f"{sandbox.url}/api/v1/namespaces/{NS}/configmaps?{query}", timeout=10
    ) as stream:
        events = [json.loads(line) for line in stream.read().splitlines() if line.strip()]
    assert (events[0]["type"], events[0]["object"]["metadata"]["name"]) == ("ADDED", "present")
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_secret_data_must_be_base64(sandbox: SandboxThread) -> None:
    body = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}}
    )
    code, status = raw(sandbox, "POST", f"/api/v1/namespaces/{NS}/secrets", body.encode())
    assert (code, status["reason"]) == (400, "BadRequest")
    assert "illegal base64 data at input byte 3" in status["message"]


def test_a_job_gets_its_selector_at_create_and_stays_updatable(api_client: client.ApiClient) -> None:
    batch = client.BatchV1Api(api_client)
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    created = batch.create_namespaced_job(NS, {"metadata": {"name": "once"}, "spec": {"template": pod}})
    uid = created.metadata.uid
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert created.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "once"
    suspended = batch.patch_namespaced_job("once", NS, {"spec": {"suspend": True}})
    assert suspended.spec.suspend is True and suspended.metadata.generation == 2


def test_an_unlabelled_job_shares_its_template_labels_and_a_labelled_one_keeps_its_own(
    api_client: client.ApiClient,
) -> None:
    batch = client.BatchV1Api(api_client)
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    bare = batch.create_namespaced_job(NS, {"metadata": {"name": "bare"}, "spec": {"template": pod}})
    uid = bare.metadata.uid
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "bare",
        "controller-uid": uid,
        "job-name": "bare",
    }
    assert bare.spec.template.metadata.labels == generated
    assert bare.metadata.labels == generated, "SetDefaults_Job hands the Job its template's labels"
    with_template_labels = {"metadata": {"labels": {"app": "batch"}}, **pod}
    shared = batch.create_namespaced_job(
        NS, {"metadata": {"name": "shared"}, "spec": {"template": with_template_labels}}
    )
    assert shared.metadata.labels == shared.spec.template.metadata.labels
    assert shared.metadata.labels["app"] == "batch"
    assert shared.metadata.labels["job-name"] == "shared"
    own = batch.create_namespaced_job(
        NS,
        {"metadata": {"name": "own", "labels": {"app": "batch"}}, "spec": {"template": with_template_labels}},
    )
    assert own.metadata.labels == {"app": "batch"}
    assert own.spec.template.metadata.labels["job-name"] == "own"
    # Updates of a Job with a generated selector go through (no manualSelector needed).
    resumed = batch.patch_namespaced_job("shared", NS, {"spec": {"suspend": True}})
    assert resumed.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": shared.metadata.uid}
    assert resumed.metadata.labels == shared.metadata.labels


# ---- status writes and the statuses Go always writes ----


def test_a_deployment_status_write_keeps_annotations_but_not_labels_or_spec(
    sandbox: SandboxThread, apps: client.AppsV1Api
) -> None:
    body = deployment()
    body["metadata"]["labels"] = {"tier": "web"}
    apps.create_namespaced_deployment(NS, body)
    _code, current = raw(sandbox, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web")
    current["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    current["metadata"]["labels"] = {"tier": "changed"}
    current["spec"]["replicas"] = 7
    current["status"] = {"observedGeneration": 1, "replicas": 0}
    written = apps.replace_namespaced_deployment_status("web", NS, current, field_manager="controller")
    assert written.metadata.annotations == {"deployment.kubernetes.io/revision": "1"}
    assert written.metadata.labels == {"tier": "web"}, "deploymentStatusStrategy keeps the old labels"
    assert written.spec.replicas == 2 and written.status.observed_generation == 1
    assert written.metadata.generation == 1, "a status write never moves the generation"
    (entry,) = [m for m in written.metadata.managed_fields if m.manager == "controller"]
    assert entry.subresource == "status"
    assert entry.fields_v1["f:metadata"] == {
        "f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}
    }
    assert apps.read_namespaced_deployment("web", NS).metadata.annotations == written.metadata.annotations


def test_status_writes_of_replicasets_and_pods_keep_their_metadata_changes(
    sandbox: SandboxThread, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    rs = deployment("rs")
    rs["kind"] = "ReplicaSet"
    apps.create_namespaced_replica_set(NS, rs)
    patched = apps.patch_namespaced_replica_set_status(
        "rs",
        NS,
        {"metadata": {"labels": {"seen": "yes"}}, "spec": {"replicas": 9}, "status": {"replicas": 1}},
    )
    assert patched.metadata.labels == {"seen": "yes"}, "the ReplicaSet status strategy resets only spec"
    assert (patched.spec.replicas, patched.status.replicas) == (2, 1)

    owner = core.create_namespaced_config_map(NS, config_map("owner"))
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_pod(
        NS,
        {
            "metadata": {"name": "p", "ownerReferences": [reference]},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
        },
    )
    _code, pod = raw(sandbox, "GET", f"/api/v1/namespaces/{NS}/pods/p")
    pod["metadata"]["labels"] = {"node": "seen"}
    pod["metadata"]["ownerReferences"] = []
    pod["status"] = {"phase": "Running"}
    written = core.replace_namespaced_pod_status("p", NS, pod)
    assert written.metadata.labels == {"node": "seen"}
    assert [r.uid for r in written.metadata.owner_references] == [owner.metadata.uid]
    assert (written.status.phase, written.status.qos_class) == ("Running", "BestEffort")


def test_new_workloads_carry_the_status_fields_go_always_writes(
    sandbox: SandboxThread, api_client: client.ApiClient, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    """The typed client's models require these counters: creates must come back parseable."""
    rs = deployment("rs")
    rs["kind"] = "ReplicaSet"
    assert apps.create_namespaced_replica_set(NS, rs).status.replicas == 0
    sts = deployment("sts")
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "sts"
    created_sts = apps.create_namespaced_stateful_set(NS, sts)
    assert (created_sts.status.replicas, created_sts.status.available_replicas) == (0, 0)
    ds = deployment("ds")
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    ds_status = apps.create_namespaced_daemon_set(NS, ds).status
    assert (
        ds_status.current_number_scheduled,
        ds_status.number_misscheduled,
        ds_status.desired_number_scheduled,
        ds_status.number_ready,
    ) == (0, 0, 0, 0)
    pdb = client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(
        NS,
        {"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}}},
    )
    assert (pdb.status.disruptions_allowed, pdb.status.expected_pods) == (0, 0)
    hpa = client.AutoscalingV2Api(api_client).create_namespaced_horizontal_pod_autoscaler(
        NS,
        {
            "metadata": {"name": "hpa"},
            "spec": {
                "maxReplicas": 3,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            },
        },
    )
    assert hpa.status.desired_replicas == 0
    claim = core.create_namespaced_persistent_volume_claim(
        NS,
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    assert claim.status.phase == "Pending"
    # The exact JSON: zero counters present, all-omitempty statuses empty.
    expected = {
        "apps/v1/namespaces/default/replicasets/rs": {"replicas": 0},
        "apps/v1/namespaces/default/statefulsets/sts": {"replicas": 0, "availableReplicas": 0},
        "autoscaling/v2/namespaces/default/horizontalpodautoscalers/hpa": {"desiredReplicas": 0},
    }
    for path, status in expected.items():
        assert raw(sandbox, "GET", f"/apis/{path}")[1]["status"] == status
    apps.create_namespaced_deployment(NS, deployment())
    assert raw(sandbox, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web")[1]["status"] == {}
    # A status write that leaves the counters out gets them back as zero, as Go decoding does.
    path = f"/apis/apps/v1/namespaces/{NS}/replicasets/rs"
    without_counters = {**raw(sandbox, "GET", path)[1], "status": {}}
    code, written = raw(sandbox, "PUT", f"{path}/status", json.dumps(without_counters).encode())
    assert (code, written["status"]) == (200, {"replicas": 0})


def test_a_service_account_subject_has_no_api_group(sandbox: SandboxThread) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "default", "namespace": NS, "apiGroup": ""},
            {"kind": "Group", "name": "devs"},
        ],
    }
    path = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings"
    code, created = raw(sandbox, "POST", path, json.dumps(binding).encode())
    assert code == 201
    assert created["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert created["subjects"] == [
        {"kind": "ServiceAccount", "name": "default", "namespace": NS},
        {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"},
    ]


# ---- autoscaling/v1 ----


def test_autoscaling_v1_is_a_view_of_the_stored_v2_autoscaler(
    sandbox: SandboxThread, api_client: client.ApiClient
) -> None:
    v1 = client.AutoscalingV1Api(api_client)
    v2 = client.AutoscalingV2Api(api_client)
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    created = v1.create_namespaced_horizontal_pod_autoscaler(
        NS,
        {
            "metadata": {"name": "web"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": target, "targetCPUUtilizationPercentage": 70},
        },
    )
    assert (created.spec.min_replicas, created.spec.target_cpu_utilization_percentage) == (1, 70)
    assert (created.status.current_replicas, created.status.desired_replicas) == (0, 0)
    code, stored = raw(sandbox, "GET", f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/web")
    assert code == 200 and stored["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
        }
    ]
    assert stored["status"] == {"desiredReplicas": 0}, "v2 omits a zero currentReplicas"
    # A v2-only metric survives a v1 write, as the real annotations round trip keeps it.
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
    }
    v2.patch_namespaced_horizontal_pod_autoscaler(
        "web", NS, [{"op": "add", "path": "/spec/metrics/-", "value": memory}]
    )
    patched = v1.patch_namespaced_horizontal_pod_autoscaler(
        "web", NS, {"spec": {"targetCPUUtilizationPercentage": 50}}
    )
    assert patched.spec.target_cpu_utilization_percentage == 50
    metrics = v2.read_namespaced_horizontal_pod_autoscaler("web", NS).spec.metrics
    assert [(m.resource.name, m.resource.target.average_utilization) for m in metrics] == [
        ("cpu", 50),
        ("memory", None),
    ]
    status = v1.patch_namespaced_horizontal_pod_autoscaler_status(
        "web",
        NS,
        {"status": {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 40}},
    ).status
    assert (status.current_replicas, status.desired_replicas, status.current_cpu_utilization_percentage) == (
        2,
        3,
        40,
    )
    (current,) = v2.read_namespaced_horizontal_pod_autoscaler("web", NS).status.current_metrics
    assert (current.resource.name, current.resource.current.average_utilization) == ("cpu", 40)
    listed = v1.list_namespaced_horizontal_pod_autoscaler(NS)
    assert [h.spec.target_cpu_utilization_percentage for h in listed.items] == [50]
