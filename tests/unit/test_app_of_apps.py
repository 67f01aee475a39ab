"""App of apps: Applications (and Flux Kustomizations) an app renders as its child apps; names that
clash; renders that fail keeping children; the kind served or not deciding what the parent applies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.api_resources import ApiResource, Discovery
from core.app_of_apps import (
    Child,
    Found,
    depth_of,
    descendants,
    family_order,
    find_children,
    plan_children,
    root_of,
    stood_in,
)
from core.cluster import ApiError, ListPage
from core.config import Config
from core.engine import Engine
from core.kubeconfig import Kubeconfig
from core.model import App, AppStatus, AppSync, Destination, Health, ResourceKey, Source, TrackingMethod
from core.status_events import ChildAppChange
from tests.integration.gitops import committed_repository
from tui.commands.report import check_text
from tui.commands.terminal import Style
from tui.commands.watch import change_line, is_transition

PARENT = App(name="apps", source=Source(repo_url="/srv/gitops", path="apps"), tracking=TrackingMethod.ARGOCD)
BASE = Path("/srv/config")


def application(name: str, *, path: str | None = None, **spec: Any) -> dict[str, Any]:
    """An Application as argocd-example-apps' `apps/` chart renders it."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "destination": {"namespace": name, "server": "https://kubernetes.default.svc"},
            "project": "default",
            "source": {"path": path or name, "repoURL": "/srv/gitops", "targetRevision": "main"},
            "syncPolicy": {
                "syncOptions": ["CreateNamespace=true"],
                "automated": {"prune": True, "selfHeal": True},
            },
            **spec,
        },
    }


def rendered(*objects: dict[str, Any]) -> dict[ResourceKey, dict[str, Any]]:
    return {ResourceKey.of(obj): obj for obj in objects}


def found_in(*objects: dict[str, Any], parent: App = PARENT, context: str | None = "dev") -> Found:
    return find_children(parent, rendered(*objects), context=context, base=BASE)


def test_applications_become_children_of_the_app_deploying_to_its_cluster() -> None:
    elsewhere = application("billing")
    elsewhere["spec"]["destination"] = {"name": "prod", "namespace": "billing"}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "argocd"}}

    found = found_in(application("guestbook"), elsewhere, configmap)

    children = {child.app.name: child.app for child in found.children}
    assert sorted(children) == ["billing", "guestbook"]
    guestbook = children["guestbook"]
    assert guestbook.parent == "apps"
    # Argo CD runs in the cluster the Application is applied to: "in-cluster" is the parent's cluster.
    assert guestbook.destination == Destination(name="dev", namespace="guestbook")
    assert children["billing"].destination == Destination(name="prod", namespace="billing")
    assert (guestbook.source.repo_url, guestbook.source.path, guestbook.source.target_revision) == (
        "/srv/gitops",
        "guestbook",
        "main",
    )
    policy = guestbook.sync_policy
    assert (policy.automated, policy.prune, policy.self_heal) == (True, True, True)
    assert policy.sync_options.create_namespace
    assert guestbook.tracking is TrackingMethod.ARGOCD, "the parent's tracking"
    assert found.errors == ()
    assert found.keys == {
        ResourceKey("argoproj.io", "Application", "argocd", n) for n in ("billing", "guestbook")
    }


def test_under_flux_tracking_a_child_application_is_tracked_by_argo_cds_annotation() -> None:
    flux_parent = App(name="fleet", source=Source(repo_url="/srv/gitops"), tracking=TrackingMethod.FLUX)
    (child,) = found_in(application("guestbook"), parent=flux_parent).children
    assert child.app.tracking is TrackingMethod.ARGOCD


def test_a_relative_local_repo_url_is_read_from_the_config_folder_and_urls_are_left_alone() -> None:
    local = application("local")
    local["spec"]["source"]["repoURL"] = "../gitops"
    cloned = application("cloned")
    cloned["spec"]["source"]["repoURL"] = "file:///srv/remote.git"
    github = application("github")
    github["spec"]["source"]["repoURL"] = "git@github.com:argoproj/argocd-example-apps.git"

    urls = {child.app.name: child.app.source.repo_url for child in found_in(local, cloned, github).children}

    assert urls == {
        "local": "/srv/gitops",
        "cloned": "file:///srv/remote.git",
        "github": "git@github.com:argoproj/argocd-example-apps.git",
    }


def test_an_application_that_cannot_be_read_is_one_error_naming_it_and_the_rest_are_children() -> None:
    broken = application("broken")
    del broken["spec"]["source"]["repoURL"]
    found = find_children(
        PARENT,
        rendered(broken, application("guestbook")),
        context="dev",
        base=BASE,
        file_of=lambda key: "templates/applications.yaml" if key.name == "broken" else "",
    )
    assert [child.app.name for child in found.children] == ["guestbook"]
    assert found.errors == (
        "templates/applications.yaml: Application argocd/broken: spec.source: missing required key 'repoURL'",
    )
    assert ResourceKey.of(broken) in found.keys, "still an Application: never applied where not served"


def test_a_plugin_application_is_a_child_whose_one_error_says_why() -> None:
    plugin = application("plugin-nix", path="plugins/nix")
    plugin["spec"]["source"]["plugin"] = {"name": "nix"}
    (child,) = found_in(plugin).children
    assert "config management plugins are not supported" in child.app.unrenderable


def test_an_app_rendering_no_application_finds_nothing() -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}}
    assert found_in(configmap) == Found()


# Plans: clashes, failed renders, changes.


def child(name: str, path: str | None = None) -> Child:
    (found,) = found_in(application(name, path=path)).children
    return found


def test_a_child_named_like_a_configured_app_is_one_error_on_the_parent_naming_both() -> None:
    taken = {"guestbook": "the app guestbook of kubedrift.yaml:4"}
    plan = plan_children("apps", {}, Found((child("guestbook"), child("podinfo"))), taken, complete=True)
    assert list(plan.children) == ["podinfo"]
    assert [c.app.name for c in plan.added] == ["podinfo"]
    (error,) = plan.errors
    assert error.startswith("Application argocd/guestbook: child app guestbook is not added: ")
    assert "the app guestbook of kubedrift.yaml:4 has that name" in error


def test_two_children_of_one_name_keep_the_first_and_name_it() -> None:
    first = child("guestbook")
    second = Child(first.app, ResourceKey("argoproj.io", "Application", "team-b", "guestbook"), "team-b's")
    plan = plan_children("apps", {}, Found((first, second)), {}, complete=True)
    assert list(plan.children.values()) == [first]
    (error,) = plan.errors
    assert error.startswith("team-b's: child app guestbook is not added: the child app guestbook read from ")
    assert first.where in error


def test_a_failed_render_keeps_the_children_it_no_longer_shows() -> None:
    previous = {"guestbook": child("guestbook"), "podinfo": child("podinfo")}
    failed = plan_children("apps", previous, Found((child("podinfo"),)), {}, complete=False)
    assert set(failed.children) == {"guestbook", "podinfo"}
    assert not failed.moves

    nothing = plan_children("apps", previous, Found(), {}, complete=False)
    assert set(nothing.children) == {"guestbook", "podinfo"}, "a source that failed to load renders nothing"


def test_a_key_pending_in_a_working_tree_keeps_its_child() -> None:
    previous = {"guestbook": child("guestbook"), "podinfo": child("podinfo")}
    plan = plan_children(
        "apps", previous, Found((child("podinfo"),)), {}, complete=True, pending={previous["guestbook"].key}
    )
    assert set(plan.children) == {"guestbook", "podinfo"} and not plan.moves


def test_a_render_that_succeeded_adds_changes_and_removes() -> None:
    previous = {"guestbook": child("guestbook"), "podinfo": child("podinfo")}
    found = Found((child("guestbook", path="guestbook-v2"), child("redis")))
    plan = plan_children("apps", previous, found, {}, complete=True)
    assert [c.app.name for c in plan.added] == ["redis"]
    assert [c.app.source.path for c in plan.changed] == ["guestbook-v2"]
    assert [c.app.name for c in plan.removed] == ["podinfo"]
    assert set(plan.children) == {"guestbook", "redis"}

    same = plan_children("apps", plan.children, found, {}, complete=True)
    assert not same.moves, "the same render again changes nothing"


def test_objects_are_stood_in_for_only_where_their_kind_is_not_served() -> None:
    found = found_in(application("guestbook"))
    assert stood_in(found, lambda group, kind: False) == found.keys
    assert stood_in(found, lambda group, kind: (group, kind) == ("argoproj.io", "Application")) == frozenset()


def test_a_flux_kustomization_rendered_with_its_git_repository_is_a_child() -> None:
    repository = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "podinfo", "namespace": "flux-system"},
        "spec": {"url": "/srv/podinfo", "ref": {"branch": "main"}},
    }
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "podinfo", "namespace": "flux-system"},
        "spec": {
            "sourceRef": {"kind": "GitRepository", "name": "podinfo"},
            "path": "./kustomize",
            "targetNamespace": "podinfo",
        },
    }
    orphan = {**kustomization, "metadata": {"name": "orphan", "namespace": "flux-system"}}
    orphan["spec"] = {**kustomization["spec"], "sourceRef": {"kind": "GitRepository", "name": "gone"}}

    found = found_in(repository, kustomization, orphan)

    apps = {c.app.name: c.app for c in found.children}
    podinfo = apps["flux-system-podinfo"]
    assert (podinfo.parent, podinfo.source.repo_url, podinfo.source.target_revision) == (
        "apps",
        "/srv/podinfo",
        "main",
    )
    assert podinfo.destination == Destination(name="dev", namespace="podinfo")
    assert "GitRepository flux-system/gone is not among the objects app apps renders" in (
        apps["flux-system-orphan"].unrenderable
    )
    # The GitRepository is Flux's too: where Flux is not installed, kubedrift stands in for it.
    assert ResourceKey.of(repository) in stood_in(found, lambda group, kind: False)


def test_family_order_puts_each_child_under_its_parent() -> None:
    parents = {"shop": "", "apps": "", "b": "apps", "a": "apps", "a1": "a", "stray": "gone"}
    assert family_order(parents) == ["shop", "apps", "a", "a1", "b", "stray"]
    assert (depth_of("a1", parents), depth_of("apps", parents), depth_of("stray", parents)) == (2, 0, 0)
    assert descendants("apps", parents) == ["a", "a1", "b"]
    assert root_of("a1", parents) == "apps"


# The engine, with a stand-in cluster.


def resource(group: str, version: str, kind: str, plural: str) -> ApiResource:
    return ApiResource(group, version, kind, plural, True, frozenset({"list", "watch", "get", "patch"}))


CONFIGMAPS = resource("", "v1", "ConfigMap", "configmaps")
APPLICATIONS = resource("argoproj.io", "v1alpha1", "Application", "applications")


class EmptyCluster:
    """A read-only cluster holding nothing, serving ConfigMaps and, when asked, Argo CD's Applications."""

    read_only = True
    server = "https://dev.example"

    def __init__(self, *, argocd: bool) -> None:
        kinds = [CONFIGMAPS, *([APPLICATIONS] if argocd else [])]
        self.served = Discovery({(r.group, r.kind): r for r in kinds})

    def server_version(self) -> Any:
        raise ApiError(403, "Forbidden", "forbidden")

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        raise ApiError(403, "Forbidden", "forbidden")

    def discover(self, *, refresh: bool = False) -> Discovery:
        return self.served

    def resource_for(self, group: str, kind: str) -> ApiResource:
        found = self.served.by_kind.get((group, kind))
        if found is None:
            raise ApiError(404, "NotFound", f"the server serves no {kind}.{group}")
        return found

    def list_pages(self, resource: ApiResource, namespace: str | None = None) -> Iterator[ListPage]:
        yield ListPage(*self.list(resource, namespace))  # one page: the engine lists page by page

    def holds_any(self, resource: Any, *, label_selector: str) -> bool:
        return bool(self.list(resource, label_selector=label_selector)[0])

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        return [], "1"


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    """A repository with two Applications in `apps/`, each pointing at a folder of it."""
    repo = tmp_path / "gitops"
    (repo / "apps").mkdir(parents=True)
    documents = [application(name) for name in ("guestbook", "podinfo")]
    for document in documents:
        document["spec"]["source"]["repoURL"] = str(repo)
    (repo / "apps" / "apps.yaml").write_text("\n---\n".join(json.dumps(d) for d in documents))
    for name in ("guestbook", "podinfo"):
        (repo / name).mkdir()
        (repo / name / "cm.yaml").write_text(
            json.dumps(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}
            )
        )
    return committed_repository(repo)


def engine_on(cluster: EmptyCluster, *apps: App, tmp_path: Path) -> Engine:
    kubeconfig = Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None)
    return Engine(
        Config(apps=apps),
        kubeconfig,
        adapter_factory=lambda context, read_only: cluster,  # type: ignore[arg-type,return-value]
        watch_tree=False,
        base_dir=tmp_path,
    )


def parent_of(repo: Path) -> App:
    return App(name="apps", source=Source(repo_url=str(repo), target_revision="main", path="apps"))


def test_where_the_cluster_serves_no_application_they_are_child_apps_only(
    gitops: Path, tmp_path: Path
) -> None:
    statuses = {
        s.name: s
        for s in engine_on(EmptyCluster(argocd=False), parent_of(gitops), tmp_path=tmp_path).evaluate()
    }

    assert list(statuses) == ["apps", "guestbook", "podinfo"], "each child after its parent"
    parent = statuses["apps"]
    assert (parent.resources, parent.errors, parent.sync) == ((), (), AppSync.SYNCED)
    guestbook = statuses["guestbook"]
    assert guestbook.parent == "apps" and guestbook.to_json()["parent"] == "apps"
    assert [str(r.key) for r in guestbook.resources] == ["ConfigMap/guestbook/guestbook"]
    assert "parent" not in parent.to_json(), "an app of the config keeps DESIGN's exact shape"


def test_where_the_cluster_serves_applications_they_are_also_the_parents_resources(
    gitops: Path, tmp_path: Path
) -> None:
    statuses = {
        s.name: s
        for s in engine_on(EmptyCluster(argocd=True), parent_of(gitops), tmp_path=tmp_path).evaluate()
    }
    parent = statuses["apps"]
    assert {str(r.key): str(r.status) for r in parent.resources} == {
        "Application.argoproj.io/argocd/guestbook": "Missing",
        "Application.argoproj.io/argocd/podinfo": "Missing",
    }
    assert {"guestbook", "podinfo"} <= set(statuses), "child apps all the same"


def test_a_sync_to_another_revision_leaves_out_what_the_cluster_cannot_take(
    gitops: Path, tmp_path: Path
) -> None:
    for argocd, kept in ((False, 0), (True, 2)):
        engine = engine_on(EmptyCluster(argocd=argocd), parent_of(gitops), tmp_path=tmp_path)
        engine.evaluate()
        rendered = engine.rendered["apps"]
        assert len(rendered.objects) == 2, "the render itself holds both Applications"
        assert len(engine.without_stood_in("apps", rendered).objects) == kept


def test_a_child_named_like_an_app_of_the_config_is_an_error_of_its_parent(
    gitops: Path, tmp_path: Path
) -> None:
    configured = App(
        name="guestbook",
        source=Source(repo_url=str(gitops), target_revision="main", path="guestbook"),
        origin="kubedrift.yaml:7",
    )
    engine = engine_on(EmptyCluster(argocd=False), parent_of(gitops), configured, tmp_path=tmp_path)
    statuses = {s.name: s for s in engine.evaluate()}
    assert sorted(statuses) == ["apps", "guestbook", "podinfo"]
    assert statuses["guestbook"].parent == "", "the configured app keeps its name"
    (error,) = statuses["apps"].errors
    assert "child app guestbook is not added: the app guestbook of kubedrift.yaml:7 has that name" in error
    assert statuses["apps"].sync is AppSync.SYNCED, "an error, while what it applies is still judged"


def test_a_command_about_one_app_leaves_other_apps_children_detect_only(gitops: Path, tmp_path: Path) -> None:
    shop = App(name="shop", source=Source(repo_url=str(gitops), target_revision="main", path="guestbook"))
    engine = engine_on(EmptyCluster(argocd=False), parent_of(gitops), shop, tmp_path=tmp_path)
    engine.acting_on = "shop"
    engine.evaluate()
    assert not engine.apps["guestbook"].app.sync_policy.automated

    mine = engine_on(EmptyCluster(argocd=False), parent_of(gitops), tmp_path=tmp_path)
    mine.acting_on = "apps"
    mine.evaluate()
    assert mine.apps["guestbook"].app.sync_policy.automated, "its own family keeps its policy"


# What people read.


def test_child_app_changes_print_as_one_line_each() -> None:
    change = ChildAppChange(
        "2025-01-02T03:04:05.000Z", "guestbook", "apps", "removed", "gone; nothing pruned"
    )
    assert change.to_json() == {
        "ts": "2025-01-02T03:04:05.000Z",
        "app": "guestbook",
        "childApp": {"parent": "apps", "change": "removed", "message": "gone; nothing pruned"},
    }
    assert is_transition(change)
    line = change_line(change, Style(colour=False))
    assert line == "2025-01-02T03:04:05.000Z  guestbook  child app removed: gone; nothing pruned"


def test_check_text_lists_children_indented_under_their_parent() -> None:
    statuses = [
        AppStatus("apps", AppSync.SYNCED, Health.HEALTHY, "abc"),
        AppStatus("guestbook", AppSync.OUT_OF_SYNC, Health.MISSING, "abc", parent="apps"),
        AppStatus("shop", AppSync.SYNCED, Health.HEALTHY, "abc"),
    ]
    names = [line.split()[0:2] for line in check_text(statuses, Style(colour=False)).splitlines()[1:4]]
    assert names == [["apps", "Synced"], ["└", "guestbook"], ["shop", "Synced"]]


def test_a_child_following_its_parents_repository_does_not_restart_the_watcher(tmp_path: Path) -> None:
    from core.file_watch import FileWatch

    files = FileWatch()
    files.follow(tmp_path / ".git", lambda change, path: True, lambda: None)
    files._roots_changed.clear()  # the watcher started with the parent's repository
    files.follow(tmp_path / ".git", lambda change, path: True, lambda: None)
    files.follow(tmp_path / ".git" / "refs", lambda change, path: True, lambda: None)
    assert not files._roots_changed.is_set(), "a restart would lose the commits made meanwhile"
    files.follow(tmp_path / "elsewhere", lambda change, path: True, lambda: None)
    assert files._roots_changed.is_set()
