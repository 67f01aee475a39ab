"""`check -o json` names who changed each drifted field (issue 15 item 5), and so do `watch -o jsonl`
and `check`'s text: real kubectl against the sandbox, after kubedrift's own first sync, then
kubedrift's CLI in a subprocess."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.cluster import ClusterAdapter
from tests.integration.gitops import commit_file, deploy, shop_config
from tests.integration.test_cli import KUBEDRIFT, ROOT, kubedrift
from tests.kubectl import Kubectl

DESIGN_RESOURCE_LINE = ["ts", "app", "group", "kind", "namespace", "name", "status", "health", "previous"]


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


class WatchLines:
    """`kubedrift watch -o jsonl` in a subprocess; its lines read on a thread, so a missing line
    fails the test after a timeout instead of hanging it."""

    def __init__(self, workdir: Path, kubeconfig: Path) -> None:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir / "home"),
            "KUBECONFIG": str(kubeconfig),
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [*KUBEDRIFT, "watch", "-o", "jsonl"],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next_matching(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = json.loads(self.lines.get(timeout=left))
            except queue.Empty:
                break
            if wanted(line):
                return line
            seen.append(line)
        raise AssertionError(f"no such line within {timeout} s; saw {seen}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)


def test_watch_names_who_changed_the_drifted_resource_and_check_text_says_it_per_field(
    workdir: Path, kubeconfig_path: Path, kubectl: Kubectl
) -> None:
    watch = WatchLines(workdir, kubeconfig_path)
    try:
        watch.next_matching(lambda line: line.get("app") == "shop" and "sync" in line)  # started
        kubectl.run("set", "image", "deploy/web", "-n", "shop", "web=ghcr.io/acme/web:9.9")
        line = watch.next_matching(lambda line: line.get("kind") == "Deployment")
    finally:
        assert watch.stop() == 0
    assert (line["name"], line["status"], line["previous"]["status"]) == ("web", "OutOfSync", "Synced")
    assert line["by"]["manager"] == "kubectl-set" and line["by"]["operation"] == "Update"
    assert line["by"]["time"].endswith("Z")
    assert list(line) == [*DESIGN_RESOURCE_LINE, "by"], "DESIGN's line, with one optional key after it"

    done = kubedrift(workdir, kubeconfig_path, "check")
    assert done.returncode == 1, done.stdout + done.stderr
    image = next(text for text in done.stdout.splitlines() if "/containers/0/image" in text)
    assert re.search(r" \(changed by kubectl-set, Update, (just now|\d+ min ago)\)$", image), image
