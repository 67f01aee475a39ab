"""App of apps against the sandbox: a local repository shaped like argocd-example-apps' `apps/` (a chart
rendering one Application per entry of its values, each pointing at a folder of the same repository).
`check` shows the parent and its children; the children sync themselves; commits add and remove them
while the engine runs, and nothing is pruned because a child went."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from core.cluster import ClusterAdapter
from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import AppSync
from core.status_events import AppStatusChange, ChildAppChange, StatusChange
from tests.integration.gitops import commit_file, committed_repository
from tests.live_run import LiveRun
from tui.cli import main

FIXTURE = Path(__file__).parent.parent / "fixtures" / "app-of-apps"
CHILDREN = ("example.guestbook", "example.podinfo")


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    repo = tmp_path / "gitops"
    shutil.copytree(FIXTURE, repo)
    return committed_repository(repo, "apps: guestbook and podinfo")


def write_config(tmp_path: Path, repo: Path, *, sync_options: str = "") -> Path:
    """The parent app: the `apps/` chart, its children's repoURL set to the local repository."""
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: apps\n"
        "    source:\n"
        "      repoURL: ./gitops\n"
        "      targetRevision: main\n"
        "      path: apps\n"
        "      helm:\n"
        f"        parameters: [{{name: config.spec.source.repoURL, value: '{repo}'}}]\n"
        "    destination: {namespace: argocd}\n" + sync_options
    )
    return config


def argv(config: Path, kubeconfig_path: Path) -> list[str]:
    return ["--config", str(config), "--kubeconfig", str(kubeconfig_path)]


def test_check_shows_the_parent_and_both_children(
    tmp_path: Path, gitops: Path, kubeconfig_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, gitops)

    assert main([*argv(config, kubeconfig_path), "check", "-o", "json"]) == 1  # the children are Missing
    apps = json.loads(capsys.readouterr().out)["apps"]
    assert [(app["name"], app.get("parent")) for app in apps] == [
        ("apps", None),
        ("example.guestbook", "apps"),
        ("example.podinfo", "apps"),
    ]
    parent, guestbook, _ = apps
    # The sandbox serves no Application: they are child apps only, not the parent's resources.
    assert (parent["sync"], parent["resources"], parent["errors"]) == ("Synced", [], [])
    assert [(r["kind"], r["namespace"], r["name"], r["status"]) for r in guestbook["resources"]] == [
        ("ConfigMap", "guestbook", "guestbook-ui", "Missing")
    ]

    assert main([*argv(config, kubeconfig_path), "check"]) == 1
    summary = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in summary[1:4]] == [
        ["apps", "Synced"],
        ["└", "example.guestbook"],
        ["└", "example.podinfo"],
    ]


def changed(kind: str, app: str) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, ChildAppChange) and c.change == kind and c.app == app


def synced(app: str) -> Callable[[StatusChange], bool]:
    return lambda c: isinstance(c, AppStatusChange) and c.app == app and c.sync is AppSync.SYNCED


def test_children_sync_themselves_and_commits_add_and_remove_them_live(
    tmp_path: Path, gitops: Path, kubeconfig_path: Path, adapter: ClusterAdapter, state_home: Path
) -> None:
    config = load_config(write_config(tmp_path, gitops))
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=tmp_path)
    configmaps = adapter.resource_for("", "ConfigMap")
    with LiveRun(engine) as run:
        # Each child's own automated policy (CreateNamespace, prune, selfHeal) applies to it.
        for child in CHILDREN:
            run.wait_for(changed("added", child))
            run.wait_for(synced(child), timeout=20)
        assert adapter.get(configmaps, "podinfo", "podinfo") is not None

        values = (gitops / "apps/values.yaml").read_text()
        commit_file(gitops, "apps/values.yaml", values.replace("  - name: podinfo\n", ""), "drop podinfo")
        removed = run.wait_for(changed("removed", "example.podinfo"))
        assert isinstance(removed, ChildAppChange) and removed.parent == "apps"
        assert "nothing was pruned" in removed.message
        assert "example.podinfo" not in engine.apps and "example.podinfo" not in engine.sources
        assert adapter.get(configmaps, "podinfo", "podinfo") is not None, "the child's objects are left alone"

        adding = values.replace("  - name: podinfo\n", "  - name: redis\n")
        commit_file(gitops, "apps/values.yaml", adding, "add redis")
        run.wait_for(changed("added", "example.redis"))
        run.wait_for(synced("example.redis"), timeout=20)
        assert adapter.get(configmaps, "redis", "redis-settings") is not None

        # A child whose spec changed is replaced: read again from its new path.
        moved = adding.replace("  - name: guestbook\n", "  - name: guestbook\n    path: redis\n")
        commit_file(gitops, "apps/values.yaml", moved, "guestbook reads redis/")
        run.wait_for(changed("changed", "example.guestbook"))
        assert engine.apps["example.guestbook"].app.source.path == "redis"
        assert "example.guestbook" in engine.sources, "followed again"
        run.wait_for(
            lambda c: (
                getattr(c, "app", "") == "example.guestbook"
                and str(getattr(c, "key", "")).endswith("guestbook/redis-settings")
            )
        )

        # A render that fails keeps the children it knew: nothing is dropped on an error.
        commit_file(gitops, "apps/templates/applications.yaml", "{{ broken\n", "break the chart")
        run.wait_for(
            lambda c: isinstance(c, AppStatusChange) and c.app == "apps" and c.sync is AppSync.UNKNOWN
        )
        assert {"example.guestbook", "example.redis"} <= set(engine.apps)
        assert engine.statuses()[0].errors, "the parent says why"
    assert not [c for c in run.changes if is_removal_of(c, "example.guestbook", "example.redis")]


def is_removal_of(change: StatusChange, *apps: str) -> bool:
    return isinstance(change, ChildAppChange) and change.change == "removed" and change.app in apps


def test_where_argo_cd_is_installed_the_applications_are_the_parents_resources_too(
    tmp_path: Path,
    gitops: Path,
    kubeconfig_path: Path,
    adapter: ClusterAdapter,
    state_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    adapter.apply(yaml.safe_load((FIXTURE / "application-crd.yaml").read_text()))
    config = write_config(
        tmp_path, gitops, sync_options="    syncPolicy: {syncOptions: [CreateNamespace=true]}\n"
    )
    command = argv(config, kubeconfig_path)

    assert main([*command, "sync", "apps", "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    applications = adapter.resource_for("argoproj.io", "Application")
    stored = adapter.get(applications, "argocd", "example.guestbook")
    assert stored is not None and stored["spec"]["source"]["path"] == "guestbook"

    main([*command, "check", "-o", "json"])
    apps = {app["name"]: app for app in json.loads(capsys.readouterr().out)["apps"]}
    assert apps["apps"]["sync"] == "Synced"
    assert sorted(r["name"] for r in apps["apps"]["resources"]) == list(CHILDREN)
    assert {name for name, app in apps.items() if app.get("parent") == "apps"} == set(CHILDREN)


def test_a_flux_kustomization_rendered_with_its_git_repository_is_a_child_app(
    tmp_path: Path, kubeconfig_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "fleet"
    (repo / "clusters" / "dev").mkdir(parents=True)
    (repo / "apps" / "podinfo").mkdir(parents=True)
    (repo / "apps" / "podinfo" / "settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: podinfo}\ndata: {color: blue}\n"
    )
    (repo / "clusters" / "dev" / "apps.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\n"
        "kind: GitRepository\n"
        "metadata: {name: fleet, namespace: flux-system}\n"
        f"spec: {{url: '{repo}', ref: {{branch: main}}, interval: 1m}}\n"
        "---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
        "kind: Kustomization\n"
        "metadata: {name: podinfo, namespace: flux-system}\n"
        "spec:\n"
        "  sourceRef: {kind: GitRepository, name: fleet}\n"
        "  path: ./apps/podinfo\n"
        "  targetNamespace: podinfo\n"
    )
    committed_repository(repo)
    config = tmp_path / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        "  - name: fleet\n"
        "    source: {repoURL: ./fleet, targetRevision: main, path: clusters/dev}\n"
        "    destination: {namespace: flux-system}\n"
    )

    main([*argv(config, kubeconfig_path), "check", "-o", "json"])

    fleet, podinfo = json.loads(capsys.readouterr().out)["apps"]
    # No Flux in the sandbox: the Kustomization and its GitRepository are stood in for, not Unknown.
    assert (fleet["name"], fleet["resources"], fleet["errors"]) == ("fleet", [], [])
    assert (podinfo["name"], podinfo["parent"], podinfo["errors"]) == ("flux-system-podinfo", "fleet", [])
    assert [(r["namespace"], r["name"], r["status"]) for r in podinfo["resources"]] == [
        ("podinfo", "podinfo", "Missing")
    ]
