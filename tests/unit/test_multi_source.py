"""Loading multi-source apps: each source rendered with its own options, the desired set their union,
`$ref/...` value files read from the ref source's repository at its revision, and a change in any
source rendering the app again. Local Git repositories shaped like Argo CD's multi-source examples."""

from __future__ import annotations

import asyncio
import shutil
import textwrap
from pathlib import Path

import pytest

from core.config import load_config
from core.desired_state import AppDesiredState, DesiredState
from core.file_watch import FileWatch
from core.model import App, ResourceKey
from core.multi_source import MultiSourceDesiredState, loader_for
from core.source_watch import SourceWatch
from tests.integration.gitops import commit_file, committed_repository, git

FIXTURES = Path(__file__).parent.parent / "fixtures"
MULTISOURCE = FIXTURES / "multisource"
DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook")
CONFIG = ResourceKey("", "ConfigMap", "guestbook", "guestbook-config")
BILLING = ResourceKey("apps", "Deployment", "billing", "billing")
SETTINGS = ResourceKey("", "ConfigMap", "billing", "billing-settings")


def repository(tmp_path: Path, name: str, *copies: tuple[Path, str]) -> Path:
    """A Git repository `name` holding each fixture folder at its path, committed on `main`."""
    repo = tmp_path / name
    for fixture, at in copies:
        shutil.copytree(fixture, repo / at)
    return committed_repository(repo)


@pytest.fixture
def charts(tmp_path: Path) -> Path:
    return repository(tmp_path, "charts", (FIXTURES / "charts" / "guestbook", "guestbook"))


@pytest.fixture
def values(tmp_path: Path) -> Path:
    return repository(tmp_path, "values", (MULTISOURCE / "values", "."))


def app_from(tmp_path: Path, text: str) -> App:
    config = tmp_path / "kubedrift.yaml"
    config.write_text(textwrap.dedent(text))
    (app,) = load_config(config).apps
    return app


def guestbook(tmp_path: Path, *, values_revision: str = "main", helm: str = "") -> App:
    helm = helm or (
        "{valueFiles: [$values/envs/prod/values.yaml], "
        "fileParameters: [{name: configFile, path: $values/files/app.conf}]}"
    )
    return app_from(
        tmp_path,
        f"""\
        apps:
          - name: guestbook
            sources:
              - {{repoURL: ./charts, targetRevision: main, path: guestbook, helm: {helm}}}
              - {{repoURL: ./values, targetRevision: {values_revision}, ref: values}}
            destination: {{namespace: guestbook}}
        """,
    )


def replicas(state: DesiredState) -> int:
    return int(state.objects[DEPLOYMENT]["spec"]["replicas"])


def test_a_chart_reads_value_files_and_file_parameters_from_the_ref_sources_repository(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    loader = loader_for(guestbook(tmp_path))
    state = loader.load()

    assert state.errors == () and state.render_ok
    assert replicas(state) == 3, "$values/envs/prod/values.yaml, over the chart's replicaCount: 1"
    assert state.objects[CONFIG]["data"] == {"app.conf": "listen = 8080\n"}, "the file parameter"
    charts_sha, values_sha = git(charts, "rev-parse", "main"), git(values, "rev-parse", "main")
    assert state.revision == charts_sha, "the first source that renders gives the app's revision"
    assert state.source_revisions == (charts_sha, values_sha)
    assert state.revision_id == f"{charts_sha} {values_sha}"


def test_a_commit_to_the_values_repository_alone_renders_the_app_again(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    loader = loader_for(guestbook(tmp_path))
    before = loader.load()
    renders = loader.renderer.parse_count
    assert loader.load() == before and loader.renderer.parse_count == renders, "nothing new: no render"

    text = (values / "envs/prod/values.yaml").read_text().replace("replicaCount: 3", "replicaCount: 5")
    new_values = commit_file(values, "envs/prod/values.yaml", text, "five replicas")
    after = loader.load()

    assert replicas(after) == 5, "the chart's files did not change, its values did"
    assert after.revision == before.revision, "the app's one revision is the chart's"
    assert after.source_revisions[1] == new_values and after.revision_id != before.revision_id


def test_the_desired_set_is_the_union_of_the_sources(tmp_path: Path) -> None:
    # Argo CD's documented example: the billing app's manifests, its settings from a common repository.
    billing = repository(tmp_path, "billing-app", (MULTISOURCE / "billing-app", "."))
    settings = repository(tmp_path, "common-settings", (MULTISOURCE / "common-settings", "."))
    app = app_from(
        tmp_path,
        """\
        apps:
          - name: billing
            sources:
              - {repoURL: ./billing-app, path: manifests, targetRevision: main}
              - {repoURL: ./common-settings, path: configmaps-billing, targetRevision: HEAD}
            destination: {namespace: billing}
        """,
    )
    state = loader_for(app).load()
    assert state.errors == () and state.render_ok
    assert sorted(state.objects) == [SETTINGS, BILLING]
    assert state.revision == git(billing, "rev-parse", "HEAD")
    assert state.source_revisions == (state.revision, git(settings, "rev-parse", "HEAD"))


def test_an_object_two_sources_declare_is_an_error_naming_both(tmp_path: Path) -> None:
    billing = tmp_path / "billing-app"
    shutil.copytree(MULTISOURCE / "billing-app", billing)
    shutil.copy(MULTISOURCE / "common-settings/configmaps-billing/configmap.yaml", billing / "manifests")
    (billing / "manifests/configmap.yaml").write_text(
        (billing / "manifests/configmap.yaml").read_text().replace("EUR", "USD")
    )
    committed_repository(billing)
    repository(tmp_path, "common-settings", (MULTISOURCE / "common-settings", "."))
    app = app_from(
        tmp_path,
        """\
        apps:
          - name: billing
            sources:
              - {repoURL: ./billing-app, path: manifests, targetRevision: main}
              - {repoURL: ./common-settings, path: configmaps-billing, targetRevision: main}
            destination: {namespace: billing}
        """,
    )
    state = loader_for(app).load()
    assert state.errors == (
        "ConfigMap/billing/billing-settings is declared by two sources, sources[0] (path manifests) "
        "configmap.yaml and sources[1] (path configmaps-billing) configmap.yaml (Argo CD applies the last "
        "one's); keep one",
    )
    assert not state.render_ok, "never pruned while the sources disagree"
    assert state.objects[SETTINGS]["data"]["CURRENCY"] == "EUR", "the last source's object, as Argo CD"
    assert BILLING in state.objects, "the rest is still evaluated"


def test_a_source_that_fails_to_load_makes_the_render_not_ok_and_says_which(tmp_path: Path) -> None:
    repository(tmp_path, "billing-app", (MULTISOURCE / "billing-app", "."))
    repository(tmp_path, "common-settings", (MULTISOURCE / "common-settings", "."))
    app = app_from(
        tmp_path,
        """\
        apps:
          - name: billing
            sources:
              - {repoURL: ./billing-app, path: manifests, targetRevision: main}
              - {repoURL: ./common-settings, path: configmaps-billing, targetRevision: release-9}
            destination: {namespace: billing}
        """,
    )
    state = loader_for(app).load()
    (error,) = state.errors
    assert error.startswith("sources[1] (path configmaps-billing): ") and "release-9" in error, error
    assert not state.render_ok
    assert list(state.objects) == [BILLING] and state.revision is not None


def test_a_ref_source_that_cannot_be_read_leaves_its_chart_unrendered(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    state = loader_for(guestbook(tmp_path, values_revision="release-9")).load()
    assert state.objects == {} and not state.render_ok
    failed, unrendered = state.errors
    assert failed.startswith("sources[1] (ref values): ") and "release-9" in failed, failed
    assert unrendered == (
        "sources[0] (path guestbook): not rendered, since the source whose ref is values did not load"
    )


def test_a_ref_source_that_stops_loading_keeps_its_last_good_files_and_says_so(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    git(values, "branch", "prod")
    loader = loader_for(guestbook(tmp_path, values_revision="prod"))
    assert loader.load().render_ok
    git(values, "branch", "-D", "prod")
    state = loader.load()
    assert replicas(state) == 3, "the last good values, never the chart's defaults"
    assert not state.render_ok
    assert "still reading revision" in state.errors[0] and state.errors[0].startswith(
        "sources[1] (ref values)"
    )


@pytest.mark.parametrize("ignore_missing", [False, True])
def test_a_value_file_the_ref_repository_lacks_follows_ignore_missing_value_files(
    tmp_path: Path, charts: Path, values: Path, ignore_missing: bool
) -> None:
    ignore = str(ignore_missing).lower()
    helm = f"{{valueFiles: [$values/envs/qa/values.yaml], ignoreMissingValueFiles: {ignore}}}"
    state = loader_for(guestbook(tmp_path, helm=helm)).load()
    if ignore_missing:
        assert state.errors == () and replicas(state) == 1, "the chart's own values"
    else:
        assert state.errors == (
            "sources[0] (path guestbook): $values/envs/qa/values.yaml: this values file does not exist; "
            "add it, fix source.helm.valueFiles, or set ignoreMissingValueFiles",
        )
        assert not state.render_ok


def test_only_a_multi_source_app_has_a_multi_source_loader(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    app = guestbook(tmp_path)
    with pytest.raises(TypeError, match="loader_for"):
        AppDesiredState(app)
    assert type(loader_for(app.__class__(name="single", source=app.source))) is AppDesiredState


def test_sources_of_one_repository_share_it_and_every_source_is_followed(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    # The chart's repository also holds the values: `$charts/...` reads it at the root.
    (charts / "envs").mkdir()
    committed = commit_file(charts, "envs/values.yaml", "replicaCount: 4\n", "values beside the chart")
    app = app_from(
        tmp_path,
        """\
        apps:
          - name: guestbook
            sources:
              - {repoURL: ./charts, targetRevision: main, path: guestbook, ref: charts,
                 helm: {valueFiles: [$values/envs/prod/values.yaml, $charts/envs/values.yaml]}}
              - {repoURL: ./values, targetRevision: main, ref: values}
            destination: {namespace: guestbook}
        """,
    )
    loader = loader_for(app)
    assert isinstance(loader, MultiSourceDesiredState)
    state = loader.load()
    assert replicas(state) == 4 and state.source_revisions[0] == committed
    chart_source, *ref_sources = loader.sources
    assert [source.root for source in ref_sources] == [".", "."], "refs read their repository's root"
    assert ref_sources[0].repository is chart_source.repository, "one repository, one clone"
    followed = SourceWatch(loader, FileWatch())._watched_paths()
    assert sorted(path for path, _ in followed) == [charts / ".git", values / ".git"]


async def test_a_watched_values_commit_yields_the_app_rendered_again(
    tmp_path: Path, charts: Path, values: Path
) -> None:
    loader = loader_for(guestbook(tmp_path))
    known = loader.load()
    files = FileWatch()
    watch = SourceWatch(loader, files)
    stop = asyncio.Event()
    updates = watch.updates(stop, known=known)
    following = asyncio.ensure_future(anext(updates))  # follows both repositories as it starts,
    watching = asyncio.create_task(files.run(stop))  # before the one watcher starts, as the engine does
    try:
        await asyncio.wait_for(files.watching.wait(), timeout=30)
        text = (values / "envs/prod/values.yaml").read_text().replace("replicaCount: 3", "replicaCount: 7")
        await asyncio.to_thread(commit_file, values, "envs/prod/values.yaml", text, "seven")
        state = await asyncio.wait_for(following, timeout=30)
        assert replicas(state) == 7 and state.revision == known.revision
    finally:
        stop.set()
        await updates.aclose()
        await asyncio.wait_for(watching, timeout=10)


def test_a_working_tree_ref_settles_before_automation_acts(tmp_path: Path, charts: Path) -> None:
    shutil.copytree(MULTISOURCE / "values", tmp_path / "values")  # a plain folder, read from disk
    clock = Clock()
    loader = loader_for(guestbook(tmp_path, values_revision="''"), clock=clock, settle_seconds=5.0)
    state = loader.load()
    assert replicas(state) == 3 and state.source_revisions[1].startswith("folder:")
    assert loader.settling(state.revision_id) == 5.0, "a save in the values folder may be half-way"
    clock.now += 5.0
    assert loader.settling(state.revision_id) == 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
