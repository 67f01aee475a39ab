"""`check -o json` names who changed each drifted field (issue 15 item 5): real kubectl against the
sandbox, after kubedrift's own first sync, then kubedrift's CLI in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.cluster import ClusterAdapter
from tests.integration.gitops import commit_file, deploy, shop_config
from tests.integration.test_cli import kubedrift
from tests.kubectl import Kubectl


@pytest.fixture
def workdir(tmp_path: Path, adapter: ClusterAdapter) -> Path:
    deploy(adapter, shop_config(tmp_path))
    return tmp_path


def web_changes(workdir: Path, kubeconfig: Path) -> dict[str, dict[str, Any]]:
    done = kubedrift(workdir, kubeconfig, "check", "-o", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    (app,) = json.loads(done.stdout)["apps"]
    web = next(r for r in app["resources"] if r["kind"] == "Deployment" and r["name"] == "web")
    assert web["status"] == "OutOfSync"
    return {change["path"]: change for change in web["changes"]}


def test_scale_and_set_image_are_attributed_to_kubectl(
    workdir: Path, kubeconfig_path: Path, kubectl: Kubectl
) -> None:
    kubectl.run("scale", "deploy", "web", "-n", "shop", "--replicas=5")
    kubectl.run("set", "image", "deploy/web", "-n", "shop", "web=ghcr.io/acme/web:9.9")
    changes = web_changes(workdir, kubeconfig_path)
    replicas = changes["/spec/replicas"]
    assert (replicas["desired"], replicas["live"]) == (2, 5)
    # kubectl scale sends no fieldManager: the server names it from the User-Agent, which starts
    # with the binary's name (`kubectl`, or the versioned binary's `kubectl.1.33`).
    assert replicas["by"]["manager"].split(".")[0] == "kubectl"
    assert replicas["by"]["operation"] == "Update"
    assert replicas["by"]["time"].endswith("Z")
    image = changes["/spec/template/spec/containers/0/image"]
    assert image["by"]["manager"] == "kubectl-set"
    assert set(image) == {"path", "desired", "live", "by"}
    assert set(image["by"]) == {"manager", "operation", "time"}


def test_an_edit_a_server_side_apply_and_a_replace_each_name_their_manager(
    workdir: Path, kubeconfig_path: Path, kubectl: Kubectl
) -> None:
    patch = {"metadata": {"labels": {"tier": None, "owner": "ops"}}}
    kubectl.run(
        "patch",
        "deploy",
        "web",
        "-n",
        "shop",
        "--type=merge",
        "--field-manager=kubectl-edit",
        "-p",
        json.dumps(patch),
    )
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
    }
    applied["spec"] = {"replicas": 7}
    kubectl.run(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=autoscaler",
        "-f",
        "-",
        input=json.dumps(applied),
    )
    live = json.loads(kubectl.run("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web:replaced"
    kubectl.run("replace", "-f", "-", input=json.dumps(live))
    changes = web_changes(workdir, kubeconfig_path)
    assert changes["/spec/replicas"]["by"]["manager"] == "autoscaler"
    assert changes["/spec/replicas"]["by"]["operation"] == "Apply"
    assert changes["/spec/template/spec/containers/0/image"]["by"]["manager"] == "kubectl-replace"
    # The label is gone: nobody owns it, so the one who last wrote the labels is named.
    assert changes["/metadata/labels/tier"]["live"] is None
    assert changes["/metadata/labels/tier"]["by"]["manager"] == "kubectl-edit"


def test_a_change_nobody_else_made_carries_no_by(workdir: Path, kubeconfig_path: Path) -> None:
    """Git moved (a new desired value) and the cluster still holds kubedrift's last sync: no `by`."""
    manifest = workdir / "gitops" / "apps" / "shop" / "web.yaml"
    text = manifest.read_text()
    assert "replicas: 2" in text
    commit_file(workdir / "gitops", "apps/shop/web.yaml", text.replace("replicas: 2", "replicas: 3"), "three")
    replicas = web_changes(workdir, kubeconfig_path)["/spec/replicas"]
    assert (replicas["desired"], replicas["live"]) == (3, 2)
    assert "by" not in replicas


def test_check_json_shows_recent_events_of_drifted_resources_only(
    workdir: Path, kubeconfig_path: Path, kubectl: Kubectl
) -> None:
    web = json.loads(kubectl.run("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    config_map = json.loads(kubectl.run("get", "configmap", "web-config", "-n", "shop", "-o", "json").stdout)

    def event(name: str, about: dict[str, Any], reason: str, time: str, count: int) -> str:
        involved = {
            "apiVersion": about["apiVersion"],
            "kind": about["kind"],
            "name": about["metadata"]["name"],
            "namespace": "shop",
            "uid": about["metadata"]["uid"],
        }
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": "shop"},
                "involvedObject": involved,
                "reason": reason,
                "message": f"{reason} happened",
                "type": "Normal",
                "lastTimestamp": time,
                "firstTimestamp": time,
                "count": count,
            }
        )

    kubectl.run(
        "create", "-f", "-", input=event("web.1", web, "ScalingReplicaSet", "2026-01-01T00:01:00Z", 1)
    )
    kubectl.run(
        "create", "-f", "-", input=event("web.2", web, "ScalingReplicaSet", "2026-01-01T00:02:00Z", 3)
    )
    kubectl.run("create", "-f", "-", input=event("cm.1", config_map, "Noticed", "2026-01-01T00:03:00Z", 1))
    kubectl.run("scale", "deploy", "web", "-n", "shop", "--replicas=5")
    done = kubedrift(workdir, kubeconfig_path, "check", "-o", "json")
    (app,) = json.loads(done.stdout)["apps"]
    resources = {r["name"]: r for r in app["resources"]}
    assert resources["web"]["events"] == [
        {
            "type": "Normal",
            "reason": "ScalingReplicaSet",
            "message": "ScalingReplicaSet happened",
            "time": "2026-01-01T00:02:00Z",
            "count": 3,
        },
        {
            "type": "Normal",
            "reason": "ScalingReplicaSet",
            "message": "ScalingReplicaSet happened",
            "time": "2026-01-01T00:01:00Z",
            "count": 1,
        },
    ]
    # The ConfigMap has an Event but no drift: its shape stays DESIGN's.
    assert resources["web-config"]["status"] == "Synced"
    assert "events" not in resources["web-config"]
