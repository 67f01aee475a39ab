"""Argo CD's sync options against the sandbox through the real client: what each sends, and what the
cluster ends up holding. Read-only mode writes nothing, whatever the options ask."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.actions import sync_app
from core.cluster import ClusterAdapter, ReadOnlyError
from core.model import (
    ARGOCD_TRACKING_ANNOTATION,
    App,
    Destination,
    ResourceAction,
    Source,
    SyncPolicy,
    TrackingMethod,
)
from core.sync_options import ManagedNamespaceMetadata, SyncOptions
from sandbox.handle import SandboxThread
from tests.integration.sync_sandbox import gitops_app, kubedrift, live_of, rendered, writes

JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: once
  annotations: {argocd.argoproj.io/sync-options: "%s"}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: "%s"}]
"""


def app(namespace: str, *options: str, metadata: ManagedNamespaceMetadata | None = None) -> App:
    parsed = SyncOptions(tuple(tuple(option.split("=", 1)) for option in options))  # type: ignore[misc]
    policy = SyncPolicy(sync_options=parsed, managed_namespace_metadata=metadata)
    return App("opts", Source("/unused"), Destination(namespace=namespace), policy)


def namespace_object(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def test_create_namespace_creates_a_fresh_namespace_with_its_metadata_untracked(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    metadata = ManagedNamespaceMetadata(labels=(("team", "shop"),), annotations=(("owner", "ops"),))
    desired = rendered({"cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"}, "fresh")
    result = sync_app(adapter, app("fresh", "CreateNamespace=true", metadata=metadata), desired, {})
    assert [(o.key.kind, str(o.action)) for o in result.outcomes] == [
        ("Namespace", "created"),
        ("ConfigMap", "created"),
    ]
    namespace = adapter.get(adapter.resource_for("", "Namespace"), None, "fresh")
    assert namespace is not None
    assert namespace["metadata"]["labels"]["team"] == "shop"
    assert namespace["metadata"]["annotations"] == {"owner": "ops"}  # no tracking id: the app never prunes it
    again = sync_app(
        adapter, app("fresh", "CreateNamespace=true", metadata=metadata), desired, live_of(adapter, desired)
    )
    assert [str(o.action) for o in again.outcomes] == ["unchanged", "unchanged"]


def test_without_create_namespace_a_missing_namespace_is_the_error_argo_cd_users_hit(
    adapter: ClusterAdapter,
) -> None:
    desired = rendered(
        {"cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"}, "absent"
    )
    (outcome,) = sync_app(adapter, app("absent"), desired, {}).outcomes
    assert outcome.action is ResourceAction.FAILED and "not found" in outcome.message


def test_a_dry_run_with_create_namespace_says_what_it_would_create(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    desired = rendered(
        {"cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"}, "planned"
    )
    sandbox.faults.clear_request_log()
    result = sync_app(adapter, app("planned", "CreateNamespace=true"), desired, {}, dry_run=True)
    assert [(str(o.action), o.message.split(";")[0]) for o in result.outcomes] == [
        ("created", "would be created"),
        (
            "created",
            "would be created in namespace planned, which this sync creates "
            "(the server cannot check it before)",
        ),
    ]
    assert writes(sandbox.request_log, "planned") == []


def test_force_deletes_and_creates_a_job_whose_template_changed(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    adapter.apply(namespace_object("jobs"))
    first = rendered({"job.yaml": (JOB % ("Force=true", "worker:1")).encode()}, "jobs")
    sync_app(adapter, app("jobs"), first, {})
    jobs = adapter.resource_for("batch", "Job")
    before = adapter.get(jobs, "jobs", "once")
    changed = rendered({"job.yaml": (JOB % ("Force=true", "worker:2")).encode()}, "jobs")
    sandbox.faults.clear_request_log()
    (outcome,) = sync_app(adapter, app("jobs"), changed, live_of(adapter, changed)).outcomes
    assert outcome.action is ResourceAction.CREATED
    assert outcome.message.startswith(
        "deleted and created again (Force=true): the server refused the change: "
    )
    assert "field is immutable" in outcome.message
    assert writes(sandbox.request_log, "jobs") == ["PATCH jobs/once", "DELETE jobs/once", "PATCH jobs/once"]
    after = adapter.get(jobs, "jobs", "once")
    assert before is not None and after is not None and after["metadata"]["uid"] != before["metadata"]["uid"]
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "worker:2"


def test_without_force_the_changed_job_fails_with_the_servers_reason(adapter: ClusterAdapter) -> None:
    adapter.apply(namespace_object("plain"))
    sync_app(adapter, app("plain"), rendered({"job.yaml": (JOB % ("", "worker:1")).encode()}, "plain"), {})
    changed = rendered({"job.yaml": (JOB % ("", "worker:2")).encode()}, "plain")
    (outcome,) = sync_app(adapter, app("plain"), changed, live_of(adapter, changed)).outcomes
    assert outcome.action is ResourceAction.FAILED and "field is immutable" in outcome.message


def test_replace_puts_the_object_and_validate_false_ignores_unknown_fields(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    adapter.apply(namespace_object("put"))
    text = b"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: {argocd.argoproj.io/sync-options: "Replace=true,Validate=false"}
data: {mode: prod}
"""
    desired = rendered({"cm.yaml": text}, "put")
    first = sync_app(adapter, app("put"), desired, {})
    by_hand = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "put"}}
    adapter.apply(by_hand | {"data": {"mode": "debug"}})  # someone else's change, under another manager
    sandbox.faults.clear_request_log()
    second = sync_app(adapter, app("put"), desired, live_of(adapter, desired))
    assert [str(o.action) for o in first.outcomes + second.outcomes] == ["created", "configured"]
    (put,) = [record for record in sandbox.request_log if record.is_write]
    assert (put.method, put.query.get("fieldValidation"), put.query.get("fieldManager")) == (
        "PUT",
        "Ignore",
        "kubedrift",
    )
    stored = adapter.get(adapter.resource_for("", "ConfigMap"), "put", "settings")
    assert stored is not None and stored["data"] == {"mode": "prod"}


def test_skip_dry_run_on_missing_resource_lets_a_dry_run_pass_a_kind_not_served_yet(
    adapter: ClusterAdapter,
) -> None:
    text = b"""\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gadget
  annotations: {argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true}
"""
    desired = rendered({"widget.yaml": text}, "widgets")
    (outcome,) = sync_app(adapter, app("widgets"), desired, {}, dry_run=True).outcomes
    assert outcome.action is ResourceAction.CREATED
    assert outcome.message.startswith(
        "would be created once its kind is served; SkipDryRunOnMissingResource=true"
    )


def test_fail_on_shared_resource_fails_before_writing_when_argo_cd_tracks_it_for_another_app(
    adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    adapter.apply(namespace_object("shared"))
    adapter.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "settings",
                "namespace": "shared",
                "annotations": {ARGOCD_TRACKING_ANNOTATION: "billing:/ConfigMap:shared/settings"},
            },
        }
    )
    desired = rendered(
        {"cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"}, "shared"
    )
    argocd_app = replace(app("shared", "FailOnSharedResource=true"), tracking=TrackingMethod.ARGOCD)
    sandbox.faults.clear_request_log()
    result = sync_app(adapter, argocd_app, desired, live_of(adapter, desired))
    assert result.failed and result.message.startswith("FailOnSharedResource=true: ConfigMap/shared/settings")
    assert "tracked by app 'billing'" in result.message
    assert [record for record in sandbox.request_log if record.is_write] == []


def test_read_only_writes_nothing_whatever_the_options_and_hooks(
    tmp_path: Path, kubeconfig_path: Path, read_only_adapter: ClusterAdapter, sandbox: SandboxThread
) -> None:
    desired = rendered(
        {
            "cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
            "job.yaml": b"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: m}]}}}
""",
        },
        "ro",
    )
    sandbox.faults.clear_request_log()
    with pytest.raises(ReadOnlyError):
        sync_app(read_only_adapter, app("ro", "CreateNamespace=true", "Replace=true"), desired, {})
    gitops_app(tmp_path, "pre-post-sync", "ro", sync_policy="{syncOptions: [CreateNamespace=true]}")
    done = kubedrift(tmp_path, kubeconfig_path, "--read-only", "sync", "pre-post-sync", "--yes")
    assert done.returncode == 2 and "read-only" in done.stderr
    assert [record for record in sandbox.request_log if record.is_write] == []
