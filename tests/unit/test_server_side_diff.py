"""Opt-in server-side diff: who opts in, how its answer changes a verdict, and the config that asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import load_config
from core.model import App, Change, ResourceKey, Source, SyncStatus
from core.reconcile import AppReconciler
from core.server_side_diff import ServerVerdict, wants_server_side_diff

KEY = ResourceKey("", "ConfigMap", "shop", "web-config")


def config_map(data: dict[str, str], *, version: str = "1", options: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web-config", "namespace": "shop", "resourceVersion": version}
    if options is not None:
        metadata["annotations"] = {"argocd.argoproj.io/compare-options": options}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def test_the_resource_annotation_decides_before_the_app() -> None:
    off, on = App("a", Source("x")), App("a", Source("x"), server_side_diff=True)
    assert not wants_server_side_diff(off, config_map({}))
    assert wants_server_side_diff(on, config_map({}))
    assert wants_server_side_diff(off, config_map({}, options="IgnoreExtraneous, ServerSideDiff=true"))
    assert not wants_server_side_diff(on, config_map({}, options="ServerSideDiff=false"))


def test_compare_options_are_read_from_kubedrift_yaml(tmp_path: Path) -> None:
    path = tmp_path / "kubedrift.yaml"
    path.write_text(
        "apps:\n"
        "  - name: shop\n"
        "    source: {repoURL: ./gitops, path: apps/shop}\n"
        "    compareOptions: {serverSideDiff: true}\n"
        "  - name: plain\n"
        "    source: {repoURL: ./gitops, path: apps/plain}\n"
    )
    shop, plain = load_config(path).apps
    assert shop.server_side_diff and not plain.server_side_diff


def drifted() -> tuple[AppReconciler, dict[str, Any], dict[str, Any]]:
    reconciler = AppReconciler(App("shop", Source("x"), server_side_diff=True))
    desired, live = config_map({"mode": "fast"}), config_map({"mode": "slow"})
    reconciler.set_desired({KEY: desired}, render_ok=True)
    reconciler.live_changed(KEY, live)
    return reconciler, reconciler.desired[KEY], reconciler.live[KEY]


def test_a_server_that_says_nothing_changes_makes_the_resource_synced_for_that_pair_only() -> None:
    reconciler, desired, _ = drifted()
    assert reconciler.set_server_verdict(ServerVerdict(KEY, desired, "1", (), "server-side diff: no change"))
    result = reconciler.results[KEY]
    assert (result.status, result.changes, result.reason) == (
        SyncStatus.SYNCED,
        (),
        "server-side diff: no change",
    )
    reconciler.live_changed(KEY, config_map({"mode": "slow"}, version="2"))  # a newer live object
    assert reconciler.results[KEY].status is SyncStatus.OUT_OF_SYNC  # the answer was for version 1


def test_a_confirmed_verdict_keeps_the_local_changes_and_says_so() -> None:
    reconciler, desired, _ = drifted()
    changes = (Change("/data/mode", "fast", "slow"),)
    reconciler.set_server_verdict(ServerVerdict(KEY, desired, "1", changes, "confirmed by server-side diff"))
    result = reconciler.results[KEY]
    assert result.status is SyncStatus.OUT_OF_SYNC and result.changes  # rule 8: never without a change
    assert result.reason == "confirmed by server-side diff"
    not_sent = ServerVerdict(KEY, desired, "1", None, "server-side diff not sent: read-only")
    reconciler.set_server_verdict(not_sent)
    assert reconciler.results[KEY].status is SyncStatus.OUT_OF_SYNC
    assert "read-only" in reconciler.results[KEY].reason


APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  annotations: {annotations}
spec:
  source: {{repoURL: ./gitops, path: apps/{name}}}
  destination: {{namespace: {name}}}
{extra}"""


def test_argo_cd_applications_opt_in_by_annotation_or_compare_options(tmp_path: Path) -> None:
    apps = tmp_path / "argocd"
    apps.mkdir()
    documents = [
        APPLICATION.format(
            name="annotated",
            annotations="{argocd.argoproj.io/compare-options: 'ServerSideDiff=true'}",
            extra="",
        ),
        APPLICATION.format(name="spec", annotations="{}", extra="  compareOptions: {serverSideDiff: true}\n"),
        APPLICATION.format(name="plain", annotations="{}", extra=""),
    ]
    (apps / "apps.yaml").write_text("---\n".join(documents))
    (tmp_path / "kubedrift.yaml").write_text("apps:\n  - include: argocd/apps.yaml\n")
    opted = {app.name: app.server_side_diff for app in load_config(tmp_path / "kubedrift.yaml").apps}
    assert opted == {"annotated": True, "spec": True, "plain": False}
