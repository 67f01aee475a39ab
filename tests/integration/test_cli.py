"""The headless commands as a user runs them: a subprocess, a clean HOME, the sandbox as the cluster."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config
from core.kubeconfig import load_kubeconfig
from sandbox.handle import SandboxThread, write_kubeconfig
from tests.integration.gitops import commit_file, deploy, git, shop_config

KUBEDRIFT = [sys.executable, "-m", "tui.cli"]
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def workdir(tmp_path: Path, adapter: ClusterAdapter) -> Path:
    config: Config = shop_config(tmp_path)
    deploy(adapter, config)
    return tmp_path


def kubedrift(
    workdir: Path, kubeconfig: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir / "home"),
        "KUBECONFIG": str(kubeconfig),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [*KUBEDRIFT, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def apps_api(kubeconfig: Path) -> client.AppsV1Api:
    return client.AppsV1Api(load_kubeconfig(str(kubeconfig), environ={}).api_client("sandbox"))


def test_check_in_sync_exits_0(workdir: Path, kubeconfig_path: Path) -> None:
    done = kubedrift(workdir, kubeconfig_path, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "shop  Synced" in done.stdout
    assert "\x1b[" not in done.stdout, "plain text when not a terminal"


def test_check_json_shape_and_drift_exit_1(workdir: Path, kubeconfig_path: Path) -> None:
    apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 4}})
    done = kubedrift(workdir, kubeconfig_path, "check", "-o", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    (app,) = report["apps"]
    assert set(app) == {"name", "revision", "sync", "health", "errors", "resources"}
    assert (app["name"], app["sync"], app["errors"]) == ("shop", "OutOfSync", [])
    web = next(r for r in app["resources"] if r["kind"] == "Deployment")
    assert web == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "status": "OutOfSync",
        "health": web["health"],
        "changes": [{"path": "/spec/replicas", "desired": 2, "live": 4, "by": web["changes"][0]["by"]}],
    }
    # Who changed it (managedFields): the Python client's write, named after its User-Agent.
    assert web["changes"][0]["by"] == {
        "manager": "OpenAPI-Generator",
        "operation": "Update",
        "time": web["changes"][0]["by"]["time"],
    }


def test_diff_is_plain_unified_text(workdir: Path, kubeconfig_path: Path) -> None:
    apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 4}})
    done = kubedrift(workdir, kubeconfig_path, "diff", "--app", "shop")
    assert done.returncode == 1
    assert "-  replicas: 4\n+  replicas: 2\n" in done.stdout
    assert "\x1b[" not in done.stdout


def test_malformed_yaml_exits_2_names_the_file_and_judges_the_rest(
    workdir: Path, kubeconfig_path: Path
) -> None:
    commit_file(workdir / "gitops", "apps/shop/broken.yaml", "kind: [unclosed\n", "oops")
    done = kubedrift(workdir, kubeconfig_path, "check", "-o", "json")
    assert done.returncode == 2
    (app,) = json.loads(done.stdout)["apps"]
    assert any("broken.yaml" in error for error in app["errors"])
    assert {r["name"]: r["status"] for r in app["resources"]}["web-config"] == "Synced"


def test_unknown_app_and_bad_config_are_one_sentence(workdir: Path, kubeconfig_path: Path) -> None:
    done = kubedrift(workdir, kubeconfig_path, "check", "--app", "nope")
    assert done.returncode == 2
    assert done.stderr.strip() == "kubedrift: there is no app named 'nope' (apps: shop): check --app"
    (workdir / "kubedrift.yaml").write_text("apps:\n  - name: shop\n    sourc: {}\n")
    done = kubedrift(workdir, kubeconfig_path, "check")
    assert done.returncode == 2
    assert (
        done.stderr.count("\n") == 1 and "kubedrift.yaml:3" in done.stderr and "Traceback" not in done.stderr
    )


def test_unreachable_cluster_exits_2_without_hanging(workdir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = write_kubeconfig(workdir / "dead-kubeconfig", f"http://127.0.0.1:{port}")
    done = kubedrift(workdir, dead, "check", timeout=30)  # a hang would fail here
    assert done.returncode == 2
    assert "cannot reach the cluster of context 'sandbox'" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_watch_jsonl_prints_each_change_as_it_happens(workdir: Path, kubeconfig_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir / "home"),
        "KUBECONFIG": str(kubeconfig_path),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [*KUBEDRIFT, "watch", "-o", "jsonl"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert (first["app"], first["sync"], first["previous"]) == (
            "shop",
            "Synced",
            {"sync": None, "health": None},
        )
        apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 6}})
        lines = [json.loads(process.stdout.readline()) for _ in range(2)]
        resource = next(line for line in lines if line.get("kind") == "Deployment")
        assert (resource["status"], resource["previous"]["status"]) == ("OutOfSync", "Synced")
        app = next(line for line in lines if "sync" in line)
        assert (app["sync"], app["previous"]["sync"]) == ("OutOfSync", "Synced")
        assert all(line["ts"].endswith("Z") for line in lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_read_only_flag_reaches_the_engine(
    workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.faults.clear_request_log()
    done = kubedrift(workdir, kubeconfig_path, "--read-only", "check")
    assert done.returncode == 0
    assert {record.method for record in sandbox.request_log} == {"GET"}


def test_no_secret_value_in_any_output(workdir: Path, kubeconfig_path: Path) -> None:
    core = client.CoreV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))
    core.patch_namespaced_secret("db-credentials", "shop", {"stringData": {"password": "hunter2-live"}})
    outputs = [
        kubedrift(workdir, kubeconfig_path, "check").stdout,
        kubedrift(workdir, kubeconfig_path, "check", "-o", "json").stdout,
        kubedrift(workdir, kubeconfig_path, "diff").stdout,
    ]
    assert "/stringData/password" in outputs[1], "the drifted key is reported"
    secrets = ["s3cr3t-value", "hunter2-live", "shop"]
    encoded = [base64.b64encode(s.encode()).decode() for s in secrets]
    for text in outputs:
        for value in ["s3cr3t-value", "hunter2-live", *encoded]:
            assert value not in text


def test_sync_restores_and_is_audited(workdir: Path, kubeconfig_path: Path) -> None:
    apps = apps_api(kubeconfig_path)
    apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 9}})
    done = kubedrift(workdir, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deployment.apps/shop/web    configured  changed /spec/replicas" in done.stdout
    assert apps.read_namespaced_deployment_scale("web", "shop").spec.replicas == 2
    assert kubedrift(workdir, kubeconfig_path, "check").returncode == 0
    audit = workdir / "home" / ".local" / "state" / "kubedrift" / "audit.jsonl"
    (line,) = [json.loads(text) for text in audit.read_text().splitlines()]
    assert (line["app"], line["operation"], line["dryRun"]) == ("shop", "sync", False)


def test_sync_dry_run_writes_nothing(workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread) -> None:
    apps_api(kubeconfig_path).patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 9}})
    sandbox.faults.clear_request_log()
    done = kubedrift(workdir, kubeconfig_path, "sync", "shop", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Dry run: would sync revision")
    writes = [r for r in sandbox.request_log if r.method != "GET"]
    assert writes and all(r.query.get("dryRun") == "All" for r in writes)
    assert apps_api(kubeconfig_path).read_namespaced_deployment_scale("web", "shop").spec.replicas == 9


def test_sync_is_refused_in_read_only_mode(
    workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.faults.clear_request_log()
    done = kubedrift(workdir, kubeconfig_path, "--read-only", "sync", "shop", "--yes")
    assert done.returncode == 2
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    (workdir / "kubedrift.yaml").write_text((workdir / "kubedrift.yaml").read_text() + "readOnly: true\n")
    done = kubedrift(workdir, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 2 and "read-only" in done.stderr
    assert [r for r in sandbox.request_log if r.method != "GET"] == []


def test_sync_revision_rolls_back(workdir: Path, kubeconfig_path: Path) -> None:
    repo = workdir / "gitops"
    first = git_head(repo)
    text = (repo / "apps/shop/config.yaml").read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: error")
    commit_file(repo, "apps/shop/config.yaml", text, "louder")
    assert kubedrift(workdir, kubeconfig_path, "sync", "shop", "--yes").returncode == 0
    core = client.CoreV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))
    assert core.read_namespaced_config_map("web-config", "shop").data["LOG_LEVEL"] == "error"
    done = kubedrift(workdir, kubeconfig_path, "sync", "shop", "--revision", first[:10], "--yes")
    assert done.returncode == 0, done.stderr
    assert f"Synced revision {first[:12]}" in done.stdout
    assert core.read_namespaced_config_map("web-config", "shop").data["LOG_LEVEL"] == "info"


def git_head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def test_debug_shows_the_traceback(workdir: Path, kubeconfig_path: Path) -> None:
    done = kubedrift(workdir, kubeconfig_path, "--debug", "check", "--app", "nope")
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().endswith("kubedrift: there is no app named 'nope' (apps: shop): check --app")


FAULT = "Internal error occurred: injected fault (500 InternalError)"


def test_diff_shows_unknown_resources_with_their_reason(
    workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.faults.fail_next(resource="configmaps", count=50, code=500)
    done = kubedrift(workdir, kubeconfig_path, "diff")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"shop: ConfigMap/shop/web-config  Unknown  ({FAULT})" in done.stdout.splitlines()


def test_the_errors_say_why_a_kind_is_unknown(
    workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.faults.fail_next(resource="configmaps", count=50, code=500)
    done = kubedrift(workdir, kubeconfig_path, "check", "-o", "json")
    assert done.returncode == 2, done.stderr
    (app,) = json.loads(done.stdout)["apps"]
    assert set(app) == {"name", "revision", "sync", "health", "errors", "resources"}, "no key added"
    assert app["errors"] == [f"ConfigMap: {FAULT}"], "once, for the kind"
    assert {r["name"]: r["status"] for r in app["resources"]}["web-config"] == "Unknown"

    sandbox.faults.fail_next(resource="configmaps", count=50, code=500)
    done = kubedrift(workdir, kubeconfig_path, "diff")
    assert f"shop: error: ConfigMap: {FAULT}" in done.stdout.splitlines()


def test_sync_with_no_manifest_rendered_applies_nothing_and_says_why(
    workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    repo = workdir / "gitops"
    for manifest in sorted((repo / "apps" / "shop").glob("*.yaml")):
        manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    git(repo, "commit", "-qam", "all broken")
    sandbox.faults.clear_request_log()
    for dry_run in ((), ("--dry-run",)):
        done = kubedrift(workdir, kubeconfig_path, "sync", "shop", "--yes", *dry_run)
        assert done.returncode == 2
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith(
            "kubedrift: nothing was applied: no manifest of app shop rendered (the first of "
        )
        assert "has no metadata.name; give it a name" in line
    assert [r for r in sandbox.request_log if r.method != "GET"] == []


def test_a_manifest_that_expands_past_the_bound_is_refused_not_sent(
    workdir: Path, kubeconfig_path: Path, sandbox: SandboxThread
) -> None:
    repo = workdir / "gitops"
    references = ", ".join(["*a"] * 20_000)
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: wide}\ndata:\n"
    text = f"{head}  a: &a {'x' * 200_000}\n  b: [{references}]\n"  # ~4 GB expanded; 260 KB written
    commit_file(repo, "apps/shop/wide.yaml", text, "wide")
    done = kubedrift(workdir, kubeconfig_path, "check")
    assert done.returncode == 2
    assert (
        "shop: error: wide.yaml:6: document 1 expands its aliases into more than 10 MiB of text"
        in done.stdout
    )
    sandbox.faults.clear_request_log()
    done = kubedrift(workdir, kubeconfig_path, "sync", "shop", "--dry-run", "--yes")
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert done.stdout.startswith("Dry run: would sync revision")
    assert sandbox.request_log and not [r for r in sandbox.request_log if "wide" in r.path], "never sent"
