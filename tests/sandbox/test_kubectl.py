"""Real kubectl (1.29 and newer, unmodified) against the sandbox, as against a small cluster.

Each test runs with the oldest and the newest kubectl found; each kubectl gets its own HOME so its
discovery cache never carries over. Without kubectl these tests skip with the reason.
"""

from __future__ import annotations

import os
import queue
import subprocess
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.handle import SandboxThread

if TYPE_CHECKING:
    from conftest import Kubectl

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: default
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.25
    """)

SIDECAR = DEPLOYMENT + textwrap.indent(
    textwrap.dedent("""\
    - name: sidecar
      image: busybox:1.36
    """),
    "      ",
)


def config_map(kubectl: Kubectl, name: str, **data: str) -> None:
    entries = "".join(f"\n  {key}: {value}" for key, value in data.items())
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:{entries or ' {}'}\n"
    kubectl.run("apply", "-f", "-", input=body)


def manifest(tmp_path: Path, text: str, name: str = "manifest.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_get_lists_objects_as_tables_and_yaml(kubectl: Kubectl) -> None:
    config_map(kubectl, "settings", mode="dev")
    table = kubectl.run("get", "configmaps").stdout
    assert table.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert table.splitlines()[1].split()[:2] == ["settings", "1"]

    as_yaml = kubectl.run("get", "configmap", "settings", "-o", "yaml").stdout
    assert "kind: ConfigMap" in as_yaml and "mode: dev" in as_yaml and "uid:" in as_yaml

    namespaces = kubectl.run("get", "namespaces", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system"} <= set(namespaces)


def test_get_shows_kind_specific_columns(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("apply", "-f", manifest(tmp_path, DEPLOYMENT))
    header = kubectl.run("get", "deployments").stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    wide = kubectl.run("get", "deployments", "-o", "wide").stdout
    assert "nginx:1.25" in wide and "app=web" in wide
    services = kubectl.run("get", "services", "-n", "default").stdout
    assert "kubernetes" in services and "10.96.0.1" in services


def test_get_watch_streams_changes_as_table_rows(kubectl: Kubectl, sandbox: SandboxThread) -> None:
    process = subprocess.Popen(
        [kubectl.binary, "get", "configmaps", "--watch", "--output-watch-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.env(),
    )
    lines: queue.Queue[list[str]] = queue.Queue()

    def read() -> None:
        for line in process.stdout or []:
            lines.put(line.split()[:2])

    threading.Thread(target=read, daemon=True).start()
    try:
        config_map(kubectl, "first")
        assert lines.get(timeout=20) == ["EVENT", "NAME"], "the first event carries the column headers"
        assert lines.get(timeout=20) == ["ADDED", "first"]
        kubectl.run("label", "configmap", "first", "changed=yes")
        assert lines.get(timeout=20) == ["MODIFIED", "first"]
        kubectl.run("delete", "configmap", "first")
        assert lines.get(timeout=20) == ["DELETED", "first"]
    finally:
        process.terminate()
        process.wait(timeout=20)
    watches = [r for r in sandbox.request_log if r.query.get("watch") == "true"]
    assert watches, "kubectl get -w should have opened a watch"


def test_client_side_apply_creates_configures_and_leaves_unchanged(kubectl: Kubectl, tmp_path: Path) -> None:
    path = manifest(tmp_path, DEPLOYMENT)
    assert kubectl.run("apply", "-f", path).stdout.strip() == "deployment.apps/web created"
    assert kubectl.run("apply", "-f", path).stdout.strip() == "deployment.apps/web unchanged"
    changed = manifest(tmp_path, DEPLOYMENT.replace("replicas: 2", "replicas: 4"), "changed.yaml")
    assert kubectl.run("apply", "-f", changed).stdout.strip() == "deployment.apps/web configured"
    live = kubectl.json("get", "deployment", "web")
    assert live["spec"]["replicas"] == 4
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]


def test_apply_adds_then_removes_a_sidecar(kubectl: Kubectl, sandbox: SandboxThread, tmp_path: Path) -> None:
    kubectl.run("apply", "-f", manifest(tmp_path, DEPLOYMENT))
    kubectl.run("apply", "-f", manifest(tmp_path, SIDECAR, "sidecar.yaml"))
    containers = kubectl.json("get", "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert sorted(c["name"] for c in containers) == ["sidecar", "web"]

    kubectl.run("apply", "-f", manifest(tmp_path, DEPLOYMENT, "without.yaml"))
    containers = kubectl.json("get", "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    patches = [r for r in sandbox.request_log if r.method == "PATCH"]
    assert patches and all(r.content_type == "application/strategic-merge-patch+json" for r in patches)
    assert all(r.query.get("fieldValidation") == "Strict" for r in patches), (
        "kubectl validates on the server when the OpenAPI says PATCH takes fieldValidation"
    )


def test_server_side_apply_conflicts_and_force(kubectl: Kubectl, tmp_path: Path) -> None:
    path = manifest(tmp_path, DEPLOYMENT)
    assert "serverside-applied" in kubectl.run("apply", "--server-side", "-f", path).stdout
    conflicting = kubectl.run(
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        manifest(tmp_path, DEPLOYMENT.replace("replicas: 2", "replicas: 7"), "other.yaml"),
        check=False,
    )
    assert conflicting.returncode != 0
    assert "conflict" in conflicting.stderr.lower() and ".spec.replicas" in conflicting.stderr
    assert 'conflict with "kubectl"' in conflicting.stderr

    forced = kubectl.run(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=other",
        "-f",
        str(tmp_path / "other.yaml"),
    )
    assert "serverside-applied" in forced.stdout
    live = kubectl.json("get", "deployment", "web", "--show-managed-fields")
    assert live["spec"]["replicas"] == 7
    assert {e["manager"] for e in live["metadata"]["managedFields"]} >= {"kubectl", "other"}


def test_diff_exit_codes(kubectl: Kubectl, tmp_path: Path) -> None:
    path = manifest(tmp_path, DEPLOYMENT)
    kubectl.run("apply", "-f", path)
    same = kubectl.run("diff", "-f", path, check=False)
    assert same.returncode == 0, same.stderr
    assert same.stdout == ""
    changed = kubectl.run("diff", "-f", manifest(tmp_path, SIDECAR, "sidecar.yaml"), check=False)
    assert changed.returncode == 1, changed.stderr
    assert "+        name: sidecar" in changed.stdout or "+      - image: busybox:1.36" in changed.stdout
    assert (
        kubectl.json("get", "deployment", "web")["spec"]["template"]["spec"]["containers"][0]["name"] == "web"
    )
    assert len(kubectl.json("get", "deployment", "web")["spec"]["template"]["spec"]["containers"]) == 1


def test_edit_through_an_editor_script(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("apply", "-f", manifest(tmp_path, DEPLOYMENT))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 6/' \"$1\"\n")
    editor.chmod(0o755)
    edited = kubectl.run("edit", "deployment", "web", KUBE_EDITOR=str(editor))
    assert "deployment.apps/web edited" in edited.stdout
    assert kubectl.json("get", "deployment", "web")["spec"]["replicas"] == 6


def test_scale_and_delete(kubectl: Kubectl, sandbox: SandboxThread, tmp_path: Path) -> None:
    kubectl.run("apply", "-f", manifest(tmp_path, DEPLOYMENT))
    assert "scaled" in kubectl.run("scale", "deployment", "web", "--replicas=3").stdout
    assert kubectl.json("get", "deployment", "web")["spec"]["replicas"] == 3
    scale_writes = [r for r in sandbox.request_log if r.path.endswith("/scale") and r.method == "PATCH"]
    assert scale_writes, "kubectl scale writes through the scale subresource"

    assert 'deployment.apps "web" deleted' in kubectl.run("delete", "deployment", "web").stdout
    missing = kubectl.run("get", "deployment", "web", check=False)
    assert missing.returncode == 1
    assert 'deployments.apps "web" not found' in missing.stderr


def test_label_selectors(kubectl: Kubectl) -> None:
    for name in ("a", "b", "c"):
        config_map(kubectl, name)
    kubectl.run("label", "configmap", "a", "app=web", "tier=front")
    kubectl.run("label", "configmap", "b", "app=db")
    assert kubectl.run("get", "cm", "-l", "app=web", "-o", "name").stdout.split() == ["configmap/a"]
    assert kubectl.run("get", "cm", "-l", "app in (web,db)", "-o", "name").stdout.split() == [
        "configmap/a",
        "configmap/b",
    ]
    assert kubectl.run("get", "cm", "-l", "!app", "-o", "name").stdout.split() == ["configmap/c"]
    kubectl.run("delete", "cm", "-l", "app")
    assert kubectl.run("get", "cm", "-o", "name").stdout.split() == ["configmap/c"]


def test_unknown_resource_type_gives_kubectls_normal_error(kubectl: Kubectl) -> None:
    unknown = kubectl.run("get", "frobnicators", check=False)
    assert unknown.returncode == 1
    assert 'the server doesn\'t have a resource type "frobnicators"' in unknown.stderr


def test_each_kubectl_run_keeps_its_cache_in_its_own_home(kubectl: Kubectl) -> None:
    kubectl.run("get", "pods")
    assert (kubectl.home / ".kube" / "cache").is_dir()
    assert os.environ.get("HOME") != str(kubectl.home)


def test_typed_create_commands(kubectl: Kubectl, sandbox: SandboxThread) -> None:
    """`kubectl create ...` sends protobuf from kubectl 1.32 on; the objects must come out the same."""
    kubectl.run("create", "namespace", "shop")
    kubectl.run(
        "create", "deployment", "web", "--image=nginx:1.25", "--replicas=0", "--port=8080", "-n", "shop"
    )
    kubectl.run("create", "secret", "generic", "creds", "--from-literal=password=s3cret", "-n", "shop")
    kubectl.run("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", "shop")

    assert kubectl.json("get", "namespace", "shop")["status"]["phase"] == "Active"
    web = kubectl.json("get", "deployment", "web", "-n", "shop")
    assert web["spec"]["replicas"] == 0, "an explicit zero survives decoding"
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.25")
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {}
    assert kubectl.json("get", "secret", "creds", "-n", "shop")["data"] == {"password": "czNjcmV0"}
    service = kubectl.json("get", "service", "web", "-n", "shop")["spec"]
    assert service["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    creates = [r for r in sandbox.request_log if r.method == "POST"]
    expected = "application/vnd.kubernetes.protobuf" if kubectl.version >= (1, 32) else "application/json"
    assert {r.content_type for r in creates} == {expected}


def test_apply_validates_fields_on_the_server(kubectl: Kubectl, tmp_path: Path) -> None:
    typo = manifest(tmp_path, DEPLOYMENT.replace("replicas: 2", "replica: 2"), "typo.yaml")
    refused = kubectl.run("apply", "-f", typo, check=False)
    assert refused.returncode == 1
    assert 'strict decoding error: unknown field "spec.replica"' in refused.stderr
    lenient = kubectl.run("apply", "--validate=false", "-f", typo)
    assert "deployment.apps/web created" in lenient.stdout
    assert "replica" not in kubectl.json("get", "deployment", "web")["spec"]


def test_autoscale_creates_a_horizontal_pod_autoscaler(kubectl: Kubectl, sandbox: SandboxThread) -> None:
    """kubectl before 1.33 writes autoscaling/v1 (protobuf from 1.32), 1.33 writes autoscaling/v2."""
    kubectl.run("create", "deployment", "web", "--image=nginx:1.25")
    done = kubectl.run("autoscale", "deployment", "web", "--max=5", "--cpu-percent=70")
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in done.stdout
    (create,) = [
        r for r in sandbox.request_log if r.method == "POST" and "horizontalpodautoscalers" in r.path
    ]
    assert create.status == 201
    version = "v2" if kubectl.version >= (1, 33) else "v1"
    assert create.path == f"/apis/autoscaling/{version}/namespaces/default/horizontalpodautoscalers"
    stored = kubectl.json("get", "hpa", "web")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
        }
    ]
    assert (stored["spec"]["minReplicas"], stored["spec"]["maxReplicas"]) == (1, 5)
    as_v1 = kubectl.json("get", "horizontalpodautoscalers.v1.autoscaling", "web")
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert as_v1["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    table = kubectl.run("get", "hpa").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "REFERENCE", "TARGETS"]
    assert table[1].split()[:2] == ["web", "Deployment/web"]
