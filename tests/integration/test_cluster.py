"""The cluster adapter through the official client against the sandbox: discovery, reads, writes, faults."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

import core.cluster as cluster_module
from core.cluster import ApiError, ClusterAdapter, ClusterError, ReadOnlyError
from core.kubeconfig import ClusterConfigError, load_kubeconfig
from core.model import Destination
from sandbox.handle import SandboxThread


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def test_discovery_knows_scope_versions_and_verbs(adapter: ClusterAdapter) -> None:
    discovery = adapter.discover()
    deployment = discovery.by_kind[("apps", "Deployment")]
    assert (deployment.version, deployment.plural, deployment.namespaced) == ("v1", "deployments", True)
    assert deployment.watchable and "patch" in deployment.verbs
    assert discovery.by_kind[("", "Namespace")].namespaced is False
    table = discovery.kind_table()
    assert table.is_namespaced("", "ConfigMap") is True
    assert table.is_namespaced("rbac.authorization.k8s.io", "ClusterRole") is False


def test_apply_creates_then_reports_the_stored_object(adapter: ClusterAdapter) -> None:
    stored = adapter.apply(configmap("web", LOG="info"))
    assert stored["data"] == {"LOG": "info"}
    entries = stored["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"]) for e in entries] == [("kubedrift", "Apply")]
    resource = adapter.resource_for("", "ConfigMap")
    assert adapter.get(resource, "default", "web") is not None


def test_dry_run_apply_writes_nothing(adapter: ClusterAdapter) -> None:
    would = adapter.apply(configmap("ghost", A="1"), dry_run=True)
    assert would["metadata"]["name"] == "ghost"
    assert adapter.get(adapter.resource_for("", "ConfigMap"), "default", "ghost") is None


def test_list_pages_through_continue_tokens(adapter: ClusterAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(7):
        adapter.apply(configmap(f"cm-{index}"))
    monkeypatch.setattr(cluster_module, "LIST_PAGE_SIZE", 2)
    items, version = adapter.list(adapter.resource_for("", "ConfigMap"), "default")
    assert sorted(item["metadata"]["name"] for item in items) == [f"cm-{i}" for i in range(7)]
    assert all(item["kind"] == "ConfigMap" and item["apiVersion"] == "v1" for item in items)
    assert version.isdigit()


def test_watch_from_a_list_sees_only_newer_changes_and_bookmarks(adapter: ClusterAdapter) -> None:
    resource = adapter.resource_for("", "ConfigMap")
    adapter.apply(configmap("before"))
    _, version = adapter.list(resource, "default")
    adapter.apply(configmap("after", X="1"))
    events = adapter.watch(resource, version, namespace="default", timeout_seconds=2)
    first = next(events)
    events.close()
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "after")


def test_watch_from_a_compacted_version_raises_410(adapter: ClusterAdapter, sandbox: SandboxThread) -> None:
    resource = adapter.resource_for("", "ConfigMap")
    adapter.apply(configmap("a"))
    _, version = adapter.list(resource)
    adapter.apply(configmap("b"))
    sandbox.faults.compact()
    with pytest.raises(ApiError) as raised:
        next(adapter.watch(resource, version, timeout_seconds=2))
    assert raised.value.code == 410


def test_delete_with_propagation_and_missing_object(adapter: ClusterAdapter, sandbox: SandboxThread) -> None:
    adapter.apply(configmap("doomed"))
    adapter.apply(configmap("waits-for-dependents"))
    resource = adapter.resource_for("", "ConfigMap")
    assert adapter.delete(resource, "default", "doomed", propagation="Background") is not None
    assert adapter.get(resource, "default", "doomed") is None
    assert adapter.delete(resource, "default", "doomed") is None
    # Foreground deletion marks the object until the garbage collector (not running here) clears it.
    adapter.delete(resource, "default", "waits-for-dependents")
    marked = adapter.get(resource, "default", "waits-for-dependents")
    assert marked is not None and marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    deletes = [r for r in sandbox.request_log if r.method == "DELETE"]
    assert deletes and all(r.status in (200, 202, 404) for r in deletes)


def test_read_only_refuses_before_any_request(
    read_only_adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    resource = read_only_adapter.resource_for("", "ConfigMap")
    sandbox.faults.clear_request_log()
    with pytest.raises(ReadOnlyError, match="read-only"):
        read_only_adapter.apply(configmap("nope"))
    with pytest.raises(ReadOnlyError):
        read_only_adapter.delete(resource, "default", "anything")
    with pytest.raises(ReadOnlyError):
        read_only_adapter.apply(configmap("nope"), dry_run=True)
    with pytest.raises(ReadOnlyError):
        read_only_adapter.json_patch(resource, "default", "anything", [{"op": "remove", "path": "/data"}])
    assert sandbox.request_log == []
    read_only_adapter.list(resource)  # reads still work
    assert {r.method for r in sandbox.request_log} == {"GET"}


@pytest.mark.parametrize("code", [500, 429])
def test_server_errors_and_throttling_are_retried(
    adapter: ClusterAdapter, sandbox: SandboxThread, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    adapter._sleep = waits.append  # no real waiting; record what would be waited
    resource = adapter.resource_for("", "ConfigMap")
    sandbox.faults.fail_next(resource="configmaps", count=2, code=code, retry_after=3)
    items, _ = adapter.list(resource)
    assert items == []
    assert len(waits) == 2
    if code == 429:
        assert waits == [3.0, 3.0], "Retry-After is honoured"


def test_forbidden_is_not_retried(adapter: ClusterAdapter, sandbox: SandboxThread) -> None:
    resource = adapter.resource_for("", "Secret")
    sandbox.faults.fail_next(resource="secrets", count=1, code=403)
    with pytest.raises(ApiError) as raised:
        adapter.list(resource)
    assert raised.value.code == 403
    assert "forbidden" in str(raised.value).lower()


def test_unreachable_cluster_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from sandbox.handle import write_kubeconfig

    path = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    kubeconfig = load_kubeconfig(str(path), environ={})
    adapter = ClusterAdapter(kubeconfig.api_client("sandbox"), context="sandbox")
    with pytest.raises(ClusterError) as raised:
        adapter.discover()
    message = str(raised.value)
    assert "cannot reach the cluster of context 'sandbox'" in message and str(port) in message
    assert "\n" not in message and "Traceback" not in message


def test_kubeconfig_contexts_and_destinations(kubeconfig_path: Path) -> None:
    kubeconfig = load_kubeconfig(str(kubeconfig_path), environ={})
    assert kubeconfig.current_context == "sandbox"
    assert kubeconfig.context_for(Destination()) == "sandbox"
    assert kubeconfig.context_for(Destination(server=kubeconfig.contexts["sandbox"] + "/")) == "sandbox"
    with pytest.raises(ClusterConfigError, match=r"'prod' is not in .*contexts: sandbox"):
        kubeconfig.context_for(Destination(name="prod"))
    with pytest.raises(ClusterConfigError, match="does not exist"):
        load_kubeconfig(str(kubeconfig_path) + ".missing", environ={})


def test_kubeconfig_env_and_missing_default(
    kubeconfig_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_kubeconfig(None, environ={"KUBECONFIG": str(kubeconfig_path)}).current_context == "sandbox"
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    with pytest.raises(ClusterConfigError, match="no kubeconfig found"):
        load_kubeconfig(None, environ={})


def test_in_cluster_config_is_used_when_no_kubeconfig_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    kubeconfig = load_kubeconfig(
        None, environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    )
    assert kubeconfig.current_context == "in-cluster"
    assert kubeconfig.context_for(Destination()) == "in-cluster"


def test_a_json_patch_is_sent_as_one_and_its_test_operation_guards_it(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    stored = adapter.apply(configmap("patched", first="0"))
    resource = adapter.resource_for("", "ConfigMap")
    version = stored["metadata"]["resourceVersion"]
    guard = {"op": "test", "path": "/metadata/resourceVersion", "value": version}
    answer = adapter.json_patch(
        resource, "default", "patched", [guard, {"op": "add", "path": "/data/extra", "value": "1"}]
    )
    assert answer["data"]["extra"] == "1"
    (patch,) = [r for r in sandbox.request_log if r.method == "PATCH" and r.path.endswith("/patched")][-1:]
    assert patch.content_type == "application/json-patch+json", "not turned into a strategic merge patch"
    with pytest.raises(ApiError) as refused:  # the object changed since `version`: the test op fails
        adapter.json_patch(resource, "default", "patched", [guard, {"op": "remove", "path": "/data/extra"}])
    assert refused.value.code in (409, 422)
