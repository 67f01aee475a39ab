"""The official Python client's own end-to-end operations against the sandbox.

Shaped like the kubernetes-client/python e2e tests (`kubernetes/e2e_test`: test_client, test_apps,
test_batch, test_watch, test_utils; and the dynamic client's `kubernetes/dynamic/test_client.py`), but
written here: typed APIs for core, apps and batch; the dynamic client (custom resources with discovery
refresh, server-side apply, watch, partial object metadata); watch streams; `kubernetes.utils`'
create_from_yaml/create_from_dict/create_from_directory. Left out because they need running
containers: pod exec and its exit codes, port-forward, logs, and the metrics API.

Two more runs use the client's own test code, never copied here:
- `kubernetes/dynamic/test_client.py` ships inside the installed `kubernetes` package; it runs against a
  sandbox, less its three tests that create `apiextensions.k8s.io/v1beta1` CRDs (no longer served since
  Kubernetes 1.22, on a real cluster too).
- with KUBEDRIFT_CLIENT_E2E_DIR set to a checkout of kubernetes-client/python, its `kubernetes/e2e_test`
  modules run too (skipped otherwise: CI has no network to fetch them).
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import textwrap
import types
import unittest
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, utils, watch
from kubernetes.client import Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from sandbox.handle import SandboxThread

NS = "default"


# ---- typed APIs: core ----


def test_pod_create_read_list_patch_delete(core: client.CoreV1Api) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "busybox-test", "labels": {"run": "busybox"}},
        "spec": {
            "containers": [{"name": "busybox", "image": "busybox", "command": ["sh", "-c", "sleep 3600"]}]
        },
    }
    created = core.create_namespaced_pod(NS, pod)
    assert created.metadata.name == "busybox-test" and created.status.phase == "Pending"
    read = core.read_namespaced_pod("busybox-test", NS)
    assert read.spec.containers[0].image == "busybox"
    assert read.spec.restart_policy == "Always", "defaulted as a real server does"
    assert [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="run=busybox").items] == [
        "busybox-test"
    ]
    assert core.list_namespaced_pod(NS, label_selector="run=other").items == []
    patched = core.patch_namespaced_pod("busybox-test", NS, {"metadata": {"labels": {"tier": "test"}}})
    assert patched.metadata.labels == {"run": "busybox", "tier": "test"}
    core.delete_namespaced_pod("busybox-test", NS, body=client.V1DeleteOptions(grace_period_seconds=0))


def test_service_strategic_merge_adds_a_port(core: client.CoreV1Api) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": {"name": "frontend"}, "name": "frontend"},
        "spec": {
            "ports": [{"name": "port", "port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"name": "frontend"},
        },
    }
    created = core.create_namespaced_service(NS, manifest)
    assert created.metadata.name == "frontend" and created.status is not None
    assert core.read_namespaced_service("frontend", NS).spec.cluster_ip
    manifest["spec"]["ports"] = [{"name": "new", "port": 8080, "protocol": "TCP", "targetPort": 8080}]
    patched = core.patch_namespaced_service("frontend", NS, manifest)
    # Service ports merge by port: the patch adds one, a real server's strategic merge keeps both.
    assert sorted(p.port for p in patched.spec.ports) == [80, 8080]
    core.delete_namespaced_service("frontend", NS, body={})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_service("frontend", NS)
    assert gone.value.status == 404


def test_config_map_json_patch_merge_patch_delete(core: client.CoreV1Api) -> None:
    manifest = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "test-configmap", "labels": {"e2e-tests": "true"}},
        "data": {
            "config.json": '{"command":"/usr/bin/mysqld_safe"}',
            "frontend.cnf": "[mysqld]\nbind-address = 10.0.0.3\nport = 3306\n",
        },
    }
    assert core.create_namespaced_config_map(NS, manifest).metadata.name == "test-configmap"
    assert core.read_namespaced_config_map("test-configmap", NS).data["frontend.cnf"].endswith("3306\n")
    replaced = core.patch_namespaced_config_map(
        "test-configmap", NS, [{"op": "replace", "path": "/data", "value": {"new_value": "json_patch"}}]
    )
    assert replaced.data == {"new_value": "json_patch"}
    merged = core.patch_namespaced_config_map("test-configmap", NS, {"data": {"new_value": "merge_patch"}})
    assert merged.data == {"new_value": "merge_patch"}
    core.delete_namespaced_config_map("test-configmap", NS, body={})
    assert core.list_namespaced_config_map(NS, label_selector="e2e-tests=true").items == []


def test_replication_controller_create_read_delete(core: client.CoreV1Api) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"labels": {"name": "frontend"}, "name": "frontend"},
        "spec": {
            "replicas": 2,
            "selector": {"name": "frontend"},
            "template": {
                "metadata": {"labels": {"name": "frontend"}},
                "spec": {
                    "containers": [{"image": "nginx", "name": "nginx", "ports": [{"containerPort": 80}]}]
                },
            },
        },
    }
    created = core.create_namespaced_replication_controller(NS, manifest)
    assert created.spec.replicas == 2 and created.status.replicas == 0
    assert core.read_namespaced_replication_controller("frontend", NS).spec.replicas == 2
    core.delete_namespaced_replication_controller("frontend", NS, propagation_policy="Background")
    assert core.list_namespaced_replication_controller(NS).items == []


def test_node_read_by_name_after_list(core: client.CoreV1Api) -> None:
    core.create_node({"metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"}}})
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == ["node-a"]
    for item in nodes:
        node = core.read_node(item.metadata.name)
        assert isinstance(node.metadata.labels, dict) and len(node.metadata.labels) > 0


# ---- typed APIs: apps and batch ----


DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: nginx-deployment
    spec:
      replicas: 3
      selector:
        matchLabels:
          app: nginx
      template:
        metadata:
          labels:
            app: nginx
        spec:
          containers:
          - name: nginx
            image: nginx:1.15.4
            ports:
            - containerPort: 80
    """)


def test_deployment_create_read_replace_delete(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, yaml.safe_load(DEPLOYMENT))
    read = apps.read_namespaced_deployment("nginx-deployment", NS)
    assert read.spec.replicas == 3 and read.spec.selector.match_labels == {"app": "nginx"}
    container = read.spec.template.spec.containers[0]
    assert (container.name, container.image, container.ports[0].container_port) == (
        "nginx",
        "nginx:1.15.4",
        80,
    )
    read.spec.replicas = 1
    replaced = apps.replace_namespaced_deployment("nginx-deployment", NS, read)
    assert replaced.spec.replicas == 1 and replaced.metadata.generation == 2
    apps.delete_namespaced_deployment("nginx-deployment", NS, body=client.V1DeleteOptions())
    assert apps.list_namespaced_deployment(NS).items == []


def test_daemon_set_create_read_delete(apps: client.AppsV1Api) -> None:
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"labels": {"app": "nginx"}, "name": "nginx-app"},
        "spec": {
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}, "name": "nginx-app"},
                "spec": {"containers": [{"name": "nginx-app", "image": "nginx:1.15.4"}]},
            },
            "updateStrategy": {"type": "RollingUpdate"},
        },
    }
    apps.create_namespaced_daemon_set(NS, daemon_set)
    read = apps.read_namespaced_daemon_set("nginx-app", NS)
    assert read.spec.template.metadata.labels == {"app": "nginx"}
    assert read.spec.template.spec.containers[0].image == "nginx:1.15.4"
    assert read.spec.update_strategy.rolling_update.max_unavailable == 1, "defaulted"
    apps.delete_namespaced_daemon_set("nginx-app", NS, body=client.V1DeleteOptions())


def test_job_create_read_delete_in_the_background(api_client: client.ApiClient) -> None:
    batch = client.BatchV1Api(api_client)
    job = {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": "test-job"},
        "spec": {
            "template": {
                "metadata": {"name": "test-job"},
                "spec": {
                    "containers": [
                        {"image": "busybox", "name": "test-job", "command": ["sh", "-c", "sleep 5"]}
                    ],
                    "restartPolicy": "Never",
                },
            }
        },
    }
    assert batch.create_namespaced_job(NS, job).metadata.name == "test-job"
    read = batch.read_namespaced_job("test-job", NS)
    assert read.spec.template.spec.containers[0].command == ["sh", "-c", "sleep 5"]
    assert read.spec.template.spec.restart_policy == "Never" and read.spec.backoff_limit == 6
    deleted = batch.delete_namespaced_job("test-job", NS, body={"propagationPolicy": "Background"})
    assert isinstance(deleted, dict) and deleted["kind"] in ("Job", "Status")
    if deleted["kind"] == "Status":
        assert deleted["status"] == "Success" and deleted["details"]["name"] == "test-job"
    else:
        assert deleted["metadata"]["name"] == "test-job"


# ---- watch ----


def test_watch_from_a_list_sees_add_modify_and_both_deletes(core: client.CoreV1Api) -> None:
    def labelled(name: str, value: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"e2e-tests": "true"}},
            "data": {"key": value, "config": "dummy"},
        }

    core.create_namespaced_config_map(NS, labelled("configmap-a", "a"))
    since = core.list_namespaced_config_map(NS, label_selector="e2e-tests=true").metadata.resource_version
    second = labelled("configmap-b", "b")
    core.create_namespaced_config_map(NS, second)
    second["data"]["config"] = "{}"
    core.patch_namespaced_config_map("configmap-b", NS, second)
    core.delete_collection_namespaced_config_map(NS, label_selector="e2e-tests=true")

    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            NS,
            resource_version=since,
            timeout_seconds=1,
            label_selector="e2e-tests=true",
        )
    )
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED", "DELETED"]
    assert [e["object"].metadata.name for e in events[:2]] == ["configmap-b", "configmap-b"]
    assert {e["object"].metadata.name for e in events[2:]} == {"configmap-a", "configmap-b"}


# ---- the dynamic client ----


def custom_resource_definition(scope: str, kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.apps.example.com"},
        "spec": {
            "group": "apps.example.com",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": scope,
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                            },
                        }
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("scope", "kind", "plural"),
    [("Cluster", "ClusterChangeMe", "clusterchangemes"), ("Namespaced", "ChangeMe", "changemes")],
)
def test_custom_resources_appear_and_disappear_with_their_definition(
    dynamic: DynamicClient, scope: str, kind: str, plural: str
) -> None:
    with pytest.raises(ResourceNotFoundError):
        dynamic.resources.get(api_version="apps.example.com/v1", kind=kind)
    definitions = dynamic.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    created = definitions.create(custom_resource_definition(scope, kind, plural))
    assert created.metadata.name == f"{plural}.apps.example.com"
    assert definitions.get(name=f"{plural}.apps.example.com").status

    dynamic.resources.invalidate_cache()
    changemes = dynamic.resources.get(api_version="apps.example.com/v1", kind=kind)
    namespace = NS if scope == "Namespaced" else None
    assert changemes.get().items == []
    manifest = {
        "apiVersion": "apps.example.com/v1",
        "kind": kind,
        "metadata": {"name": "custom-resource"},
        "spec": {},
    }
    assert changemes.create(body=manifest, namespace=namespace).metadata.name == "custom-resource"
    assert changemes.get(name="custom-resource", namespace=namespace).metadata.name == "custom-resource"
    manifest["spec"]["size"] = 3
    patched = changemes.patch(body=manifest, namespace=namespace, content_type="application/merge-patch+json")
    assert patched.spec.size == 3
    assert changemes.get(name="custom-resource", namespace=namespace).spec.size == 3
    assert len(changemes.get().items) == 1
    if namespace:
        assert len(changemes.get(namespace=namespace).items) == 1
    changemes.delete(name="custom-resource", namespace=namespace)
    assert changemes.get().items == []

    definitions.delete(name=f"{plural}.apps.example.com")
    dynamic.resources.invalidate_cache()
    with pytest.raises(ResourceNotFoundError):
        dynamic.resources.get(api_version="apps.example.com/v1", kind=kind)


def test_dynamic_config_map_with_a_watch_by_name(dynamic: DynamicClient) -> None:
    config_maps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    manifest = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "test-configmap", "labels": {"e2e-test": "true"}},
        "data": {"config.json": '{"command":"/usr/bin/mysqld_safe"}'},
    }
    config_maps.create(body=manifest, namespace=NS)
    assert config_maps.get(name="test-configmap", namespace=NS).metadata.name == "test-configmap"
    events = list(dynamic.watch(config_maps, namespace=NS, name="test-configmap", timeout=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "test-configmap")]
    manifest["data"]["config.json"] = "{}"
    assert config_maps.patch(name="test-configmap", namespace=NS, body=manifest).data["config.json"] == "{}"
    config_maps.delete(name="test-configmap", namespace=NS, body={})
    assert config_maps.get(namespace=NS, pretty=True, label_selector="e2e-test=true").items == []


def test_dynamic_replication_controller_and_service(dynamic: DynamicClient) -> None:
    controllers = dynamic.resources.get(api_version="v1", kind="ReplicationController")
    manifest = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"labels": {"name": "frontend"}, "name": "frontend"},
        "spec": {
            "replicas": 2,
            "selector": {"name": "frontend"},
            "template": {
                "metadata": {"labels": {"name": "frontend"}},
                "spec": {
                    "containers": [{"image": "nginx", "name": "nginx", "ports": [{"containerPort": 80}]}]
                },
            },
        },
    }
    assert controllers.create(body=manifest, namespace=NS).spec.replicas == 2
    assert controllers.get(name="frontend", namespace=NS).spec.replicas == 2
    controllers.delete(name="frontend", namespace=NS, propagation_policy="Background")

    services = dynamic.resources.get(api_version="v1", kind="Service")
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "frontend"},
        "spec": {"ports": [{"name": "port", "port": 80, "targetPort": 80}], "selector": {"name": "frontend"}},
    }
    services.create(body=service, namespace=NS)
    service["spec"]["ports"] = [{"name": "new", "port": 8080, "targetPort": 8080}]
    assert len(services.patch(body=service, name="frontend", namespace=NS).spec.ports) == 2


def test_dynamic_partial_object_metadata(core: client.CoreV1Api, dynamic: DynamicClient) -> None:
    core.create_node({"metadata": {"name": "node-a", "labels": {"zone": "a"}}})
    nodes = dynamic.resources.get(api_version="v1", kind="Node")
    for accept in ("Accept", "aCcePt"):
        listed = nodes.get(
            header_params={accept: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}
        )
        assert (listed.kind, listed.apiVersion) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
        assert listed.items[0].kind == "PartialObjectMetadata" and listed.items[0].metadata.labels.zone == "a"
        assert "spec" not in listed.items[0].to_dict()
    one = nodes.get(
        name="node-a",
        header_params={"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"},
    )
    assert one.kind == "PartialObjectMetadata" and one.metadata.name == "node-a"


def test_dynamic_server_side_apply(dynamic: DynamicClient) -> None:
    pods = dynamic.resources.get(api_version="v1", kind="Pod")
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"name": "applied"}, "name": "applied"},
        "spec": {
            "containers": [
                {"image": "nginx", "name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
            ]
        },
    }
    dry = pods.server_side_apply(
        namespace=NS, body=manifest, field_manager="kubernetes-unittests", dry_run="All"
    )
    assert dry.metadata.managedFields[0].manager == "kubernetes-unittests"
    with pytest.raises(ApiException):
        pods.get(name="applied", namespace=NS)

    pods.server_side_apply(namespace=NS, body=manifest, field_manager="kubernetes-unittests")
    changed = {**manifest, "spec": {"containers": [{"image": "nginx:1.27", "name": "nginx"}]}}
    with pytest.raises(ApiException) as conflict:
        pods.server_side_apply(namespace=NS, body=changed, field_manager="someone-else")
    assert conflict.value.status == 409
    forced = pods.server_side_apply(
        namespace=NS, body=changed, field_manager="someone-else", force_conflicts=True
    )
    assert forced.spec.containers[0].image == "nginx:1.27"
    assert {entry.manager for entry in forced.metadata.managedFields} == {
        "kubernetes-unittests",
        "someone-else",
    }


# ---- kubernetes.utils ----

MULTI_RESOURCE = textwrap.dedent("""\
    apiVersion: v1
    kind: PodList
    items:
    - apiVersion: v1
      kind: Pod
      metadata:
        name: mock-pod-0
        labels: {app: mock-pod-0}
      spec:
        containers:
        - {name: mock-pod-0, image: busybox, command: ['sh', '-c', 'sleep 3600']}
    - apiVersion: v1
      kind: Pod
      metadata:
        name: mock-pod-1
        labels: {app: mock-pod-1}
      spec:
        containers:
        - {name: mock-pod-1, image: busybox, command: ['sh', '-c', 'sleep 3600']}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: mock
    spec:
      replicas: 2
      selector:
        matchLabels: {app: mock}
      template:
        metadata:
          labels: {app: mock}
        spec:
          containers:
          - {name: mock, image: nginx:1.15.4}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: mock
    spec:
      ports:
      - {port: 80, protocol: TCP, targetPort: 9376}
      selector: {app: mock}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata:
      name: pod-reader
    rules:
    - apiGroups: [""]
      resources: [pods]
      verbs: [get, watch, list]
    """)


@pytest.fixture
def utils_client(
    api_client: client.ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> client.ApiClient:
    """An ApiClient for kubernetes.utils, whose apply path builds a DynamicClient with the default
    discovery cache under the temp folder: point that at this test's own folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return api_client


def test_create_from_yaml_with_lists_and_several_kinds(
    utils_client: client.ApiClient, core: client.CoreV1Api, apps: client.AppsV1Api, tmp_path: Path
) -> None:
    path = tmp_path / "multi-resource.yaml"
    path.write_text(MULTI_RESOURCE)
    created = utils.create_from_yaml(utils_client, str(path))
    kinds = [obj.kind for group in created for obj in group]
    assert kinds == ["Pod", "Pod", "Deployment", "Service", "Role"]
    assert apps.read_namespaced_deployment("mock", NS).spec.replicas == 2
    assert core.read_namespaced_service("mock", NS).spec.ports[0].target_port == 9376
    assert {p.metadata.name for p in core.list_namespaced_pod(NS).items} >= {"mock-pod-0", "mock-pod-1"}
    assert client.RbacAuthorizationV1Api(utils_client).read_namespaced_role("pod-reader", NS).rules[
        0
    ].verbs == [
        "get",
        "watch",
        "list",
    ]


def test_create_from_yaml_reports_every_conflict_and_apply_is_idempotent(
    utils_client: client.ApiClient, apps: client.AppsV1Api, tmp_path: Path
) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text(DEPLOYMENT)
    utils.create_from_yaml(utils_client, str(path))
    with pytest.raises(utils.FailToCreateError) as conflicts:
        utils.create_from_yaml(utils_client, str(path))
    assert [failure.status for failure in conflicts.value.api_exceptions] == [409]
    before = apps.read_namespaced_deployment("nginx-deployment", NS).metadata.resource_version
    utils.create_from_yaml(utils_client, str(path), apply=True)
    utils.create_from_yaml(utils_client, str(path), apply=True)
    after = apps.read_namespaced_deployment("nginx-deployment", NS)
    assert after.spec.replicas == 3
    assert {e.manager for e in after.metadata.managed_fields} >= {"python-client"}
    assert int(after.metadata.resource_version) >= int(before)


def test_create_from_dict_and_directory_into_a_namespace(
    utils_client: client.ApiClient, core: client.CoreV1Api, apps: client.AppsV1Api, tmp_path: Path
) -> None:
    utils.create_from_dict(
        utils_client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dep"}}
    )
    assert core.read_namespace("dep").status.phase == "Active"
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "deployment.yaml").write_text(DEPLOYMENT)
    (folder / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n"
    )
    utils.create_from_directory(utils_client, str(folder), namespace="dep")
    assert apps.read_namespaced_deployment("nginx-deployment", "dep").metadata.namespace == "dep"
    assert core.read_namespaced_config_map("settings", "dep").data == {"a": "b"}


# ---- the client's own test code ----

# v1beta1 CustomResourceDefinitions are not served since Kubernetes 1.22 (on a real cluster either).
_V1BETA1_CRD_TESTS = {
    "test_cluster_custom_resources",
    "test_namespaced_custom_resources",
    "test_async_namespaced_custom_resources",
}


@pytest.fixture
def e2e_base(
    sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[types.ModuleType]:
    """`kubernetes.e2e_test.base` pointing at the sandbox: the client's tests take their
    configuration from its get_e2e_configuration()."""
    base = types.ModuleType("kubernetes.e2e_test.base")
    base.get_e2e_configuration = lambda: Configuration(host=sandbox.url)  # type: ignore[attr-defined]
    package = types.ModuleType("kubernetes.e2e_test")
    package.base = base  # type: ignore[attr-defined]
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "kubernetes.e2e_test", package)
    monkeypatch.setitem(sys.modules, "kubernetes.e2e_test.base", base)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield package


def _run(suite: unittest.TestSuite, skipped: set[str]) -> unittest.TestResult:
    kept = unittest.TestSuite()
    stack: list[Any] = [suite]
    while stack:
        item = stack.pop()
        if isinstance(item, unittest.TestSuite):
            stack.extend(reversed(list(item)))
        elif getattr(item, "_testMethodName", "") not in skipped:
            kept.addTest(item)
    result = unittest.TestResult()
    kept.run(result)
    return result


def _problems(result: unittest.TestResult) -> list[str]:
    """Each failed test with the line of its traceback that names the error."""
    found = []
    for test, trace in result.failures + result.errors:
        lines = [line for line in trace.splitlines() if "Error" in line or "assert" in line.lower()]
        found.append(f"{getattr(test, '_testMethodName', test)}: {(lines or ['?'])[-1].strip()}")
    return found


@pytest.mark.slow
def test_the_installed_clients_own_dynamic_client_tests_pass(e2e_base: types.ModuleType) -> None:
    try:
        module = importlib.import_module("kubernetes.dynamic.test_client")
    except ImportError as error:
        pytest.skip(f"this kubernetes package ships no dynamic client tests: {error}")
    module = importlib.reload(module)
    result = _run(unittest.defaultTestLoader.loadTestsFromModule(module), _V1BETA1_CRD_TESTS)
    assert not _problems(result)
    assert result.testsRun >= 8


# Tests of kubernetes/e2e_test that need running containers (exec, port-forward) or a metrics server,
# or a proxy with TLS.
_CONTAINER_TESTS = {
    "test_pod_apis",
    "test_pod_exec_close_channel",
    "test_exit_code",
    "test_portforward_raw",
    "test_portforward_http",
    "test_metrics_utilities_integration",
}


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("KUBEDRIFT_CLIENT_E2E_DIR"),
    reason="set KUBEDRIFT_CLIENT_E2E_DIR to a kubernetes-client/python checkout to run its e2e tests",
)
def test_a_checkout_of_the_clients_e2e_tests_passes(
    e2e_base: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = Path(os.environ["KUBEDRIFT_CLIENT_E2E_DIR"])
    e2e_base.__path__ = [str(checkout / "kubernetes" / "e2e_test")]
    monkeypatch.chdir(checkout)  # test_utils reads its YAML relative to the checkout
    suite = unittest.TestSuite()
    for name in ("test_apps", "test_batch", "test_watch", "test_informer", "test_utils", "test_client"):
        monkeypatch.delitem(sys.modules, f"kubernetes.e2e_test.{name}", raising=False)
        suite.addTests(
            unittest.defaultTestLoader.loadTestsFromModule(
                importlib.import_module(f"kubernetes.e2e_test.{name}")
            )
        )
    result = _run(suite, _CONTAINER_TESTS)
    assert not _problems(result)
