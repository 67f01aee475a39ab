"""Hooks through `kubedrift sync` against the sandbox, its Job controller running them: the
pre-post-sync shape, a PreSync hook that fails, a hook Job changed in Git, a generateName hook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cluster import ClusterAdapter
from sandbox.handle import SandboxThread
from tests.integration.gitops import commit_file
from tests.integration.sync_sandbox import fresh_namespace, gitops_app, kubedrift, running_sandbox, writes

CREATE_NAMESPACE = "{syncOptions: [CreateNamespace=true]}"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxThread]:
    """Overrides the integration tier's controller-less sandbox: hook Jobs must run."""
    yield from running_sandbox()


def job(name: str, phase: str, command: str, **annotations: str) -> str:
    extra = "".join(f"\n    {key}: {value}" for key, value in annotations.items())
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/hook: {phase}{extra}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: main, image: "migrate:1", command: [sh, -c, "{command}"]}}]
"""


CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: prod}
"""


def test_pre_and_post_sync_hooks_run_around_the_sync_and_are_never_drift(
    tmp_path: Path, kubeconfig_path: Path, adapter: ClusterAdapter
) -> None:
    namespace = fresh_namespace("pps")
    gitops_app(tmp_path, "pre-post-sync", namespace, sync_policy=CREATE_NAMESPACE)
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "pre-post-sync", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        f"PreSync: Job.batch/{namespace}/before created",
        "PreSync: waiting for 1 hook to complete",
        f"PreSync: Job.batch/{namespace}/before Succeeded",
    ]
    assert f"PostSync: Job.batch/{namespace}/after Succeeded" in lines
    assert lines.index("Sync: Healthy") < lines.index(f"PostSync: Job.batch/{namespace}/after created")
    assert (
        "PreSync hook Succeeded: Reached expected number of succeeded pods; deleted (HookSucceeded)"
        in done.stdout
    )
    jobs = adapter.resource_for("batch", "Job")
    assert adapter.get(jobs, namespace, "before") is None and adapter.get(jobs, namespace, "after") is None
    check = kubedrift(tmp_path, kubeconfig_path, "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_failing_presync_hook_stops_the_sync_and_exits_non_zero(
    tmp_path: Path, kubeconfig_path: Path, adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    namespace = fresh_namespace("fails")
    files = {"config.yaml": CONFIG, "migrate.yaml": job("migrate", "PreSync", "exit 3")}
    gitops_app(tmp_path, "shop", namespace, sync_policy=CREATE_NAMESPACE, files=files)
    sandbox.faults.clear_request_log()
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"PreSync: Job.batch/{namespace}/migrate Failed (Job has reached the specified backoff limit)"
        in done.stdout
    )
    assert done.stdout.count("\n") > 3 and "Traceback" not in done.stderr
    assert "Sync failed at revision" in done.stdout
    assert "stopped at PreSync: hook Job.batch" in done.stdout
    assert f"ConfigMap/{namespace}/settings  skipped" in done.stdout
    assert "PATCH configmaps/settings" not in writes(sandbox.request_log, namespace)
    job_live = adapter.get(adapter.resource_for("batch", "Job"), namespace, "migrate")
    assert job_live is not None and not job_live["metadata"].get("finalizers")  # kept for its logs


def test_a_hook_job_changed_in_git_syncs_again_created_fresh(
    tmp_path: Path, kubeconfig_path: Path, adapter: ClusterAdapter
) -> None:
    namespace = fresh_namespace("changed")
    files = {"config.yaml": CONFIG, "migrate.yaml": job("migrate", "PreSync", "true")}
    config = gitops_app(tmp_path, "shop", namespace, sync_policy=CREATE_NAMESPACE, files=files)
    assert kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--yes").returncode == 0
    jobs = adapter.resource_for("batch", "Job")
    first = adapter.get(jobs, namespace, "migrate")
    commit_file(
        config.parent / "gitops", "apps/shop/migrate.yaml", job("migrate", "PreSync", "sleep 0.01"), "v2"
    )
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    second = adapter.get(jobs, namespace, "migrate")
    assert first is not None and second is not None
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["spec"]["template"]["spec"]["containers"][0]["command"] == ["sh", "-c", "sleep 0.01"]
    # The hook stays (BeforeHookCreation deletes it only before its next run), tracked: never drift,
    # never a leftover to prune.
    assert (
        second["metadata"]["annotations"]["kubedrift.io/tracking-id"] == f"shop:batch/Job:{namespace}/migrate"
    )
    assert kubedrift(tmp_path, kubeconfig_path, "check").returncode == 0
    planned = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--prune", "--dry-run")
    assert planned.returncode == 0 and "pruned" not in planned.stdout, planned.stdout


def test_a_generate_name_hook_renders_and_runs(
    tmp_path: Path, kubeconfig_path: Path, adapter: ClusterAdapter
) -> None:
    namespace = fresh_namespace("generated")
    hook = job("unused", "PreSync", "true").replace("  name: unused\n", "  generateName: seed-\n")
    gitops_app(
        tmp_path,
        "shop",
        namespace,
        sync_policy=CREATE_NAMESPACE,
        files={"config.yaml": CONFIG, "seed.yaml": hook},
    )
    check = kubedrift(tmp_path, kubeconfig_path, "check")
    assert check.returncode == 1 and "render error" not in check.stdout + check.stderr  # Missing, not broken
    done = kubedrift(tmp_path, kubeconfig_path, "sync", "shop", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    (created,) = adapter.list(adapter.resource_for("batch", "Job"), namespace)[0]
    name = created["metadata"]["name"]
    assert (
        name.startswith("seed-") and "-presync-" in name
    )  # generateName, the revision, the phase, the start
    assert f"PreSync: Job.batch/{namespace}/{name} Succeeded" in done.stdout
